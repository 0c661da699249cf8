import assert from "node:assert/strict";
import { DnsForwarder } from "../../src/slirp/dns_forwarder.ts";
import { FfiHostNet } from "../../src/slirp/host_net.ts";
import { poller } from "../../src/io/poller.ts";
import { buildDnsMessage, parseDnsMessage } from "../../src/wire/dns.ts";
import { startDnsFixture } from "./dns_fixture.ts";
import { valueOf } from "../helpers/parsed.ts";

Deno.test("DNS forwarder: real UDP to a loopback server, and TCP fallback for a truncated answer", async () => {
  const fx = await startDnsFixture();
  const answers: Uint8Array[] = [];
  const { promise: two, resolve } = Promise.withResolvers<void>();
  const fwd = new DnsForwarder(
    [{ family: 4, addr: new Uint8Array([127, 0, 0, 1]), port: fx.port }],
    new FfiHostNet(),
    (_f, _a, port, b, off, len) => {
      assert.equal(port, 4444);
      answers.push(b.slice(off, off + len));
      if (answers.length === 2) resolve();
    },
    () => performance.now(),
  );
  const timer = setTimeout(resolve, 5000);
  try {
    const q1 = buildDnsMessage({ id: 11, questions: [{ name: "host.test.vde", type: 1 }] });
    const q2 = buildDnsMessage({ id: 22, questions: [{ name: "big.test.vde", type: 1 }] });
    fwd.query(4, new Uint8Array([10, 0, 2, 15]), 4444, q1, 0, q1.length);
    fwd.query(4, new Uint8Array([10, 0, 2, 15]), 4444, q2, 0, q2.length);
    await two;
    assert.equal(answers.length, 2, "both answers within 5 s");
    const byId = new Map(answers.map((a) => [(a[0]! << 8) | a[1]!, valueOf(parseDnsMessage(a))]));
    const small = byId.get(11)!;
    const big = byId.get(22)!;
    assert.equal(small.answers.length, 1);
    assert.equal(big.header.tc, false);
    assert.equal(big.answers.length, 10);
    assert.equal(fwd.stats.tcpFallbacks, 1);
    assert.equal(fx.tcpQueries, 1);
  } finally {
    clearTimeout(timer);
    fwd.close();
    await fx.close();
    await poller().stop();
  }
});
