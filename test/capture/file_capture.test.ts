/**
 * `vde switch --pcap`'s file as tshark reads it back: each frame under the
 * interface of the client that sent it, even where the data-plane thread's
 * copy of the frame comes back after the port's client changed.
 */
import assert from "node:assert/strict";
import { CaptureHub } from "../../src/capture/hub.ts";
import { startFileCapture } from "../../src/capture/file_capture.ts";
import { Switch } from "../../src/switch/switch.ts";
import { MemoryLink } from "../helpers/memory_link.ts";
import { hasCommand, run, skipUnless } from "../helpers/processes.ts";
import { BROADCAST, ethFrame, mac, tagOf, threadWarmed, until } from "../helpers/vde_clients.ts";

Deno.test("a frame a port's client sent just before another took the port is filed under the sender's interface (data-plane thread)", async (t) => {
  if (skipUnless(t, (await hasCommand("tshark")) ? null : "tshark missing (Debian tshark)")) return;
  const dir = await Deno.makeTempDir({ prefix: "vde-file-capture-" });
  const sw = new Switch({ numPorts: 8, dataplane: "thread" });
  try {
    const watcher = new MemoryLink("watcher");
    sw.attach(watcher, { port: 2 });
    const first = new MemoryLink("client A");
    sw.attach(first, { port: 1 });
    await threadWarmed(sw);
    const capture = startFileCapture(sw, new CaptureHub(sw.engine), `${dir}/c.pcapng`, "sw");
    await sw.settled();
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
    await sw.settled();
    await new Promise((r) => setTimeout(r, 100));
    await capture.close();
    const r = await run([
      "tshark",
      "-r",
      `${dir}/c.pcapng`,
      "-Y",
      'frame.interface_name == "sw port 1"',
      "-T",
      "fields",
      "-e",
      "frame.interface_description",
      "-e",
      "eth.src",
    ], { timeoutMs: 30_000 });
    const rows = r.stdout.trim().split("\n").map((l) => l.split("\t"));
    assert.equal(rows.length, 40, r.stdout);
    for (const [description, src] of rows) {
      assert.equal(description, src === "02:00:00:00:00:0a" ? "client A" : "client B", r.stdout);
    }
  } finally {
    await sw.close();
    await Deno.remove(dir, { recursive: true });
  }
});
