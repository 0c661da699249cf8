/**
 * V8's helper threads below the data plane (helper_threads.ts) and the
 * switch thread's short-slice hint (priority.ts): the sweep on recorded
 * calls, the sched_attr bytes, and a running `vde switch` seen from /proc.
 */
import assert from "node:assert/strict";
import { HelperSweep, isV8Helper } from "../../src/dataplane/helper_threads.ts";
import { SHORT_SLICE_NS, shortSliceAttr } from "../../src/dataplane/priority.ts";
import { fieldsOfStat } from "../../src/os/processes.ts";
import { startOurSwitch } from "../helpers/switches.ts";
import { skipUnlessRoot, waitFor } from "../helpers/processes.ts";

Deno.test("only V8's own threads are helpers: not the main thread, the data-plane workers nor Deno's runtime threads", () => {
  assert.equal(isV8Helper("V8 DefaultWorke"), true);
  for (const comm of ["deno", "worker-1", "tokio-runtime-w", "vde"]) {
    assert.equal(isV8Helper(comm), false, comm);
  }
});

Deno.test("a sweep demotes each helper once, reads each thread's name once, and looks again at a thread id reused", () => {
  let tids = [1, 2, 3];
  const names = new Map([[1, "deno"], [2, "V8 DefaultWorke"], [3, "worker-1"]]);
  const read: number[] = [];
  const demoted: number[] = [];
  const sweep = new HelperSweep({
    tids: () => tids,
    comm: (tid) => {
      read.push(tid);
      return names.get(tid) ?? null;
    },
    demote: (tid) => (demoted.push(tid), true),
  });
  assert.equal(sweep.sweep(), 1);
  assert.equal(sweep.sweep(), 0, "nothing new");
  assert.deepEqual(read, [1, 2, 3]);
  // V8 makes a helper lazily; thread 3 ends and its id comes back as a helper.
  tids = [1, 2, 4];
  names.set(4, "V8 DefaultWorke");
  assert.equal(sweep.sweep(), 1);
  tids = [1, 2, 3, 4];
  names.set(3, "V8 DefaultWorke");
  assert.equal(sweep.sweep(), 1);
  assert.deepEqual(demoted, [2, 4, 3]);
  assert.equal(sweep.demoted, 3);
});

Deno.test("a thread gone between the listing and its name is skipped and looked at if listed again", () => {
  let gone = true;
  const demoted: number[] = [];
  const sweep = new HelperSweep({
    tids: () => [7],
    comm: () => gone ? null : "V8 DefaultWorke",
    demote: (tid) => (demoted.push(tid), true),
  });
  assert.equal(sweep.sweep(), 0);
  gone = false;
  assert.equal(sweep.sweep(), 1);
});

Deno.test("the short-slice hint is a version-0 sched_attr: SCHED_OTHER at the thread's nice value, sched_runtime 0.1 ms", () => {
  const v = new DataView(shortSliceAttr(-3, SHORT_SLICE_NS).buffer);
  assert.equal(v.byteLength, 48);
  assert.equal(v.getUint32(0, true), 48, "size");
  assert.equal(v.getUint32(4, true), 0, "SCHED_OTHER");
  assert.equal(v.getBigUint64(8, true), 0n, "no flags");
  assert.equal(v.getInt32(16, true), -3, "nice kept");
  assert.equal(v.getBigUint64(24, true), 100_000n, "sched_runtime");
});

/** Each thread of `pid`: its name, policy (0 ordinary, 5 SCHED_IDLE) and slice in ns (/proc's sched file). */
function threads(pid: number): { comm: string; policy: number; slice: number }[] {
  const out = [];
  for (const e of Deno.readDirSync(`/proc/${pid}/task`)) {
    try {
      const dir = `/proc/${pid}/task/${e.name}`;
      const comm = Deno.readTextFileSync(`${dir}/comm`).trimEnd();
      const policy = Number(fieldsOfStat(Deno.readTextFileSync(`${dir}/stat`))[38]);
      const slice = Number(/se\.slice\s*:\s*(\d+)/.exec(Deno.readTextFileSync(`${dir}/sched`))?.[1] ?? NaN);
      out.push({ comm, policy, slice });
    } catch { /* the thread ended meanwhile */ }
  }
  return out;
}

Deno.test("vde switch, once its thread warmed: V8's helpers run SCHED_IDLE, the switch thread is ordinary with a 0.1 ms slice, the main thread untouched", async (t) => {
  if (skipUnlessRoot(t)) return;
  const dir = await Deno.makeTempDir({ prefix: "vde-helpers-" });
  const sw = await startOurSwitch(`${dir}/sw`);
  try {
    // The hint is taken on the thread before it says it warmed, the helpers demoted when the main thread hears it.
    await waitFor(() => {
      const all = threads(sw.pid);
      return all.some((th) => th.comm === "worker-1" && th.slice === SHORT_SLICE_NS) &&
        all.some((th) => isV8Helper(th.comm) && th.policy === 5);
    }, { timeoutMs: 30_000, what: "the switch thread's slice hint and a helper demoted" });
    const all = threads(sw.pid);
    const helpers = all.filter((th) => isV8Helper(th.comm));
    assert.ok(helpers.length > 0, JSON.stringify(all));
    for (const h of helpers) assert.equal(h.policy, 5, JSON.stringify(all));
    for (const th of all.filter((th) => !isV8Helper(th.comm))) assert.equal(th.policy, 0, JSON.stringify(th));
    const main = all.find((th) => th.comm === "deno" || th.comm === "vde");
    assert.notEqual(main?.slice, SHORT_SLICE_NS);
  } finally {
    await sw.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
