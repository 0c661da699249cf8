/**
 * What a guest's TCP segment meets before the engine: with the host's
 * loopback off (`disable_host_loopback`), segments to the gateway still go
 * to the engine (which refuses a new connection there, and carries an
 * inbound forward's), while one to an address the guest may not reach is
 * refused at once; and end to end in a lab, the guest cannot open a
 * connection to the gateway, while an inbound forward, whose client on the
 * host's loopback the guest sees as the gateway, still answers.
 */
import { freedPort } from "../helpers/ports.ts";
import assert from "node:assert/strict";
import { tcpFromGuest } from "../../src/slirp/guest_handoff.ts";
import { IPV4, IPV6 } from "../../src/slirp/ip_family.ts";
import { Iface } from "../../src/slirp/iface.ts";
import { defaultConfig } from "../../src/slirp/config.ts";
import type { TcpEngine } from "../../src/slirp/tcp/api.ts";
import { inHost, withLabUp } from "../lab/_helpers.ts";
import { skipUnlessRoot } from "../helpers/processes.ts";

Deno.test("with the host's loopback off, a forward still answers and the guest still cannot reach the loopback", async (t) => {
  if (skipUnlessRoot(t)) return;
  const port = freedPort();
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

Deno.test("with the host's loopback off, a guest's segment to the gateway (IPv4, IPv6, link-local) goes to the engine; one to 127.0.0.1 or ::1 is refused", () => {
  const config = { ...defaultConfig(), hostLoopback: false };
  const iface = new Iface(
    config,
    { output: () => {}, kick: () => {}, congested: () => false },
    () => 0,
    () => {},
    {
      4: false,
      6: false,
    },
  );
  const went: string[] = [];
  const p = {
    tcp: { input: () => went.push("engine") } as unknown as TcpEngine,
    refuseTcp: () => went.push("refused"),
  };
  const v4 = (dst: number[]) => {
    const b = new Uint8Array([10, 0, 2, 15, ...dst, 0, 0, 0, 0]);
    tcpFromGuest(IPV4, p, iface, b, 0, 4, 8, 4);
  };
  const v6 = (dst: Uint8Array) => {
    const b = new Uint8Array(36);
    b.set(dst, 16);
    tcpFromGuest(IPV6, p, iface, b, 0, 16, 32, 4);
  };
  v4([10, 0, 2, 2]);
  v4([127, 0, 0, 1]);
  v6(config.gateway6);
  v6(iface.linkLocal);
  v6(new Uint8Array(16).fill(1, 15));
  assert.deepEqual(went, ["engine", "refused", "engine", "engine", "refused"]);
});
