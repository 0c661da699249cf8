/**
 * What a guest's TCP segment meets before the engine, end to end in a lab:
 * with the host's loopback off (`disable_host_loopback`), the guest cannot
 * open a connection to the gateway, while an inbound forward, whose client
 * on the host's loopback the guest sees as the gateway, still answers.
 */
import assert from "node:assert/strict";
import { inHost, withLabUp } from "../lab/_helpers.ts";
import { skipUnlessRoot } from "../helpers/processes.ts";

/** A free TCP port on the host's loopback, for the forward. */
function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

Deno.test("with the host's loopback off, a forward still answers and the guest still cannot reach the loopback", async (t) => {
  if (skipUnlessRoot(t)) return;
  const port = freePort();
  // A server on the host's loopback that the guest must not reach through the gateway.
  const loopback = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const server = "import socket; s = socket.socket(); s.bind(('10.0.2.15', 80)); s.listen(); " +
    "c, _ = s.accept(); c.sendall(b'from the guest'); c.close()";
  // The lab's start waits for the server, so the test's first connection finds it.
  const listening = "for i in $(seq 100); do ss -Hltn src 10.0.2.15:80 | grep -q . && break; sleep 0.1; done";
  const lab = `name: x
topology:
  nodes:
    sw1: { kind: switch }
    nat: { kind: slirp, forwards: ["tcp:127.0.0.1:${port}:10.0.2.15:80"], options: disable_host_loopback }
    h1: { kind: host, address: 10.0.2.15/24, gateway: 10.0.2.2, exec: ["python3 -c \\"${server}\\" &", "${listening}"] }
  links:
    - endpoints: [h1, sw1]
    - endpoints: [nat, sw1]
`;
  try {
    await withLabUp({ text: lab }, async (name) => {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      const got = new Uint8Array(64);
      let n = 0;
      for (;;) {
        const r = await conn.read(got.subarray(n));
        if (r === null) break;
        n += r;
      }
      conn.close();
      assert.equal(new TextDecoder().decode(got.subarray(0, n)), "from the guest");
      const port2 = (loopback.addr as Deno.NetAddr).port;
      const reach = await inHost(name, "h1", ["bash", "-c", `echo > /dev/tcp/10.0.2.2/${port2}`], 10_000);
      assert.notEqual(reach.code, 0);
      assert.match(reach.stderr, /Connection refused/);
    });
  } finally {
    loopback.close();
  }
});
