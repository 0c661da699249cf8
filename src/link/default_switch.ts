/**
 * The switch an empty VNL names (`vde plug '' null://`, as `vde_plug ''`):
 * the user's default as vdeplug4 keeps it, `~/.vdeplug/default` then
 * `~/.vde2/default.switch`, each either a symlink to the switch directory or
 * a file holding its VNL (`vde:///tmp/net`); then the system's switch,
 * `/var/run/vde.ctl`, then `/tmp/vde.ctl`. A user who set a default for
 * Debian's tools reaches the same switch with ours.
 *
 * Root takes a system default only when it is root's: any local user can
 * make `/tmp/vde.ctl` first (or where root never runs a switch), and root's
 * `vde plug '' tap://t0` or `vde slirp` would then give them its tap's
 * traffic or NAT for their LAN. So, unlike Debian's vde_plug and slirpvde,
 * root refuses one whose directory (or a symlink at its name) or ctl
 * socket is another user's, naming the owner and how to join it on purpose
 * (the path named explicitly is taken as given). A user default of root's
 * own (`~/.vdeplug/default`) is root's choice and is followed wherever it
 * leads; other callers take any system default, as a shared lab switch in
 * `/tmp/vde.ctl` is meant to be taken.
 *
 * "Root's own" is judged, not taken from `HOME`: vdeplug4 reads the user
 * default under whatever `HOME` says, and `sudo -E`, `sudo
 * --preserve-env=HOME`, `su` without `-` or a service's environment leave
 * another user's home there, whose owner then chose where root's tap or
 * NAT is plugged. So for root the way to the default file (every directory
 * and symlink from `/`, trusted_path.ts) must be root's alone, and the
 * file (or the symlink that is the default) root's, a file writable by no
 * one else (its VNL is its writers' choice); else it is refused as
 * a system default is, naming the file, the step that is not root's and
 * the switch it names to join on purpose. A plain `sudo` resets `HOME` to
 * /root (Debian's env_reset), so root's own default keeps working there.
 * A way root alone may change cannot change between this look and the
 * read, so the switch it names is what root named: it is joined as a named
 * switch (vde_link.ts judges that one's sockets).
 *
 * The look here is by name, for the refusal's words before anything is
 * opened; a name can change before the connect (a group that may write
 * root's directory can put its own socket at `ctl`, or at the port socket
 * the switch answers with; anyone can make `/tmp/vde.ctl.mgmt` beside it).
 * So what root takes unasked travels as an `UnaskedDefault`, and the
 * client judges (`judgeUnasked`) each file it connects to, on the file
 * itself: vde_link.ts the directory it holds, its ctl and the port socket;
 * the console client the management socket.
 */
import { isFile } from "../os/paths.ts";
import { ownerAndMode, userName } from "../os/users.ts";
import { othersMayWrite, stepText, untrustedStep, writersText } from "../os/trusted_path.ts";

const USER_DEFAULTS = [".vdeplug/default", ".vde2/default.switch"];
const SYSTEM_DEFAULTS = ["/var/run/vde.ctl", "/tmp/vde.ctl"];

/**
 * The switch directory a user default file names, or undefined when there is none. As vdeplug4
 * reads it, the link is followed: to a file, that file holds the VNL; to anything else, the link
 * is the directory, a relative target counting from the link's own directory (not ours); a
 * directory is the switch directory itself.
 */
function userDefault(file: string): string | undefined {
  let st: Deno.FileInfo;
  try {
    st = Deno.lstatSync(file);
  } catch {
    return undefined;
  }
  if (!isFile(file)) {
    // The switch's own directory made there (vde_switch -s ~/.vdeplug/default) is the switch.
    if (!st.isSymlink) return file;
    const target = Deno.readLinkSync(file);
    return target.startsWith("/") ? target : `${file.slice(0, file.lastIndexOf("/"))}/${target}`;
  }
  const named = Deno.readTextFileSync(file).split("\n")[0]!.trim();
  if (named.startsWith("/")) return named;
  const m = /^vde:\/\/(\/[^[]*)(\[.*)?$/.exec(named);
  if (m !== null && m[2] !== undefined) {
    // Its port or options are not carried over: taking the directory alone would plug elsewhere.
    throw new Error(
      `${file} names ${
        JSON.stringify(named)
      }: a default switch's port or options are not taken from it here; ` +
        `write vde://${m[1]} there and give them in the VNL (vde plug 'vde://${m[2]}')`,
    );
  }
  if (m === null) {
    throw new Error(`${file} names ${JSON.stringify(named)}, which is no vde:// switch: give the VNL itself`);
  }
  return m[1]!;
}

/** Refused when root would take another user's switch as its system default (see above). */
export class OthersDefaultSwitch extends Error {
  constructor(message: string) {
    super(message);
    this.name = "OthersDefaultSwitch";
  }
}

/** How a refusal says to join the switch at `dir` on purpose: its path named, here as a VNL. */
const asVnl = (dir: string): string => `vde://${dir}`;

/**
 * A system default switch root took unasked (`defaultSwitch`): `name` as it was found, and how its
 * refusal says to join it on purpose. Each file a client connects to for it is judged (`judgeUnasked`).
 */
export interface UnaskedDefault {
  name: string;
  join: (dir: string) => string;
}

/** The refusal of `name`, another user's (`uid`; `what` says which file and its owner). */
function othersSwitch(
  name: string,
  uid: number,
  what: string,
  join: (dir: string) => string,
): OthersDefaultSwitch {
  return new OthersDefaultSwitch(
    `${name} is ${userName(uid)}'s, not root's (${what}): root does not join another user's switch ` +
      `unasked; name it to join it on purpose (${join(name)})`,
  );
}

/**
 * Judges a file a client is about to connect to (or through) for `unasked`, on the file itself (an
 * O_PATH descriptor's owner, not a name looked up again): a file of root's passes; another user's is
 * refused. `what` names it with its owner and mode, for the refusal.
 *
 * @throws OthersDefaultSwitch for a file of another user's
 */
export function judgeUnasked(unasked: UnaskedDefault, uid: number, what: () => string): void {
  if (uid !== 0) throw othersSwitch(unasked.name, uid, what(), unasked.join);
}

/**
 * Refuses, for a root caller, the default switch directory `dir` when it (or a symlink at its name) or
 * `socket` in it is another user's: their switch, which root joins only when named (`join(dir)`).
 * Nothing there is for the open to say. By name: the connect judges again (`judgeUnasked`).
 *
 * @throws OthersDefaultSwitch naming the owner and how to join it on purpose
 */
export function refuseOthersDefault(
  dir: string,
  socket: string,
  join: (dir: string) => string = asVnl,
): void {
  if (Deno.uid() !== 0) return;
  const looks: [string, boolean][] = [[dir, false], [dir, true], [socket, true]];
  for (const [path, follow] of looks) {
    let st: Deno.FileInfo;
    try {
      st = follow ? Deno.statSync(path) : Deno.lstatSync(path);
    } catch {
      continue;
    }
    // Not followed, only a symlink is looked at: a directory is the next look's.
    if (st.uid === null || st.uid === 0 || (!follow && !st.isSymlink)) continue;
    const what = !follow
      ? "a symlink of theirs"
      : path === dir
      ? ownerAndMode(path)
      : `${path}: ${ownerAndMode(path)}`;
    throw othersSwitch(dir, st.uid, what, join);
  }
}

/**
 * For root, the switch directory the user default `file` (under `home`) names, when the way to it is root's
 * alone: a directory or symlink on its way another user's or open to others' writes, the file (or the
 * symlink that is the default) another user's, or a file of root's others may write, is refused. Nothing there is undefined: the next default is
 * looked at. The way is judged before the file is looked for: on a way another user may change, a file not
 * there at one look may be there at the next (they make and remove it in a loop), so there the file is
 * never read, only refused when found.
 *
 * @throws OthersDefaultSwitch naming the file, the step that is not root's and the switch it names
 */
function rootsUserDefault(file: string, home: string, join: (dir: string) => string): string | undefined {
  // The directory holding it judged as a directory on the way (a last name after it, which is not looked at).
  const step = untrustedStep(`${file.slice(0, file.lastIndexOf("/"))}/.vde-judged`, [0]);
  let own: Deno.FileInfo;
  try {
    own = Deno.lstatSync(file);
  } catch {
    return undefined;
  }
  let whose: string;
  let what: string;
  if (step !== undefined) {
    whose = step.kind === "writable" || step.kind === "missing"
      ? "not root's alone"
      : `${userName(step.uid)}'s`;
    what = stepText(step);
  } else if (own.uid !== null && own.uid !== 0) {
    whose = `${userName(own.uid)}'s`;
    what = own.isSymlink ? "a symlink of theirs" : ownerAndMode(file);
  } else if (own.isFile && othersMayWrite(own.mode ?? 0, own.gid ?? -1, [0])) {
    // Root's file, but its VNL is whoever may write it's to choose.
    whose = "not root's alone";
    what = `a file ${writersText(own.mode ?? 0, own.gid ?? -1)} may write, ${ownerAndMode(file)}`;
  } else return userDefault(file);
  let named: string;
  try {
    const dir = userDefault(file);
    named = dir === undefined ? "give the switch's path" : join(dir);
  } catch {
    named = "give the switch's path";
  }
  throw new OthersDefaultSwitch(
    `${file} is ${whose}${whose.startsWith("not") ? "" : ", not root's"} (${what}): root does not follow ` +
      `another user's default unasked (HOME=${home}); name the switch to join it on purpose (${named})`,
  );
}

/**
 * The directory of the default switch. For root, a system default of another user's is refused
 * (`refuseOthersDefault`, its hint `join`).
 *
 * @throws Error when no default names one and no system switch runs; OthersDefaultSwitch (see above)
 */
export function defaultSwitchDir(
  home: string | undefined = Deno.env.get("HOME"),
  systemDefaults: readonly string[] = SYSTEM_DEFAULTS,
  join: (dir: string) => string = asVnl,
): string {
  return defaultSwitch(home, systemDefaults, join).dir;
}

/**
 * The default switch's directory, as `defaultSwitchDir`, and for root's system default (taken unasked) what
 * the connect judges (`unasked`; undefined for any other).
 *
 * @throws as defaultSwitchDir
 */
export function defaultSwitch(
  home: string | undefined = Deno.env.get("HOME"),
  systemDefaults: readonly string[] = SYSTEM_DEFAULTS,
  join: (dir: string) => string = asVnl,
): { dir: string; unasked?: UnaskedDefault } {
  for (const rel of home === undefined || home === "" ? [] : USER_DEFAULTS) {
    const file = `${home}/${rel}`;
    const dir = Deno.uid() === 0 ? rootsUserDefault(file, home!, join) : userDefault(file);
    if (dir !== undefined) return { dir };
  }
  // On a shared machine /tmp/vde.ctl is whoever started a switch there first: one we may not
  // look into is named with its owner, not reported as no switch at all.
  let denied: string | undefined;
  for (const p of systemDefaults) {
    try {
      Deno.statSync(`${p}/ctl`);
    } catch (err) {
      if (err instanceof Deno.errors.PermissionDenied) denied ??= p;
      continue;
    }
    refuseOthersDefault(p, `${p}/ctl`, join);
    return Deno.uid() === 0 ? { dir: p, unasked: { name: p, join } } : { dir: p };
  }
  const none = "no switch path given, none in ~/.vdeplug/default or ~/.vde2/default.switch";
  if (denied !== undefined) {
    throw new Error(
      `${none}, and ${denied} is another user's (${ownerAndMode(denied)}): ` +
        "give the switch's directory, or start your own (vde switch --sock DIR) and name it",
    );
  }
  throw new Error(`${none}, and no switch at ${systemDefaults.join(" or ")}`);
}
