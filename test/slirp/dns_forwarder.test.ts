import assert from "node:assert/strict";
import { DnsForwarder, QUERY_TIMEOUT_MS } from "../../src/slirp/dns_forwarder.ts";
import { FakeHostNet } from "./helpers.ts";
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

Deno.test("DNS forwarder: a silent upstream is logged once, naming it, and again only after it answered", () => {
  const net = new FakeHostNet();
  const lines: string[] = [];
  let now = 0;
  const upstream = { family: 4 as const, addr: new Uint8Array([127, 0, 0, 1]), port: 5399 };
  const fwd = new DnsForwarder([upstream], net, () => {}, () => now, (m) => lines.push(m));
  const guest = new Uint8Array([10, 0, 2, 15]);
  const ask = (id: number) => {
    const q = buildDnsMessage({ id, questions: [{ name: "host.test.vde", type: 1 }] });
    fwd.query(4, guest, 4444, q, 0, q.length);
  };
  ask(1);
  ask(2);
  now = QUERY_TIMEOUT_MS;
  fwd.expire(now);
  assert.equal(fwd.stats.timeouts, 2);
  assert.deepEqual(lines, [
    "DNS upstream 127.0.0.1:5399 did not answer within 5 s; the guest's lookups through it fail while it is " +
    "silent (--dns-upstream ADDR[:PORT] or dns_upstream= names another)",
  ]);
  ask(3);
  now += QUERY_TIMEOUT_MS;
  fwd.expire(now);
  assert.equal(lines.length, 1, "still silent: no second line");
  ask(4);
  const sock = net.sockets[0]!;
  const sent = sock.sent.at(-1)!.data;
  const answer = buildDnsMessage({ id: (sent[0]! << 8) | sent[1]!, response: true });
  sock.receive(answer, [127, 0, 0, 1], 5399);
  assert.equal(fwd.stats.answers, 1);
  ask(5);
  now += QUERY_TIMEOUT_MS;
  fwd.expire(now);
  assert.equal(lines.length, 2, "silent again after an answer: said again");
  fwd.close();
});
