import assert from "node:assert/strict";
import { C } from "../../ffi/libc.ts";
import { FfiHostNet } from "../../src/slirp/host_net.ts";
import { poller } from "../../src/io/poller.ts";

/** A UDP port on 127.0.0.1 that nothing listens on (bound, then closed). */
function closedPort(net: FfiHostNet): number {
  const s = net.openUdp(4, () => {}, new Uint8Array([127, 0, 0, 1]), 0);
  const port = s.localPort;
  s.close();
  return port;
}

Deno.test("a host UDP socket with an error handler hears the loopback's port unreachable, with the destination and payload", async () => {
  const net = new FfiHostNet();
  const heard: { errno: number; dst: number[]; port: number; payload: string }[] = [];
  const got = Promise.withResolvers<void>();
  const sock = net.openUdp(4, () => {}, undefined, 0, (errno, _info, dst, port, payload) => {
    heard.push({ errno, dst: [...dst.subarray(0, 4)], port, payload: new TextDecoder().decode(payload) });
    got.resolve();
  });
  try {
    const port = closedPort(net);
    const b = new TextEncoder().encode("knock");
    assert.equal(sock.sendTo(b, 0, b.length, new Uint8Array([127, 0, 0, 1]), 0, port), 0);
    const timer = setTimeout(() => got.reject(new Error("no error heard in 5 s")), 5000);
    await got.promise.finally(() => clearTimeout(timer));
    assert.deepEqual(heard[0], { errno: C.ECONNREFUSED, dst: [127, 0, 0, 1], port, payload: "knock" });
  } finally {
    sock.close();
    await poller().stop();
  }
});
