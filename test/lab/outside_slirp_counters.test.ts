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

/**
 * A child that serves the counters, runs out of descriptors for 1.5 s, and serves on. (Timed, not told on its
 * stdin: a Deno reading its stdin out of descriptors panics in its signal handling.)
 */
const SHORT_OF_FDS = `
import { serveSlirpCounters } from ${
  JSON.stringify(new URL("../../src/lab/outside_slirp_counters.ts", import.meta.url).href)
};
serveSlirpCounters(Deno.args[0], () => [], (m) => console.log("said " + m));
const held = [];
console.log("ready");
await new Promise((r) => setTimeout(r, 300));
try {
  for (;;) held.push(Deno.openSync("/dev/null"));
} catch { /* EMFILE */ }
console.log("filled");
await new Promise((r) => setTimeout(r, 1500));
for (const f of held.splice(0)) f.close();
console.log("freed");
setInterval(() => {}, 60_000);
`;

Deno.test("a failed accept (the process outside out of descriptors for a moment) is said once and tried again, not the end of the answers", async () => {
  await withTempDir("vde-slirp-counters-", async (dir) => {
    const script = `${dir}/child.ts`;
    await Deno.writeTextFile(script, SHORT_OF_FDS);
    const config = new URL("../../deno.json", import.meta.url).pathname;
    const child = new Deno.Command("prlimit", {
      args: ["--nofile=256:256", Deno.execPath(), "run", "-A", "--quiet", "--config", config, script, dir],
      stdin: "null",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let seen = "";
    const until = async (word: string) => {
      while (!seen.includes(word)) {
        const { value, done } = await lines.read();
        if (done) throw new Error(`the child ended before "${word}": ${seen}`);
        seen += value;
      }
    };
    try {
      await until("ready");
      await until("filled");
      // Queued by the kernel; the accept fails for want of a descriptor.
      assert.equal(await readSlirpCounters(dir, 300), "no answer within 0.3 s");
      await until("freed");
      assert.deepEqual(await readSlirpCounters(dir), [], "no answer once descriptors were free again");
      assert.equal(seen.match(/^said .*cannot accept.*$/gm)?.length, 1, seen);
      assert.match(seen, /^said the slirps' counters for \/metrics: cannot accept \(Too many open files/m);
    } finally {
      try {
        child.kill();
      } catch { /* ended */ }
      await child.status;
      await lines.cancel().catch(() => {});
    }
  });
});
