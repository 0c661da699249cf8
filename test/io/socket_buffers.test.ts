/**
 * Socket buffers, asked for by unix datagram ports (setBuffers) and UDP
 * links (setReceiveBuffer) through one helper: as root a socket gets more
 * than the sysctl cap; without CAP_NET_ADMIN it still grows, up to the cap.
 */
import assert from "node:assert/strict";
import { InetDgramSocket } from "../../src/io/inet_dgram.ts";
import { setSocketBuffer, socketBufferSize } from "../../src/io/socket_buffers.ts";
import { UnixDgramSocket } from "../../src/io/unix_dgram.ts";
import { run, skipUnlessRoot } from "../helpers/processes.ts";

/** The kernel's cap on a plain SO_RCVBUF / SO_SNDBUF. */
function cap(name: "rmem_max" | "wmem_max"): number {
  return Number(Deno.readTextFileSync(`/proc/sys/net/core/${name}`).trim());
}

/** What the kernel reports for each socket after asking for `bytes`, printed as JSON: run here or as another process. */
const PROBE = (bytes: number) => `
import { InetDgramSocket } from "${new URL("../../src/io/inet_dgram.ts", import.meta.url)}";
import { socketBufferSize } from "${new URL("../../src/io/socket_buffers.ts", import.meta.url)}";
import { UnixDgramSocket } from "${new URL("../../src/io/unix_dgram.ts", import.meta.url)}";
const unix = UnixDgramSocket.create();
unix.setBuffers(${bytes});
const udp = InetDgramSocket.create(4);
udp.setReceiveBuffer(${bytes});
console.log(JSON.stringify({
  unixSend: socketBufferSize(unix.fd, "send"),
  unixReceive: socketBufferSize(unix.fd, "receive"),
  udpReceive: socketBufferSize(udp.fd, "receive"),
}));
`;

Deno.test("as root, unix and UDP sockets get buffers beyond the sysctl cap", (t) => {
  if (skipUnlessRoot(t)) return;
  const bytes = Math.max(cap("rmem_max"), cap("wmem_max")) * 2;
  const unix = UnixDgramSocket.create();
  const udp = InetDgramSocket.create(4);
  try {
    unix.setBuffers(bytes);
    udp.setReceiveBuffer(bytes);
    // The kernel reports double what was set.
    assert.equal(unix.sendBufferSize, bytes * 2);
    assert.equal(socketBufferSize(unix.fd, "receive"), bytes * 2);
    assert.equal(socketBufferSize(udp.fd, "receive"), bytes * 2);
  } finally {
    unix.close(false);
    udp.close();
  }
});

Deno.test("without CAP_NET_ADMIN, unix and UDP sockets still grow up to the sysctl cap", async (t) => {
  if (skipUnlessRoot(t)) return;
  const rmem = cap("rmem_max");
  const wmem = cap("wmem_max");
  const r = await run([
    "setpriv",
    "--bounding-set=-net_admin",
    "--inh-caps=-net_admin",
    Deno.execPath(),
    "eval",
    PROBE(Math.max(rmem, wmem) * 2),
  ], { timeoutMs: 60_000 });
  assert.equal(r.code, 0, r.stderr);
  const got = JSON.parse(r.stdout);
  assert.deepEqual(got, { unixSend: wmem * 2, unixReceive: rmem * 2, udpReceive: rmem * 2 });
});

Deno.test("a buffer asked of a closed fd is ignored, and its size reads -1", () => {
  const closed = 1 << 20; // above any fd this process opens
  setSocketBuffer(closed, "receive", 1 << 20);
  assert.equal(socketBufferSize(closed, "receive"), -1);
});
