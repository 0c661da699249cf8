/** The kernel's socket tables read for their owners, and reads batched for whoever asks. */
import assert from "node:assert/strict";
import { OwnerReads, parseSocketTable, readSocketOwners } from "../../src/web/socket_owners.ts";
import { connectionKey, endpointKey } from "../../src/web/conn_guard.ts";
import { sleep } from "../helpers/processes.ts";

const HEAD =
  "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n";

Deno.test("socket owners: rows of tcp and tcp6 give each connection's uid by both its ends; gone sockets and bad rows give nothing", () => {
  const v4 = HEAD +
    "   0: 0100007F:9C40 0100007F:1F90 01 00000000:00000000 00:00000000 00000000  1001        0 4242 1 0\n" +
    "   1: 0200007F:9C41 0100007F:1F90 06 00000000:00000000 03:000007C9 00000000     0        0 0 3 0\n" +
    "   2: zz:9C42 0100007F:1F90 01 00000000:00000000 00:00000000 00000000  1001        0 77 1 0\n" +
    "   3: 0100007F:9C43\n";
  const v6 = HEAD +
    "   0: 00000000000000000000000001000000:9C44 00000000000000000000000001000000:1F90 01 " +
    "00000000:00000000 00:00000000 00000000  1002        0 4343 1 0\n" +
    "   1: 0000000000000000FFFF00000100007F:9C45 0000000000000000FFFF00000100007F:1F90 01 " +
    "00000000:00000000 00:00000000 00000000     0        0 4444 1 0\n";
  const owners = parseSocketTable(v6, parseSocketTable(v4, new Map()));
  const to = (host: string, port: number) => connectionKey(endpointKey(host, port), endpointKey(host, 8080));
  assert.deepEqual([...owners], [
    [to("127.0.0.1", 0x9c40), 1001],
    [to("::1", 0x9c44), 1002],
    [to("::ffff:127.0.0.1", 0x9c45), 0],
  ]);
});

Deno.test("socket owners: one local port the kernel gave to connections to two servers names each owner apart, by the remote end", () => {
  // As Linux prints them once ephemeral ports run short: 127.0.0.1:40000 to :9001 (root's) and to :9002 (a user's).
  const table = HEAD +
    "   4: 0100007F:9C40 0100007F:2329 01 00000000:00000000 00:00000000 00000000  1001        0 7989275 2 0\n" +
    "   6: 0100007F:9C40 0100007F:232A 01 00000000:00000000 00:00000000 00000000     0        0 7989277 2 0\n";
  const owners = parseSocketTable(table, new Map());
  const from40000 = (port: number) =>
    connectionKey(endpointKey("127.0.0.1", 40000), endpointKey("127.0.0.1", port));
  assert.equal(owners.get(from40000(9001)), 1001, "the user's connection is the user's, not root's");
  assert.equal(owners.get(from40000(9002)), 0);
});

Deno.test("socket owners: this process's own loopback connection is found with its uid", async () => {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const c = await Deno.connect({ hostname: "127.0.0.1", port: l.addr.port });
  const s = await l.accept();
  try {
    const key = connectionKey(
      endpointKey("127.0.0.1", c.localAddr.port),
      endpointKey("127.0.0.1", l.addr.port),
    );
    assert.equal(readSocketOwners().get(key), Deno.uid());
  } finally {
    for (const x of [c, s, l]) x.close();
  }
});

Deno.test("socket owners: one read answers all who asked meanwhile; the next waits four times the last read's length", async () => {
  let reads = 0;
  const r = new OwnerReads(() => {
    reads++;
    const until = Date.now() + 20;
    while (Date.now() < until) { /* a slow read */ }
    return new Map([["127.0.0.1:1", reads]]);
  });
  const got: number[] = [];
  for (let i = 0; i < 3; i++) r.ask((o) => got.push(o.get("127.0.0.1:1")!));
  assert.equal(r.asking, 3);
  await sleep(10);
  assert.deepEqual([reads, got], [1, [1, 1, 1]]);
  const asked = Date.now();
  await new Promise<void>((resolve) => r.ask(() => resolve()));
  assert.ok(Date.now() - asked >= 70, `the next read came after ${Date.now() - asked} ms`);
  assert.equal(reads, 2);
  r.ask(() => assert.fail("no answer after close"));
  r.close();
});
