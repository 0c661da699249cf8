/**
 * A client that attaches and floods while our switch's data-plane thread still warms up (a QEMU started
 * right after the switch) is forwarded at once: the warm-up ends once a port has frames waiting (here the
 * source's; the sink's idle port lets it run, switch_warmup.ts). VDE_TEST_WARMUP_MS lengthens the warm-up
 * far past the flood, as a loaded machine stretches it; before, the flood's frames waited in its socket
 * until the warm-up's end and were dropped unread with its port once the short-lived source had left.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { run, skipWithout, spawnManaged } from "../helpers/processes.ts";
import { startOurSwitch } from "../helpers/switches.ts";

const SOURCE = fileURLToPath(new URL("../../scripts/loadgen.c", import.meta.url));
/** Far longer than the whole test's flood: without the fix, nothing would be read before its end. */
const WARMUP_MS = 20_000;

function field(line: string, name: string): number {
  const m = line.match(new RegExp(`\\b${name}=([\\d.]+)`));
  if (!m) throw new Error(`no ${name}= in: ${line}`);
  return Number(m[1]);
}

Deno.test("a client that floods while the switch thread warms up has its frames forwarded to the sink", async (t) => {
  if (await skipWithout(t, { cc: "gcc" })) return;
  const dir = await Deno.makeTempDir({ prefix: "vde-warmup-client-" });
  const loadgen = `${dir}/loadgen`;
  await run(["cc", "-O2", "-Wall", "-Werror", "-o", loadgen, SOURCE, "-l:libvdeplug.so.2"], {
    timeoutMs: 60_000,
  });
  // The switch process inherits it; no other test of this module starts one.
  Deno.env.set("VDE_TEST_WARMUP_MS", String(WARMUP_MS));
  const began = performance.now();
  let sw: Awaited<ReturnType<typeof startOurSwitch>>;
  try {
    sw = await startOurSwitch(`${dir}/sw`);
  } finally {
    Deno.env.delete("VDE_TEST_WARMUP_MS");
  }
  const sink = spawnManaged([loadgen, "sink", `vde://${dir}/sw`, "3"], { name: "loadgen sink" });
  try {
    await sink.waitForOutput(/^ready$/m, 5000);
    await new Promise((res) => setTimeout(res, 50));
    const source = await run([loadgen, "source", `vde://${dir}/sw`, "64", "0.5"], { timeoutMs: 10_000 });
    await sink.status;
    const sent = source.stdout.split("\n").find((l) => l.startsWith("source ")) ?? "";
    const got = sink.stdout.split("\n").find((l) => l.startsWith("sink ")) ?? "";
    assert.equal(field(sent, "errors"), 0);
    const received = field(got, "frames");
    // Still within the warm-up's budget: the frames went through because it ended early, not on time.
    assert.ok(performance.now() - began < WARMUP_MS, "the test outlasted the warm-up it lengthened");
    assert.ok(received > 0 && received <= field(sent, "frames"), `${got} after ${sent}`);
    // More than one socket's worth (about 278 such frames): the port was read while the source flooded.
    assert.ok(received > 1000, `${got} after ${sent}`);
  } finally {
    await sink.stop({ timeoutMs: 1000 });
    await sw.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
