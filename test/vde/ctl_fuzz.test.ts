/**
 * Fuzz: the switch's ctl socket takes random bytes and mutated valid
 * requests (magic, version, kind, port bits, the client's address and
 * description changed, cut short, lengthened) from 300 connections, 25 at
 * a time, each client leaving after a moment as a careless one does. The
 * server must refuse or serve each without failing, count the refusals
 * (logging only the first few), leave no endpoint or port file behind, and two good clients attached
 * all along must still exchange frames. Seeded.
 */
import assert from "node:assert/strict";
import { Switch } from "../../src/switch/switch.ts";
import { VdeSwitchServer } from "../../src/vde/switch_server.ts";
import { buildVdeRequest, buildVdeRequestV1, REQ_NEW_CONTROL } from "../../src/wire/vde_request.ts";
import { exchangeBroadcasts, portFiles, RawClient, sleep, until } from "../helpers/vde_clients.ts";
import { skipUnlessRoot } from "../helpers/processes.ts";
import { junk, mutate, prng } from "../helpers/random.ts";

const N = 300;
const BATCH = 25;

Deno.test("ctl fuzz: 300 random and mutated requests are refused or served and counted; no endpoint is left and good clients still exchange frames", async (t) => {
  if (skipUnlessRoot(t)) return;
  const tmp = await Deno.makeTempDir({ prefix: "vde-ctl-fuzz-" });
  const dir = `${tmp}/sw`;
  const sw = new Switch({ numPorts: 16 });
  const lines: string[] = [];
  const server = await VdeSwitchServer.start(sw, { dir, log: (m) => lines.push(m) });
  const rnd = prng(0xc71);
  const good: RawClient[] = [];
  try {
    good.push(await RawClient.open(dir), await RawClient.open(dir));
    await exchangeBroadcasts(good[0]!, good[1]!, 100);
    let replies = 0, ends = 0;
    const started = performance.now();
    for (let at = 0; at < N; at += BATCH) {
      await Promise.all(Array.from({ length: BATCH }, async () => {
        const c = await RawClient.connect(dir);
        try {
          let bytes: Uint8Array;
          if (rnd() < 0.2) {
            bytes = junk(rnd, 300);
            if (bytes.length >= 4 && rnd() < 0.5) bytes.set([0xce, 0xfa, 0xed, 0xfe]);
          } else {
            const port = rnd() < 0.5 ? 0 : Math.floor(rnd() * 20);
            const template = rnd() < 0.8
              ? buildVdeRequest({ kind: REQ_NEW_CONTROL, port, socketPath: c.dataPath, description: "fuzz" })
              : buildVdeRequestV1(REQ_NEW_CONTROL, c.dataPath, "fuzz v1");
            // Mostly the header words and the address family, where the lengths and choices live.
            bytes = mutate(template, rnd, {
              cut: 0.2,
              growBy: 200,
              maxFlips: 4,
              at: (length) => Math.floor(rnd() * (rnd() < 0.7 ? Math.min(16, length) : length)),
            });
          }
          await c.sendRaw(bytes).catch(() => {});
          const r = await c.awaitReply(300);
          if (r.type === "reply") replies++;
          else if (r.type === "eof") ends++;
        } finally {
          await c.close();
        }
      }));
    }
    const seconds = (performance.now() - started) / 1000;
    await until("every fuzzed endpoint gone", () => server.endpointCount === 2, 5000);
    await until("every fuzzed port file gone", async () => (await portFiles(dir)).length === 2, 5000);
    const r = server.refused;
    console.log(
      `ctl fuzz: ${N} connections in ${
        seconds.toFixed(1)
      } s: ${replies} served, ${ends} closed by the switch, ` +
        `refused ${JSON.stringify(r)}, ${lines.length} log lines`,
    );
    assert.ok(r.request > 0, "bad requests are counted");
    assert.equal(r.busy, 0);
    // 300 refusals in a few seconds: the first 10 say why, the rest are counted, not logged one by one.
    assert.ok(lines.length <= 12, `${lines.length} log lines`);
    assert.ok(!lines.some((l) => /failed|TypeError|RangeError/.test(l)), lines.join("\n"));
    await exchangeBroadcasts(good[0]!, good[1]!, 200);
    // A new good client still gets in.
    const late = await RawClient.open(dir);
    good.push(late);
    await exchangeBroadcasts(good[0]!, late, 300);
  } finally {
    for (const c of good) await c.close();
    server.close();
    sw.close();
    await sleep(50);
    await Deno.remove(tmp, { recursive: true });
  }
});
