/**
 * A rootless lab's slirp forwards changed in the process outside: a change
 * the lab gave up on is never made later, whether the process outside had
 * taken it or not.
 */
import assert from "node:assert/strict";
import { answerForwards, forwardsFromOutside } from "../../src/lab/outside_forwards.ts";
import { forwardsDoneFile, forwardsFile } from "../../src/lab/outside_files.ts";
import { openSlirpNode } from "../../src/lab/slirp_node.ts";
import type { SlirpLink } from "../../src/link/slirp_link.ts";
import { exists } from "../../src/os/paths.ts";
import { waitFor } from "../helpers/processes.ts";
import { withTempDir } from "./_helpers.ts";

const LATE =
  /^Error: nat: vde up --rootless, .* did not change its forwards within 0\.2 s, nor will it later$/;

function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  return withTempDir("vde-forwards-", fn);
}

/** Runs `fn` on slirp node nat (no forwards yet), closed after, its host ports free again. */
async function withNat(fn: (slirp: SlirpLink) => Promise<void>): Promise<void> {
  const slirp = await openSlirpNode({ kind: "slirp", name: "nat", forwards: [] });
  try {
    await fn(slirp);
  } finally {
    slirp.close();
    await slirp.released;
  }
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  l.close();
  return l.addr.port;
}

Deno.test("a forwards change nobody took within the bound is taken back: the error says it will not be made later", async () => {
  await withDir(async (dir) => {
    await assert.rejects(forwardsFromOutside(dir, 200)("nat", [], ["tcp:8080:10.0.2.15:80"]), LATE);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), []);
  });
});

Deno.test("a forwards change the process outside took but answered after the lab gave up is undone there, not left made", async () => {
  await withDir(async (dir) => {
    const port = freePort();
    const forward = `tcp:127.0.0.1:${port}:10.0.2.15:80`;
    await withNat(async (slirp) => {
      const change = forwardsFromOutside(dir, 200)("nat", [], [forward]);
      // Taken as the process outside takes it (renamed aside, then read), then made only after the lab gave up.
      await waitFor(() => exists(forwardsFile(dir, "nat")), { timeoutMs: 5000, what: "the request" });
      Deno.renameSync(forwardsFile(dir, "nat"), `${dir}/taken`);
      const asked = JSON.parse(Deno.readTextFileSync(`${dir}/taken`));
      Deno.removeSync(`${dir}/taken`);
      await assert.rejects(change, LATE);
      await answerForwards(dir, "nat", asked, slirp, () => {});
      assert.deepEqual(slirp.stack.forwards(), []);
      await assert.rejects(Deno.connect({ hostname: "127.0.0.1", port }));
      assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), []);
    });
  });
});

Deno.test("an answer from outside is the lab's answer, and its file is removed once read", async () => {
  await withDir(async (dir) => {
    const change = forwardsFromOutside(dir, 200)("nat", [], ["tcp:8080:10.0.2.15:80"]);
    await waitFor(() => exists(forwardsFile(dir, "nat")), { timeoutMs: 5000, what: "the request" });
    Deno.removeSync(forwardsFile(dir, "nat"));
    Deno.writeTextFileSync(forwardsDoneFile(dir, "nat", 1), "nat: the reason from outside\n");
    await assert.rejects(change, /^Error: nat: the reason from outside$/);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), []);
  });
});

Deno.test("a forwards request without the lab's generation changes nothing", async () => {
  await withDir(async (dir) => {
    await withNat(async (slirp) => {
      await answerForwards(dir, "nat", { was: [], now: ["tcp:0:10.0.2.15:80"] }, slirp, () => {});
      assert.deepEqual(slirp.stack.forwards(), []);
      assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), []);
    });
  });
});

Deno.test("a forwards change cut short (the lab going down) is taken back at once: the signal's reason, nothing left", async () => {
  await withDir(async (dir) => {
    const abort = new AbortController();
    const change = forwardsFromOutside(dir, 3000)("nat", [], ["tcp:8080:10.0.2.15:80"], abort.signal);
    await waitFor(() => exists(forwardsFile(dir, "nat")), { timeoutMs: 5000, what: "the request" });
    abort.abort(new Error("lab t is going down"));
    await assert.rejects(change, /^Error: lab t is going down$/);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), []);
  });
});
