/**
 * A slirp's DHCP pool under a flood of fake MACs, end to end: `vde switch
 * --slirp` with a pool of five, a real guest (busybox udhcpc) that leases
 * one and keeps pinging, a second that leases one and then sends nothing
 * on IPv4 (Linux answers ARP for its address all the same), a flood of
 * DISCOVERs and REQUESTs from 200 made-up MACs on another port that takes
 * the other three, and a new guest on that port that gets no lease at
 * once but one of the flood's addresses once they have gone 30 s without
 * a frame (UNUSED_LEASE_MS) and left the slirp's ARP request unanswered,
 * while both real guests keep their own. Root only; in CI it must run.
 */
import assert from "node:assert/strict";
import { canNetns, ping, withNetns } from "../helpers/netns.ts";
import { hasCommand, skipUnless, waitFor } from "../helpers/processes.ts";
import { REPO_ROOT, startOurSwitch, type SwitchHandle } from "../helpers/switches.ts";
import { udhcpcOnce } from "../helpers/udhcpc.ts";
import { UNUSED_LEASE_MS } from "../../src/slirp/dhcp_server.ts";

const HELPER = ["python3", `${REPO_ROOT}/test/e2e/slirp_helper.py`];

Deno.test("slirp DHCP: after a fake-MAC flood takes the pool, a new guest gets a flood address once it is unused and unanswered, and a pinging guest and a quiet one keep their own", async (t) => {
  let why = await canNetns();
  for (const tool of ["vde_plug", "busybox", "python3"]) {
    if (why === null && !(await hasCommand(tool))) why = `${tool} is not installed`;
  }
  if (skipUnless(t, why)) return;
  let sw: SwitchHandle | null = null;
  await withNetns(async (lab) => {
    lab.defer(async () => {
      await sw?.stop();
    });
    const tmp = await lab.tempDir();
    const dir = `${tmp}/sw`;
    // Pool 10.0.2.250 .. 10.0.2.254.
    sw = await startOurSwitch(dir, { extraArgs: ["--slirp", "dhcp=10.0.2.250"] });
    await waitFor(() => sw!.stderr().includes("slirp on port"), {
      timeoutMs: 20_000,
      what: "the slirp on a port",
    });
    const plugged = async (short: string) => {
      const ns = await lab.namespace(short);
      ns.spawn(["vde_plug", `vde://${dir}`, "tap://t0"], { name: `vde_plug ${short}` });
      await waitFor(async () => (await ns.run(["ip", "link", "show", "t0"], { check: false })).success, {
        timeoutMs: 10_000,
        what: `t0 in ${short}`,
      });
      await ns.run(["ip", "link", "set", "t0", "up"]);
      return ns;
    };
    const guest = await plugged("guest");
    let r = await guest.run(udhcpcOnce("t0", "/bin/true"), { check: false, timeoutMs: 20_000 });
    assert.match(r.stdout + r.stderr, /lease of 10\.0\.2\.250 obtained/);
    await guest.run(["ip", "addr", "add", "10.0.2.250/24", "dev", "t0"]);
    assert.equal((await ping(guest, "10.0.2.2", 2, 0.2)).received, 2);
    // The real guest keeps talking through the wait below.
    guest.spawn(["busybox", "ping", "-q", "-w", "90", "10.0.2.2"], { name: "ping" });
    // The quiet one sends nothing on IPv4 after its lease (its kernel's IPv6 router and neighbour
    // solicitations only), as a guest that talks IPv6 only, or not at all, does.
    const quiet = await plugged("quiet");
    r = await quiet.run(udhcpcOnce("t0", "/bin/true"), { check: false, timeoutMs: 20_000 });
    assert.match(r.stdout + r.stderr, /lease of 10\.0\.2\.251 obtained/);
    await quiet.run(["ip", "addr", "add", "10.0.2.251/24", "dev", "t0"]);

    const newcomer = await plugged("newcomer");
    r = await newcomer.run([...HELPER, "dhcp-flood", "t0", "200", "10.0.2.250", "10.0.2.254"], {
      timeoutMs: 20_000,
    });
    assert.match(r.stdout, /sent 400/);
    const flooded = Date.now();
    await waitFor(() => /DHCP: no free address/.test(sw!.stderr()), {
      timeoutMs: 5_000,
      what: "the pool full",
    });
    r = await newcomer.run(udhcpcOnce("t0", "/bin/true"), { check: false, timeoutMs: 20_000 });
    assert.doesNotMatch(r.stdout + r.stderr, /lease of/, "the flood's leases are young: no address yet");

    await new Promise((res) => setTimeout(res, Math.max(0, flooded + UNUSED_LEASE_MS + 2_000 - Date.now())));
    r = await newcomer.run(udhcpcOnce("t0", "/bin/true"), { check: false, timeoutMs: 20_000 });
    assert.match(r.stdout + r.stderr, /lease of 10\.0\.2\.25[2-4] obtained/, r.stdout + r.stderr);
    assert.match(
      sw!.stderr(),
      /DHCP: pool full: 10\.0\.2\.25[2-4], leased to 02:66:00:00:[0-9a-f:]{5} \(no frame from it in the/,
    );
    assert.doesNotMatch(sw!.stderr(), /DHCP: pool full: 10\.0\.2\.250,/, "the pinging guest's lease is kept");
    assert.doesNotMatch(sw!.stderr(), /DHCP: pool full: 10\.0\.2\.251,/, "the quiet guest's lease is kept");
    assert.equal((await ping(guest, "10.0.2.2", 2, 0.2)).received, 2);
    assert.equal((await ping(quiet, "10.0.2.2", 2, 0.2)).received, 2);
  });
});
