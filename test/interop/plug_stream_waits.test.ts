/**
 * A stream-fed `vde plug` (frames on its stdin, as dpipe and ssh cables feed
 * it) waits for a switch that lags instead of dropping: the stream can wait,
 * so the plug stops reading it while the switch's socket is full and the
 * writer blocks. The switch is held (SIGSTOP) mid-run and then continued;
 * the switch itself counts what came in from the plug (port/print's IN
 * packets, which Debian's vde_switch keeps too), against Debian's vde_switch
 * and ours. A client of the switch would count the switch's own drops
 * towards it as well (a datagram receiver that lags loses frames there, as
 * Debian's does), which are not the plug's.
 */
import assert from "node:assert/strict";
import { skipWithout } from "../helpers/processes.ts";
import type { SwitchKind } from "../helpers/switches.ts";
import { BROADCAST, ethFrame, mac, ourCli, sleep, withMgmtSwitch } from "../helpers/vde_clients.ts";
import { StreamEncoder } from "../../src/wire/stream_framing.ts";
import { MgmtClient } from "../../src/console/client.ts";

const MAC_SENDER = mac(0x5d);
/** Frames written into the plug, and their size. */
const FRAMES = 20_000;
const FRAME_BYTES = 1500;
/** Frames per write into the plug's stdin. */
const PER_WRITE = 50;
/** The switch is held once this many frames are written, for HOLD_MS. */
const HOLD_AFTER = 5_000;
const HOLD_MS = 700;
/** How long the count may stand still before the run is over. */
const QUIET_MS = 3_000;

/** Frames the switch took in on all its ports (port/print's IN pkts). */
async function framesIn(console: MgmtClient): Promise<number> {
  const reply = await console.command("port/print");
  let total = 0;
  for (const line of reply.lines ?? []) {
    const m = /^\s*IN:\s+pkts\s+(\d+)/.exec(line);
    if (m !== null) total += Number(m[1]);
  }
  return total;
}

/** Writes FRAMES frames into the plug, holding the switch `pid` for HOLD_MS once HOLD_AFTER are written. */
async function writeWithHold(writer: WritableStreamDefaultWriter<Uint8Array>, pid: number): Promise<void> {
  let held: Promise<void> | null = null;
  const enc = new StreamEncoder();
  for (let base = 0; base < FRAMES; base += PER_WRITE) {
    if (held === null && base >= HOLD_AFTER) {
      Deno.kill(pid, "SIGSTOP");
      held = sleep(HOLD_MS).then(() => Deno.kill(pid, "SIGCONT"));
    }
    enc.reset();
    for (let tag = base; tag < base + PER_WRITE; tag++) {
      enc.append(ethFrame(BROADCAST, MAC_SENDER, tag, FRAME_BYTES));
    }
    await writer.write(enc.bytes.slice());
  }
  await held;
}

async function heldSwitchLosesNothing(t: Deno.TestContext, kind: SwitchKind): Promise<void> {
  if (await skipWithout(t, { vde_switch: "vde-switch" })) return;
  await withMgmtSwitch(kind, async (mgmt, dir, sw) => {
    const sender = new Deno.Command(ourCli()[0]!, {
      args: [...ourCli().slice(1), "plug", dir],
      stdin: "piped",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const writer = sender.stdin.getWriter();
    const console = await MgmtClient.connect(mgmt);
    let resumed = false;
    try {
      // Attached before the count starts: a first frame gets in.
      const first = new StreamEncoder();
      first.append(ethFrame(BROADCAST, MAC_SENDER, FRAMES, 60));
      let before = 0;
      for (let i = 0; before === 0; i++) {
        if (i > 200) throw new Error("the plug's first frame never reached the switch");
        if (i % 10 === 0) await writer.write(first.bytes.slice());
        await sleep(100);
        before = await framesIn(console);
      }
      await writeWithHold(writer, sw.pid);
      resumed = true;
      let count = 0;
      let since = Date.now();
      for (let last = -1; count < FRAMES && Date.now() - since < QUIET_MS; await sleep(100)) {
        count = await framesIn(console) - before;
        if (count !== last) [last, since] = [count, Date.now()];
      }
      assert.equal(count, FRAMES, `${FRAMES} frames written into the plug, ${count} reached the switch`);
    } finally {
      if (!resumed) Deno.kill(sw.pid, "SIGCONT");
      console.close();
      await writer.close().catch(() => {});
      try {
        sender.kill("SIGTERM");
      } catch { /* gone */ }
      await sender.status;
      await sender.stderr.cancel();
    }
  });
}

Deno.test("vde plug on stdio waits for Debian's vde_switch held mid-stream and loses no frame", async (t) => {
  await heldSwitchLosesNothing(t, "c");
});

Deno.test("vde plug on stdio waits for our switch held mid-stream and loses no frame", async (t) => {
  await heldSwitchLosesNothing(t, "ours");
});
