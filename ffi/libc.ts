/**
 * libc bindings, opened once for the whole process.
 *
 * Why FFI at all: Deno's datagram API has no connect() and allows one pending
 * operation per socket, and VDE ports need connected unix datagram sockets
 * (vdeplug4 clients unlink their socket path right after the handshake). The
 * data plane therefore runs on raw fds: one epoll set, one blocking
 * `epoll_wait` per wake-up (a `nonblocking` FFI call, which runs on a helper
 * thread), then synchronous batched syscalls on the main thread.
 *
 * Lengths are declared u32 and byte counts i32 (frames are far below 2 GiB):
 * 32-bit integers take V8's fast call path, where usize/isize would box
 * every argument and result in a BigInt.
 *
 * Every call here is synchronous except `epoll_wait_async`. errno is read
 * through `__errno_location`, which is only meaningful right after a
 * synchronous call on the main thread.
 */

const symbols = {
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  socketpair: { parameters: ["i32", "i32", "i32", "buffer"], result: "i32" },
  pipe2: { parameters: ["buffer", "i32"], result: "i32" },
  bind: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  connect: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  listen: { parameters: ["i32", "i32"], result: "i32" },
  shutdown: { parameters: ["i32", "i32"], result: "i32" },
  accept4: { parameters: ["i32", "pointer", "pointer", "i32"], result: "i32" },
  fstat: { parameters: ["i32", "buffer"], result: "i32" },
  fchmod: { parameters: ["i32", "u32"], result: "i32" },
  fchown: { parameters: ["i32", "u32", "u32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  send: { parameters: ["i32", "buffer", "u32", "i32"], result: "i32" },
  recv: { parameters: ["i32", "buffer", "u32", "i32"], result: "i32" },
  sendto: { parameters: ["i32", "buffer", "u32", "i32", "buffer", "u32"], result: "i32" },
  recvfrom: { parameters: ["i32", "buffer", "u32", "i32", "buffer", "buffer"], result: "i32" },
  getsockname: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  if_nametoindex: { parameters: ["buffer"], result: "u32" },
  recvmmsg: { parameters: ["i32", "buffer", "u32", "i32", "pointer"], result: "i32" },
  sendmmsg: { parameters: ["i32", "buffer", "u32", "i32"], result: "i32" },
  setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
  getsockopt: { parameters: ["i32", "i32", "i32", "buffer", "buffer"], result: "i32" },
  epoll_create1: { parameters: ["i32"], result: "i32" },
  epoll_ctl: { parameters: ["i32", "i32", "i32", "buffer"], result: "i32" },
  epoll_wait: { parameters: ["i32", "buffer", "i32", "i32"], result: "i32" },
  epoll_wait_async: {
    name: "epoll_wait",
    parameters: ["i32", "buffer", "i32", "i32"],
    result: "i32",
    nonblocking: true,
  },
  eventfd: { parameters: ["u32", "i32"], result: "i32" },
  read: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  write: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  // Its result (dst) is not declared: a pointer result would box every call's answer.
  memcpy: { parameters: ["buffer", "buffer", "u32"], result: "void" },
  open: { parameters: ["buffer", "i32", "i32"], result: "i32" },
  openat: { parameters: ["i32", "buffer", "i32", "i32"], result: "i32" },
  fstatat: { parameters: ["i32", "buffer", "buffer", "i32"], result: "i32" },
  unlinkat: { parameters: ["i32", "buffer", "i32"], result: "i32" },
  linkat: { parameters: ["i32", "buffer", "i32", "buffer", "i32"], result: "i32" },
  renameat: { parameters: ["i32", "buffer", "i32", "buffer"], result: "i32" },
  fchmodat: { parameters: ["i32", "buffer", "u32", "i32"], result: "i32" },
  fchownat: { parameters: ["i32", "buffer", "u32", "u32", "i32"], result: "i32" },
  // With an empty path and an O_PATH descriptor of a symlink: that very link's target (Linux 2.6.39+).
  readlinkat: { parameters: ["i32", "buffer", "buffer", "u32"], result: "i32" },
  ioctl: { parameters: ["i32", "u64", "buffer"], result: "i32" },
  ioctl_int: { name: "ioctl", parameters: ["i32", "u64", "u64"], result: "i32" },
  fcntl: { parameters: ["i32", "i32", "i32"], result: "i32" },
  dup2: { parameters: ["i32", "i32"], result: "i32" },
  // The end of a process without its runtime's exit handlers (job_control.ts's exitProcess).
  _exit: { parameters: ["i32"], result: "void" },
  access: { parameters: ["buffer", "i32"], result: "i32" },
  rmdir: { parameters: ["buffer"], result: "i32" },
  flock: { parameters: ["i32", "i32"], result: "i32" },
  getuid: { parameters: [], result: "u32" },
  geteuid: { parameters: [], result: "u32" },
  getrlimit: { parameters: ["i32", "buffer"], result: "i32" },
  getpid: { parameters: [], result: "i32" },
  gettid: { parameters: [], result: "i32" },
  getpriority: { parameters: ["i32", "u32"], result: "i32" },
  setpriority: { parameters: ["i32", "u32", "i32"], result: "i32" },
  sched_setscheduler: { parameters: ["i32", "i32", "buffer"], result: "i32" },
  sched_yield: { parameters: [], result: "i32" },
  clock_gettime: { parameters: ["i32", "buffer"], result: "i32" },
  strerror: { parameters: ["i32"], result: "pointer" },
  // The data-plane calls made through `syscall` (see `direct`): glibc's wrappers are cancellation
  // points, which in a multi-threaded process (Deno always is) cost two atomic updates around each.
  // The number and the ints are i32 (the kernel reads them as int), byte counts u32 as above.
  sys_rw: { name: "syscall", parameters: ["i32", "i32", "buffer", "u32"], result: "i32" },
  sys_mmsg: { name: "syscall", parameters: ["i32", "i32", "buffer", "u32", "i32", "pointer"], result: "i32" },
  sys_sendto: {
    name: "syscall",
    parameters: ["i32", "i32", "buffer", "u32", "i32", "pointer", "u32"],
    result: "i32",
  },
  sys_recvfrom: {
    name: "syscall",
    parameters: ["i32", "i32", "buffer", "u32", "i32", "pointer", "pointer"],
    result: "i32",
  },
  sys_epoll_pwait: {
    name: "syscall",
    parameters: ["i32", "i32", "buffer", "i32", "i32", "pointer", "u32"],
    result: "i32",
  },
  __errno_location: { parameters: [], result: "pointer" },
} as const satisfies Deno.ForeignLibraryInterface;

let lib: Deno.DynamicLibrary<typeof symbols> | null = null;
/**
 * This thread's errno, as a view made once when libc is opened (each Worker
 * has its own module instance, so its own view). Reading it after a failed
 * call runs no FFI call and allocates nothing: the old way (a call to
 * `__errno_location` and a new pointer view each time) could let V8 run
 * between the failed call and the read, and about once in 5-10 million
 * reads it saw ENOENT where the call had set EAGAIN, which ended a plug
 * thread's cable ("tap: receive failed: errno 2") under load.
 */
let errnoView: Int32Array | null = null;

/** The libc symbols, opened on first use. */
export function libc(): Deno.DynamicLibrary<typeof symbols>["symbols"] {
  if (lib === null) {
    lib = Deno.dlopen("libc.so.6", symbols);
    const p = lib.symbols.__errno_location();
    if (p !== null) errnoView = new Int32Array(Deno.UnsafePointerView.getArrayBuffer(p, 4));
  }
  return lib.symbols;
}

/** errno of the last synchronous libc call made on this thread. */
export function errno(): number {
  return errnoView === null ? 0 : errnoView[0]!;
}

/** An errno that means "nothing more now" (EAGAIN, EINTR), not a failure. */
export function quietErrno(e: number): boolean {
  return e === C.EAGAIN || e === C.EINTR;
}

/**
 * recvmmsg without waiting. A failure other than EAGAIN or EINTR is tried
 * once more before it is believed: a socket's pending error (a peer gone
 * and back, an ICMP error) is reported by one call and then gone, and the
 * socket works on; a dead socket fails again.
 *
 * @returns the datagrams received, or -1 with errno() saying why
 */
export function recvmmsgNow(fd: number, mmsg: Uint8Array, count: number): number {
  const n = direct.recvmmsg(fd, mmsg, count, C.MSG_DONTWAIT);
  if (n >= 0 || quietErrno(errno())) return n;
  return direct.recvmmsg(fd, mmsg, count, C.MSG_DONTWAIT);
}

/** System call numbers of the calls `direct` makes, per architecture Deno runs on under Linux. */
export const SYSCALL_NUMBERS = {
  x86_64: { read: 0, write: 1, sendto: 44, recvfrom: 45, recvmmsg: 299, sendmmsg: 307, epoll_pwait: 281 },
  aarch64: { read: 63, write: 64, sendto: 206, recvfrom: 207, recvmmsg: 243, sendmmsg: 269, epoll_pwait: 22 },
} as const;
const NR = SYSCALL_NUMBERS[Deno.build.arch];
/** sigsetsize of epoll_pwait (the kernel's sigset_t); no mask is passed, so the wait is epoll_wait's. */
const SIGSET_BYTES = 8;

/**
 * read, write, send, recv, recvmmsg, sendmmsg and epoll_wait made through libc's
 * `syscall`, with the wrappers' signatures and errno: the plug and switch
 * threads' forwarding calls (a plug thread makes three per frame). Each
 * glibc wrapper is a cancellation point, which in a multi-threaded process
 * enables and disables asynchronous cancellation around the system call
 * with two atomic updates; Debian's single-threaded vde_plug skips them.
 * Measured on this machine, a `read` on a bad fd: 107 ns through the
 * wrapper, 80 through `syscall`; perf put those two updates at 6% of the
 * plug thread's time in a bulk flow.
 * Nothing here is a cancellation point, and Deno never cancels threads.
 */
export const direct = {
  read(fd: number, buf: Uint8Array, length: number): number {
    return libc().sys_rw(NR.read, fd, buf, length);
  },
  write(fd: number, buf: Uint8Array, length: number): number {
    return libc().sys_rw(NR.write, fd, buf, length);
  },
  /** send on a connected socket (sendto without an address). */
  send(fd: number, buf: Uint8Array, length: number, flags: number): number {
    return libc().sys_sendto(NR.sendto, fd, buf, length, flags, null, 0);
  },
  /** recv on a connected socket (recvfrom without an address). */
  recv(fd: number, buf: Uint8Array, length: number, flags: number): number {
    return libc().sys_recvfrom(NR.recvfrom, fd, buf, length, flags, null, null);
  },
  recvmmsg(fd: number, mmsg: Uint8Array, count: number, flags: number): number {
    return libc().sys_mmsg(NR.recvmmsg, fd, mmsg, count, flags, null);
  },
  sendmmsg(fd: number, mmsg: Uint8Array, count: number, flags: number): number {
    // sendmmsg takes four arguments; the fifth register is not read.
    return libc().sys_mmsg(NR.sendmmsg, fd, mmsg, count, flags, null);
  },
  /** epoll_wait, as epoll_pwait without a signal mask (aarch64 has no epoll_wait). */
  epollWait(epfd: number, events: Uint8Array, max: number, timeoutMs: number): number {
    return libc().sys_epoll_pwait(NR.epoll_pwait, epfd, events, max, timeoutMs, null, SIGSET_BYTES);
  },
};

const CLOCK_MONOTONIC = 1;
const CLOCK_THREAD_CPUTIME_ID = 3;
/** struct timespec as 32-bit halves (seconds since boot, or of a thread's CPU, fit the low half). */
const timespec = new Int32Array(4);
const timespecBytes = new Uint8Array(timespec.buffer);

function clockMs(clock: number): number {
  libc().clock_gettime(clock, timespecBytes);
  return timespec[0]! * 1000 + timespec[2]! / 1e6;
}

/**
 * CLOCK_MONOTONIC in ms: one FFI call into the vDSO, for a data-plane
 * thread's per-wake-up clock. `performance.now()` goes through an op and a
 * brand check: measured on the plug thread between pings 10 ms apart, its
 * one call per wake-up took about a tenth of the thread's CPU.
 */
export function monotonicMs(): number {
  return clockMs(CLOCK_MONOTONIC);
}

/** The calling thread's CPU time in ms (CLOCK_THREAD_CPUTIME_ID: a system call, not the vDSO). */
export function threadCpuMs(): number {
  return clockMs(CLOCK_THREAD_CPUTIME_ID);
}

/**
 * read, a failure other than EAGAIN or EINTR tried once more before it is
 * believed, as `recvmmsgNow` does: a tap that is gone fails every read.
 *
 * @returns the bytes read, or -1 with errno() saying why
 */
export function readNow(fd: number, buf: Uint8Array, length: number): number {
  const n = direct.read(fd, buf, length);
  if (n >= 0 || quietErrno(errno())) return n;
  return direct.read(fd, buf, length);
}

/**
 * A connected pair of non-blocking, close-on-exec unix datagram sockets (the
 * warm-ups' stand-in ports), or null when the kernel refuses one.
 */
export function datagramPair(): [number, number] | null {
  const sv = new Int32Array(2);
  const flags = C.SOCK_DGRAM | C.SOCK_NONBLOCK | C.SOCK_CLOEXEC;
  if (libc().socketpair(C.AF_UNIX, flags, 0, new Uint8Array(sv.buffer)) < 0) return null;
  return [sv[0]!, sv[1]!];
}

/**
 * A close-on-exec pipe: [read end, write end]. Close-on-exec so that only the
 * child it is handed to (as a numbered descriptor, which the spawn dups
 * without the flag) holds it, not every command started meanwhile.
 *
 * @throws SysError when the kernel refuses one (EMFILE: too many open files)
 */
export function closeOnExecPipe(): [number, number] {
  const fds = new Int32Array(2);
  check("pipe2", libc().pipe2(new Uint8Array(fds.buffer), C.O_CLOEXEC));
  return [fds[0]!, fds[1]!];
}

const SO_ERROR = 4;
const soError = new Int32Array(1);
const soErrorLength = new Uint32Array(1);

/**
 * Takes (and so clears) a socket's pending error (SO_ERROR): 0 when there
 * is none, its errno, or -errno when even getsockopt failed (no socket).
 */
export function takeSocketError(fd: number): number {
  soErrorLength[0] = 4;
  if (libc().getsockopt(fd, C.SOL_SOCKET, SO_ERROR, soError, soErrorLength) < 0) return -errno();
  return soError[0]!;
}

/** What the checks on an open descriptor read from its struct stat. */
export interface FdStat {
  dev: bigint;
  ino: bigint;
  mode: number;
  uid: number;
  gid: number;
  /** Hard links to the file (a second name somewhere else is a second way in). */
  nlink: number;
}

// struct stat differs: x86_64 has st_nlink (8 bytes) before st_mode; the generic layout (aarch64) after it.
// st_dev sits at 0 and st_ino at 8 in both; 144 bytes is x86_64's size, 128 aarch64's.
const STAT_SIZE = 144;
const ST_DEV = 0;
const ST_INO = 8;
const ST_MODE = Deno.build.arch === "x86_64" ? 24 : 16;
const ST_UID = Deno.build.arch === "x86_64" ? 28 : 24;
const ST_GID = ST_UID + 4;
// x86_64's st_nlink is 8 bytes, aarch64's 4: the low 4 (little-endian) hold any real count.
const ST_NLINK = Deno.build.arch === "x86_64" ? 16 : 20;

/** fstat(2) of `fd`: its device, inode, mode and owner, or null with errno set. */
export function fstatOf(fd: number): FdStat | null {
  const st = new Uint8Array(STAT_SIZE);
  return libc().fstat(fd, st) < 0 ? null : statFields(st);
}

/**
 * fstatat(2) of `name` in the directory open as `dirFd`, a final symlink
 * not followed (what the name itself is): as `fstatOf`, or null with errno set.
 */
export function statAt(dirFd: number, name: string): FdStat | null {
  const st = new Uint8Array(STAT_SIZE);
  return libc().fstatat(dirFd, cstr(name), st, C.AT_SYMLINK_NOFOLLOW) < 0 ? null : statFields(st);
}

function statFields(st: Uint8Array<ArrayBuffer>): FdStat {
  const view = new DataView(st.buffer);
  return {
    dev: view.getBigUint64(ST_DEV, true),
    ino: view.getBigUint64(ST_INO, true),
    mode: view.getUint32(ST_MODE, true),
    uid: view.getUint32(ST_UID, true),
    gid: view.getUint32(ST_GID, true),
    nlink: view.getUint32(ST_NLINK, true),
  };
}

/** strerror() text for an errno value, as glibc prints it. */
export function strerror(code: number): string {
  const p = libc().strerror(code);
  return p === null ? `errno ${code}` : Deno.UnsafePointerView.getCString(p);
}

/** An Error carrying errno, made from the last failed call. */
export class SysError extends Error {
  constructor(readonly call: string, readonly code: number) {
    super(`${call}: ${strerror(code)}`);
    this.name = "SysError";
  }
}

/** Throws a SysError for `call` if `ret` is negative; returns ret otherwise. */
export function check(call: string, ret: number | bigint): number {
  const n = Number(ret);
  if (n < 0) throw new SysError(call, errno());
  return n;
}

/** Raw address of a buffer, for structures (iovec, msghdr) that hold pointers. */
export function addressOf(buf: Uint8Array): bigint {
  const p = Deno.UnsafePointer.of(buf as Uint8Array<ArrayBuffer>);
  return p === null ? 0n : Deno.UnsafePointer.value(p);
}

/** Linux constants used across the data plane (x86_64 and aarch64 agree on these). */
export const C = {
  AF_UNIX: 1,
  AF_INET: 2,
  AF_INET6: 10,
  SOCK_STREAM: 1,
  SOCK_DGRAM: 2,
  SOCK_SEQPACKET: 5,
  SOCK_NONBLOCK: 0o4000,
  SOCK_CLOEXEC: 0o2000000,
  SOL_SOCKET: 1,
  SO_SNDBUF: 7,
  SO_RCVBUF: 8,
  SO_PEERCRED: 17,
  SO_SNDBUFFORCE: 32,
  SO_RCVBUFFORCE: 33,
  MSG_DONTWAIT: 0x40,
  MSG_TRUNC: 0x20,
  MSG_NOSIGNAL: 0x4000,
  MSG_MORE: 0x8000,
  SHUT_WR: 1,
  EPOLL_CLOEXEC: 0o2000000,
  EPOLL_CTL_ADD: 1,
  EPOLL_CTL_DEL: 2,
  EPOLL_CTL_MOD: 3,
  EPOLLIN: 0x001,
  EPOLLOUT: 0x004,
  EPOLLERR: 0x008,
  EPOLLHUP: 0x010,
  EFD_CLOEXEC: 0o2000000,
  EFD_NONBLOCK: 0o4000,
  O_RDONLY: 0,
  O_WRONLY: 1,
  O_RDWR: 2,
  O_NONBLOCK: 0o4000,
  O_NOCTTY: 0o400,
  O_CLOEXEC: 0o2000000,
  // arm64 overrides the generic values (x86_64's) with arm's, one place lower: its 0o400000 is O_LARGEFILE.
  O_NOFOLLOW: Deno.build.arch === "x86_64" ? 0o400000 : 0o100000,
  O_DIRECTORY: Deno.build.arch === "x86_64" ? 0o200000 : 0o40000,
  O_CREAT: 0o100,
  O_EXCL: 0o200,
  LOCK_SH: 1,
  LOCK_EX: 2,
  LOCK_NB: 4,
  EEXIST: 17,
  O_PATH: 0o10000000,
  // st_mode's file type (the same on every architecture).
  S_IFMT: 0o170000,
  S_IFREG: 0o100000,
  S_IFIFO: 0o010000,
  S_IFDIR: 0o040000,
  S_IFCHR: 0o020000,
  S_IFSOCK: 0o140000,
  S_IFLNK: 0o120000,
  S_ISVTX: 0o1000,
  AT_SYMLINK_NOFOLLOW: 0x100,
  // The *at calls' "relative to the working directory", for a path given whole.
  AT_FDCWD: -100,
  AT_REMOVEDIR: 0x200,
  F_GETFL: 3,
  F_SETFL: 4,
  F_SETSIG: 10,
  F_SETLEASE: 1024,
  F_WRLCK: 1,
  R_OK: 4,
  W_OK: 2,
  EINTR: 4,
  EIO: 5,
  EAGAIN: 11,
  ENOENT: 2,
  ENXIO: 6,
  EPERM: 1,
  EACCES: 13,
  EBUSY: 16,
  EINVAL: 22,
  EBADF: 9,
  EBADFD: 77,
  ENOTDIR: 20,
  ELOOP: 40,
  ECONNREFUSED: 111,
  EADDRINUSE: 98,
  ENOBUFS: 105,
  ENODEV: 19,
  ENOTCONN: 107,
  ECONNABORTED: 103,
  EMSGSIZE: 90,
  IPPROTO_IP: 0,
  IPPROTO_ICMP: 1,
  IPPROTO_IPV6: 41,
  IPPROTO_ICMPV6: 58,
  IPV6_V6ONLY: 26,
  SO_REUSEADDR: 2,
  IP_MULTICAST_IF: 32,
  IP_MULTICAST_TTL: 33,
  IP_MULTICAST_LOOP: 34,
  IP_ADD_MEMBERSHIP: 35,
  IP_DROP_MEMBERSHIP: 36,
  IPV6_MULTICAST_IF: 17,
  IPV6_MULTICAST_HOPS: 18,
  IPV6_MULTICAST_LOOP: 19,
  IPV6_ADD_MEMBERSHIP: 20,
  IPV6_DROP_MEMBERSHIP: 21,
  EDESTADDRREQ: 89,
  EADDRNOTAVAIL: 99,
  ENETUNREACH: 101,
  EHOSTUNREACH: 113,
  EPROTONOSUPPORT: 93,
  IP_RECVERR: 11,
  IPV6_RECVERR: 25,
  MSG_ERRQUEUE: 0x2000,
} as const;

/** Size of struct epoll_event: packed (12 bytes) on x86_64, 16 elsewhere. */
export const EPOLL_EVENT_SIZE = Deno.build.arch === "x86_64" ? 12 : 16;
/** Offset of the data field inside struct epoll_event. */
export const EPOLL_DATA_OFFSET = Deno.build.arch === "x86_64" ? 4 : 8;

const encoder = new TextEncoder();

/** A NUL-terminated C string. */
export function cstr(s: string): Uint8Array<ArrayBuffer> {
  const b = encoder.encode(s);
  const out = new Uint8Array(b.length + 1);
  out.set(b);
  return out;
}
