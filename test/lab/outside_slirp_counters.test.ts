/**
 * A rootless lab's slirp counters, from the process outside to the lab's
 * /metrics: answered as they are at each connection, and any answer that is
 * not one (hostile, late, too long, the process gone) read as none, with why.
 */
import assert from "node:assert/strict";
import {
  parseSlirpCounters,
  readSlirpCounters,
  serveSlirpCounters,
  slirpCountersFrom,
  slirpCountersSocket,
} from "../../src/lab/outside_slirp_counters.ts";
import { type SlirpCounters, slirpCounters } from "../../src/web/slirp_metrics.ts";
import { exists } from "../../src/os/paths.ts";
import { listenPrivate } from "../../src/os/private_socket.ts";
import { testStack } from "../slirp/helpers.ts";
import { withTempDir } from "./_helpers.ts";

async function writeThenClose(conn: Deno.UnixConn, bytes: Uint8Array): Promise<void> {
  for (let at = 0; at < bytes.length;) at += await conn.write(bytes.subarray(at));
  conn.close();
}

const ZERO: SlirpCounters = slirpCounters(testStack().stack);

Deno.test("the slirps' counters are answered as they are at each connection, and the socket goes with the server", async () => {
  await withTempDir("vde-slirp-counters-", async (dir) => {
    const { stack } = testStack();
    const server = serveSlirpCounters(dir, () => [{ name: "nat", counters: slirpCounters(stack) }], () => {});
    try {
      assert.deepEqual(await readSlirpCounters(dir), [{ name: "nat", counters: ZERO }]);
      stack.input(new Uint8Array(5)); // a runt: taken and dropped
      const [nat] = await readSlirpCounters(dir) as { counters: SlirpCounters }[];
      assert.deepEqual([nat!.counters.framesIn, nat!.counters.drops], [1, 1]);
    } finally {
      server.close();
      stack.close();
    }
    assert.equal(exists(slirpCountersSocket(dir)), false);
    assert.match(
      await readSlirpCounters(dir) as string,
      /^no answer from the vde up --rootless outside the lab's namespaces \(/,
    );
  });
});

Deno.test("an answer that is not the slirps' counters is none, with why", () => {
  const one = (name: unknown, counters: unknown) => JSON.stringify({ slirps: [{ name, counters }] });
  const cases: [string, string][] = [
    ["{", "not JSON"],
    ["null", "no list of slirps"],
    ['{"slirps": {}}', "no list of slirps"],
    [JSON.stringify({ slirps: new Array(1025).fill(null) }), "1025 slirps, more than 1024"],
    [one("../x", ZERO), "a slirp's name is no node's, or comes twice: \"../x\""],
    [one(7, ZERO), "a slirp's name is no node's, or comes twice: 7"],
    [
      JSON.stringify({ slirps: [{ name: "a", counters: ZERO }, { name: "a", counters: ZERO }] }),
      'twice: "a"',
    ],
    [one("nat", null), "slirp nat has no counters"],
    [one("nat", { ...ZERO, framesIn: -1 }), "slirp nat's framesIn is no count"],
    [one("nat", { ...ZERO, dhcpReplies: "3" }), "slirp nat's dhcpReplies is no count"],
    [one("nat", { framesIn: 1 }), "slirp nat's framesOut is no count"],
  ];
  for (const [text, why] of cases) {
    const got = parseSlirpCounters(text);
    assert.equal(typeof got, "string", text.slice(0, 60));
    assert.ok((got as string).endsWith(why), `${got} for ${text.slice(0, 60)}`);
  }
  // A key of its own beside them is not read, and not kept.
  assert.deepEqual(parseSlirpCounters(one("nat", { ...ZERO, extra: 1 })), [{ name: "nat", counters: ZERO }]);
  assert.deepEqual(parseSlirpCounters('{"slirps": []}'), []);
});

Deno.test("an answer too long, late or not UTF-8 is none; the lab says so once until one comes again", async () => {
  await withTempDir("vde-slirp-counters-", async (dir) => {
    const path = slirpCountersSocket(dir);
    let answer: Uint8Array | null = new TextEncoder().encode("x".repeat(300_000));
    const listener = Deno.listen({ transport: "unix", path });
    const conns: Deno.UnixConn[] = [];
    const serving = (async () => {
      for await (const conn of listener) {
        conns.push(conn);
        // null: hold the connection, answering nothing.
        if (answer !== null) writeThenClose(conn, answer).catch(() => {});
      }
    })();
    try {
      assert.equal(await readSlirpCounters(dir), "an answer longer than 262144 bytes");
      answer = new Uint8Array([0xff, 0xfe]);
      assert.equal(await readSlirpCounters(dir), "not UTF-8");
      answer = null;
      assert.equal(await readSlirpCounters(dir, 100), "no answer within 0.1 s");
      answer = new TextEncoder().encode("nonsense");
      const said: string[] = [];
      const read = slirpCountersFrom(dir, (m) => said.push(m));
      assert.deepEqual([await read(), await read()], [[], []]);
      answer = new TextEncoder().encode('{"slirps": []}');
      await read();
      answer = new TextEncoder().encode("nonsense");
      await read();
      assert.deepEqual(said, [
        "/metrics has no slirp series: the slirps' counters: not JSON",
        "/metrics has no slirp series: the slirps' counters: not JSON",
      ]);
    } finally {
      listener.close();
      for (const c of conns) {
        try {
          c.close();
        } catch { /* closed */ }
      }
      await serving;
    }
  });
});

Deno.test("a failed accept (the process outside out of descriptors for a moment) is said once and tried again, not the end of the answers", async () => {
  // The accept fails as it does out of descriptors (EMFILE) for its first tries, then works: run for real
  // (a child filling its descriptor table), Deno itself panicked now and then, in its signal handling.
  await withTempDir("vde-slirp-counters-", async (dir) => {
    const said: string[] = [];
    let failures = 3;
    const server = serveSlirpCounters(dir, () => [], (m) => said.push(m), (path) => {
      const real = listenPrivate(path);
      return {
        accept: () =>
          failures-- > 0 ? Promise.reject(new Error("Too many open files (os error 24)")) : real.accept(),
        close: () => real.close(),
      };
    });
    try {
      assert.deepEqual(await readSlirpCounters(dir), [], "answered once the accept works again");
      assert.deepEqual(said, [
        "the slirps' counters for /metrics: cannot accept (Too many open files (os error 24)); trying again",
      ]);
      assert.deepEqual(await readSlirpCounters(dir), [], "and on");
    } finally {
      server.close();
    }
  });
});
