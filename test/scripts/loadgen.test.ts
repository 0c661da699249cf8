/**
 * scripts/loadgen.c, the bench's throughput clients, against Debian's vde_switch and ours: the source joins by
 * libvdeplug's handshake and then sends its frames in sendmmsg batches on the data fd, and the sink counts
 * what arrives, so the frames/s rows measure the switch with clients that cost little a frame. Built here
 * with cc as the bench builds it.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { run, skipWithout, spawnManaged } from "../helpers/processes.ts";
import { settle } from "../../scripts/proc_cpu.ts";
import { startSwitchOf, type SwitchKind } from "../helpers/switches.ts";

const SOURCE = fileURLToPath(new URL("../../scripts/loadgen.c", import.meta.url));
/** The source's frames a sendmmsg (loadgen.c's BATCH). */
const BATCH = 64;

function field(line: string, name: string): number {
  const m = line.match(new RegExp(`\\b${name}=([\\d.]+)`));
  if (!m) throw new Error(`no ${name}= in: ${line}`);
  return Number(m[1]);
}

for (const kind of ["c", "ours"] as const satisfies readonly SwitchKind[]) {
  Deno.test(`loadgen's source sends ${BATCH} frames a system call through ${kind}'s switch, and its sink counts them`, async (t) => {
    if (await skipWithout(t, { cc: "gcc", vde_switch: "vde-switch" })) return;
    const dir = await Deno.makeTempDir({ prefix: "vde-loadgen-" });
    const loadgen = `${dir}/loadgen`;
    await run(["cc", "-O2", "-Wall", "-Werror", "-o", loadgen, SOURCE, "-l:libvdeplug.so.2"], {
      timeoutMs: 60_000,
    });
    const sw = await startSwitchOf(kind, `${dir}/sw`);
    // As the bench does: ours warms its forwarding path first, on CPU the flood would share.
    await settle(sw.pid);
    const sink = spawnManaged([loadgen, "sink", `vde://${dir}/sw`, "10"], { name: "loadgen sink" });
    try {
      await sink.waitForOutput(/^ready$/m, 5000);
      await new Promise((res) => setTimeout(res, 50)); // the sink's announce is learnt before the flood
      const source = await run([loadgen, "source", `vde://${dir}/sw`, "64", "0.5"], { timeoutMs: 10_000 });
      await sink.status;
      const sent = source.stdout.split("\n").find((l) => l.startsWith("source ")) ?? "";
      const got = sink.stdout.split("\n").find((l) => l.startsWith("sink ")) ?? "";
      const frames = field(sent, "frames");
      const calls = field(sent, "calls");
      assert.equal(field(sent, "errors"), 0);
      assert.ok(frames >= BATCH, sent);
      // Whole batches but the last (the timer ends a call held by a full switch with what it has sent).
      assert.ok(frames <= calls * BATCH && calls <= Math.ceil(frames / BATCH) + 1, sent);
      const received = field(got, "frames");
      assert.ok(received > 0 && received <= frames, `${got} after ${sent}`);
      assert.equal(field(got, "bytes"), received * 64);
      assert.ok(field(got, "calls") >= 1, got);
    } finally {
      await sink.stop({ timeoutMs: 1000 });
      await sw.stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  });
}
