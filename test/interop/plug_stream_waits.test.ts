/**
 * A stream-fed `vde plug` (frames on its stdin, as dpipe and ssh cables feed
 * it) waits for a switch that lags instead of dropping: the stream can wait,
 * so the plug stops reading it while the switch's socket is full and the
 * writer blocks. The switch is held (SIGSTOP) mid-run and then continued;
 * the switch itself counts what came in from the plug (port/print's IN
 * packets, which Debian's vde_switch keeps too), against Debian's vde_switch
 * and ours. A client of the switch would count the switch's own drops
 * towards it as well (a datagram receiver that lags loses frames there, as
 * Debian's does), which are not the plug's. The same through a tcp://
 * cable, plain and sealed: stdin into `vde plug tcp://...`, the cable's far
 * end plugged into the held switch; each hop waits for the next.
 */
import assert from "node:assert/strict";
import { run, skipWithout } from "../helpers/processes.ts";
import { freedPort } from "../helpers/ports.ts";
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

/** The switch's IN count once it has not moved for a second (at most 10 s): what was on its way is in. */
async function settled(console: MgmtClient, count: number): Promise<number> {
  const deadline = Date.now() + 10_000;
  for (let since = Date.now(); Date.now() - since < 1000 && Date.now() < deadline;) {
    await sleep(100);
    const now = await framesIn(console);
    if (now !== count) [count, since] = [now, Date.now()];
  }
  return count;
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

/** What the frames cross on their way to the switch: the plug alone, or a tcp:// cable too. */
type Way = "stdio" | "cable" | "sealed cable";

/** `vde plug ARGS` with stdin piped and stdout ignored. */
function ourPlug(args: string[], stdin: "piped" | "null"): Deno.ChildProcess {
  return new Deno.Command(ourCli()[0]!, {
    args: [...ourCli().slice(1), "plug", ...args],
    stdin,
    stdout: "null",
    stderr: "piped",
  }).spawn();
}

async function heldSwitchLosesNothing(t: Deno.TestContext, kind: SwitchKind, way: Way): Promise<void> {
  if (await skipWithout(t, { vde_switch: "vde-switch" })) return;
  await withMgmtSwitch(kind, async (mgmt, dir, sw) => {
    const children: Deno.ChildProcess[] = [];
    let sender: Deno.ChildProcess;
    if (way === "stdio") sender = ourPlug([dir], "piped");
    else {
      let options = "insecure";
      if (way === "sealed cable") {
        const key = `${dir}.key`;
        await run([...ourCli(), "cable", "keygen", key]);
        options = `key=${key}`;
      }
      const port = freedPort();
      children.push(ourPlug([dir, `tcp://127.0.0.1:${port}/listen/${options}`], "null"));
      sender = ourPlug([`tcp://127.0.0.1:${port}/${options}`], "piped");
    }
    children.push(sender);
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
      // A first frame written again while the first was on its way (a loaded machine) arrives after this
      // count, as one more of the run's: take the count once it has stood still.
      before = await settled(console, before);
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
      for (const child of children) {
        try {
          child.kill("SIGTERM");
        } catch { /* gone */ }
        await child.status;
        await child.stderr.cancel();
      }
    }
  });
}

Deno.test("vde plug on stdio waits for Debian's vde_switch held mid-stream and loses no frame", async (t) => {
  await heldSwitchLosesNothing(t, "c", "stdio");
});

Deno.test("vde plug on stdio waits for our switch held mid-stream and loses no frame", async (t) => {
  await heldSwitchLosesNothing(t, "ours", "stdio");
});

Deno.test("vde plug on stdio into a plain tcp:// cable waits for Debian's vde_switch held behind it and loses no frame", async (t) => {
  await heldSwitchLosesNothing(t, "c", "cable");
});

Deno.test("vde plug on stdio into a sealed tcp:// cable waits for our switch held behind it and loses no frame", async (t) => {
  await heldSwitchLosesNothing(t, "ours", "sealed cable");
});
