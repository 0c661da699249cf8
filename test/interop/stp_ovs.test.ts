/**
 * RSTP against Open vSwitch (Debian's openvswitch-switch, ovs-vswitchd with
 * the userspace datapath, `datapath_type=netdev`, so no kernel module): an
 * OVS bridge with rstp_enable and our switch, joined by two taps our switch
 * opens in a namespace, form a loop. With OVS as root, both sides settle on
 * one tree well inside the two forward delays (30 s) that timers alone would
 * take, which only proposal and agreement can do; then our switch takes
 * over as root and OVS's `rstp/show` agrees. OVS runs from a private
 * directory (its database, sockets and logs), never the system's.
 */
import assert from "node:assert/strict";
import { labMissing, type Netns, withNetns } from "../helpers/netns.ts";
import { run, skipUnless, waitFor } from "../helpers/processes.ts";
import { startStpSwitchIn, type StpRow, stpRows } from "./_stp.ts";

interface OvsPort {
  name: string;
  role: string;
  state: string;
}

/** The bridge's ports and root from `ovs-appctl rstp/show`. */
function parseRstpShow(
  text: string,
): { ports: OvsPort[]; rootPriority: number; rootMac: string; isRoot: boolean } {
  const ports = [...text.matchAll(/^\s+(t\d)\s+(\w+)\s+(\w+)\s+\d+/gm)].map((m) => ({
    name: m[1]!,
    role: m[2]!,
    state: m[3]!,
  }));
  const root = /Root ID:\s+stp-priority\s+(\d+)\s+stp-system-id\s+(\S+)/.exec(text);
  return {
    ports,
    rootPriority: Number(root?.[1] ?? -1),
    rootMac: root?.[2] ?? "",
    isRoot: text.includes("This bridge is the root"),
  };
}

Deno.test("Open vSwitch RSTP (userspace datapath): proposal/agreement converges a two-link loop both ways", async (t) => {
  if (
    skipUnless(t, await labMissing(["ovs-vswitchd", "ovsdb-server", "ovs-vsctl", "ovs-appctl", "ovsdb-tool"]))
  ) {
    return;
  }
  await withNetns(async (lab) => {
    const dir = await lab.tempDir();
    const env = { OVS_RUNDIR: dir, OVS_LOGDIR: dir, OVS_DBDIR: dir, OVS_SYSCONFDIR: dir };
    const k: Netns = await lab.namespace("k");
    await run(["ovsdb-tool", "create", `${dir}/conf.db`, "/usr/share/openvswitch/vswitch.ovsschema"]);
    const db = `unix:${dir}/db.sock`;
    lab.spawn(null, [
      "ovsdb-server",
      `${dir}/conf.db`,
      `--remote=punix:${dir}/db.sock`,
      `--unixctl=${dir}/ovsdb.ctl`,
      `--log-file=${dir}/ovsdb.log`,
    ], { name: "ovsdb-server", env });
    await waitFor(() => Deno.stat(`${dir}/db.sock`).then(() => true, () => false), {
      timeoutMs: 10_000,
      what: "ovsdb-server's socket",
    });
    const vsctl = (...args: string[]) => run(["ovs-vsctl", `--db=${db}`, ...args], { env });
    const appctl = (...args: string[]) => run(["ovs-appctl", "-t", `${dir}/vsd.ctl`, ...args], { env });
    await vsctl("--no-wait", "init");
    k.spawn([
      "env",
      ...Object.entries(env).map(([n, v]) => `${n}=${v}`),
      "ovs-vswitchd",
      db,
      `--unixctl=${dir}/vsd.ctl`,
      `--log-file=${dir}/vsd.log`,
    ], {
      name: "ovs-vswitchd",
    });
    await waitFor(() => Deno.stat(`${dir}/vsd.ctl`).then(() => true, () => false), {
      timeoutMs: 10_000,
      what: "ovs-vswitchd's control socket",
    });
    await vsctl("add-br", "br0", "--", "set", "bridge", "br0", "datapath_type=netdev");
    await vsctl("set", "bridge", "br0", "rstp_enable=true", "other_config:rstp-priority=4096");

    const term = await startStpSwitchIn(lab, k, dir, []);
    for (const tap of ["t1", "t2"]) await k.run(["ip", "link", "set", tap, "up"]);
    const since = Date.now();
    await vsctl("add-port", "br0", "t1", "--", "add-port", "br0", "t2");

    // OVS root: both its ports designated forwarding; ours one root, one alternate discarding.
    let ours: StpRow[] = [];
    let ovs = parseRstpShow("");
    await waitFor(async () => {
      ours = await stpRows(term);
      ovs = parseRstpShow((await appctl("rstp/show")).stdout);
      return ovs.isRoot && ovs.ports.length === 2 && ovs.ports.every((p) => p.state === "Forwarding") &&
        ours.some((r) => r.role === "root" && r.state === "forwarding") &&
        ours.some((r) => r.role === "alternate" && r.state === "discarding");
    }, { timeoutMs: 25_000, what: "convergence with OVS as root" });
    const ms = Date.now() - since;
    console.log(`  converged ${ms} ms after the ports were added (two forward delays: 30000 ms)`);
    assert.ok(ms < 15_000, `${ms} ms`);
    assert.ok(ovs.ports.every((p) => p.role === "Designated"), JSON.stringify(ovs.ports));

    // Our switch becomes root: OVS shows our id as root, one root port and one alternate.
    assert.equal((await term.command("stp/setprio 0")).code, 0);
    const info = (await term.command("fstp/showinfo")).lines ?? [];
    const ourMac = /^MAC (\S+)/.exec(info[0] ?? "")![1]!;
    await waitFor(async () => {
      ovs = parseRstpShow((await appctl("rstp/show")).stdout);
      return ovs.rootPriority === 0 && ovs.rootMac === ourMac &&
        ovs.ports.some((p) => p.role === "Root" && p.state === "Forwarding") &&
        ovs.ports.some((p) => p.role === "Alternate" && p.state === "Discarding");
    }, { timeoutMs: 45_000, what: `OVS to take us as root (${JSON.stringify(ovs)})` });
    ours = await stpRows(term);
    assert.ok(ours.filter((r) => r.port <= 2).every((r) => r.role === "designated"), JSON.stringify(ours));
  });
});
