/**
 * ptp://PATH against Debian's vde_plug (vdeplug4) with the same VNL, each
 * starting first in turn, and ours against ours: stdio plugs carry frames
 * both ways; two namespaces' taps joined by one ptp:// ping each other; each
 * end's name goes when its end exits; a name Debian's vde_plug left behind
 * when killed is taken over by ours. Run as root, as every end-to-end test.
 */
import assert from "node:assert/strict";
import { ping, waitForPing, withNetns } from "../helpers/netns.ts";
import { pathExists, waitFor, waitForPath } from "../helpers/processes.ts";
import { exchange, type Side } from "../helpers/netns_pair.ts";
import { ourCli, StdioClient, withSwitch } from "../helpers/vde_clients.ts";
import { inTempDir } from "../helpers/temp_dir.ts";

/** A stdio plug on `vnl`: Debian's vde_plug or ours. */
function plugOn(side: Side, vnl: string): StdioClient {
  const cmd = side === "debian" ? ["vde_plug", vnl] : [...ourCli(), "plug", vnl];
  return new StdioClient(cmd, `${side} ${vnl}`);
}

/** Until `path` is gone (its end removed it at exit). */
async function waitGone(path: string): Promise<void> {
  await waitFor(async () => !(await pathExists(path)), { timeoutMs: 5000, what: `${path} removed` });
}

for (
  const [first, second] of [["debian", "ours"], ["ours", "debian"], ["ours", "ours"]] as [Side, Side][]
) {
  Deno.test(`ptp:// ${first} first, ${second} second: frames cross both ways, each name goes with its end`, async () => {
    await inTempDir("vde-ptp-e2e-", async (dir) => {
      const path = `${dir}/cable`;
      const x = plugOn(first, `ptp://${path}`);
      let y: StdioClient | null = null;
      try {
        await waitForPath(path, 20_000, true);
        y = plugOn(second, `ptp://${path}`);
        await waitForPath(`${path}+`, 20_000, true);
        await exchange(x, y);
        await exchange(y, x, { tagBase: 5000 });
        await x.stop();
        await waitGone(path);
        await y.stop();
        await waitGone(`${path}+`);
      } finally {
        await Promise.all([x.stop(), y?.stop()]);
      }
    });
  });
}

Deno.test("ptp:// ours takes over the name Debian's vde_plug left when it was killed", async () => {
  await inTempDir("vde-ptp-e2e-", async (dir) => {
    const path = `${dir}/cable`;
    const dead = plugOn("debian", `ptp://${path}`);
    await waitForPath(path, 20_000, true);
    await dead.stop("SIGKILL");
    assert.equal(await pathExists(path), true, "a killed vde_plug leaves its socket behind");
    const x = plugOn("ours", `ptp://${path}`);
    const y = plugOn("debian", `ptp://${path}`);
    try {
      await waitForPath(`${path}+`, 20_000, true);
      await exchange(x, y);
    } finally {
      await Promise.all([x.stop(), y.stop()]);
    }
  });
});

for (const [first, second] of [["ours", "debian"], ["debian", "ours"]] as [Side, Side][]) {
  Deno.test(`ptp:// joins a tap in each of two namespaces (${first} first, ${second} second): they ping`, async () => {
    await inTempDir("vde-ptp-e2e-", async (dir) => {
      const path = `${dir}/cable`;
      await withNetns(async (lab) => {
        const a = await lab.namespace("a");
        const b = await lab.namespace("b");
        const plug = (side: Side, ns: typeof a) =>
          ns.spawn(
            side === "debian"
              ? ["vde_plug", `ptp://${path}`, "tap://t0"]
              : [...ourCli(), "plug", `ptp://${path}`, "tap://t0"],
            { name: `${side} plug in ${ns.short}` },
          );
        const pa = plug(first, a);
        await waitForPath(path, 20_000, true);
        const pb = plug(second, b);
        for (const [ns, p] of [[a, pa], [b, pb]] as const) {
          await waitFor(async () => {
            if (p.exitStatus !== null) throw new Error(`plug exited early: ${p.stderr}`);
            return (await ns.run(["ip", "link", "show", "t0"], { check: false })).success;
          }, { timeoutMs: 20_000, what: `t0 in ${ns.name}` });
        }
        await a.addr("t0", "10.77.0.1/24");
        await b.addr("t0", "10.77.0.2/24");
        await waitForPing(a, "10.77.0.2");
        const r = await ping(a, "10.77.0.2", 5);
        assert.ok(r.received >= 4, `ping across ptp://: ${JSON.stringify(r)}`);
        const back = await ping(b, "10.77.0.1", 3);
        assert.ok(back.received >= 2, `ping back: ${JSON.stringify(back)}`);
        await Promise.all([pa.stop(), pb.stop()]);
        await waitGone(path);
        await waitGone(`${path}+`);
      });
    });
  });
}

Deno.test("a first ptp:// end stopped by a signal while it waits for the other exits 0 and removes PATH", async () => {
  await inTempDir("vde-ptp-e2e-", async (dir) => {
    const path = `${dir}/cable`;
    const x = plugOn("ours", `ptp://${path}`);
    try {
      await waitForPath(path, 20_000, true);
      const status = await x.stop("SIGINT");
      assert.equal(status.code, 0, x.stderr);
      assert.equal(x.stderr, "");
      assert.equal(await pathExists(path), false);
    } finally {
      await x.stop();
    }
  });
});

Deno.test("vde plug ptp://PATH vde://SW puts Debian's ptp:// end on a switch (vde_switch): frames cross", async () => {
  await withSwitch("c", {}, async ({ dir, tmp, clients }) => {
    const path = `${tmp}/cable`;
    const joiner = clients.add(
      new StdioClient([...ourCli(), "plug", `ptp://${path}`, `vde://${dir}`], "ours ptp-vde"),
    );
    await waitForPath(path, 20_000, true);
    const far = clients.add(plugOn("debian", `ptp://${path}`));
    const onSwitch = clients.vdePlug(dir);
    await exchange(far, onSwitch, { unicastFromX: false, unicastFromY: false });
    await exchange(onSwitch, far, { tagBase: 5000 });
    assert.equal(joiner.exitStatus, null, joiner.stderr);
  });
});
