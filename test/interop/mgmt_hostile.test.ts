/**
 * Hostile management clients against our switch running as its own
 * process, while two Debian vde_plug clients keep exchanging frames: 100
 * clients at once, 1 MiB without a newline, binary garbage, and a client
 * that sends commands but never reads. Forwarding must not stall, a polite
 * client must still get prompt answers, and memory must stay bounded.
 */
import assert from "node:assert/strict";
import { hasCommand, skipUnless } from "../helpers/processes.ts";
import { startOurSwitch, vmRssKiB } from "../helpers/switches.ts";
import {
  BROADCAST,
  ClientSet,
  ethFrame,
  mac,
  sleep,
  tagOf,
  waitForPortFiles,
  waitUntilAccepting,
} from "../helpers/vde_clients.ts";
import { MgmtClient } from "../../src/console/client.ts";
import { RawMgmtClient } from "../console/_helpers.ts";

Deno.test("hostile management clients stall neither forwarding nor other clients, and memory stays bounded", async (t) => {
  if (skipUnless(t, (await hasCommand("vde_plug")) ? null : "needs Debian's vde_plug (package vdeplug)")) {
    return;
  }
  const tmp = await Deno.makeTempDir({ prefix: "vde-hostile-" });
  const mgmt = `${tmp}/mgmt`;
  const sw = await startOurSwitch(`${tmp}/sw`, { extraArgs: ["--mgmt", mgmt] });
  const clients = new ClientSet();
  const conns: Deno.Conn[] = [];
  const raws: RawMgmtClient[] = [];
  let sending = true;
  try {
    await waitUntilAccepting(`${tmp}/sw`);
    const a = clients.vdePlug(`${tmp}/sw`);
    const b = clients.vdePlug(`${tmp}/sw`);
    await waitForPortFiles(`${tmp}/sw`, 2);
    // A steady stream A -> B, one broadcast every 10 ms; B records arrival times.
    const arrivals: number[] = [];
    let tag = 0;
    const sender = (async () => {
      while (sending) {
        await a.send(ethFrame(BROADCAST, mac(0xa), ++tag));
        await sleep(10);
      }
    })();
    await b.waitTag(1, 5000);
    const watcher = (async () => {
      let seen = 0;
      while (sending) {
        const n = b.frames.filter((f) => tagOf(f) > 0).length;
        if (n > seen) arrivals.push(Date.now());
        seen = n;
        await sleep(5);
      }
    })();
    const rssBefore = await vmRssKiB(sw.pid).catch(() => 0);

    // 1. A client that never reads: floods commands (and asks for debug events).
    const deaf = await Deno.connect({ transport: "unix", path: mgmt });
    conns.push(deaf);
    const flood = new TextEncoder().encode("debug/add\n" + "help\n".repeat(20000));
    const deafWrite = deaf.write(flood).catch(() => 0);
    // 2. 1 MiB without a newline, then a newline: answered with E2BIG.
    const longLine = await RawMgmtClient.connect(mgmt);
    raws.push(longLine);
    await longLine.waitFor((x) => x.endsWith("vde$ "), "greeting");
    await longLine.send("A".repeat(1 << 20));
    // 3. 4 MiB of binary garbage (newlines included), sent without waiting for answers.
    const garbage = await RawMgmtClient.connect(mgmt);
    raws.push(garbage);
    const junk = new TextDecoder("latin1").decode(crypto.getRandomValues(new Uint8Array(65536)));
    const garbageSent = (async () => {
      for (let i = 0; i < 64; i++) await garbage.send(junk);
    })().catch(() => {});
    // 4. 100 clients at once, each running a command.
    const many = await Promise.all(
      Array.from({ length: 100 }, () => MgmtClient.connect(mgmt, { timeoutMs: 15_000 })),
    );
    const started = Date.now();
    const replies = await Promise.all(many.map((c) => c.command("port/showinfo")));
    const manyMs = Date.now() - started;
    for (const r of replies) assert.deepEqual(r.lines, ["Numports=32", "HUB=false", "counters=true"]);
    for (const c of many) c.close();

    // A polite client is served promptly while all that goes on.
    const polite = await MgmtClient.connect(mgmt, { timeoutMs: 5000 });
    const t0 = Date.now();
    assert.equal((await polite.command("port/print")).code, 0);
    const politeMs = Date.now() - t0;
    await longLine.send("\n");
    const answer = await longLine.waitFor(
      (x) => x.includes("1007 Argument list too long\n\nvde$ "),
      "E2BIG",
      5000,
    );
    assert.ok(answer.length > 0);
    await garbage.waitFor((x) => x.includes("1038 Function not implemented"), "garbage answered", 5000);
    await garbageSent;

    await sleep(1000);
    sending = false;
    await sender;
    await watcher;
    const rssAfter = await vmRssKiB(sw.pid).catch(() => 0);

    // Forwarding never paused for long: no gap over 1 s between frames at B.
    let maxGap = 0;
    for (let i = 1; i < arrivals.length; i++) maxGap = Math.max(maxGap, arrivals[i]! - arrivals[i - 1]!);
    assert.ok(arrivals.length > 50, `B received ${arrivals.length} batches`);
    assert.ok(maxGap < 1000, `forwarding stalled for ${maxGap} ms`);
    assert.ok(politeMs < 3000, `a polite command took ${politeMs} ms`);
    assert.ok(manyMs < 10_000, `100 clients took ${manyMs} ms`);
    if (rssBefore > 0 && rssAfter > 0) {
      const growthMiB = (rssAfter - rssBefore) / 1024;
      assert.ok(growthMiB < 100, `RSS grew by ${growthMiB.toFixed(1)} MiB`);
    }
    assert.equal(sw.process.exitStatus, null, "the switch is still running");
    polite.close();
    deaf.close();
    await deafWrite;
  } finally {
    sending = false;
    for (const c of conns) {
      try {
        c.close();
      } catch { /* closed */ }
    }
    for (const r of raws) r.close();
    await clients.stopAll();
    await sw.stop();
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
});
