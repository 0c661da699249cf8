/**
 * The Linux tun/tap driver through ioctl: attach an fd of /dev/net/tun to a
 * tap interface, and make a tap persistent or give it an owner (what
 * vde_tunctl and `ip tuntap` do).
 */
import { C, cstr, errno, libc, strerror } from "./libc.ts";
import { groupName, userName } from "../src/os/users.ts";
import { tapAccess } from "../src/os/taps.ts";

const TUNSETIFF = 0x400454ca;
const TUNSETPERSIST = 0x400454cb;
const TUNSETOWNER = 0x400454cc;
const TUNSETGROUP = 0x400454ce;
const IFF_TAP = 0x0002;
const IFF_NO_PI = 0x1000;
/** Size of struct ifreq on 64-bit Linux. */
const IFREQ_SIZE = 40;
/** Interface names hold at most 15 bytes plus the terminating NUL. */
export const IFNAMSIZ = 16;

/** Errors of tap operations, with the errno for callers that word their own message. */
export class TapError extends Error {
  constructor(message: string, readonly code: number) {
    super(message);
    this.name = "TapError";
  }
}

/**
 * True when an interface of this name exists (any kind) in this process's network namespace. Its list is
 * /proc/self/net/dev: /sys is the mount namespace's, whose sysfs may be another network namespace's
 * (`unshare --net` keeps the machine's), where eth0 exists and a tap made here does not.
 */
export function interfaceExists(name: string): boolean {
  const names = interfaceNames();
  return names === null ? inSysfs(name) : names.includes(name);
}

/** The interfaces of this process's network namespace (/proc/self/net/dev); null where /proc does not say. */
export function interfaceNames(netDev = "/proc/self/net/dev"): string[] | null {
  let dev: string;
  try {
    dev = Deno.readTextFileSync(netDev);
  } catch {
    return null;
  }
  // Two header lines, then `  NAME: counters...` per interface (a name never holds a colon).
  return dev.split("\n").slice(2).filter((line) => line.includes(":"))
    .map((line) => line.slice(0, line.indexOf(":")).trim());
}

function inSysfs(name: string): boolean {
  try {
    Deno.statSync(`/sys/class/net/${name}`);
    return true;
  } catch {
    return false;
  }
}

/**
 * True when `name` exists and is a tun/tap device; false when it exists as something else. A sysfs of
 * another network namespace knows nothing of it: then the tun driver's own answer, when it is attached,
 * says whether it is one.
 */
export function isTunTap(name: string): boolean {
  if (!interfaceExists(name)) return false;
  try {
    Deno.statSync(`/sys/class/net/${name}/tun_flags`);
    return true;
  } catch {
    return !inSysfs(name);
  }
}

/** Checks an interface name: 1 to 15 bytes, no slash, whitespace or colon. */
export function checkInterfaceName(name: string): void {
  const len = new TextEncoder().encode(name).length;
  if (len === 0) throw new TapError("a tap needs an interface name, e.g. tap://tap0", C.EINVAL);
  if (len >= IFNAMSIZ) {
    throw new TapError(`interface name "${name}" is ${len} bytes long; Linux allows at most 15`, C.EINVAL);
  }
  if (/[/\s:]/.test(name)) {
    throw new TapError(`interface name "${name}" may not contain "/", ":" or spaces`, C.EINVAL);
  }
}

function ifreq(name: string, flags: number): Uint8Array<ArrayBuffer> {
  const req = new Uint8Array(IFREQ_SIZE);
  req.set(new TextEncoder().encode(name));
  req[16] = flags & 0xff;
  req[17] = (flags >> 8) & 0xff;
  return req;
}

function openTunDevice(): number {
  const fd = libc().open(cstr("/dev/net/tun"), C.O_RDWR | C.O_NONBLOCK | C.O_CLOEXEC, 0);
  if (fd >= 0) return fd;
  const e = errno();
  if (e === C.ENOENT) throw new TapError(`/dev/net/tun is missing (${TUN_DEVICE_FIX})`, e);
  if (e === C.EACCES || e === C.EPERM) {
    throw new TapError("cannot open /dev/net/tun: permission denied (tap needs root or CAP_NET_ADMIN)", e);
  }
  throw new TapError(`cannot open /dev/net/tun: ${strerror(e)}`, e);
}

/**
 * `user NAME` or `group NAME` of a persistent tap made for someone (`vde tap
 * create --user/--group`), from sysfs; undefined for a tap of no one's, or no tap.
 * Another user's tap refuses us as a missing capability would: the advice differs.
 */
function persistentTapOwner(name: string): string | undefined {
  const { owner, group } = tapAccess(name);
  if (owner !== null) return `user ${userName(owner)}`;
  return group === null ? undefined : `group ${groupName(group)}`;
}

/** Why TUNSETIFF failed, in words a user can act on. */
function explainSetIff(name: string, e: number): string {
  switch (e) {
    case C.EPERM: {
      const whose = persistentTapOwner(name);
      if (whose !== undefined) {
        return `tap ${name} is ${whose}'s: use a tap of your own (\`sudo vde tap create NAME --user $USER\` makes one)`;
      }
      return `tap needs CAP_NET_ADMIN: run as root, or create it first with \`sudo vde tap create ${name} --user $USER\`` +
        "; without root, in a network namespace of your own (`unshare -rn`; README: Without root)";
    }
    case C.EBUSY:
      return `tap ${name} is busy: another program has it open`;
    case C.EINVAL:
      return interfaceExists(name) && !isTunTap(name)
        ? `interface ${name} exists and is not a tap`
        : `interface ${name} exists and is a tun (layer 3), not a tap`;
    case ENOTTY:
      // The ioctl is the tun driver's: a file of another kind at the name (a container's /dev/null bound
      // there, a regular file) refuses it, where the open went through.
      return `cannot attach tap ${name}: /dev/net/tun is not the tun device (${TUN_DEVICE_FIX})`;
    default:
      return `cannot attach tap ${name}: ${strerror(e)}`;
  }
}

/** ENOTTY: the ioctl is not the device's (TUNSETIFF on a file that is no tun device). */
const ENOTTY = 25;
/** How a machine without /dev/net/tun gets it. */
const TUN_DEVICE_FIX =
  "modprobe tun makes it, or mknod /dev/net/tun c 10 200; in a container, give it the host's: " +
  "docker run --device /dev/net/tun --cap-add NET_ADMIN";

/** An fd attached to a tap, and whether the interface was there before. */
export interface OpenedTap {
  fd: number;
  /** True when the interface existed before we attached (a persistent tap). */
  existed: boolean;
}

/**
 * Opens a non-blocking fd on tap `name` (IFF_TAP|IFF_NO_PI: one read is one
 * Ethernet frame), creating the interface if needed. Throws TapError.
 */
export function openTap(name: string): OpenedTap {
  checkInterfaceName(name);
  const existed = interfaceExists(name);
  if (existed && !isTunTap(name)) throw new TapError(`interface ${name} exists and is not a tap`, C.EINVAL);
  const fd = openTunDevice();
  const req = ifreq(name, IFF_TAP | IFF_NO_PI);
  if (libc().ioctl(fd, BigInt(TUNSETIFF), req) < 0) {
    const e = errno();
    libc().close(fd);
    throw new TapError(explainSetIff(name, e), e);
  }
  return { fd, existed };
}

/**
 * Creates (or updates) a persistent tap owned by `uid`/`gid`, so that user
 * can open it later without privileges. Throws TapError.
 */
export function createPersistentTap(name: string, uid?: number, gid?: number): void {
  const { fd } = openTap(name);
  try {
    if (uid !== undefined && libc().ioctl_int(fd, BigInt(TUNSETOWNER), BigInt(uid)) < 0) {
      throw new TapError(`cannot set the owner of ${name}: ${strerror(errno())}`, errno());
    }
    if (gid !== undefined && libc().ioctl_int(fd, BigInt(TUNSETGROUP), BigInt(gid)) < 0) {
      throw new TapError(`cannot set the group of ${name}: ${strerror(errno())}`, errno());
    }
    if (libc().ioctl_int(fd, BigInt(TUNSETPERSIST), 1n) < 0) {
      throw new TapError(`cannot make ${name} persistent: ${strerror(errno())}`, errno());
    }
  } finally {
    libc().close(fd);
  }
}

/** Removes a persistent tap. Throws TapError. */
export function deletePersistentTap(name: string): void {
  if (!interfaceExists(name)) throw new TapError(`there is no interface ${name}`, C.ENOENT);
  const { fd } = openTap(name);
  try {
    if (libc().ioctl_int(fd, BigInt(TUNSETPERSIST), 0n) < 0) {
      throw new TapError(`cannot make ${name} non-persistent: ${strerror(errno())}`, errno());
    }
  } finally {
    libc().close(fd);
  }
}
