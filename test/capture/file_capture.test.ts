/**
 * `vde switch --pcap`'s file as tshark reads it back: each frame under the
 * interface of the client that sent it, even where the data-plane thread's
 * copy of the frame comes back after the port's client changed.
 */
import assert from "node:assert/strict";
import { CaptureHub } from "../../src/capture/hub.ts";
import { type FileCapture, startFileCapture } from "../../src/capture/file_capture.ts";
import { describePort } from "../../src/capture/server.ts";
import { Switch } from "../../src/switch/switch.ts";
import { McastSnooping } from "../../src/switch/mcast_snooping.ts";
import { igmp } from "../helpers/igmp.ts";
import { MemoryLink } from "../helpers/memory_link.ts";
import { hasCommand, run, skipUnless, skipUnlessRoot } from "../helpers/processes.ts";
import { BROADCAST, ethFrame, mac, sleep, tagOf, threadWarmed, until } from "../helpers/vde_clients.ts";

interface Rig {
  sw: Switch;
  /** On port 2: gets every broadcast. */
  watcher: MemoryLink;
  /** Client A, on port 1. */
  first: MemoryLink;
}

/**
 * A threaded switch with a watcher on port 2 and client A on port 1, captured to a file by `fn`; then
 * the rows (interface description and source MAC) tshark reads back for port 1's frames that `filter`
 * keeps.
 */
async function capturedRows(t: Deno.TestContext, filter: string, fn: (rig: Rig) => Promise<void>): Promise<
  string[][] | null
> {
  if (skipUnless(t, (await hasCommand("tshark")) ? null : "tshark missing (Debian tshark)")) return null;
  const dir = await Deno.makeTempDir({ prefix: "vde-file-capture-" });
  const sw = new Switch({ numPorts: 8, dataplane: "thread" });
  try {
    const watcher = new MemoryLink("watcher");
    sw.attach(watcher, { port: 2 });
    const first = new MemoryLink("client A");
    sw.attach(first, { port: 1 });
    await threadWarmed(sw);
    const said: string[] = [];
    const capture = startFileCapture(
      sw,
      new CaptureHub(sw.engine),
      `${dir}/c.pcapng`,
      "sw",
      (m) => said.push(m),
    );
    await sw.settled();
    await fn({ sw, watcher, first });
    await sw.settled();
    await sleep(100);
    await capture.close();
    assert.deepEqual(said, [], "the file took every write");
    const r = await run([
      "tshark",
      "-r",
      `${dir}/c.pcapng`,
      "-Y",
      `frame.interface_name == "sw port 1"${filter}`,
      "-T",
      "fields",
      "-e",
      "frame.interface_description",
      "-e",
      "eth.src",
    ], { timeoutMs: 30_000 });
    return r.stdout.trim().split("\n").map((l) => l.split("\t"));
  } finally {
    await sw.close();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("a frame a port's client sent just before another took the port is filed under the sender's interface (data-plane thread)", async (t) => {
  const rows = await capturedRows(t, "", async ({ sw, watcher, first }) => {
    // A's burst, then A leaves and B takes port 1 in the same turn of the event loop: the thread's
    // copies of A's frames are read after the port's client changed.
    for (let i = 1; i <= 20; i++) first.receive(ethFrame(BROADCAST, mac(0xa), i));
    first.close();
    await first.closed;
    const second = new MemoryLink("client B");
    sw.attach(second, { port: 1 });
    for (let i = 101; i <= 120; i++) second.receive(ethFrame(BROADCAST, mac(0xb), i));
    await until(
      "the watcher to get all 40 frames",
      () => watcher.sent.filter((f) => tagOf(f) > 0).length >= 40,
    );
  });
  if (rows === null) return;
  assert.equal(rows.length, 40, rows.join("\n"));
  for (const [description, src] of rows) {
    assert.equal(description, src === "02:00:00:00:00:0a" ? "client A" : "client B", rows.join("\n"));
  }
});

/**
 * Keeps the main thread busy (the thread's copies pile up in ringOut, unread) until the thread took in
 * `frames` on `port` (its counters are shared memory), at most 20 s.
 */
function busyUntilIn(sw: Switch, port: number, frames: number): void {
  busyUntil(() => sw.engine.portStats(port).framesIn >= frames);
}

/** Keeps the main thread busy (the event loop does not turn) until `done`, at most 20 s. */
function busyUntil(done: () => boolean): void {
  const end = performance.now() + 20_000;
  while (!done() && performance.now() < end) {
    // Nothing: the event loop must not turn.
  }
}

/** Frames `fillRingOut` hands the thread at a time: 500 full-size ones are under a fifth of its ringIn. */
const FILL_CHUNK = 500;

/**
 * Fills the thread's ringOut from `link` on `port` while this thread reads nothing: 3000 full-size
 * broadcasts (the watcher's copies, and a capture's) fill it, and 3000 IGMP reports from MAC `source`
 * (each copied for the snooping machine, turned on here) the room kept for control records. Returns the
 * port's frames in before them.
 *
 * Handed over a chunk at a time, each taken in before the next: the 3000 broadcasts alone are more
 * than ringIn holds, so all at once they relied on the thread draining it while they were put, and a
 * thread kept off the cores for those milliseconds (a loaded machine) lost the overflow (`ringDrops`),
 * and the count waited for below never came.
 */
async function fillRingOut(sw: Switch, link: MemoryLink, port: number, source: number): Promise<number> {
  sw.engine.snooping = new McastSnooping(mac(0x5e));
  await sw.settled();
  const before = sw.engine.portStats(port).framesIn;
  const drops = sw.ringDrops;
  const frames = [
    ...Array.from({ length: 3000 }, (_, i) => ethFrame(BROADCAST, mac(source), i + 1, 1500)),
    ...Array.from({ length: 3000 }, (_, i) => igmp(0x16, [239, 1, i >> 8, i & 255], source)),
  ];
  for (let i = 0; i < frames.length; i += FILL_CHUNK) {
    for (const frame of frames.slice(i, i + FILL_CHUNK)) link.receive(frame);
    busyUntilIn(sw, port, before + Math.min(i + FILL_CHUNK, frames.length));
  }
  assert.equal(sw.ringDrops, drops, "ringIn took every frame of the fill");
  assert.equal(sw.engine.portStats(port).framesIn - before, frames.length, "the thread took in the fill");
  return before;
}

Deno.test("a client change whose mark finds the thread's output ring full still files the next client's frames under it", async (t) => {
  const rows = await capturedRows(t, " && eth.src == 02:00:00:00:00:0b", async ({ sw, watcher, first }) => {
    const before = await fillRingOut(sw, first, 1, 0xa);
    // B takes the port: the marks of A leaving and B coming meet the full ring. B's first frame is
    // handled after them (the thread keeps the order of commands and frames): once it is in, they were.
    first.close();
    const second = new MemoryLink("client B");
    sw.attach(second, { port: 1 });
    second.receive(ethFrame(BROADCAST, mac(0xb), 5000));
    busyUntilIn(sw, 1, before + 6001);
    assert.equal(sw.engine.portStats(1).framesIn - before, 6001);
    // The ring was full indeed (copies to the watcher dropped).
    assert.ok(sw.engine.portStats(2).dropsOut > 0);
    // Once this thread read the ring up to the held-back mark (the thread puts it in once there is
    // room), the ring has room for B's frames below: a fixed sleep here assumed that reading done in
    // time, which a loaded machine need not give, and B's copies would meet a ring still full.
    await until("the copies to reach B's mark", () => describePort(sw, 1) === "client B", 10_000);
    for (let i = 5001; i <= 5020; i++) second.receive(ethFrame(BROADCAST, mac(0xb), i));
    await until(
      "the watcher to get B's 20 frames",
      () => watcher.sent.filter((f) => tagOf(f) > 5000).length >= 20,
    );
  });
  if (rows === null) return;
  assert.equal(rows.length, 20, rows.join("\n"));
  assert.deepEqual([...new Set(rows.map(([description]) => description))], ["client B"], rows.join("\n"));
});

Deno.test("a client change whose mark found the thread's output ring full reaches a capture started before the thread's next record", async () => {
  const sw = new Switch({ numPorts: 8, dataplane: "thread" });
  try {
    const watcher = new MemoryLink("watcher");
    sw.attach(watcher, { port: 2 });
    const flooder = new MemoryLink("flooder");
    sw.attach(flooder, { port: 3 });
    await threadWarmed(sw);
    await fillRingOut(sw, flooder, 3, 0xc);
    // Snooping off again (in order, on the thread too), so its timer sends no record.
    sw.engine.snooping = null;
    // B takes the empty port 1 (its mark is posted at once); its one frame, handled after the mark, meets
    // the full ring too: once its copy for the watcher is dropped, the mark was held back.
    const dropped = sw.engine.portStats(2).dropsOut;
    assert.ok(dropped > 0, "the ring is full");
    const client = new MemoryLink("client B");
    sw.attach(client, { port: 1 });
    client.receive(ethFrame(BROADCAST, mac(0xb), 5000));
    busyUntil(() => sw.engine.portStats(2).dropsOut > dropped);
    assert.ok(sw.engine.portStats(2).dropsOut > dropped, "B's frame met the full ring");
    // Nothing more comes from the thread (all are quiet): the mark must go in once this thread has read
    // the ring, or a capture of port 1 started now is named as a port with no client.
    await until("a capture to name client B", () => describePort(sw, 1) === "client B", 3000);
  } finally {
    await sw.close();
  }
});

Deno.test("vde switch --pcap on a disk that fills says so once in the switch's log, stops copying, keeps a file tshark reads whole, and the switch forwards on", async (t) => {
  if (skipUnlessRoot(t)) return;
  if (skipUnless(t, (await hasCommand("tshark")) ? null : "tshark missing (Debian tshark)")) return;
  const dir = await Deno.makeTempDir({ prefix: "vde-file-capture-full-" });
  // A disk of 64 KiB: a few dozen of these frames fill it.
  await run(["mount", "-t", "tmpfs", "-o", "size=64k", "vde-test-full", dir]);
  const sw = new Switch({ numPorts: 4 });
  const said: string[] = [];
  let capture: FileCapture | undefined;
  try {
    const a = new MemoryLink("a"), b = new MemoryLink("b");
    sw.attach(a, { port: 1 });
    sw.attach(b, { port: 2 });
    capture = startFileCapture(
      sw,
      new CaptureHub(sw.engine),
      `${dir}/c.pcapng`,
      "sw",
      (m) => said.push(m),
    );
    const send = (from: number, n: number) => {
      for (let i = from; i < from + n; i++) a.receive(ethFrame(BROADCAST, mac(1), i, 1500));
    };
    send(0, 100);
    await until("the failed write said", () => said.length > 0);
    assert.equal(said.length, 1, said.join("\n"));
    assert.match(
      said[0]!,
      new RegExp(
        `^--pcap ${dir}/c\\.pcapng: cannot write( after \\d+ frames?)?: No space left on device \\(os error 28\\): ` +
          "the filesystem is full: free some space there, or write elsewhere; the capture stopped there, the file " +
          "holding what was written before; the switch forwards on$",
      ),
    );
    assert.equal(capture.counts().failed, true);
    const copied = capture.counts().captured;
    send(100, 100);
    await sw.settled();
    await until("every frame forwarded to port 2", () => b.sent.length === 200);
    assert.equal(capture.counts().captured, copied, "no frame copied once it failed");
    await capture.close();
    assert.equal(said.length, 1, "said once");
    // The disk took part of the record it failed on: the file is cut back to the last whole one, which
    // tshark reads to its end, where a file ending mid-record it refuses ("cut short in the middle of a packet").
    const read = await new Deno.Command("tshark", {
      args: ["-r", `${dir}/c.pcapng`, "-T", "fields", "-e", "frame.number"],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(read.code, 0, new TextDecoder().decode(read.stderr));
    assert.ok(
      new TextDecoder().decode(read.stdout).trim().split("\n").length > 10,
      "frames written before kept",
    );
  } finally {
    await capture?.close();
    await sw.close();
    // Lazily: a file left open by a failure above must not leave the mount behind.
    await run(["umount", "--lazy", dir]);
    await Deno.remove(dir, { recursive: true });
  }
});
