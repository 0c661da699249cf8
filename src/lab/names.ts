/**
 * Names a lab gives to what it creates on the machine, in one place so
 * validation, bring-up and `vde down` agree: namespaces `vde-<lab>-<node>`
 * (containerlab's `clab-<lab>-<node>`), taps `<lab>-<node>-<n>` (or a
 * digest that fits 15 characters) while they are in the root namespace
 * (renamed to eth<n> inside the host's), the
 * runtime directory `/run/vde/<lab>/` (root) or `$XDG_RUNTIME_DIR/vde/<lab>/`,
 * and each host interface's MAC address: the same every time the lab comes
 * up on this machine, so a peer's ARP and neighbour caches (across a cable,
 * say) stay right when the lab is taken down and brought up again.
 *
 * A MAC is a digest of the machine, the lab, the host and the interface.
 * The machine is its /etc/machine-id and the permanent address of one of
 * its physical network interfaces: VMs cloned from one image share their
 * machine-id (unless it was reset), so with it alone the same lab on two
 * clones joined by a cable gave two hosts one MAC; a clone's NIC gets a
 * MAC of its own from its hypervisor (or the two would clash on their own
 * LAN already). Only a permanent address counts (`addr_assign_type` 0): a
 * randomised one (Wi-Fi privacy, a MAC set by hand) would change the lab's
 * MACs with it; a machine with no such NIC (a container's veth) has its
 * machine-id alone, as before.
 *
 * Which NIC is chosen by what does not move: the lowest permanent address,
 * not the first name (`ip link set name`, or a udev update turning ens3
 * into enp0s3, would change the first name, and with it every lab's MACs),
 * and a fixed NIC before a removable one (on USB, or a PCI device the
 * kernel calls removable, as a Thunderbolt dock's): a USB NIC plugged in
 * later does not move the MACs, nor does unplugging it. A machine whose
 * only NICs are removable (a Raspberry Pi's USB Ethernet) takes the lowest
 * of those. /sys/class/net lists the NICs of vde's own network namespace:
 * `vde up` run inside another sees that one's.
 */
import { createHash } from "node:crypto";
import { privateDir } from "../os/private_dir.ts";
import { machineUid } from "../os/user_namespace.ts";
import { SUN_PATH_LEN } from "../wire/sockaddr_un.ts";
import type { Lab } from "./spec.ts";
import { NAME_PATTERN, ROOT_LABS_DIR } from "../vde/lab_dirs.ts";

export { NAME_PATTERN, ROOT_LABS_DIR };

/** Longest interface name Linux takes (IFNAMSIZ - 1). */
export const MAX_IFNAME = 15;
/** Longest namespace name: a file name under /run/netns. */
export const MAX_NETNS = 255;

/** The network namespace of host `node`. */
export function netnsName(lab: string, node: string): string {
  return `vde-${lab}-${node}`;
}

/**
 * The root-namespace name of the tap behind interface `index` of host
 * `node`: `<lab>-<node>-<n>` when that fits Linux's 15 characters, else
 * `vt<hash>-<n>`, a digest of lab and node cut to fit: the same every time,
 * and two hosts share one by a chance of 1 in 2^36 at most (9 or more hex
 * digits), which bring-up's check for a taken name turns into a clear
 * failure. The tap carries its name only until it moves into the host's
 * namespace as `eth<n>`.
 */
export function tapName(lab: string, node: string, index: number): string {
  const plain = `${lab}-${node}-${index}`;
  if (plain.length <= MAX_IFNAME) return plain;
  const tail = `-${index}`;
  const digest = createHash("sha256").update(`${lab}\0${node}`).digest("hex");
  return `vt${digest.slice(0, MAX_IFNAME - 2 - tail.length)}${tail}`;
}

/**
 * The longest name a switch's directory holds: `capture`, a port's
 * `NNN.FD`, a data-plane port's `.NNN.FD.new`, a plug's `.PID-NNNNN`.
 */
const SWITCH_FILE_ROOM = 16;

/**
 * Where lab `lab`, in its directory `dir`, would bind a socket path longer
 * than one may be (107 bytes), and how long: its shell's `ctl`, a switch's
 * `SW.mgmt`, or the sockets in a switch's `SW/`; for a rootless lab
 * (`rootless`) also each slirp's and cable's `NODE.outside`, where its
 * `vde up` outside connects, and the page's `http`; undefined when all fit
 * (private_socket.ts binds a socket first in a staging directory beside it,
 * through its descriptor: /proc/self/fd/N/s, whatever the directory's path).
 * Checked before anything is made: a long `--name` would otherwise fail
 * at its first switch, after its directory was made, or at a rootless
 * lab's first slirp, with the OS's error. A node added live is checked
 * as it is asked for (`NODE.G.outside`, socketTooLong).
 */
export function socketPathTooLong(
  dir: string,
  lab: Lab,
  rootless = false,
): { path: string; bytes: number } | undefined {
  const paths: [string, number][] = [[`${dir}/ctl`, 0]];
  if (rootless) paths.push([`${dir}/http`, 0]);
  for (const node of lab.nodes) {
    if (node.kind === "switch") {
      paths.push([`${dir}/${node.name}.mgmt`, 0], [`${dir}/${node.name}/`, SWITCH_FILE_ROOM]);
    } else if (rootless && (node.kind === "slirp" || node.kind === "cable")) {
      paths.push([`${dir}/${node.name}.outside`, 0]);
    }
  }
  for (const [path, room] of paths) {
    const bytes = socketTooLong(path, room);
    if (bytes !== undefined) return { path, bytes };
  }
  return undefined;
}

/** How many bytes socket path `path`, with `room` more for names in it, would take, if more than one may. */
export function socketTooLong(path: string, room = 0): number | undefined {
  const bytes = new TextEncoder().encode(path).length + room;
  return bytes > SUN_PATH_LEN - 1 ? bytes : undefined;
}

/**
 * Where every lab's runtime directory lives for this user. Root of a user
 * namespace (`vde up --rootless`) is the user it maps to: its labs are that
 * user's, found by their commands run outside it.
 */
export function labsBaseDir(): string {
  const uid = machineUid();
  const base = labsBaseDirOf(uid, Deno.env.get("XDG_RUNTIME_DIR"));
  return uid === 0 ? base : privateDir(base);
}

/** Where the labs of user `uid` live, with `runtimeDir` their XDG_RUNTIME_DIR (none: /tmp). */
export function labsBaseDirOf(uid: number, runtimeDir: string | undefined): string {
  if (uid === 0) return ROOT_LABS_DIR;
  return runtimeDir ? `${runtimeDir}/vde` : `/tmp/vde-${uid}`;
}

/** The runtime directory of lab `lab`: state file, sockets, log. */
export function labDir(lab: string): string {
  return `${labsBaseDir()}/${lab}`;
}

/**
 * The MAC address of host `node`'s interface `iface` in lab `lab` on the
 * machine `machine` (its /etc/machine-id): locally administered unicast
 * (02:...), so it never takes a vendor's; the machine in it keeps one lab
 * run on two machines joined by a cable from giving two hosts one MAC.
 */
export function hostMac(machine: string, lab: string, node: string, iface: string): string {
  const digest = createHash("sha256").update(`${machine}\0${lab}\0${node}\0${iface}`).digest();
  const bytes = [0x02, ...digest.subarray(0, 5)];
  return bytes.map((b) => b.toString(16).padStart(2, "0")).join(":");
}

/**
 * This machine, as host MACs take it: its id (/etc/machine-id, or its host
 * name where there is none), and the permanent address of its NIC (permanentNicAddress).
 */
export function machineId(sysNet = "/sys/class/net"): string {
  let id: string;
  try {
    id = Deno.readTextFileSync("/etc/machine-id").trim();
  } catch {
    id = Deno.hostname();
  }
  const nic = permanentNicAddress(sysNet);
  return nic === undefined ? id : `${id}\0${nic}`;
}

/**
 * The lowest permanent MAC address among the fixed physical interfaces in
 * `sysNet` (those with a `device`: not lo, a bridge, a tap or a veth), or
 * among the removable ones where there is no fixed one; undefined where
 * there is neither.
 */
export function permanentNicAddress(sysNet = "/sys/class/net"): string | undefined {
  let names: string[];
  try {
    names = [...Deno.readDirSync(sysNet)].map((e) => e.name);
  } catch {
    return undefined;
  }
  const read = (path: string) => {
    try {
      return Deno.readTextFileSync(path).trim();
    } catch {
      return undefined;
    }
  };
  const fixed: string[] = [];
  const removable: string[] = [];
  for (const name of names) {
    const device = `${sysNet}/${name}/device`;
    let path: string;
    try {
      path = Deno.realPathSync(device);
    } catch {
      continue;
    }
    const address = read(`${sysNet}/${name}/address`)?.toLowerCase();
    if (read(`${sysNet}/${name}/addr_assign_type`) !== "0" || address === undefined) continue;
    if (address === "00:00:00:00:00:00") continue;
    const unpluggable = path.includes("/usb") || read(`${device}/removable`) === "removable";
    (unpluggable ? removable : fixed).push(address);
  }
  return (fixed.length > 0 ? fixed : removable).sort()[0];
}
