/**
 * The lab's system helpers: a shell command run in a host's namespace that
 * runs past its time (the console's `exec h1 ping 10.0.0.9`, 120 s) is
 * killed with what it started, as its "killed after N s" says, not only the
 * shell around it: the command itself used to run on in the lab's namespace.
 */
import assert from "node:assert/strict";
import { processesMentioning, RUN_PREFIX, skipUnlessRoot, waitFor } from "../helpers/processes.ts";
import { deleteNetns, ip, runInNetns } from "../../src/lab/system.ts";

/** Runs `body` with a namespace and a directory of its own, removed after it. */
async function withNetns(name: string, body: (ns: string, dir: string) => Promise<void>): Promise<void> {
  const ns = `${RUN_PREFIX}${name}`;
  const dir = await Deno.makeTempDir({ prefix: RUN_PREFIX });
  await ip("netns", "add", ns);
  try {
    await body(ns, dir);
  } finally {
    await deleteNetns(ns);
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("a namespace command killed for its time takes what it started with it", async (t) => {
  if (skipUnlessRoot(t)) return;
  const mark = `700.${Deno.pid}`;
  await withNetns("sys", async (ns, dir) => {
    // 3 s for `ip netns exec` and the echo to run on a loaded 2-core CI machine; the sleep needs 700.
    const r = await runInNetns(ns, `echo started; sleep ${mark}`, 3000, dir);
    assert.equal(r.timedOut, true);
    assert.equal(r.output, "started\n");
    // SIGKILL is not instant: the group's processes go within moments, never after the command's own time.
    await waitFor(() => processesMentioning(mark).length === 0 || undefined, {
      timeoutMs: 5000,
      what: "the sleep the timed-out command started to end",
    });
  });
});

Deno.test("a namespace command that ends in time leaves what it put in the background running", async (t) => {
  if (skipUnlessRoot(t)) return;
  const mark = `701.${Deno.pid}`;
  await withNetns("sys2", async (ns, dir) => {
    const r = await runInNetns(ns, `sleep ${mark} & echo left`, 10_000, dir);
    assert.equal(r.timedOut, false);
    assert.equal(r.code, 0);
    assert.equal(r.output, "left\n");
    assert.equal(processesMentioning(mark).length, 1, "the background sleep runs on");
  });
  assert.deepEqual(processesMentioning(mark), [], "deleting the namespace ends it");
});

Deno.test("a namespace command that is not there is said as sh says it at a terminal, naming no temporary file", async (t) => {
  if (skipUnlessRoot(t)) return;
  await withNetns("sys3", async (ns, dir) => {
    const r = await runInNetns(ns, "nosuchcommand-vde", 10_000, dir);
    assert.equal(r.code, 127);
    assert.equal(r.output, "sh: 1: nosuchcommand-vde: not found\n");
    // exit, && and a quoted argument still mean what they say.
    const q = await runInNetns(ns, `echo "a  b" && exit 3; echo never`, 10_000, dir);
    assert.deepEqual([q.code, q.output], [3, "a  b\n"]);
  });
});
