/**
 * ffi/libc.ts's `direct` calls (libc's `syscall` with this architecture's
 * numbers, for the plug and switch threads) answer as the glibc wrappers they stand
 * for: counts, -1 with errno, an empty epoll set that times out; their
 * numbers are the kernel tables' for both architectures.
 */
import assert from "node:assert/strict";
import {
  C,
  cstr,
  datagramPair,
  direct,
  EPOLL_DATA_OFFSET,
  EPOLL_EVENT_SIZE,
  errno,
  fstatOf,
  libc,
  statAt,
  SYSCALL_NUMBERS,
} from "../../ffi/libc.ts";
import { RecvArena } from "../../src/io/mmsg.ts";
import { exists } from "../../src/os/paths.ts";
import { skipUnless } from "../helpers/processes.ts";

/** A connected pair of non-blocking datagram sockets, closed after `fn`. */
function withPair(fn: (a: number, b: number) => void): void {
  const pair = datagramPair();
  assert.ok(pair !== null);
  try {
    fn(pair[0], pair[1]);
  } finally {
    for (const fd of pair) libc().close(fd);
  }
}

Deno.test("direct send, write and read move a datagram each and say how many bytes", () => {
  withPair((a, b) => {
    const frame = new Uint8Array(98).fill(5);
    assert.equal(direct.send(a, frame, 60, C.MSG_DONTWAIT | C.MSG_NOSIGNAL), 60);
    assert.equal(direct.write(a, frame, 98), 98);
    const got = new Uint8Array(2048);
    assert.equal(direct.read(b, got, got.length), 60);
    assert.equal(direct.read(b, got, got.length), 98);
    assert.equal(got[97], 5);
  });
});

Deno.test("direct recv takes a datagram as read does, and on an empty socket fails with EAGAIN in errno", () => {
  withPair((a, b) => {
    const got = new Uint8Array(128);
    assert.equal(direct.send(a, new Uint8Array(77).fill(9), 77, C.MSG_DONTWAIT | C.MSG_NOSIGNAL), 77);
    assert.equal(direct.recv(b, got, got.length, C.MSG_DONTWAIT), 77);
    assert.equal(got[76], 9);
    assert.equal(direct.recv(b, got, got.length, C.MSG_DONTWAIT), -1);
    assert.equal(errno(), C.EAGAIN);
  });
});

Deno.test("direct read of an empty non-blocking socket fails with EAGAIN in errno", () => {
  withPair((_a, b) => {
    assert.equal(direct.read(b, new Uint8Array(64), 64), -1);
    assert.equal(errno(), C.EAGAIN);
  });
});

Deno.test("direct sendmmsg and recvmmsg move a batch, each datagram's length in its header", () => {
  withPair((a, b) => {
    // An arena's headers serve sendmmsg as well: each sends its full slot.
    const out = new RecvArena(3, 61);
    for (let i = 0; i < 3; i++) out.slots[i]!.fill(i + 1);
    assert.equal(direct.sendmmsg(a, out.mmsg, 3, C.MSG_DONTWAIT | C.MSG_NOSIGNAL), 3);
    const into = new RecvArena(8, 256);
    assert.equal(direct.recvmmsg(b, into.mmsg, 8, C.MSG_DONTWAIT), 3);
    assert.deepEqual([0, 1, 2].map((i) => into.length(i)), [61, 61, 61]);
    assert.equal(into.slots[2]![0], 3);
    assert.equal(direct.recvmmsg(b, into.mmsg, 8, C.MSG_DONTWAIT), -1);
    assert.equal(errno(), C.EAGAIN);
  });
});

Deno.test("direct epollWait reports a ready fd with its data, and times out on none", () => {
  withPair((a, b) => {
    const c = libc();
    const epfd = c.epoll_create1(C.EPOLL_CLOEXEC);
    assert.ok(epfd >= 0);
    try {
      const ev = new Uint8Array(EPOLL_EVENT_SIZE * 4);
      const view = new DataView(ev.buffer);
      view.setUint32(0, C.EPOLLIN, true);
      view.setUint32(EPOLL_DATA_OFFSET, b, true);
      assert.equal(c.epoll_ctl(epfd, C.EPOLL_CTL_ADD, b, ev), 0);
      ev.fill(0);
      assert.equal(direct.epollWait(epfd, ev, 4, 0), 0);
      direct.write(a, new Uint8Array(60), 60);
      assert.equal(direct.epollWait(epfd, ev, 4, 1000), 1);
      assert.equal(view.getUint32(0, true) & C.EPOLLIN, C.EPOLLIN);
      assert.equal(view.getUint32(EPOLL_DATA_OFFSET, true), b);
    } finally {
      c.close(epfd);
    }
  });
});

Deno.test("direct sends to a datagram peer that closed fail as the wrapper's do: ECONNREFUSED, then ENOTCONN", () => {
  const out = new RecvArena(2, 60);
  const flags = C.MSG_DONTWAIT | C.MSG_NOSIGNAL;
  // The switch thread's SendBatcher, a plug thread's send, and glibc's wrapper for comparison.
  const senders: [string, (fd: number) => number][] = [
    ["direct.sendmmsg", (fd) => direct.sendmmsg(fd, out.mmsg, 2, flags)],
    ["direct.send", (fd) => direct.send(fd, out.slots[0]!, 60, flags)],
    ["libc send", (fd) => libc().send(fd, out.slots[0]!, 60, flags)],
  ];
  for (const [name, send] of senders) {
    const pair = datagramPair();
    assert.ok(pair !== null);
    const [a, b] = pair;
    try {
      libc().close(b);
      // The kernel says the peer's refusal once and disconnects the socket: what a port's removal is told by.
      const first = [send(a), errno()];
      const second = [send(a), errno()];
      assert.deepEqual([first, second], [[-1, C.ECONNREFUSED], [-1, C.ENOTCONN]], name);
    } finally {
      libc().close(a);
    }
  }
  // A call on no descriptor at all: -1 and EBADF in errno, not the kernel's -9 as a count.
  assert.equal(direct.epollWait(-1, new Uint8Array(EPOLL_EVENT_SIZE), 1, 0), -1);
  assert.equal(errno(), C.EBADF);
});

Deno.test("direct's system call numbers are the kernel's, for x86_64 and aarch64 (linux-libc-dev's tables)", (t) => {
  // x86_64's own table, and the generic one aarch64 uses.
  const tables = {
    x86_64: "/usr/include/x86_64-linux-gnu/asm/unistd_64.h",
    aarch64: "/usr/include/asm-generic/unistd.h",
  };
  const missing = Object.values(tables).filter((path) => !exists(path));
  if (skipUnless(t, missing.length === 0 ? null : `${missing.join(", ")} missing (Debian linux-libc-dev)`)) {
    return;
  }
  for (const [arch, path] of Object.entries(tables) as [keyof typeof SYSCALL_NUMBERS, string][]) {
    const text = Deno.readTextFileSync(path);
    for (const [call, nr] of Object.entries(SYSCALL_NUMBERS[arch])) {
      const m = new RegExp(`^#define __NR_${call}\\s+(\\d+)$`, "m").exec(text);
      assert.ok(m !== null, `${arch} ${call} in ${path}`);
      assert.equal(nr, Number(m[1]), `${arch} ${call}`);
    }
  }
});

Deno.test("the data-plane threads make their per-batch reads and writes (frames, eventfd notifies) through direct", () => {
  // Each thread's own start-up (the warm-ups) may use the wrappers: it runs once, before any frame.
  const dir = new URL("../../src/dataplane/", import.meta.url);
  const wrapped = /\b(?:libc\(\)|c|this\.#c)\.(?:read|write|send|recv|recvmmsg|sendmmsg)\(/;
  const found: string[] = [];
  for (const entry of Deno.readDirSync(dir)) {
    if (!entry.name.endsWith(".ts") || entry.name.endsWith("_warmup.ts")) continue;
    const lines = Deno.readTextFileSync(new URL(entry.name, dir)).split("\n");
    lines.forEach((line, i) => {
      if (wrapped.test(line)) found.push(`${entry.name}:${i + 1}: ${line.trim()}`);
    });
  }
  assert.deepEqual(found, []);
});

Deno.test("this architecture's O_NOFOLLOW, O_DIRECTORY and struct stat offsets are the kernel's: refusals, fstatOf's and statAt's fields (nlink too)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-ff-libc-" });
  const c = libc();
  try {
    await Deno.writeTextFile(`${dir}/file`, "");
    await Deno.chmod(`${dir}/file`, 0o640);
    // A gid of its own where the test may give one (root): a gid read at the uid's offset would match 0 = 0.
    if (Deno.uid() === 0) await Deno.chown(`${dir}/file`, null, 4321);
    await Deno.symlink(`${dir}/file`, `${dir}/link`);
    // A wrong bit (arm64's O_LARGEFILE for x86_64's O_NOFOLLOW) would open the symlink's target.
    assert.equal(c.open(cstr(`${dir}/link`), C.O_RDONLY | C.O_NOFOLLOW | C.O_CLOEXEC, 0), -1);
    assert.equal(errno(), C.ELOOP);
    assert.equal(c.open(cstr(`${dir}/file`), C.O_RDONLY | C.O_DIRECTORY | C.O_CLOEXEC, 0), -1);
    assert.equal(errno(), C.ENOTDIR);
    const fd = c.open(cstr(`${dir}/file`), C.O_RDONLY | C.O_CLOEXEC, 0);
    assert.ok(fd >= 0);
    try {
      const st = Deno.statSync(`${dir}/file`);
      assert.deepEqual(fstatOf(fd), {
        dev: BigInt(st.dev),
        ino: BigInt(st.ino!),
        mode: st.mode,
        nlink: st.nlink!,
        uid: st.uid,
        gid: st.gid,
      });
    } finally {
      c.close(fd);
    }
    assert.equal(fstatOf(-1), null);
    assert.equal(errno(), C.EBADF);
    // statAt reads the name itself in a directory held open: the symlink, not its target.
    const dirFd = c.open(cstr(dir), C.O_RDONLY | C.O_DIRECTORY | C.O_CLOEXEC, 0);
    try {
      const link = Deno.lstatSync(`${dir}/link`);
      assert.deepEqual(statAt(dirFd, "link"), {
        dev: BigInt(link.dev),
        ino: BigInt(link.ino!),
        mode: link.mode,
        nlink: link.nlink!,
        uid: link.uid,
        gid: link.gid,
      });
      assert.equal(statAt(dirFd, "missing"), null);
      assert.equal(errno(), C.ENOENT);
    } finally {
      c.close(dirFd);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
