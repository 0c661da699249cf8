/**
 * `vde://PATH[PORT]`: a client port on a vde_switch (ours or the C one).
 * A bracket value that is no number is vdeplug4's port group, which no
 * switch has: as vdeplug4 does then, a free port is taken (and said).
 *
 * The handshake (spec 1.4): bind a datagram socket in the switch directory,
 * send a v3 request naming it on `PATH/ctl`, read the 110-byte reply naming
 * the switch's socket for our port, connect to it and unlink our own path
 * (the kernel keeps the association). The link lives as long as the control
 * stream: the switch closing it ends the link, and closing the link closes it.
 *
 * Its input is drained on a thread of its own (dataplane/rx_thread.ts) unless
 * `receiveThread: false`: the switch (Debian's drops on a full queue) must
 * never find our queue full while the main thread is busy.
 *
 * Send buffer: 1 MiB, so a burst from the main thread waits in the kernel
 * rather than in our queue while that thread is busy elsewhere; but a link
 * opened for a plug thread (`plugThread`) keeps the system's default, and
 * this is the one place that chooses. That thread never pauses long, and
 * when the switch's queue is full it waits and leaves the frames in the
 * tap's queue; a deep queue at a C switch only makes the bursts it forwards
 * longer, and it drops what a slower receiver's socket cannot hold.
 * Measured behind Debian's vde_switch, iperf3 from the tap: with 1 MiB,
 * 29,000-75,000 frames per 400 MB were lost at the far plug and the plug
 * thread spent 1.3x the CPU per byte; with the default, 16,000-35,000, near
 * vde_plug's 16,000-24,000 (its socket has the default). The receive
 * buffer does not matter: the switch's port socket and ours are connected
 * to each other, so the kernel bounds what waits for us by the switch's
 * send buffer alone (not by net.unix.max_dgram_qlen, which applies only to
 * a sender the receiver is not connected to).
 *
 * What root joins. A switch's ctl and port sockets are made by one user,
 * the switch's. In a directory a group or others may write, a member can
 * put a socket of theirs at `ctl` or at the port socket's name (or a
 * symlink at `ctl`), and root's tap would carry its frames to them. So
 * root's client takes a switch it named there only through a `ctl` of the
 * directory owner's or root's (a symlink at `ctl` followed only when it is
 * theirs too, its target read from the very link), and connects only to a
 * port socket of the same owner as that `ctl` (or root's), each judged on
 * the file connected to (`namedCtl`, the handshake's `judgePort`). The way
 * to the directory is judged as trusted_path.ts judges a secret's: every
 * directory and symlink on it root's or the switch owner's, writable by no
 * one else but for the sticky bit, else a member could rename the switch's
 * directory away and put one of their own at its name. A directory
 * others may not write is taken as its owner's: its ctl is followed as
 * before, and only the port's owner is held to the ctl's. A default root
 * took unasked is judged harder (every file root's: `judgedCtl`). The
 * switch connects to root's own handshake socket by its name: in such a
 * directory without the sticky bit a member could rename it away and bind
 * theirs there before the switch does, so root's is bound in /tmp
 * (`awayFromDir`), where no one else may rename it. Other users are
 * refused nothing: their traffic is their own.
 */
import { C, cstr, libc, SysError } from "../../ffi/libc.ts";
import { defaultSwitch, defaultSwitchDir, judgeUnasked, type UnaskedDefault } from "./default_switch.ts";
import { isErrno, UnixDgramSocket } from "../io/unix_dgram.ts";
import { parseSockaddrUn, SOCKADDR_UN_LEN } from "../wire/sockaddr_un.ts";
import { buildVdeRequest, REQ_NEW_CONTROL, REQ_NEW_PORT0 } from "../wire/vde_request.ts";
import { isBusyRefusal, parseRefusal } from "../wire/vde_refusal.ts";
import { printable } from "../console/reply_format.ts";
import { groupHint, lookupGroup, ownerAndMode, userName } from "../os/users.ts";
import { shellQuoted } from "../shell_quote.ts";
import { DgramLink } from "./dgram_link.ts";
import { NAME_PATTERN, ROOT_LABS_DIR } from "../vde/lab_dirs.ts";
import { giveSocketFile } from "../os/socket_file.ts";
import { type OpenOptions, registerScheme } from "./registry.ts";
import { unknownOption } from "./vnl_params.ts";
import { log } from "../log.ts";
import { closedAncestor, dirOf, isDirectory } from "../os/paths.ts";
import { nearSwitchClause } from "../vde/near_switch.ts";
import {
  closeFd,
  type FollowedPath,
  type OpenedPath,
  openFollowedPath,
  openOwnedPath,
} from "../io/unix_stream.ts";
import { PinnedDirectory } from "../os/held_dir.ts";
import { refuseUntrustedWay } from "../os/root_way.ts";

/** Parameters of a vde:// VNL. */
export interface VdeVnl {
  path: string;
  /** Requested port; undefined means auto, 0 means the management port 0. */
  port?: number;
  /**
   * vdeplug4's port group (`PATH[privatelan]`, `[portgroup=NAME]`): no switch has them (vde_switch
   * neither), so vdeplug4 falls back to a free port, and so do we, saying so.
   */
  portgroup?: string;
  mode: number;
  group?: string;
}

const KEYS = ["port", "portgroup", "group", "mode"] as const;

/** Parses `PATH[opts]` where opts is `N` or `key=value/...` (keys may be abbreviated). */
export function parseVdeVnl(rest: string): VdeVnl {
  const open = rest.indexOf("[");
  const path = open < 0 ? rest : rest.slice(0, open);
  const out: VdeVnl = { path, mode: 0o700 };
  if (open < 0) return out;
  const close = rest.lastIndexOf("]");
  if (close < open) throw new Error(`missing "]" in vde VNL: ${rest}`);
  for (const opt of rest.slice(open + 1, close).split("/")) {
    if (opt === "") continue;
    const eq = opt.indexOf("=");
    const key = eq < 0 ? "port" : KEYS.find((k) => k.startsWith(opt.slice(0, eq)));
    const value = eq < 0 ? opt : opt.slice(eq + 1);
    if (key === undefined && opt.slice(0, eq) === "vlan") {
      // vdeplug4 has no vlan= either: a port's VLAN is the switch's to set.
      const port = out.port === undefined ? "PORT" : String(out.port);
      // A value that is no VLAN number is not put in the command to paste.
      const vlan = /^\d{1,4}$/.test(value) && Number(value) <= 4095 ? value : "N";
      throw new Error(
        `vde:// takes no vlan=: a port's VLAN is set on the switch, \`vde term ${
          shellQuoted(path)
        } -c 'port/setvlan ${port} ${vlan}'\` ` +
          `(vlan/create ${vlan} first)`,
      );
    }
    if (key === undefined) {
      throw unknownOption("vde", opt.slice(0, eq), KEYS);
    }
    if (key === "port" || key === "portgroup") {
      // vdeplug4 keeps one port or group, the last named: a second one would be dropped unsaid.
      const first = out.portgroup ?? (out.port === undefined ? undefined : String(out.port));
      if (first !== undefined) {
        throw new Error(
          `vde://${path}: names two ports or port groups ("${first}" and "${value}"): give one, [N] or [NAME]`,
        );
      }
    }
    if ((key === "portgroup" || eq < 0) && !/^\d+$/.test(value)) {
      // vdeplug4 reads a bracket value that is no number as a port group's name.
      out.portgroup = value;
    } else if (key === "port" || key === "portgroup") {
      if (!/^\d+$/.test(value)) throw new Error(`vde:// port must be a number, got "${value}"`);
      out.port = Number(value);
    } else if (key === "mode") {
      if (!/^[0-7]{1,4}$/.test(value)) throw new Error(`vde:// mode must be octal, got "${value}"`);
      out.mode = parseInt(value, 8);
    } else out.group = value;
  }
  return out;
}

let sequence = 0;

/** A client socket bound for the handshake: where it is (`at`) and the name the switch is told. */
interface ClientSocket {
  sock: UnixDgramSocket;
  /** Bound, given its mode and unlinked here: through the switch's directory held, when it is. */
  at: string;
  /** The same socket by the directory's name, for the switch (our descriptor means nothing to it). */
  name: string;
}

/**
 * Binds a fresh client socket in the directory `dir` (through `within`, it held) or /tmp when that fails, or
 * in /tmp alone when `away` (root's socket in a directory others may rename in, `awayFromDir`).
 */
function bindClientSocket(dir: string, within: (name: string) => string, away: boolean): ClientSocket {
  const pid = Deno.pid.toString().padStart(5, "0");
  const bases = [[dir, "."], ["/tmp", "vde."]] as const;
  for (const [base, prefix] of away ? bases.slice(1) : bases) {
    for (let tries = 0; tries < 1000; tries++) {
      const sock = UnixDgramSocket.create();
      const file = `${prefix}${pid}-${(sequence++).toString().padStart(5, "0")}`;
      const name = `${base}/${file}`;
      const at = base === dir ? within(file) : name;
      try {
        sock.bind(at);
        // Unlinked by the handshake (or its failure), never by the socket's close: that may come after the
        // directory is let go, when `at` names whatever the descriptor's number is by then.
        sock.leaveName();
        return { sock, at, name };
      } catch (err) {
        sock.close(false);
        if (!isErrno(err, C.EADDRINUSE)) break;
      }
    }
  }
  throw new Error(`cannot bind a client socket in ${dir} or /tmp`);
}

/**
 * Whether root's handshake socket is bound in /tmp rather than in the switch directory held at `at`: one a
 * group or others may write without the sticky bit. The switch connects to our socket by its name, after
 * the request; a member who renamed ours away and bound theirs at that name meanwhile (inotify tells them
 * when) had the switch send root's port's frames to them. In /tmp (sticky) only root may remove or rename
 * root's name.
 */
function awayFromDir(at: string): boolean {
  if (libc().geteuid() !== 0) return false;
  try {
    const mode = Deno.statSync(at).mode ?? 0;
    return (mode & 0o022) !== 0 && (mode & C.S_ISVTX) === 0;
  } catch {
    return false;
  }
}

/**
 * The switch directory `dir` held for the handshake (os/held_dir.ts): our socket is bound, given its mode
 * and unlinked in it, and ctl reached, through the descriptor, not by name. The directory is the switch's
 * owner's, who may rename it away and put a link at its name (in /tmp: it is theirs): by name, root's plug
 * then unlinked the name it bound in wherever the link led (its close, its failure). Null (worked by
 * name, as before) when it cannot be opened: the connect then says why.
 */
function holdSwitchDir(dir: string): PinnedDirectory | null {
  try {
    return PinnedDirectory.pin(dir);
  } catch {
    return null;
  }
}

async function readExactly(conn: Deno.Conn, n: number, timeoutMs: number): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  let got = 0;
  const timer = setTimeout(() => conn.close(), timeoutMs);
  try {
    while (got < n) {
      const r = await conn.read(out.subarray(got));
      if (r === null) break;
      got += r;
    }
  } catch {
    /* closed by the timer or the peer */
  } finally {
    clearTimeout(timer);
  }
  return out.subarray(0, got);
}

/** A client port on a vde switch. */
export class VdeClientLink extends DgramLink {
  readonly #ctl: Deno.Conn;

  constructor(socket: UnixDgramSocket, ctl: Deno.Conn, description: string, receiveThread = true) {
    super(socket, description, receiveThread);
    this.#ctl = ctl;
    this.#watchCtl();
  }

  async #watchCtl(): Promise<void> {
    const buf = new Uint8Array(256);
    try {
      while ((await this.#ctl.read(buf)) !== null) { /* the switch sends nothing after the reply */ }
      this.close("the switch closed the connection");
    } catch {
      this.close("the switch connection failed");
    }
  }

  protected override teardown(): void {
    super.teardown();
    try {
      this.#ctl.close();
    } catch { /* already closed */ }
  }
}

/**
 * What a user refused by a switch's permissions can do about it: a switch's
 * sockets are its user's alone (directory 2700, sockets 600) unless it was
 * started for everyone.
 */
function deniedHint(dir: string): string {
  const denied = `permission denied on the switch at ${dir}`;
  // A root lab's switch is shared by its lab file, not by the switch's options or a chmod of the lab.
  const lab = rootLabOf(dir);
  if (lab !== undefined) {
    const why = groupHint(dir) ??
      `a switch of root's lab ${lab} that its lab file does not share with this user: ` +
        "a lab shares a switch with a group by its node's `mode: 660` and `group: GROUP`";
    return `${denied}: ${why}`;
  }
  const closed = closedAncestor(dir);
  if (closed !== undefined) {
    return `${denied}: ${closed} (${ownerAndMode(closed)}) does not let you through to it; its owner may ` +
      `open it (chmod o+x ${closed}), or serve the switch from a directory others can reach`;
  }
  const group = groupHint(dir);
  if (group !== undefined) return `${denied}: ${group}`;
  return `${denied}: run as the switch's user (or root), or start the switch with --mode 666 (vde_switch: -m 666)`;
}

/** The lab whose switch `dir` is, for a root lab's switch directory (`/run/vde/LAB/SWITCH`). */
function rootLabOf(dir: string): string | undefined {
  const parts = dir.replace(/\/+$/, "").split("/");
  const lab = parts.at(-2) ?? "";
  return parts.slice(0, -2).join("/") === ROOT_LABS_DIR && NAME_PATTERN.test(lab) ? lab : undefined;
}

/**
 * Lets the switch reach our socket, as vdeplug4 does: the VNL's `group`
 * (`vde plug -g GROUP`) when given, with access for it; else, when the mode leaves the group and
 * others out and the switch is neither root's nor ours (a user's switch
 * shared with `--mode 660 --group G`), the group of its `ctl` with group
 * access, or everyone's when we are not in that group. Left 700, another
 * user's switch could not write to it and would refuse us.
 */
function giveClientSocket(path: string, ctlPath: string, vnl: VdeVnl): void {
  // Through giveSocketFile: the directory may be a group's to write (socket_file.ts).
  if (vnl.group !== undefined) {
    const gid = lookupGroup(vnl.group);
    if (gid === undefined) throw new Error(`unknown group "${printable(vnl.group)}" in the VNL's group=`);
    // A group is named for the switch to reach us through it (vdeplug4 would leave it 700, unusable).
    return giveSocketFile(path, vnl.mode | 0o070, gid);
  }
  if ((vnl.mode & 0o077) === 0) {
    const ctl = Deno.statSync(ctlPath);
    if (ctl.uid !== 0 && ctl.uid !== libc().geteuid()) {
      try {
        return giveSocketFile(path, vnl.mode | 0o070, ctl.gid ?? undefined);
      } catch {
        return giveSocketFile(path, vnl.mode | 0o077);
      }
    }
  }
  giveSocketFile(path, vnl.mode);
}

/**
 * Why `DIR/ctl` took no connection, in the user's terms: a switch that
 * stopped without cleaning up (killed), a directory that is no switch's, or
 * a path that is a file or socket (a management socket given for a switch).
 */
function whyNoConnection(dir: string, err: unknown): string {
  if (err instanceof Deno.errors.ConnectionRefused) {
    return `no switch serves ${dir}: its ctl socket is left from a switch that stopped (start it again)`;
  }
  if (err instanceof Deno.errors.NotFound) {
    return `${dir} is not a switch's socket directory (it has no ctl socket)`;
  }
  if (err instanceof Deno.errors.NotADirectory) {
    let socket = false;
    try {
      socket = Deno.statSync(dir).isSocket === true;
    } catch { /* said below */ }
    // A switch's own ctl socket is named by its directory, as vde_plug names it.
    if (socket && /(^|\/)ctl$/.test(dir)) {
      return `${dir} is the switch's ctl socket: name the switch by its directory, ${
        dir.replace(/\/?ctl$/, "") || "."
      }`;
    }
    return socket
      ? `${dir} is a socket, not a switch's socket directory (a management socket? \`vde term ${dir}\` opens it)`
      : `${dir} is not a switch's socket directory (it is a file)`;
  }
  if (err instanceof Deno.errors.WouldBlock) {
    return `the switch at ${dir} took no connection for ${
      BACKLOG_WAIT_MS / 1000
    } s: its ctl's queue stayed full (another client flooding it with connections?)`;
  }
  return `cannot connect to the switch at ${dir}: ${err instanceof Error ? err.message : err}`;
}

/** How long to wait for a switch's reply before giving up. */
const REPLY_TIMEOUT_MS = 5000;
/** How long a handshake stopped by its opener still waits for the switch's reply (see `handshake`). */
const STOPPED_REPLY_MS = 2000;

/** Connects to the switch a vde:// VNL names. */
/**
 * The switch directory a vde:// VNL's path names (empty: the default switch), resolved; throws a
 * one-line error when it is not there or not ours to enter.
 */
export function switchDir(path: string): string {
  const dir = path === "" ? defaultSwitchDir() : path;
  try {
    return Deno.realPathSync(dir);
  } catch (err) {
    if (err instanceof Deno.errors.PermissionDenied) throw new Error(printable(deniedHint(dir)));
    // `vde://tmp/net` (two slashes) names the relative path tmp/net: the user meant /tmp/net.
    const absolute = !dir.startsWith("/") && isDirectory(`/${dir}`)
      ? ` (did you mean /${dir}? as a VNL, vde:///${dir})`
      : nearSwitchClause(dir);
    throw new Error(
      printable(`no switch at ${dir}: the directory does not exist${absolute || startOneClause(dir)}`),
    );
  }
}

/**
 * What to do about a switch path that nothing serves and nothing near names: start the switch there (a
 * step of README's left out, or a switch not started yet), where `vde switch --sock DIR` could make it (its
 * parent directory exists). A bare name (`slirp`, `eth0`) or one with a colon (`tap:t0`) is more likely a
 * mistyped VNL than a switch to start: openLink says which.
 */
function startOneClause(dir: string): string {
  if (!dir.includes("/") || dir.includes(":") || !isDirectory(dirOf(dir))) return "";
  return ` (start one: vde switch --sock ${shellQuoted(dir)} --daemon)`;
}

/**
 * Checks that a switch serves the directory a vde:// VNL's path names, in
 * the words `vde plug` uses when it does not: a connection to its ctl
 * socket, closed at once (vde_switch and ours take that as a client that
 * left before asking). For a program that connects later, per client.
 *
 * @throws Error with one line saying why no switch is there
 */
export async function checkSwitchServes(path: string): Promise<void> {
  (await connectCtl(switchDir(path))).close();
}

/** How long a connect waits for room in a ctl's listen backlog another client filled, or a busy switch. */
export const BACKLOG_WAIT_MS = 5000;

/** The switch refused a handshake for the others under way (`isBusyRefusal`): worth asking again. */
class SwitchBusy extends Error {}

/**
 * A stream to the switch's ctl socket in `dir`, or a one-line error saying why there is none. Deno's
 * connect does not block: a full listen backlog (a user flooding a shared switch with connections) is
 * EAGAIN at once, where vde_plug's blocking connect waits for room; so is this one, BACKLOG_WAIT_MS, unless
 * its opener stops (`signal`): a plug interrupted then ends at once, as vde_plug's connect does.
 */
async function connectCtl(
  dir: string,
  ctl = `${dir}/ctl`,
  signal?: AbortSignal,
  deadline = Date.now() + BACKLOG_WAIT_MS,
): Promise<Deno.Conn> {
  for (let pause = 2;; pause = Math.min(pause * 2, 50)) {
    try {
      return await Deno.connect({ transport: "unix", path: ctl });
    } catch (err) {
      if (err instanceof Deno.errors.WouldBlock && Date.now() < deadline) {
        await pauseUnlessStopped(pause, signal);
        stoppedDuring(signal, dir);
        continue;
      }
      if (err instanceof Deno.errors.PermissionDenied) throw new Error(printable(deniedHint(dir)));
      throw new Error(whyNoConnection(dir, err));
    }
  }
}

/** Waits `ms`, or until `signal` aborts. */
function pauseUnlessStopped(ms: number, signal: AbortSignal | undefined): Promise<void> {
  if (signal?.aborted === true) return Promise.resolve();
  return new Promise((done) => {
    const stop = () => {
      clearTimeout(timer);
      done();
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", stop);
      done();
    }, ms);
    signal?.addEventListener("abort", stop, { once: true });
  });
}

/**
 * The data socket the switch at real directory `dir` answered with, opened as the file itself (connect through its
 * `procPath`): a socket in the switch's own directory. The answer is the switch's to choose, and a switch is
 * anyone's to run: one of another user's could name any datagram socket root's plug may write (the
 * journal's, syslog's /dev/log) or a symlink to one, and have the frames of root's tap sent there.
 *
 * @throws Error naming the switch when the answer is anything else
 */
function switchSocket(dir: string, answer: string): OpenedPath {
  // Quoted printable: JSON.stringify escapes C0 controls but leaves DEL and C1 (U+009B is a CSI to some
  // terminals), which a hostile switch's answer would carry to the user's terminal.
  // A switch answers with a socket of its own directory: anything else is no vde_switch's doing.
  const refused = (what: string) =>
    new Error(
      `the switch at ${dir} answered with ${JSON.stringify(printable(answer))}, ${what}: not connected; ` +
        "ask its owner to restart it, or name another switch",
    );
  let target: OpenedPath;
  try {
    target = openOwnedPath(answer);
  } catch (err) {
    throw refused(`which cannot be opened (${(err as Error).message})`);
  }
  // Where the kernel says the opened file is, whatever the names on the way held at the open.
  let at = "";
  try {
    at = Deno.readLinkSync(target.procPath);
  } catch { /* said below */ }
  // `dir` is the real path switchDir resolved before the switch was asked: resolved again now, a directory
  // of the switch's owner swapped for a symlink meanwhile (/tmp/theirs -> /dev) would agree with /dev/log.
  if (!target.isSocket || dirOf(at) !== dir) {
    closeFd(target.fd);
    throw refused("no socket in its directory");
  }
  return target;
}

export async function openVdeLink(rest: string, options: OpenOptions = {}): Promise<VdeClientLink> {
  const vnl = parseVdeVnl(rest);
  // A refusal's VNL to join it on purpose keeps the port and options asked for (`vde://[3]`).
  const asked = rest.slice(vnl.path.length);
  const found = vnl.path === ""
    ? defaultSwitch(undefined, undefined, (d) => `vde://${d}${asked}`)
    : { dir: vnl.path, unasked: options.unasked };
  const dir = switchDir(found.dir);
  const unasked = found.unasked;
  const pin = unasked === undefined ? holdSwitchDir(dir) : pinUnasked(dir, unasked);
  let judged: FollowedPath | null = null;
  try {
    // Root's system default taken unasked: its ctl is connected to through the descriptor judged; a switch
    // root named, through the ctl its directory's owner made (namedCtl).
    if (unasked !== undefined && pin !== null) judged = judgedCtl(dir, pin, unasked);
    else if (pin !== null && libc().geteuid() === 0) judged = namedCtl(dir, pin);
    const within = (name: string) => pin?.entry(name) ?? `${dir}/${name}`;
    const portText = (target: OpenedPath) =>
      `its port socket ${Deno.readLinkSync(target.procPath)}: ${ownerAndMode(target.procPath)}`;
    const ctlUid = judged?.uid;
    const port = unasked !== undefined
      ? (target: OpenedPath) => judgeUnasked(unasked, target.uid, () => portText(target))
      : ctlUid === undefined
      ? undefined
      : (target: OpenedPath) => {
        // Root's own socket is no other user's doing.
        if (target.uid !== ctlUid && target.uid !== 0) throw notTheSwitchs(dir, ctlUid, portText(target));
      };
    const away = awayFromDir(pin?.at ?? dir);
    // A switch busy with other handshakes (another user's plugs, opened many at once) is asked again, as a
    // full ctl queue is waited for, within the same BACKLOG_WAIT_MS, unless the opener stops meanwhile.
    const deadline = Date.now() + BACKLOG_WAIT_MS;
    for (let pause = 10;; pause = Math.min(pause * 2, 200)) {
      try {
        return await handshake(
          vnl,
          dir,
          within,
          judged?.procPath ?? within("ctl"),
          port,
          away,
          options,
          deadline,
        );
      } catch (err) {
        if (!(err instanceof SwitchBusy) || Date.now() >= deadline) throw err;
        await pauseUnlessStopped(pause, options.signal);
        stoppedDuring(options.signal, dir);
      }
    }
  } finally {
    if (judged !== null) closeFd(judged.fd);
    // Every name in it is unlinked by now (handshake): nothing is done through it after this.
    pin?.close();
  }
}

/**
 * The directory of a default root took unasked, held and judged: as the switch's own binds, everything
 * after goes through this descriptor, so the directory judged is the one used, whatever its name holds by
 * then.
 *
 * @throws OthersDefaultSwitch when it is another user's; Error when it cannot be held
 */
function pinUnasked(dir: string, unasked: UnaskedDefault): PinnedDirectory {
  let pin: PinnedDirectory;
  try {
    pin = PinnedDirectory.pin(dir);
  } catch (err) {
    throw new Error(`cannot open the switch directory ${dir}: ${(err as Error).message}`);
  }
  try {
    judgeUnasked(unasked, Deno.statSync(pin.at).uid ?? -1, () => ownerAndMode(pin.at));
  } catch (err) {
    pin.close();
    throw err;
  }
  return pin;
}

/**
 * The ctl socket of a default root took unasked, in its directory held, opened as the file it leads to and
 * judged: connected to through the descriptor (`procPath`), it is the socket judged. Closed by the caller.
 *
 * @throws OthersDefaultSwitch for another user's socket; Error when there is none
 */
function judgedCtl(dir: string, pin: PinnedDirectory, unasked: UnaskedDefault): FollowedPath {
  const ctl = openFollowedPath(pin.entry("ctl"));
  if (ctl === null) throw new Error(whyNoConnection(dir, new Deno.errors.NotFound()));
  try {
    judgeUnasked(unasked, ctl.uid, () => `${dir}/ctl: ${ownerAndMode(ctl.procPath)}`);
  } catch (err) {
    closeFd(ctl.fd);
    throw err;
  }
  return ctl;
}

/**
 * Root's refusal of a socket in the switch directory `dir` that is not the switch's: a user other than the
 * owner of its ctl (`ctlUid`) made it (`what` names it with its owner). A switch makes its ctl and port
 * sockets alike; in a directory a group or others may write, a member can put a socket of theirs at
 * either name, and root's tap would send its frames to them.
 */
function notTheSwitchs(dir: string, ctlUid: number, what: string): Error {
  const user = userName(ctlUid);
  return new Error(
    `the switch at ${dir} is ${user}'s (its ctl), but ${what}: root does not connect to a ` +
      `socket another user may have put in a switch's directory; not connected: ask ${user} to restart it ` +
      `in a directory only they may write, or run as ${user}`,
  );
}

/**
 * The ctl of a switch root named, in its directory held, opened as the file it leads to: connected to
 * through the descriptor (`procPath`), its owner is the one the port socket must have (a switch makes
 * both). In a directory a group or others may write, whoever may write it can put a symlink at `ctl`:
 * one is followed only when it is the directory owner's or root's, as the ctl it leads to must be.
 * Closed by the caller.
 *
 * @throws Error naming both owners when it is another's; when there is no ctl
 */
function namedCtl(dir: string, pin: PinnedDirectory): FollowedPath {
  const held = Deno.statSync(pin.at);
  const owner = held.uid ?? -1;
  // The sticky bit keeps others from replacing an entry that is not theirs, but not from making one first.
  const shared = ((held.mode ?? 0) & 0o022) !== 0;
  const trusted = (uid: number) => !shared || uid === owner || uid === 0;
  const where = `${dir} (${ownerAndMode(pin.at)}), a directory others may write`;
  // The way to it judged too: one who may write a directory on it (without the sticky bit) could rename
  // the switch's directory away and put theirs at its name, a switch of theirs in a directory of their own,
  // before it was held.
  refuseUntrustedWay(dir, pin, [0, owner], { what: "join a switch whose directory", doing: "joining it" });
  let entry: OpenedPath;
  try {
    entry = openOwnedPath(pin.entry("ctl"));
  } catch (err) {
    // Root without the capabilities that override modes (setpriv, a container) meets them as any user.
    if (err instanceof SysError && err.code === C.EACCES) throw new Error(printable(deniedHint(dir)));
    throw new Error(whyNoConnection(dir, new Deno.errors.NotFound()));
  }
  let ctl: FollowedPath | null = entry.isSymlink ? null : entry;
  try {
    if (entry.isSymlink) {
      if (!trusted(entry.uid)) {
        throw new Error(
          `${dir}/ctl is a symlink of ${
            userName(entry.uid)
          }'s in ${where}: not followed for root; name the ` +
            "directory the switch serves",
        );
      }
      // Its target read from the very link held: one put at its name since leads nowhere here.
      const buf = new Uint8Array(4096);
      const n = libc().readlinkat(entry.fd, cstr(""), buf, buf.length);
      const target = n > 0 && n < buf.length ? new TextDecoder().decode(buf.subarray(0, n)) : "";
      ctl = target === "" ? null : openFollowedPath(target.startsWith("/") ? target : pin.entry(target));
      if (ctl === null) throw new Error(whyNoConnection(dir, new Deno.errors.NotFound()));
    }
    if (!trusted(ctl!.uid)) {
      throw new Error(
        `${dir}/ctl is ${userName(ctl!.uid)}'s in ${where}: root does not join a switch another user ` +
          `than ${userName(owner)} may have put there; not connected: ask ${
            userName(ctl!.uid)
          } to serve it from a directory of their own, or run as ${userName(ctl!.uid)}`,
      );
    }
    return ctl!;
  } catch (err) {
    if (ctl !== null && ctl !== entry) closeFd(ctl.fd);
    throw err;
  } finally {
    if (ctl !== entry) closeFd(entry.fd);
  }
}

/**
 * Asks the switch at `dir` (its names reached by `within`, its ctl at `ctlPath`) for a port; `judgePort`
 * refuses the port socket it answers with (throwing) before it is connected to; `away`: our socket in /tmp.
 */
async function handshake(
  vnl: VdeVnl,
  dir: string,
  within: (name: string) => string,
  ctlPath: string,
  judgePort: ((target: OpenedPath) => void) | undefined,
  away: boolean,
  options: OpenOptions,
  deadline: number,
): Promise<VdeClientLink> {
  const signal = options.signal;
  // Stopped before it connected, it never connects: there is nothing to undo, and a held switch is not
  // waited for.
  stoppedDuring(signal, dir);
  const ctl = await connectCtl(dir, ctlPath, signal, deadline);
  // A stop (the opener's signal) at any moment of the handshake is this function's to undo, the catch below
  // unlinking our socket and closing it and the stream, but only once the request is sent and answered:
  // Debian's vde_switch leaks the port of a client that leaves between the two (a zombie port/print shows
  // for good: 27 of 30 such clients closing 1 ms after their request), and loses track of its next
  // client's leaving after a connection that closes with no request at all. A switch that does not answer
  // (stopped, hung) is given STOPPED_REPLY_MS, then the stream is closed, which ends the wait. Left to the
  // exit, a plug stopped meanwhile left its socket in the switch's directory.
  let giveUp: ReturnType<typeof setTimeout> | undefined;
  const abandon = () => {
    try {
      ctl.close();
    } catch { /* already closed */ }
  };
  const onStop = () => giveUp = setTimeout(abandon, STOPPED_REPLY_MS);
  if (vnl.portgroup !== undefined && vnl.port === undefined) {
    log(
      "vde",
      `vde://${vnl.path}: "${vnl.portgroup}" is a port group, which switches do not have (vde_switch neither): ` +
        "plugged into a free port, as vde_plug does (a port is a number: [3])",
    );
  }
  let mine: ClientSocket | null = null;
  try {
    mine = bindClientSocket(dir, within, away);
    const { sock } = mine;
    // As the switch does for its end: a burst waits in the kernel instead of our queue (see above).
    if (options.plugThread !== true) sock.setBuffers(1 << 20);
    giveClientSocket(mine.at, ctlPath, vnl);
    // As vde_plug: the name of the effective user (the environment may say anything, or nothing).
    const user = userName(libc().geteuid());
    const ssh = Deno.env.get("SSH_CLIENT")?.split(" ")[0];
    // vde_plug's default description, so a script reading port/print finds the same words (and fields).
    const descr = `${options.description ?? "vdeplug:"} user=${user} pid=${Deno.pid}${
      ssh ? ` SSH=${ssh}` : ""
    }`;
    const kind = vnl.port === 0 ? REQ_NEW_PORT0 : REQ_NEW_CONTROL;
    // A switch that refuses us at its accept (too many handshakes under way) writes why and closes before
    // our request: the write fails (EPIPE), and the reason is still there to read.
    const unsent = await ctl.write(
      buildVdeRequest({ kind, port: vnl.port ?? 0, socketPath: mine.name, description: descr }),
    ).then(() => undefined, (err: unknown) => err);
    if (signal?.aborted === true) onStop();
    else signal?.addEventListener("abort", onStop, { once: true });
    const reply = await readExactly(ctl, SOCKADDR_UN_LEN, REPLY_TIMEOUT_MS);
    stoppedDuring(signal, dir);
    if (reply.length < SOCKADDR_UN_LEN) {
      const port = vnl.port === undefined ? "" : ` for port ${vnl.port}`;
      // Ours says why; vde_switch says nothing (it closes, or leaves a port out of range unanswered until
      // REPLY_TIMEOUT_MS), and then the reason is one of these.
      const said = parseRefusal(reply);
      const why = said ??
        (unsent === undefined
          ? "port busy, out of range, or none free"
          : `it closed the connection before our request (${
            unsent instanceof Error ? unsent.message : unsent
          })`);
      const refused = `the switch at ${dir} refused the connection${port}: ${why}`;
      throw said !== null && isBusyRefusal(said) ? new SwitchBusy(refused) : new Error(refused);
    }
    const addr = parseSockaddrUn(reply);
    if (!addr.ok) throw new Error(`bad reply from the switch at ${dir}: ${addr.reason}`);
    const target = switchSocket(dir, addr.value);
    try {
      judgePort?.(target);
      sock.connect(target.procPath);
    } catch (err) {
      if (isErrno(err, C.EACCES)) throw new Error(printable(deniedHint(dir)));
      throw err;
    } finally {
      closeFd(target.fd);
    }
    stoppedDuring(signal, dir);
    unlinkClientSocket(mine);
    const name = `vde ${dir} (${addr.value.slice(dir.length + 1)})`;
    // A plug thread reads the socket itself: a receive thread would only be stopped when the fd is lent.
    return new VdeClientLink(sock, ctl, name, options.receiveThread ?? options.plugThread !== true);
  } catch (err) {
    if (mine !== null) {
      mine.sock.close();
      unlinkClientSocket(mine);
    }
    abandon();
    throw err;
  } finally {
    signal?.removeEventListener("abort", onStop);
    clearTimeout(giveUp);
  }
}

/** Throws when the opener gave up (`signal` aborted): the handshake with the switch at `dir` is undone. */
function stoppedDuring(signal: AbortSignal | undefined, dir: string): void {
  if (signal?.aborted === true) throw new Error(`stopped while joining the switch at ${dir}`);
}

/** Unlinks our handshake socket's name (the kernel keeps a connected socket's association). */
function unlinkClientSocket(mine: ClientSocket): void {
  try {
    Deno.removeSync(mine.at);
  } catch { /* already gone */ }
}

registerScheme("vde", openVdeLink);
