/**
 * End to end with our own tap:// links: host to namespace (the switch's
 * --tap on the host side), namespace to namespace through our switch with
 * our taps (on the plug thread, and with --no-thread), a mixed pair (Debian's vde_plug on one side, ours on the other),
 * and the error cases, each checked for its message and for leaving no
 * interface behind. Root only; in CI it must run.
 */
import assert from "node:assert/strict";
import { type Lab, labMissing, type Netns, ping, waitForPing, withNetns } from "../helpers/netns.ts";
import { hasCommand, run, skipUnless, waitFor } from "../helpers/processes.ts";
import { startOurSwitch, type SwitchHandle, VDE_CLI } from "../helpers/switches.ts";
import { within } from "../helpers/vde_clients.ts";
import { pingArgs, pingTimeoutMs, repliesIn } from "../helpers/ping_replies.ts";

const VDE = VDE_CLI;

function missing(): Promise<string | null> {
  return labMissing(["vde_plug", "iperf3", "ss"]);
}

/**
 * A namespace whose tap t0 (made by the plug itself) is on the switch at
 * `dir`; ours forwards on its plug thread unless `flags` say otherwise.
 */
async function plugged(
  lab: Lab,
  dir: string,
  short: string,
  addr: string,
  ours: boolean,
  flags: string[] = [],
): Promise<Netns> {
  const ns = await lab.namespace(short);
  const cmd = ours
    ? [...VDE, "plug", ...flags, `vde://${dir}`, "tap://t0"]
    : ["vde_plug", `vde://${dir}`, "tap://t0"];
  const plug = ns.spawn(cmd, { name: `${ours ? "vde plug" : "vde_plug"} ${short}` });
  await waitFor(async () => {
    if (plug.exitStatus !== null) throw new Error(`plug exited early: ${plug.stderr}`);
    return (await ns.run(["ip", "link", "show", "t0"], { check: false })).success;
  }, { timeoutMs: 20_000, what: `t0 in ${ns.name}` });
  await ns.addr("t0", `${addr}/24`);
  return ns;
}

async function pingAll(from: Netns | null, to: string, lab: Lab): Promise<void> {
  if (from === null) {
    const r = await run(pingArgs(to, 5), { check: false, timeoutMs: pingTimeoutMs(5) });
    assert.equal(repliesIn(r.stdout, 5).size, 5, `host ping ${to}:\n${r.stdout}${r.stderr}`);
    return;
  }
  const r = await ping(from, to, 5, 0.2);
  assert.equal(r.received, 5, `ping ${from.short} -> ${to}: ${r.received}/5\n${r.output}`);
  assert.equal(r.duplicates, 0, `ping ${from.short} -> ${to}: duplicated replies\n${r.output}`);
  void lab;
}

/** iperf3 for 2 s from `client` to `server` (reverse: server sends); returns bits/s. */
async function iperf(client: Netns, server: Netns, to: string, reverse: boolean): Promise<number> {
  const srv = server.spawn(["iperf3", "-s", "-1", "-B", to, "-p", "5202"], { name: "iperf3 server" });
  await waitFor(async () => {
    if (srv.exitStatus !== null) throw new Error(`iperf3 server exited: ${srv.stderr}`);
    return (await server.run(["ss", "-Hltn", "sport = :5202"], { check: false })).stdout.trim() !== "";
  }, { timeoutMs: 5000, what: "iperf3 server" });
  const args = ["iperf3", "-c", to, "-p", "5202", "-t", "2", "-J", "--connect-timeout", "3000"];
  if (reverse) args.push("-R");
  const r = await client.run(args, { check: false, timeoutMs: 20_000 });
  // The one-shot server may still hold the port when the client is done: the next run must not find it.
  await srv.stop({ timeoutMs: 5000 });
  assert.ok(r.success, `iperf3 failed:\n${r.stdout}${r.stderr}`);
  const report = JSON.parse(r.stdout) as { end?: { sum_received?: { bits_per_second?: number } } };
  return report.end?.sum_received?.bits_per_second ?? 0;
}

const RECEIVER = `
const l = Deno.listen({ hostname: Deno.args[0], port: 5203 });
const c = await l.accept();
const h = new (await import("node:crypto")).createHash("sha256");
let n = 0;
for await (const chunk of c.readable) { h.update(chunk); n += chunk.length; }
console.log(n, h.digest("hex"));
`;

/**
 * The host side's subnet: its address lives in the root namespace, which
 * parallel runs of this file share, so it is this run's own.
 */
const HOST_NET = `10.198.${(Deno.pid % 250) + 1}`;

Deno.test("host and namespace ping both ways and move 20 MB intact over our taps (switch on its main thread)", async (t) => {
  if (skipUnless(t, await missing())) return;
  await hostAndNamespace(["--dataplane", "main"]);
});

Deno.test("on the switch thread (the default) the switch's own tap, read and written there, carries the same", async (t) => {
  if (skipUnless(t, await missing())) return;
  await hostAndNamespace([]);
});

/** The host on the switch's --tap, a namespace on our tap:// plug: pings both ways, 20 MB host to namespace. */
async function hostAndNamespace(extraArgs: string[]): Promise<void> {
  await withNetns(async (lab) => {
    const dir = `${await lab.tempDir()}/sw`;
    const hostTap = lab.rootInterfaceName();
    let sw: SwitchHandle | null = null;
    lab.defer(async () => void (await sw?.stop()));
    sw = await startOurSwitch(dir, { extraArgs: ["--tap", hostTap, ...extraArgs] });
    await run(["ip", "addr", "add", `${HOST_NET}.1/24`, "dev", hostTap]);
    await run(["ip", "link", "set", hostTap, "up"]);
    const ns = await plugged(lab, dir, "a", `${HOST_NET}.2`, true);
    await waitForPing(ns, `${HOST_NET}.1`);
    await pingAll(ns, `${HOST_NET}.1`, lab);
    await pingAll(null, `${HOST_NET}.2`, lab);

    const recv = ns.spawn([Deno.execPath(), "eval", RECEIVER, `${HOST_NET}.2`], { name: "receiver" });
    await waitFor(
      async () => (await ns.run(["ss", "-Hltn", "sport = :5203"], { check: false })).stdout.trim() !== "",
      {
        timeoutMs: 15_000,
        what: "receiver listening",
      },
    );
    const data = new Uint8Array(20 * 1024 * 1024);
    for (let i = 0; i < data.length; i += 65536) crypto.getRandomValues(data.subarray(i, i + 65536));
    const want = Array.from(new Uint8Array(await crypto.subtle.digest("SHA-256", data)))
      .map((b) => b.toString(16).padStart(2, "0")).join("");
    const conn = await Deno.connect({ hostname: `${HOST_NET}.2`, port: 5203 });
    // Bounded: a plug that quits mid-transfer leaves the host's TCP retrying forever.
    const sending = (async () => {
      for (let off = 0; off < data.length;) off += await conn.write(data.subarray(off));
    })();
    sending.catch(() => {});
    try {
      await within("the 20 MB send", 60_000, sending);
    } catch (e) {
      throw new Error(`${(e as Error).message}; the switch said:\n${sw?.stderr()}`);
    } finally {
      conn.close();
    }
    await waitFor(() => Promise.resolve(recv.exitStatus !== null), {
      timeoutMs: 30_000,
      what: "receiver done",
    });
    assert.equal(recv.stdout.trim(), `${data.length} ${want}`);
    assert.equal(sw.process.exitStatus, null, `switch died:\n${sw.stderr()}`);
  });
}

/**
 * Two namespaces on our switch, a plugged by Debian's vde_plug or ours, b by
 * ours; they must ping each other both ways. Returns them for more traffic.
 */
async function pingPair(
  lab: Lab,
  subnet: number,
  aByOurs: boolean,
  flags: string[] = [],
): Promise<[Netns, Netns]> {
  const dir = `${await lab.tempDir()}/sw`;
  let sw: SwitchHandle | null = null;
  lab.defer(async () => void (await sw?.stop()));
  sw = await startOurSwitch(dir);
  const a = await plugged(lab, dir, "a", `10.199.${subnet}.1`, aByOurs, flags);
  const b = await plugged(lab, dir, "b", `10.199.${subnet}.2`, true, flags);
  await waitForPing(a, `10.199.${subnet}.2`);
  await pingAll(a, `10.199.${subnet}.2`, lab);
  await pingAll(b, `10.199.${subnet}.1`, lab);
  return [a, b];
}

Deno.test("two namespaces with our taps ping and run iperf3 both ways through our switch", async (t) => {
  if (skipUnless(t, await missing())) return;
  await withNetns(async (lab) => {
    const [a, b] = await pingPair(lab, 4, true);
    const up = await iperf(a, b, "10.199.4.2", false);
    const down = await iperf(a, b, "10.199.4.2", true);
    console.log(
      `  our taps: iperf3 ${(up / 1e6).toFixed(0)} Mbit/s a->b, ${(down / 1e6).toFixed(0)} Mbit/s b->a`,
    );
    assert.ok(up > 0 && down > 0);
  });
});

Deno.test("two namespaces with our taps forwarded on the main thread (--no-thread) run iperf3 through our switch", async (t) => {
  if (skipUnless(t, await missing())) return;
  await withNetns(async (lab) => {
    const [a, b] = await pingPair(lab, 6, true, ["--no-thread"]);
    const up = await iperf(a, b, "10.199.6.2", false);
    const down = await iperf(a, b, "10.199.6.2", true);
    console.log(
      `  our taps, main thread: iperf3 ${(up / 1e6).toFixed(0)} Mbit/s a->b, ${
        (down / 1e6).toFixed(0)
      } Mbit/s b->a`,
    );
    assert.ok(up > 0 && down > 0);
  });
});

Deno.test("a namespace plugged by Debian's vde_plug talks to one plugged by ours", async (t) => {
  if (skipUnless(t, await missing())) return;
  await withNetns((lab) => pingPair(lab, 5, false));
});

/** Runs `vde plug null:// tap://NAME` (optionally wrapped) and returns its exit code and stderr. */
async function tapError(
  name: string,
  wrap: string[] = [],
  ns?: Netns,
): Promise<{ code: number; stderr: string }> {
  let cmd = [...wrap, ...VDE, "plug", "null://", `tap://${name}`];
  if (ns) cmd = ns.exec(cmd);
  const r = await run(cmd, { check: false, timeoutMs: 20_000 });
  return { code: r.code, stderr: r.stderr.trim() };
}

async function linkExists(ns: Netns, name: string): Promise<boolean> {
  return (await ns.run(["ip", "link", "show", name], { check: false })).success;
}

Deno.test("tap errors are one clear line and leave no interface behind", async (t) => {
  if (skipUnless(t, await missing())) return;
  if (
    skipUnless(
      t,
      (await hasCommand("setpriv")) && (await hasCommand("unshare")) ? null : "util-linux missing",
    )
  ) return;
  await withNetns(async (lab) => {
    const ns = await lab.namespace("e");

    const long = await tapError("a23456789012345x", [], ns);
    assert.equal(long.code, 1);
    assert.match(long.stderr, /at most 15/);
    assert.equal(long.stderr.split("\n").length, 1);

    await ns.run(["ip", "link", "add", "d0", "type", "veth", "peer", "name", "d1"]);
    const notTap = await tapError("d0", [], ns);
    assert.equal(notTap.code, 1);
    assert.match(notTap.stderr, /exists and is not a tap/);
    assert.ok(await linkExists(ns, "d0"), "the dummy interface must be left alone");

    const holder = ns.spawn([...VDE, "plug", "null://", "tap://busy0"], { name: "holder" });
    await waitFor(() => linkExists(ns, "busy0"), { timeoutMs: 20_000, what: "busy0" });
    const busy = await tapError("busy0", [], ns);
    assert.equal(busy.code, 1);
    assert.match(busy.stderr, /busy/);
    await holder.stop();
    await waitFor(async () => !(await linkExists(ns, "busy0")), {
      timeoutMs: 5000,
      what: "busy0 removed on exit",
    });

    const noNetAdmin = ["setpriv", "--bounding-set=-net_admin", "--inh-caps=-net_admin"];
    const noCap = await tapError("nocap0", noNetAdmin, ns);
    assert.equal(noCap.code, 1);
    assert.match(
      noCap.stderr,
      /tap needs CAP_NET_ADMIN: run as root, or create it first with `sudo vde tap create nocap0 --user \$USER`; without root, in a network namespace of your own \(`unshare -rn`; README: Without root\)$/m,
    );
    assert.ok(!(await linkExists(ns, "nocap0")));
    // Another user's persistent tap is said to be theirs, not to need one made (it is there).
    await ns.run(["ip", "tuntap", "add", "owned0", "mode", "tap", "user", "12345"]);
    const owned = await tapError("owned0", noNetAdmin, ns);
    assert.equal(owned.code, 1);
    assert.match(
      owned.stderr,
      /tap owned0 is user 12345's: use a tap of your own \(`sudo vde tap create NAME/,
    );
    assert.ok(await linkExists(ns, "owned0"), "the other user's tap is left alone");

    const noTun = await tapError("notun0", [
      "unshare",
      "-m",
      "sh",
      "-c",
      'mount -t tmpfs none /dev/net && exec "$@"',
      "sh",
    ], ns);
    assert.equal(noTun.code, 1);
    assert.match(noTun.stderr, /\/dev\/net\/tun is missing/);
    assert.ok(!(await linkExists(ns, "notun0")));
  });
});

Deno.test("a persistent tap made by vde tap create stays after a plug closes it, until vde tap delete", async (t) => {
  if (skipUnless(t, await missing())) return;
  await withNetns(async (lab) => {
    const ns = await lab.namespace("p");
    const create = await ns.run([...VDE, "tap", "create", "keep0", "--user", "nobody"], {
      check: false,
      timeoutMs: 20_000,
    });
    assert.ok(create.success, create.stderr);
    const show = await ns.run(["ip", "-d", "link", "show", "keep0"]);
    assert.match(show.stdout, /persist on user nobody/);
    const p = ns.spawn([...VDE, "plug", "null://", "tap://keep0"], { name: "plug keep0" });
    // Give the plug time to attach; it must still be running (it reuses the tap).
    await new Promise((r) => setTimeout(r, 2000));
    assert.equal(p.exitStatus, null, `plug exited: ${p.stderr}`);
    await p.stop();
    assert.ok(await linkExists(ns, "keep0"), "a persistent tap survives its user");
    const del = await ns.run([...VDE, "tap", "delete", "keep0"], { check: false, timeoutMs: 20_000 });
    assert.ok(del.success, del.stderr);
    assert.ok(!(await linkExists(ns, "keep0")));
  });
});
