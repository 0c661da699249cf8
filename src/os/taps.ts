/**
 * The tap interfaces of this network namespace, as `ip tuntap list` finds
 * them: sysfs says which interfaces are tun/tap devices (`tun_flags`), in
 * which mode, persistent or not, whose (`owner`, `group`: -1 for none) and
 * whether they are up; /proc says which processes hold one open (a
 * descriptor that links to /dev/net/tun, whose fdinfo names the interface
 * in its `iff:` line). The kernel does not record which program created a
 * tap, so the holders are what tells a tap that vde uses from another.
 *
 * Both roots are parameters so tests can point them at a made-up tree.
 *
 * sysfs is the mount namespace's, not the network namespace's: in a
 * namespace made with `unshare --net` (a user's own, `unshare -rn`) it
 * still lists the machine's interfaces, and `ip tuntap list` fails there.
 * Where its names are not this namespace's (/proc/self/net/dev), the taps
 * come from the kernel's own answer over netlink, as `ip -json -details
 * link show` prints it.
 */
import { C } from "../../ffi/libc.ts";
import { interfaceNames, TapError } from "../../ffi/tun.ts";
import { lookupGroup, lookupUser } from "./users.ts";
import { openFds } from "./processes.ts";
import { printable } from "../console/reply_format.ts";

/** IFF_TAP in tun_flags: a tap (Ethernet frames), not a tun (IP packets). */
const IFF_TAP = 0x0002;
/** IFF_PERSIST in tun_flags: the interface outlives its last holder. */
const IFF_PERSIST = 0x0800;
/** IFF_UP in an interface's flags. */
const IFF_UP = 0x1;

/** One tap interface. */
export interface TapInfo {
  name: string;
  /** uid that may open it without CAP_NET_ADMIN; null for none. */
  owner: number | null;
  /** gid whose members may open it; null for none. */
  group: number | null;
  /** Whether it outlives its last holder (`vde tap create`, `ip tuntap add`). */
  persistent: boolean;
  /** Administratively up (`ip link set NAME up`). */
  up: boolean;
  /** Processes holding it open, by pid, with their command name. */
  holders: { pid: number; command: string }[];
}

function readText(path: string): string | null {
  try {
    return Deno.readTextFileSync(path).trim();
  } catch {
    return null;
  }
}

/** -1 (none) as null; unreadable as null too. */
function idOrNull(text: string | null): number | null {
  if (text === null || !/^\d+$/.test(text)) return null;
  return Number(text);
}

/**
 * Who may open tap `name` without CAP_NET_ADMIN, from sysfs (`owner`, `group`):
 * null for no one, or no such interface.
 */
export function tapAccess(
  name: string,
  sysfs = "/sys/class/net",
): { owner: number | null; group: number | null } {
  return {
    owner: idOrNull(readText(`${sysfs}/${name}/owner`)),
    group: idOrNull(readText(`${sysfs}/${name}/group`)),
  };
}

/**
 * What the process at `dir` (/proc/PID) is called: `vde plug` for a vde
 * command, whose kernel name is `deno` when Deno runs it from source or a
 * bundle (the README's `~/bin/vde`, `deno task vde`, the bundle installed as
 * /usr/local/bin/vde, whose `#!` line makes it `deno run -A
 * --v8-flags=... --quiet /usr/local/bin/vde`), else the kernel's command name.
 */
function holderName(dir: string): string {
  const args = (readText(`${dir}/cmdline`) ?? "").split("\0");
  // Deno runs a command by `deno run`: `deno test test/vde` names a directory of tests.
  const byDeno = /(^|\/)deno$/.test(args[0] ?? "") && args[1] === "run";
  // The library's mod.ts runs the command line too, but the name is common: it counts with a tap user's verb.
  const at = args.findIndex((a, i) =>
    /(^|\/)vde\.(ts|js)$/.test(a) || ((i === 0 || byDeno) && /(^|\/)vde$/.test(a)) ||
    (/(^|\/)mod\.ts$/.test(a) && TAP_USERS.test(args[i + 1] ?? ""))
  );
  if (at < 0) return readText(`${dir}/comm`) ?? "?";
  const sub = args[at + 1] ?? "";
  return /^[a-z]+$/.test(sub) ? `vde ${sub}` : "vde";
}

/** The vde commands that hold taps. */
const TAP_USERS = /^(plug|switch|up|wirefilter)$/;

/** Interface name to the processes holding it, from every /dev/net/tun descriptor in `proc`. */
function tapHolders(proc: string): Map<string, { pid: number; command: string }[]> {
  const held = new Map<string, { pid: number; command: string }[]>();
  // fdinfo names the interface, not its namespace: every namespace may have its eth0 (the README's demo1 and
  // demo2 do). Holders in this namespace are the ones meant; the others count only where there are none
  // here (a tap moved into a namespace after it was opened, as a lab's are).
  const ours = netnsOf(`${proc}/self`);
  const elsewhere = new Map<string, { pid: number; command: string }[]>();
  for (const { pid, fd, path } of openFds(proc)) {
    let target: string;
    try {
      target = Deno.readLinkSync(path);
    } catch {
      continue;
    }
    if (target !== "/dev/net/tun") continue;
    const iff = /^iff:\s*(\S+)$/m.exec(readText(`${proc}/${pid}/fdinfo/${fd}`) ?? "");
    if (iff === null) continue; // opened, not yet attached to an interface
    const ns = netnsOf(`${proc}/${pid}`);
    const into = ours === null || ns === null || ns === ours ? held : elsewhere;
    const list = into.get(iff[1]!) ?? [];
    if (!list.some((h) => h.pid === pid)) {
      list.push({ pid, command: holderName(`${proc}/${pid}`) });
    }
    into.set(iff[1]!, list);
  }
  for (const [name, list] of elsewhere) if (!held.has(name)) held.set(name, list);
  return held;
}

/** The network namespace of the process at `dir` (`net:[4026531840]`), or null where /proc does not say. */
function netnsOf(dir: string): string | null {
  try {
    return Deno.readLinkSync(`${dir}/ns/net`);
  } catch {
    return null;
  }
}

/**
 * Holders as `tap list` shows them: `4242 (vde plug), 4250 (qemu-system-x86)`. A command name is any
 * process's own choice (prctl PR_SET_NAME), of another user's too: its control characters become `?`.
 */
export function formatHolders(holders: readonly { pid: number; command: string }[]): string {
  return holders.map((h) => `${h.pid} (${printable(h.command)})`).join(", ");
}

/**
 * `err` with who holds the tap when it says tap `name` is busy (often our
 * own `vde plug` from earlier), so the user knows what to stop; any other
 * error, or a busy tap whose holder is not seen, as it is.
 */
export function namingHolders(err: unknown, name: string): unknown {
  if (!(err instanceof TapError) || err.code !== C.EBUSY) return err;
  const holders = tapHolders("/proc").get(name) ?? [];
  return holders.length === 0 ? err : new TapError(busyTapMessage(name, holders), C.EBUSY);
}

/**
 * What a busy tap's error says. A tap has one program's end: one QEMU holds
 * (its -netdev tap, or libvirt's vnetN) is the VM's, and no second program
 * can take it, so the way to the switch is a bridge beside it (what
 * libvirt's <interface type='bridge'> joins), or QEMU's own -netdev vde.
 */
export function busyTapMessage(name: string, holders: readonly { pid: number; command: string }[]): string {
  const busy = `tap ${name} is busy: held by ${formatHolders(holders)}`;
  if (!holders.some((h) => h.command.startsWith("qemu"))) return busy;
  return `${busy}, the VM's end of it: join it to the switch by a bridge (ip link add br0 up type bridge; ` +
    `ip link set ${name} master br0 up; vde plug DIR tap://vde0 & then ip link set vde0 master br0 up), ` +
    `or give QEMU -netdev vde,id=n0,sock=DIR`;
}

/**
 * The tap interfaces under `sysfs` (tuns left out), sorted by name.
 *
 * @param sysfs the directory of interfaces (default /sys/class/net)
 * @param proc the process directory (default /proc)
 */
export function listTaps(sysfs = "/sys/class/net", proc = "/proc"): TapInfo[] {
  let names: string[];
  try {
    names = [...Deno.readDirSync(sysfs)].map((e) => e.name);
  } catch {
    return [];
  }
  const taps: TapInfo[] = [];
  let holders: Map<string, { pid: number; command: string }[]> | null = null;
  for (const name of names.sort()) {
    const flags = readText(`${sysfs}/${name}/tun_flags`);
    if (flags === null || (Number(flags) & IFF_TAP) === 0) continue;
    holders ??= tapHolders(proc);
    taps.push({
      name,
      ...tapAccess(name, sysfs),
      persistent: (Number(flags) & IFF_PERSIST) !== 0,
      up: (Number(readText(`${sysfs}/${name}/flags`) ?? "0") & IFF_UP) !== 0,
      holders: holders.get(name) ?? [],
    });
  }
  return taps;
}

/**
 * This network namespace's taps: from sysfs where it lists this
 * namespace's interfaces, else from `ip` (see above); null when neither
 * can say (sysfs another namespace's, and no `ip` to ask).
 */
export function listTapsHere(sysfs = "/sys/class/net", proc = "/proc"): TapInfo[] | null {
  if (sysfsIsOurs(sysfs, `${proc}/self/net/dev`)) return listTaps(sysfs, proc);
  let out: Deno.CommandOutput;
  try {
    out = new Deno.Command("ip", { args: ["-json", "-details", "link", "show"], stderr: "null" })
      .outputSync();
  } catch {
    return null;
  }
  if (!out.success) return null;
  const holders = tapHolders(proc);
  return tapsFromIpLinks(new TextDecoder().decode(out.stdout)).map((t) => ({
    ...t,
    holders: holders.get(t.name) ?? [],
  }));
}

/** Whether `sysfs` names the interfaces `netDev` (/proc/self/net/dev) does; true where either cannot be read. */
export function sysfsIsOurs(sysfs: string, netDev: string): boolean {
  const here = interfaceNames(netDev);
  if (here === null) return true;
  let there: string[];
  try {
    // An interface is a link to its device; a file (bonding_masters) is none.
    there = [...Deno.readDirSync(sysfs)].filter((e) => !e.isFile).map((e) => e.name);
  } catch {
    return true;
  }
  return here.length === there.length && here.every((n) => there.includes(n));
}

/** The taps (tuns left out) in `ip -json -details link show`'s output, sorted by name; [] when it is not that. */
export function tapsFromIpLinks(json: string): Omit<TapInfo, "holders">[] {
  let links: unknown;
  try {
    links = JSON.parse(json);
  } catch {
    return [];
  }
  if (!Array.isArray(links)) return [];
  const taps: Omit<TapInfo, "holders">[] = [];
  for (const link of links as IpLink[]) {
    const data = link?.linkinfo?.info_kind === "tun" ? link.linkinfo.info_data : undefined;
    if (data?.type !== "tap" || typeof link.ifname !== "string") continue;
    // iproute2 prints the owner and group by name where it has one, else the number.
    taps.push({
      name: link.ifname,
      owner: data.user === undefined ? null : lookupUser(String(data.user)) ?? null,
      group: data.group === undefined ? null : lookupGroup(String(data.group)) ?? null,
      persistent: data.persist === true,
      up: Array.isArray(link.flags) && link.flags.includes("UP"),
    });
  }
  return taps.sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
}

/** The part of one link of `ip -json -details link show` read here. */
interface IpLink {
  ifname?: unknown;
  flags?: unknown;
  linkinfo?: {
    info_kind?: unknown;
    info_data?: { type?: unknown; persist?: unknown; user?: unknown; group?: unknown };
  };
}
