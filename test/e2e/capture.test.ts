/**
 * `vde capture` end to end: two namespaces ping each other through our
 * switch while a capture runs; the frames it wrote, read back by tcpdump
 * (and tshark, which shows interfaces and directions), are byte for byte
 * the ones `tcpdump -w` saw on a namespace's tap. Root only; runs in CI.
 */
import assert from "node:assert/strict";
import { type Lab, labMissing, type Netns, waitForPing, withNetns } from "../helpers/netns.ts";
import { hasCommand, run, skipUnless, waitFor, waitForPath } from "../helpers/processes.ts";
import { startCSwitch, startOurSwitch, type SwitchHandle } from "../helpers/switches.ts";
import { startTcpdump, tapHost, VDE } from "../helpers/tap_hosts.ts";
import { MgmtClient } from "../../src/console/client.ts";
import { captureSource } from "../../src/cli/capture.ts";
import { bindUnservedSockets } from "../helpers/stale_socket.ts";
import { pingArgs, pingTimeoutMs, repliesIn } from "../helpers/ping_replies.ts";

/** A namespace whose tap t0 (made by our plug) is on the switch at `dir`, MTU 9000. */
async function plugged(lab: Lab, dir: string, short: string, addr: string): Promise<Netns> {
  const ns = await tapHost(lab, dir, short);
  await ns.run(["ip", "link", "set", "t0", "mtu", "8986"]);
  await ns.addr("t0", `${addr}/24`);
  return ns;
}

/**
 * The ICMP frames of pings 1 to 3, as tcpdump's filter says them: a ping run by ping_replies.ts's rule may
 * send a probe more when a reply is late, whose frames a count of three pings' frames leaves out.
 */
const FIRST_3 = "icmp and icmp[6:2] <= 3";

/** `tcpdump -r FILE -xx` per frame, without timestamps: the frames' bytes as text. */
async function frames(file: string, filter = FIRST_3): Promise<string[]> {
  const r = await run(["tcpdump", "-r", file, "-n", "-t", "-xx", filter], { timeoutMs: 20_000 });
  return r.stdout.split(/\n(?=\S)/).map((s) => s.trim()).filter((s) => s !== "");
}

/** tshark's interface name, description, direction and length of each ICMP frame of pings 1 to 3 (FIRST_3). */
async function tsharkRows(file: string): Promise<string[][]> {
  const r = await run([
    "tshark",
    "-r",
    file,
    "-Y",
    "icmp && icmp.seq <= 3",
    "-T",
    "fields",
    "-e",
    "frame.interface_name",
    "-e",
    "frame.packet_flags_direction",
    "-e",
    "frame.len",
    "-e",
    "frame.interface_description",
  ], { timeoutMs: 30_000 });
  // Direction as a number: tshark prints the flags field in hex (0x00000001).
  return r.stdout.trim().split("\n").map((l) => l.split("\t")).map((f) => {
    f[1] = String(Number(f[1]));
    return f;
  });
}

Deno.test("vde capture of a ping holds the tap's frames byte for byte, with port and direction", async (t) => {
  if (skipUnless(t, await labMissing(["tcpdump", "tshark"]))) return;
  await withNetns(async (lab) => {
    const tmp = await lab.tempDir();
    const dir = `${tmp}/sw`;
    let sw: SwitchHandle | null = null;
    lab.defer(async () => void (await sw?.stop()));
    sw = await startOurSwitch(dir, { extraArgs: ["--pcap", `${tmp}/all.pcapng`] });
    const a = await plugged(lab, dir, "a", "10.199.17.1");
    const b = await plugged(lab, dir, "b", "10.199.17.2");
    await waitForPing(a, "10.199.17.2");

    const tap = await startTcpdump(a, "t0", `${tmp}/tap.pcap`, "icmp");
    const cap = lab.spawn(null, [...VDE, "capture", dir, "--port", "1", "-w", `${tmp}/cap.pcapng`], {
      name: "vde capture",
    });
    const classic = lab.spawn(null, [...VDE, "capture", dir, "-w", `${tmp}/cap.pcap`, "--filter", "icmp"], {
      name: "vde capture pcap",
    });
    // The capture socket is bound through its private directory's descriptor and linked into place, so the
    // kernel names its connections by the name it was bound at (/proc/self/fd/N/s), not DIR/capture: the
    // switch's stream sockets of either name.
    const captureName = new RegExp(
      `^(${dir.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}/capture|/proc/self/fd/\\d+/s)$`,
    );
    await waitFor(async () => {
      const r = await run(["ss", "-xHp", "state", "established"], { check: false });
      return r.stdout.split("\n").filter((l) => {
        const f = l.trim().split(/\s+/);
        return f[0] === "u_str" && captureName.test(f[3] ?? "") && l.includes(`pid=${sw!.pid},`);
      }).length >= 2;
    }, { timeoutMs: 20_000, what: "two captures connected" });
    // Connected is not yet capturing: a capture starts its file (the header) once the switch took its request.
    const started = async (f: string) => ((await Deno.stat(f).catch(() => null))?.size ?? 0) > 0;
    await waitFor(async () => (await started(`${tmp}/cap.pcapng`)) && (await started(`${tmp}/cap.pcap`)), {
      timeoutMs: 20_000,
      what: "two captures started",
    });

    const r = await a.run(pingArgs("10.199.17.2", 3), { check: false, timeoutMs: pingTimeoutMs(3) });
    assert.equal(repliesIn(r.stdout, 3).size, 3, r.stdout + r.stderr);
    // One jumbo frame each way: 8958 bytes of ICMP data make a 9000-byte frame.
    const big = await a.run(["ping", "-c", "1", "-W", "3", "-s", "8958", "-M", "do", "10.199.17.2"], {
      check: false,
      timeoutMs: 10_000,
    });
    assert.ok(big.success, big.stdout + big.stderr);
    // tcpdump -U writes each frame as it comes; wait for all of them (its capture may lag under load).
    await waitFor(async () => (await frames(`${tmp}/tap.pcap`).catch(() => [])).length >= 8, {
      timeoutMs: 20_000,
      what: "8 ICMP frames in tcpdump's file",
    }).catch(() => {});
    await new Promise((res) => setTimeout(res, 500));
    tap.kill("SIGINT");
    cap.kill("SIGINT");
    classic.kill("SIGINT");
    await Promise.all([tap.status, cap.status, classic.status]);
    const counted = /(\d+) frames? captured, 0 dropped/.exec(cap.stderr);
    assert.ok(counted !== null && Number(counted[1]) >= 8, cap.stderr);

    const fromTap = await frames(`${tmp}/tap.pcap`);
    assert.equal(fromTap.length, 8);
    assert.deepEqual(await frames(`${tmp}/cap.pcapng`), fromTap);
    // Every port: each frame once (where it entered the switch), so the same frames again.
    assert.deepEqual(await frames(`${tmp}/cap.pcap`), fromTap);

    const rows = await tsharkRows(`${tmp}/cap.pcapng`);
    // Named after the switch (its directory) and the port, so captures of several switches merge apart.
    const port1 = `${await Deno.realPath(dir)} port 1`;
    assert.deepEqual(rows.map((r) => r.slice(0, 3)), [
      [port1, "1", "98"],
      [port1, "2", "98"],
      [port1, "1", "98"],
      [port1, "2", "98"],
      [port1, "1", "98"],
      [port1, "2", "98"],
      [port1, "1", "9000"],
      [port1, "2", "9000"],
    ]);
    assert.match(rows[0]![3]!, /vde plug|vde_plug|pid/, "the interface is described by its client");
    void b;
    // The switch's own --pcap file holds every ICMP frame since start-up (waitForPing's too).
    await sw.stop();
    sw = null;
    const all = await tsharkRows(`${tmp}/all.pcapng`);
    // Each frame once, where it entered: requests on port 1, replies on port 2.
    const onPort1 = all.filter((r) => r[0] === `${dir} port 1`).length;
    assert.ok(onPort1 >= 4, `${onPort1} frames on port 1`);
    assert.equal(all.filter((r) => r[0] === `${dir} port 2`).length, onPort1);
    assert.ok(all.every((r) => r[1] === "1"), "all inbound");
  });
});

Deno.test("vde capture --filter with a bad expression fails with one clear line", async (t) => {
  if (skipUnless(t, await labMissing(["tcpdump"]))) return;
  await withNetns(async (lab) => {
    const dir = `${await lab.tempDir()}/sw`;
    const sw = await startOurSwitch(dir);
    lab.defer(async () => void (await sw.stop()));
    await waitForPath(`${dir}/capture`, 10_000, true);
    const r = await run([...VDE, "capture", dir, "-w", "/dev/null", "--filter", "icmp and"], {
      check: false,
      timeoutMs: 20_000,
    });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^vde: --filter "icmp and": .*syntax error/m);
  });
});

Deno.test("vde capture of Debian's vde_switch says that switch serves no captures", async (t) => {
  if (skipUnless(t, (await hasCommand("vde_switch")) ? null : "needs vde_switch (package vde-switch)")) {
    return;
  }
  const tmp = await Deno.makeTempDir({ prefix: "vde-capture-" });
  const sw = await startCSwitch(`${tmp}/c`);
  try {
    const r = await run([...VDE, "capture", `${tmp}/c`, "-w", "/dev/null"], {
      check: false,
      timeoutMs: 20_000,
    });
    assert.equal(r.code, 1);
    assert.equal(
      r.stderr,
      `vde: the switch at ${tmp}/c serves no captures (${tmp}/c/capture is missing): only vde switch does\n`,
    );
  } finally {
    await sw.stop();
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("a mirror port's namespace sees a and b's pings only while mirrored, and cannot send", async (t) => {
  if (skipUnless(t, await labMissing(["tcpdump"]))) return;
  await withNetns(async (lab) => {
    const tmp = await lab.tempDir();
    const dir = `${tmp}/sw`;
    let mgmt: MgmtClient | null = null;
    const sw = await startOurSwitch(dir, { extraArgs: ["--mgmt", `${tmp}/mgmt`] });
    lab.defer(async () => {
      mgmt?.close();
      await sw.stop();
    });
    const a = await plugged(lab, dir, "a", "10.199.18.1");
    await plugged(lab, dir, "b", "10.199.18.2");
    const c = await plugged(lab, dir, "c", "10.199.18.3");
    await waitForPing(a, "10.199.18.2");
    await waitForPing(c, "10.199.18.1");
    mgmt = await MgmtClient.connect(`${tmp}/mgmt`);
    // vde capture finds the capture socket from the management socket too.
    assert.equal((await captureSource(`${tmp}/mgmt`)).path, `${dir}/capture`);
    /** ICMP frames between a and b that c's tap sees during three pings. */
    const seenByC = async (file: string): Promise<number> => {
      const dump = await startTcpdump(c, "t0", file, "icmp and host 10.199.18.2");
      const r = await a.run(pingArgs("10.199.18.2", 3), { check: false, timeoutMs: pingTimeoutMs(3) });
      assert.equal(repliesIn(r.stdout, 3).size, 3, r.stdout + r.stderr);
      await new Promise((res) => setTimeout(res, 500));
      dump.kill("SIGINT");
      await dump.status;
      return (await frames(file, FIRST_3)).length;
    };
    assert.equal(await seenByC(`${tmp}/before.pcap`), 0);
    assert.equal((await mgmt.command("mirror/add 3")).result, "1000 Success");
    assert.equal(await seenByC(`${tmp}/mirrored.pcap`), 6);
    // c's own frames go nowhere while it is a mirror output.
    const fromC = await c.run(["ping", "-c", "2", "-i", "0.2", "-W", "1", "10.199.18.1"], { check: false });
    assert.match(fromC.stdout, / 0 received/);
    assert.equal((await mgmt.command("mirror/del 3")).result, "1000 Success");
    assert.equal(await seenByC(`${tmp}/after.pcap`), 0);
  });
});

Deno.test("vde capture of a switch killed with SIGKILL says no switch serves it", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "vde-capture-stale-" });
  try {
    // What SIGKILL leaves: the sockets, bound and no longer served.
    bindUnservedSockets(`${tmp}/ctl`, `${tmp}/capture`);
    const r = await run([...VDE, "capture", tmp, "-w", "/dev/null"], { check: false, timeoutMs: 20_000 });
    assert.equal(r.code, 1);
    assert.equal(
      r.stderr,
      `vde: no switch serves ${tmp}: ${tmp}/capture is left from a switch that stopped\n`,
    );
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
