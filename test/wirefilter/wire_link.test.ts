/**
 * The `wire://` middleware: its VNL grammar, the WireLink's directions,
 * counters and close behaviour over in-memory links, a stream link
 * underneath (the shape of the dpipe mode), and a live change through the
 * `mgmt=` socket of a link opened from a VNL.
 */
import assert from "node:assert/strict";
import type { Link } from "../../src/link/link.ts";
import { MemoryLink } from "../helpers/memory_link.ts";
import { openLink } from "../../src/link/registry.ts";
import { StreamLink } from "../../src/link/stream_link.ts";
import { parseWireVnl, splitOptions, WireLink } from "../../src/link/wire_link.ts";
import { MgmtClient } from "../../src/console/client.ts";
import { FakeClock } from "../../src/wirefilter/clock.ts";
import { WireFilter } from "../../src/wirefilter/filter.ts";
import { isValueError, LR, parseWireValue, RL } from "../../src/wirefilter/value.ts";

function collect(link: Link): Uint8Array[] {
  const got: Uint8Array[] = [];
  link.onFrame = (f) => got.push(f.slice());
  return got;
}

function set(filter: WireFilter, param: "loss" | "delay" | "mtu", text: string): void {
  const v = parseWireValue(text);
  if (isValueError(v)) throw new Error(v.error);
  filter.set(param, v);
}

Deno.test("parseWireVnl reads the inner VNL in braces and the options in brackets", () => {
  const v = parseWireVnl("{vde:///tmp/a[2]}[d=50+10N/loss=LR5/delay=RL7/nofifo/seed=42/mtu=1500]");
  assert.equal(v.inner, "vde:///tmp/a[2]");
  assert.equal(v.fifo, false);
  assert.equal(v.seed, 42);
  assert.deepEqual(v.settings.map(([p, s]) => [p, s.value, s.plus, s.alg, [...s.dirs]]), [
    ["delay", 50, 10, "N", [0, 1]],
    ["loss", 5, 0, "U", [0]],
    ["delay", 7, 0, "U", [1]],
    ["mtu", 1500, 0, "U", [0, 1]],
  ]);
  const nested = parseWireVnl("{wire://{null://}[delay=5]}[b=1M/cap=64K/mgmt='/tmp/w f/m'/mgmtmode=660]");
  assert.equal(nested.inner, "wire://{null://}[delay=5]");
  assert.deepEqual(nested.settings.map(([p, s]) => [p, s.value]), [["band", 1 << 20], ["capacity", 65536]]);
  assert.equal(nested.mgmt, "/tmp/w f/m");
  assert.equal(nested.mgmtMode, 0o660);
  assert.deepEqual(parseWireVnl("{-}"), { inner: "-", settings: [], fifo: true });
});

Deno.test("parseWireVnl refuses malformed VNLs with a reason", () => {
  const cases: [string, RegExp][] = [
    ["/tmp/a", /expected wire:\/\/\{VNL\}/],
    ["{vde:///tmp/a", /missing "}"/],
    ["{}", /empty inner VNL/],
    ["{null://}x", /expected \[options\]/],
    ["{null://}[bogus=1]", /unknown wire:\/\/ option "bogus"/],
    ["{null://}[delay=abc]", /option delay: expected a number/],
    ["{null://}[delay]", /needs a value/],
    ["{null://}[loss=150]", /option loss: a percentage, 0 to 100: got 150$/],
    ["{null://}[loss=5[1]]", /Markov nodes/],
    ["{null://}[seed=x]", /seed must be a whole number/],
    ["{null://}[mgmt='/tmp]", /unterminated/],
    [
      "{null://}[mgmt=/tmp/wf/delay=5]",
      /mgmt's path has slashes, which separate options: quote it, mgmt='\/tmp\/wf'$/,
    ],
    ["{null://}[mgmt=]", /mgmt needs a socket path/],
  ];
  for (const [rest, re] of cases) assert.throws(() => parseWireVnl(rest), re, rest);
});

Deno.test("splitOptions honours quotes, escapes and %HH", () => {
  assert.deepEqual(splitOptions(`a=1/m="/x/y"/p=\\/q/r=%2Fs`), ["a=1", "m=/x/y", "p=/q", "r=/s"]);
});

Deno.test("WireLink filters L->R on send and R->L on receive, and counts drops per direction", () => {
  const clock = new FakeClock();
  const filter = new WireFilter({ clock, seed: 1, slackMs: 0 });
  const [inner, far] = MemoryLink.pair();
  const wire = new WireLink(inner, filter);
  const atFar = collect(far);
  const atUser = collect(wire);
  set(filter, "delay", "LR10");
  set(filter, "mtu", "RL100");
  wire.send(new Uint8Array(60));
  assert.equal(atFar.length, 0, "L->R is delayed");
  clock.advance(10);
  assert.equal(atFar.length, 1);
  far.send(new Uint8Array(60));
  far.send(new Uint8Array(200));
  assert.equal(atUser.length, 1, "R->L: the oversize frame is dropped, the other passes at once");
  assert.equal(wire.stats.framesOut, 1);
  assert.equal(wire.stats.framesIn, 1);
  assert.equal(wire.stats.dropsIn, 1);
  set(filter, "loss", "LR100");
  wire.send(new Uint8Array(60));
  assert.equal(wire.stats.dropsOut, 1);
  assert.equal(filter.counters[LR].lossDrops, 1);
  assert.equal(filter.counters[RL].mtuDrops, 1);
  wire.close();
});

Deno.test("WireLink closes with its inner link, and closing it closes the inner link and the filter", async () => {
  const [inner, far] = MemoryLink.pair();
  const wire = new WireLink(inner, new WireFilter({ seed: 1 }));
  far.close("far end went away");
  assert.match(await wire.closed, /peer closed/);
  assert.ok(wire.filter.closed);

  const [inner2] = MemoryLink.pair();
  const filter = new WireFilter({ clock: new FakeClock(), seed: 1 });
  const wire2 = new WireLink(inner2, filter);
  set(filter, "delay", "100");
  wire2.send(new Uint8Array(60));
  wire2.close("done");
  assert.ok(inner2.isClosed);
  assert.equal(filter.counters[LR].closeDrops, 1);
  wire2.send(new Uint8Array(60));
  assert.equal(wire2.stats.dropsOut, 2);
});

Deno.test("WireLink with lingerMs delivers frames already on their way when the inner link ends", async () => {
  const clock = new FakeClock();
  const filter = new WireFilter({ clock, seed: 1, slackMs: 0 });
  const [inner, far] = MemoryLink.pair();
  const wire = new WireLink(inner, filter, { lingerMs: 5000 });
  const atUser = collect(wire);
  set(filter, "delay", "RL100");
  far.send(new Uint8Array(60));
  far.close("far end finished");
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(wire.isClosed, false, "lingering while a frame is on the wire");
  clock.advance(100);
  assert.match(await wire.closed, /peer closed/);
  assert.equal(atUser.length, 1);
  assert.equal(filter.counters[RL].closeDrops, 0);
});

Deno.test("WireLink over a stream link keeps the framing and the delay (real clock)", async () => {
  const toInner = new TransformStream<Uint8Array, Uint8Array>();
  const fromInner = new TransformStream<Uint8Array, Uint8Array>();
  const inner = new StreamLink("stream", fromInner.readable, toInner.writable);
  const filter = new WireFilter({ seed: 1 });
  set(filter, "delay", "30");
  const wire = new WireLink(inner, filter);
  const reader = toInner.readable.getReader();
  const started = performance.now();
  wire.send(new Uint8Array(60).fill(7));
  const { value } = await reader.read();
  const elapsed = performance.now() - started;
  assert.ok(elapsed >= 29, `delivered after ${elapsed} ms`);
  assert.equal(value!.length, 62);
  assert.deepEqual([value![0], value![1], value![2]], [0, 60, 7]);
  wire.close();
  reader.releaseLock();
  await fromInner.writable.close().catch(() => {});
});

Deno.test("wire:// opens through the registry, nests, and a mgmt= socket changes it live", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-wire-" });
  const nested = await openLink("wire://{wire://{null://}[delay=5]}[loss=1/seed=7]");
  try {
    assert.ok(nested instanceof WireLink);
    assert.ok(nested.inner instanceof WireLink);
    assert.equal(nested.filter.seed, 7);
    assert.equal((nested.inner as WireLink).filter.get("delay", LR).value, 5);
  } finally {
    nested.close();
  }
  const path = `${dir}/wf.mgmt`;
  const link = await openLink(`wire://{null://}[delay=5/mgmt=${path.replaceAll("/", "\\/")}]`);
  assert.ok(link instanceof WireLink);
  const client = await MgmtClient.connect(path, { timeoutMs: 5000 });
  try {
    assert.equal(client.prompt, "VDEwf$ ");
    assert.ok(client.banner.includes("VDE wirefilter V.2.3.2"));
    const info = await client.command("showinfo");
    assert.ok(info.lines?.includes("Delay  L->R 5+0U   R->L 5+0U"), JSON.stringify(info));
    assert.equal((await client.command("loss LR100")).code, 0);
    assert.equal(link.filter.get("loss", LR).value, 100);
    link.send(new Uint8Array(60));
    assert.equal(link.filter.counters[LR].lossDrops, 1, "the change applies to the next frame");
    await client.command("shutdown").catch(() => {});
    assert.match(await link.closed, /shutdown from the management socket/);
  } finally {
    client.close();
    link.close();
    await Deno.remove(dir, { recursive: true });
  }
  await assert.rejects(() => Deno.lstat(path));
});
