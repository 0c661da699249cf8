/**
 * BPDU guard and root guard against a real bridge claiming root: a Linux
 * kernel bridge (802.1D, `stp_state 1`, priority 4096, fast timers) in a
 * network namespace, enslaving our switch's two taps, so that without the
 * guards it would be our root through either. Port 1 (t1) has BPDU guard,
 * port 2 (t2) root guard: the first BPDU disables port 1, the kernel's
 * superior BPDUs hold port 2 root-inconsistent, and our switch stays its
 * own root. Root guard off, the kernel becomes our root through port 2: the
 * guard, nothing else, held it. Bounded by its waits; the lab's teardown
 * removes the namespace, the switch and its directory.
 */
import assert from "node:assert/strict";
import { labMissing, type Netns, withNetns } from "../helpers/netns.ts";
import { hasCommand, skipUnless, waitFor } from "../helpers/processes.ts";
import { startStpSwitchIn, stpRows } from "./_stp.ts";

async function sysfs(ns: Netns, path: string): Promise<string> {
  return (await ns.run(["cat", `/sys/class/net/${path}`])).stdout.trim();
}

Deno.test("a Linux bridge claiming root through guarded ports: BPDU guard disables one, root guard blocks the other, we stay root", async (t) => {
  const missing = (await labMissing([])) ?? ((await hasCommand("deno")) ? null : "deno is not on PATH");
  if (skipUnless(t, missing)) return;
  await withNetns(async (lab) => {
    const k = await lab.namespace("k");
    await k.run(["ip", "link", "add", "br0", "type", "bridge", "stp_state", "1", "priority", "4096"]
      .concat(["forward_delay", "200", "hello_time", "100", "max_age", "600"]));
    await k.run(["ip", "link", "set", "br0", "up"]);
    const tmp = await lab.tempDir();
    const rc = `${tmp}/rc`;
    await Deno.writeTextFile(rc, "stp/settimers 1 6 2\nstp/setguard 1 1\nstp/setrootblock 2 1\n");
    const term = await startStpSwitchIn(lab, k, tmp, ["-f", rc]);
    for (const tap of ["t1", "t2"]) await k.run(["ip", "link", "set", tap, "master", "br0", "up"]);
    const kernelId = await sysfs(k, "br0/bridge/bridge_id");
    assert.match(kernelId, /^1000\./);

    let rows = await stpRows(term);
    await waitFor(async () => {
      rows = await stpRows(term);
      const [p1, p2] = [rows.find((r) => r.port === 1), rows.find((r) => r.port === 2)];
      return p1?.state === "bpdu-guard" && p2?.role === "alternate" && p2.state === "root-inconsistent";
    }, {
      timeoutMs: 30_000,
      what: `port 1 disabled by its guard, port 2 root-inconsistent (${JSON.stringify(rows)})`,
    });
    // Held for several of the kernel's hellos: nothing of the kernel's gets through, our root stays ours.
    for (let i = 0; i < 4; i++) {
      await new Promise((r) => setTimeout(r, 1000));
      const stp = (await term.command("stp")).lines ?? [];
      assert.ok(stp.some((l) => /^designated root\s+\S+ \(this bridge\)$/.test(l)), stp.join("\n"));
      rows = await stpRows(term);
      assert.deepEqual(
        rows.filter((r) => r.port === 1 || r.port === 2).map((r) => r.state),
        ["bpdu-guard", "root-inconsistent"],
      );
    }
    const stp = (await term.command("stp")).lines ?? [];
    assert.ok(stp.some((l) => /^\s+1\s.*\sbpdu\(1\)\s/.test(l)), stp.join("\n"));
    assert.ok(stp.some((l) => /^\s+2\s.*\sroot\(1\)\s/.test(l)), stp.join("\n"));
    const print = (await term.command("port/print 1")).lines ?? [];
    assert.ok(
      print.includes(" STP: BPDU guard (trips 1: port disabled until its client leaves or stp/setguard 1 1)"),
      print.join("\n"),
    );
    // The kernel hears nothing from us that would make it yield: it stays its own root.
    assert.equal(await sysfs(k, "br0/bridge/root_id"), kernelId);

    // Root guard off: the kernel's better id wins through port 2, as it would have without the guard.
    assert.equal((await term.command("stp/setrootblock 2 0")).result, "1000 Success");
    await waitFor(async () => {
      rows = await stpRows(term);
      const stp = (await term.command("stp")).lines ?? [];
      return rows.find((r) => r.port === 2)?.role === "root" &&
        stp.some((l) => l.startsWith("designated root") && l.includes(kernelId));
    }, { timeoutMs: 30_000, what: `the kernel to become our root through port 2 (${JSON.stringify(rows)})` });
    assert.equal(rows.find((r) => r.port === 1)?.state, "bpdu-guard", "port 1 stays disabled");
  });
});
