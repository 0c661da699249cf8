/**
 * The capture file's bytes: an announced port's interface block comes
 * before any frame, once, and classic pcap (no interfaces) writes none.
 */
import assert from "node:assert/strict";
import { CaptureFileWriter } from "../../src/capture/file_writer.ts";
import { Direction } from "../../src/switch/engine.ts";
import { hasCommand, run, skipUnless } from "../helpers/processes.ts";

/** A writer's output as one buffer. */
function joined(bytes: Uint8Array[]): Uint8Array {
  const all = new Uint8Array(bytes.reduce((n, b) => n + b.length, 0));
  let at = 0;
  for (const b of bytes) all.set(b, (at += b.length) - b.length);
  return all;
}

/** pcapng block types, in order, from a writer's output. */
function blockTypes(bytes: Uint8Array[]): number[] {
  const all = joined(bytes);
  const view = new DataView(all.buffer);
  const types: number[] = [];
  for (let off = 0; off + 8 <= all.length; off += view.getUint32(off + 4, true)) {
    types.push(view.getUint32(off, true));
  }
  return types;
}

const SHB = 0x0a0d0d0a, IDB = 1, EPB = 6, ISB = 5;

Deno.test("capture file: an announced port has its interface before any frame, and only once", () => {
  const out: Uint8Array[] = [];
  const w = new CaptureFileWriter("pcapng", 262144, (b) => out.push(b.slice()), 0);
  w.describePort(1, "vde plug: user=root pid=1");
  w.announce(1);
  w.announce(1);
  assert.deepEqual(blockTypes(out), [SHB, IDB], "a capture with no frame yet already names its port");
  w.frame(1, Direction.In, 1, new Uint8Array(60), 60);
  w.finish(2);
  assert.deepEqual(blockTypes(out), [SHB, IDB, EPB, ISB]);
});

Deno.test("capture file: a port described anew (another client) gets a new interface; each has its statistics", () => {
  const out: Uint8Array[] = [];
  const w = new CaptureFileWriter("pcapng", 262144, (b) => out.push(b.slice()), 0);
  w.describePort(1, "vde plug: user=root pid=1");
  w.frame(1, Direction.In, 1, new Uint8Array(60), 60);
  w.describePort(1, "vde plug: user=root pid=1");
  w.frame(1, Direction.In, 2, new Uint8Array(60), 60);
  assert.deepEqual(blockTypes(out), [SHB, IDB, EPB, EPB], "the same client: the same interface");
  w.describePort(1, "vde plug: user=root pid=2");
  w.frame(1, Direction.In, 3, new Uint8Array(60), 60);
  w.finish(4);
  assert.deepEqual(blockTypes(out), [SHB, IDB, EPB, EPB, IDB, EPB, ISB, ISB]);
});

Deno.test("capture file: classic pcap announces nothing (it has no interfaces)", () => {
  const out: Uint8Array[] = [];
  const w = new CaptureFileWriter("pcap", 262144, (b) => out.push(b.slice()), 0);
  const before = out.length;
  assert.equal(w.announce(3), undefined);
  assert.equal(out.length, before);
});

/** The if_name option of each interface block in a writer's output. */
function interfaceNames(bytes: Uint8Array[]): string[] {
  const all = joined(bytes);
  const view = new DataView(all.buffer);
  const names: string[] = [];
  for (let off = 0; off + 8 <= all.length; off += view.getUint32(off + 4, true)) {
    if (view.getUint32(off, true) !== IDB) continue;
    // Options start after link type, reserved and snap length; if_name is option 2.
    for (
      let o = off + 16;
      view.getUint16(o, true) !== 0;
      o += 4 + Math.ceil(view.getUint16(o + 2, true) / 4) * 4
    ) {
      if (view.getUint16(o, true) === 2) {
        names.push(new TextDecoder().decode(all.subarray(o + 4, o + 4 + view.getUint16(o + 2, true))));
      }
    }
  }
  return names;
}

Deno.test("capture file: each interface is named after its switch and port, `port N` last; without a switch's name, `port N` alone", () => {
  const out: Uint8Array[] = [];
  const w = new CaptureFileWriter("pcapng", 262144, (b) => out.push(b.slice()), 0, "demo/sw1");
  w.announce(3);
  w.frame(1, Direction.In, 1, new Uint8Array(60), 60);
  assert.deepEqual(interfaceNames(out), ["demo/sw1 port 3", "demo/sw1 port 1"]);
  const plain: Uint8Array[] = [];
  new CaptureFileWriter("pcapng", 262144, (b) => plain.push(b.slice()), 0).announce(2);
  assert.deepEqual(interfaceNames(plain), ["port 2"]);
});

Deno.test("capture file: a --filter is in each interface's if_filter, as capinfos (Wireshark's properties) shows it", async (t) => {
  if (skipUnless(t, (await hasCommand("capinfos")) ? null : "capinfos missing (Debian tshark)")) return;
  const tmp = await Deno.makeTempDir();
  try {
    const out: Uint8Array[] = [];
    const w = new CaptureFileWriter(
      "pcapng",
      262144,
      (b) => out.push(b.slice()),
      0,
      "/tmp/net",
      "host 10.0.2.15",
    );
    w.announce(1);
    w.frame(2, Direction.Out, 1, new Uint8Array(60), 60);
    w.finish(2);
    await Deno.writeFile(`${tmp}/f.pcapng`, joined(out));
    const r = await run(["capinfos", `${tmp}/f.pcapng`], { timeoutMs: 20_000 });
    assert.deepEqual(r.stdout.match(/Filter string = .*/g), [
      "Filter string = host 10.0.2.15",
      "Filter string = host 10.0.2.15",
    ]);
    // Without a filter, none is said.
    const plain: Uint8Array[] = [];
    new CaptureFileWriter("pcapng", 262144, (b) => plain.push(b.slice()), 0, "/tmp/net").announce(1);
    await Deno.writeFile(`${tmp}/p.pcapng`, joined(plain));
    const p = await run(["capinfos", `${tmp}/p.pcapng`], { timeoutMs: 20_000 });
    assert.doesNotMatch(p.stdout, /Filter string/);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
