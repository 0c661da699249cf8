/**
 * End to end, a second slirp on one switch is told, not silent
 * (src/slirp/gateway_guard.ts): two `vde slirp` on our switch; ours beside
 * Debian's libslirp plugin (`vde_plug vde://DIR slirp://`) on Debian's
 * vde_switch (whose answer for fd00::3 is no host's); a Linux host on the
 * IPv6 DNS address, said as taken; `vde switch --slirp` hearing libslirp's broadcast DHCP
 * offer to a guest, counted in `slirp/print`; a `--daemon` start behind a
 * slow cable, told on its terminal after it returned, and in its log file or
 * syslog where a script started it. Every slirp keeps running.
 * Root only (namespaces); in CI it must run.
 */
import assert from "node:assert/strict";
import { canNetns, type Lab, type Netns, withNetns } from "../helpers/netns.ts";
import { hasCommand, type ManagedProcess, skipUnless, sleep, waitFor } from "../helpers/processes.ts";
import { startOurSwitch } from "../helpers/switches.ts";
import { tapHost } from "../helpers/tap_hosts.ts";
import { udhcpcOnce } from "../helpers/udhcpc.ts";
import { MgmtClient } from "../../src/console/client.ts";
import { cSwitchInLab, guestBehind, VDE } from "./_slirp_e2e.ts";
import { LATE_WARNING_MS } from "../../src/cli/slirp.ts";
import { shellQuoted } from "../../src/shell_quote.ts";
import { processAlive } from "../../src/os/processes.ts";
import { standIn } from "../os/_syslog_stand_in.ts";

/** The line a slirp says once when another claims its gateway. */
const CONFLICT =
  /the gateway address is taken on this switch: .* came from another port\. Two slirps on one switch conflict .*run one slirp per switch, or give this one another network \(slirp option addr=10\.0\.3\.2\/24\/addr6=fd00:0:0:1::2\/64\)/;
/** A few seconds: the probes go out 0.1, 1.1 and 2.1 s after the slirp plugs in; bounded generously for a loaded machine. */
const SAY_WITHIN_MS = 20_000;

/** Past a slirp's probes (its last goes out 2.1 s after it plugs in). */
const PROBES_OVER_MS = 3000;

async function missing(tools: string[]): Promise<string | null> {
  const why = await canNetns();
  if (why !== null) return why;
  for (const tool of tools) if (!(await hasCommand(tool))) return `${tool} is not installed`;
  return null;
}

function assertRunning(...procs: ManagedProcess[]): void {
  for (const p of procs) assert.equal(p.exitStatus, null, `${p.name} exited:\n${p.stderr}`);
}

/** Our switch at DIR, and a namespace to run slirps in (they end with the switch). */
async function withOurSwitch(fn: (dir: string, host: Netns) => Promise<void>): Promise<void> {
  await withNetns(async (lab) => {
    const dir = `${await lab.tempDir()}/sw`;
    const sw = await startOurSwitch(dir);
    lab.defer(async () => void (await sw.stop()));
    await fn(dir, await lab.namespace("host"));
  });
}

/**
 * Switches `near` and `far` joined by a slow cable, and a slirp on `far` past its probes: a slirp started
 * on `near` hears the other's answer only after its `--daemon` start returned. `fn` gets their directory,
 * the namespace the slirps run in and the lab; the cable still runs at its end.
 */
async function behindSlowCable(fn: (tmp: string, host: Netns, lab: Lab) => Promise<void>): Promise<void> {
  await withNetns(async (lab) => {
    const tmp = await lab.tempDir();
    for (const name of ["near", "far"]) {
      const sw = await startOurSwitch(`${tmp}/${name}`);
      lab.defer(async () => void (await sw.stop()));
    }
    const host = await lab.namespace("host");
    // 400 ms each way: the first probe's answer comes 0.8 s after it left, past the 0.2 s a start waits for it.
    const cable = host.spawn([...VDE, "wirefilter", "-d", "400", `vde://${tmp}/near`, `vde://${tmp}/far`], {
      name: "slow cable",
    });
    await host.run([...VDE, "slirp", "--sock", `${tmp}/far`, "-d"], { timeoutMs: 60_000 });
    await sleep(PROBES_OVER_MS);
    await fn(tmp, host, lab);
    assertRunning(cable);
  });
}

Deno.test("two vde slirp on one vde switch: the second says the gateway is taken within seconds, both keep running", async (t) => {
  if (skipUnless(t, await missing([]))) return;
  await withOurSwitch(async (dir, host) => {
    const first = host.spawn([...VDE, "slirp", "--sock", dir], { name: "first vde slirp" });
    await first.waitForOutput(/vde slirp: on /, 20_000, "stderr");
    // Past the first one's probes (which the second would answer: then both would say it).
    await sleep(PROBES_OVER_MS);
    const second = host.spawn([...VDE, "slirp", "--sock", dir], { name: "second vde slirp" });
    await second.waitForOutput(/vde slirp: on /, 20_000, "stderr");
    const [line] = await second.waitForOutput(CONFLICT, SAY_WITHIN_MS, "stderr");
    assert.match(
      line,
      /an? (ARP reply for 10\.0\.2\.2|neighbour advertisement for fd00::2) from 52:55:0a:00:02:02/,
    );
    // Once, not per probe answered.
    await sleep(2500);
    assert.equal(second.stderr.match(/gateway address is taken/g)?.length, 1, second.stderr);
    assertRunning(first, second);
    assert.doesNotMatch(first.stderr, /gateway address is taken/, `a probe is not a claim:\n${first.stderr}`);
  });
});

Deno.test("a second vde slirp --daemon (or vde plug -d vde://DIR slirp://) on one switch says the gateway is taken before it returns, on its thread or not", async (t) => {
  if (skipUnless(t, await missing([]))) return;
  await withOurSwitch(async (dir, host) => {
    const daemon = async (...args: string[]) => {
      const command = args[0] === "plug" ? args : ["slirp", "--sock", dir, "-d", ...args];
      const p = host.spawn([...VDE, ...command], { name: `vde ${command[0]} -d` });
      const status = await p.status;
      assert.equal(status.code, 0, p.stderr);
      return p.stderr;
    };
    const first = await daemon();
    assert.doesNotMatch(first, /gateway address is taken/, first);
    // Before, the line went to a log no one reads (a --daemon without --logfile logs nothing once it returns).
    const plugged = await daemon("plug", "-d", `vde://${dir}`, "slirp://");
    // vde plug's own path for a slirp off its thread (--no-thread, guest forwards) returned before plugging in.
    const pluggedHere = await daemon("plug", "-d", "--no-thread", `vde://${dir}`, "slirp://");
    for (const second of [await daemon(), await daemon("--no-thread"), plugged, pluggedHere]) {
      assert.match(second, CONFLICT, second);
      assert.match(second, /in the background as pid \d+/, second);
    }
  });
});

Deno.test("our vde slirp beside Debian's libslirp plugin on Debian's vde_switch says the gateway is taken", async (t) => {
  if (skipUnless(t, await missing(["vde_switch", "vde_plug"]))) return;
  await withNetns(async (lab) => {
    const { dir } = await cSwitchInLab(lab);
    const host = await lab.namespace("host");
    const libslirp = host.spawn(["vde_plug", `vde://${dir}`, "slirp://"], { name: "vde_plug slirp://" });
    await sleep(500);
    assertRunning(libslirp);
    const ours = host.spawn([...VDE, "slirp", "--sock", dir], { name: "vde slirp" });
    await ours.waitForOutput(/vde slirp: on /, 20_000, "stderr");
    const [line] = await ours.waitForOutput(CONFLICT, SAY_WITHIN_MS, "stderr");
    assert.match(line, /from 52:55:0a:00:02:02/);
    await sleep(500);
    assertRunning(libslirp, ours);
    // libslirp answers our DAD probe for fd00::3 from 52:56 and the address's last bytes: another slirp's
    // answer, not a host on the IPv6 DNS address.
    assert.deepEqual(ours.stderr.split("\n").filter((l) => /IPv6 DNS address/.test(l)), []);
  });
});

Deno.test("a Linux host on the slirp's IPv6 DNS address (fd00::3) answers its DAD probe: the slirp says the address is taken, naming the host's MAC, and keeps running", async (t) => {
  if (skipUnless(t, await missing(["ip"]))) return;
  await withNetns(async (lab) => {
    const dir = `${await lab.tempDir()}/sw`;
    const sw = await startOurSwitch(dir);
    lab.defer(async () => void (await sw.stop()));
    const dns = await tapHost(lab, dir, "dns6");
    await dns.run(["ip", "link", "set", "t0", "up"]);
    // nodad: a host that had the address before the slirp came (with DAD it would meet the slirp's answer).
    await dns.run(["ip", "-6", "addr", "add", "fd00::3/64", "dev", "t0", "nodad"]);
    const mac = (await dns.run(["cat", "/sys/class/net/t0/address"])).stdout.trim();
    const host = await lab.namespace("host");
    const ours = host.spawn([...VDE, "slirp", "--sock", dir], { name: "vde slirp" });
    const [line] = await ours.waitForOutput(
      /the IPv6 DNS address fd00::3 is taken on this switch: .*/,
      SAY_WITHIN_MS,
      "stderr",
    );
    // Before, the slirp answered solicitations for fd00::3 over the host, and said nothing.
    assert.match(line, new RegExp(`a neighbour advertisement for fd00::3 from ${mac}`));
    await sleep(500);
    assert.doesNotMatch(ours.stderr, /the gateway address is taken/);
    assertRunning(ours);
  });
});

Deno.test("vde switch --slirp hears libslirp's broadcast DHCP offer to a guest: one line, counted in slirp/print", async (t) => {
  if (skipUnless(t, await missing(["vde_plug", "busybox"]))) return;
  await withNetns(async (lab) => {
    const tmp = await lab.tempDir();
    const dir = `${tmp}/sw`;
    const sw = await startOurSwitch(dir, { extraArgs: ["--slirp", "--mgmt", `${tmp}/mgmt`] });
    lab.defer(async () => void (await sw.stop()));
    await waitFor(() => sw.stderr().includes("slirp on port"), {
      timeoutMs: 20_000,
      what: "the slirp on a port",
    });
    await sleep(PROBES_OVER_MS);
    const host = await lab.namespace("host");
    // libslirp plugs in after our probes: only what it sends while it runs can tell.
    const libslirp = host.spawn(["vde_plug", `vde://${dir}`, "slirp://"], { name: "vde_plug slirp://" });
    const guest = await lab.namespace("guest");
    await guestBehind(guest, dir);
    await guest.run(["ip", "link", "set", "t0", "up"]);
    // Two servers answer; the guest takes one. Either way libslirp's offer went to every port.
    const r = await guest.run(udhcpcOnce("t0", "/bin/true"), { check: false, timeoutMs: 20_000 });
    assert.match(r.stdout + r.stderr, /lease of 10\.0\.2\.15 obtained/);
    await waitFor(() => CONFLICT.test(sw.stderr()), { timeoutMs: SAY_WITHIN_MS, what: "the conflict line" });
    assert.match(sw.stderr(), /a DHCP (offer|ack) from 10\.0\.2\.2 from 52:55:0a:00:02:02/);
    assert.equal(sw.stderr().match(/gateway address is taken/g)?.length, 1, sw.stderr());

    const mgmt = await MgmtClient.connect(`${tmp}/mgmt`);
    try {
      const reply = await mgmt.command("slirp/print");
      assert.equal(reply.code, 0);
      const text = (reply.lines ?? []).join("\n");
      assert.match(text, /gatewayConflicts=[1-9]/, text);
      assert.match(text, /gateway conflict: a DHCP (offer|ack) from 10\.0\.2\.2/, text);
    } finally {
      mgmt.close();
    }
    assertRunning(sw.process, libslirp);
  });
});

Deno.test("a vde slirp --daemon whose other slirp answers after it returned (behind a slow cable) says the gateway is taken on the terminal that started it", async (t) => {
  if (skipUnless(t, await missing(["script"]))) return;
  await behindSlowCable(async (tmp, host) => {
    // On a terminal (script's pty), held open after the start returned as a shell holds it.
    const start = [...VDE, "slirp", "--sock", `${tmp}/near`, "-d"].map(shellQuoted).join(" ");
    const r = await host.run(
      ["script", "-qec", `${start}; sleep ${Math.ceil(LATE_WARNING_MS / 1000) + 1}`, "/dev/null"],
      { timeoutMs: 60_000 },
    );
    const out = r.stdout.replaceAll("\r", "");
    const returned = out.indexOf("in the background as pid");
    assert.ok(returned >= 0, out);
    assert.ok(out.search(CONFLICT) > returned, `said after the start returned:\n${out}`);
    assert.equal(out.match(/gateway address is taken/g)?.length, 1, out);
  });
});

Deno.test("a vde slirp --daemon started by a script (no terminal) whose other slirp answers after it returned says the gateway is taken in its --logfile, or without one in syslog", async (t) => {
  if (skipUnless(t, await missing([]))) return;
  await behindSlowCable(async (tmp, host, lab) => {
    const syslog = standIn(tmp);
    lab.defer(() => syslog.close());
    for (const where of ["--logfile", "syslog"] as const) {
      const pidfile = `${tmp}/${where}.pid`;
      const logfile = where === "--logfile" ? ["--logfile", `${tmp}/slirp.log`] : [];
      const start = await host.run(
        [...VDE, "slirp", "--sock", `${tmp}/near`, "-d", "--pidfile", pidfile, ...logfile],
        { timeoutMs: 60_000, env: { VDE_SYSLOG_SOCKET: syslog.path } },
      );
      assert.match(start.stderr, /in the background as pid \d+/, start.stderr);
      assert.doesNotMatch(start.stderr, CONFLICT, `said before the start returned: not the late case`);
      const said = () =>
        where === "--logfile"
          ? Deno.readTextFileSync(`${tmp}/slirp.log`).split("\n").find((l) => CONFLICT.test(l))
          : syslog.lines().find((l) => CONFLICT.test(l));
      const line = await waitFor(said, {
        timeoutMs: SAY_WITHIN_MS,
        what: `the gateway-taken line in ${where}`,
      });
      // A warning: syslog's severity 4 (facility daemon, 3 << 3) where it goes there.
      if (where === "syslog") assert.match(line, /^<28>/, line);
      const pid = Number(Deno.readTextFileSync(pidfile).trim());
      Deno.kill(pid, "SIGTERM");
      await waitFor(() => !processAlive(pid) || undefined, {
        timeoutMs: 10_000,
        what: `the ${where} slirp's end`,
      });
    }
  });
});
