/**
 * Our stream framing against Debian's vde_plug (vdeplug4 4.0.1), byte for
 * byte: frames travel between a Debian vde_switch and stdio plugs, and the
 * framed bytes each side writes must be exactly what our encoder produces.
 */
import assert from "node:assert/strict";
import { skipWithout } from "../helpers/processes.ts";
import { schemes } from "../../src/link/registry.ts";
import {
  assertSameBytes,
  assertSameFrames,
  DebianSwitch,
  framed,
  FrameTap,
  reap,
  spawn,
  spawnVde,
  tagOf,
  testFrame,
  writeTo,
} from "../helpers/framed_peers.ts";

/** Sends `probe` into `from` until it comes out of `to`: the plugs attach asynchronously. */
async function firstThrough(from: Deno.ChildProcess, to: FrameTap, tag: number): Promise<Uint8Array> {
  for (let i = 0; i < 100; i++) {
    await writeTo(from, framed(testFrame(tag)));
    const got = await to.waitTag(tag, 100).catch(() => undefined);
    if (got !== undefined) return got;
  }
  throw new Error(`frame ${tag} never came through`);
}

/** Checks that `tap` read exactly the framing of the frames it decoded, and that they include `sent` in order. */
function assertExactFraming(tap: FrameTap, sent: Uint8Array[]): void {
  assertSameBytes(tap.raw, framed(...tap.frames), "raw bytes are exactly our encoding of the frames");
  const wanted = new Set(sent.map(tagOf));
  assertSameFrames(tap.frames.filter((f) => wanted.has(tagOf(f))), sent);
}

/** Runs `body` with a Debian switch and a Debian vde_plug on it; cleans up whatever happens. */
async function withSwitchAndPlug(
  t: Deno.TestContext,
  body: (dir: string, plug: Deno.ChildProcess, tap: FrameTap, children: Deno.ChildProcess[]) => Promise<void>,
): Promise<void> {
  if (await skipWithout(t, { vde_switch: "vde-switch", vde_plug: "vdeplug" })) return;
  const dir = await Deno.makeTempDir({ prefix: "vde-interop-stream-" });
  const children: Deno.ChildProcess[] = [];
  let sw: DebianSwitch | undefined;
  try {
    sw = await DebianSwitch.start(`${dir}/sw`);
    const plug = spawn("vde_plug", [`${dir}/sw`]);
    children.push(plug);
    await body(`${dir}/sw`, plug, new FrameTap(plug.stdout), children);
  } finally {
    for (const c of children) await reap(c);
    await sw?.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/** Exchanges frames both ways between Debian's plug A and another stdio peer B, checking the bytes. */
async function exchange(a: Deno.ChildProcess, tapA: FrameTap, b: Deno.ChildProcess, tapB: FrameTap) {
  const probe = await firstThrough(a, tapB, 1);
  assert.deepEqual(probe, testFrame(1));
  // Several frames of various sizes in one write, both ways; 1518 is vde_switch's largest.
  const ab = [testFrame(10, 18), testFrame(11, 60), testFrame(12, 1514), testFrame(13, 1518)];
  const ba = [testFrame(20, 42), testFrame(21, 1000), testFrame(22, 1518)];
  await writeTo(a, framed(...ab));
  await writeTo(b, framed(...ba));
  await tapB.waitTag(13, 5000);
  await tapA.waitTag(22, 5000);
  assertExactFraming(tapB, ab);
  assertExactFraming(tapA, ba);
}

Deno.test("Debian vde_plug carries frames framed by our encoder and frames them as our decoder expects", async (t) => {
  await withSwitchAndPlug(t, async (dir, a, tapA, children) => {
    const b = spawn("vde_plug", [dir]);
    children.push(b);
    await exchange(a, tapA, b, new FrameTap(b.stdout));
  });
});

Deno.test("vde plug with cmd://vde_plug speaks Debian vde_plug's framing on stdio and to the command", async (t) => {
  await withSwitchAndPlug(t, async (dir, a, tapA, children) => {
    const b = spawnVde(["plug", `cmd://vde_plug ${dir}`]);
    children.push(b);
    await exchange(a, tapA, b, new FrameTap(b.stdout));
  });
});

Deno.test("vde plug on a vde:// switch speaks Debian vde_plug's framing on stdio", async (t) => {
  assert.ok(schemes().includes("vde"), "vde:// is registered");
  await withSwitchAndPlug(t, async (dir, a, tapA, children) => {
    const b = spawnVde(["plug", dir]);
    children.push(b);
    await exchange(a, tapA, b, new FrameTap(b.stdout));
  });
});
