/**
 * End to end: two switches in two network namespaces joined by a veth, each
 * with a tap; switch a listens for cables (`vde switch --cable
 * tcp://ADDR:7000/listen --key K`), b's side runs `vde cable connect`. The
 * encrypted cable carries ping and iperf3; a wrong key is refused and
 * logged; a bit flipped in transit (a proxy process) closes the connection
 * and the cable comes back on the same port; killing and restarting the
 * connecting side resumes the same port while a long TCP transfer between
 * the two LANs completes with a matching SHA-256. Root only; in CI it must run.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { canPing, type Lab, type Netns, ping, waitForPing, withNetns } from "../helpers/netns.ts";
import { hasCommand, type ManagedProcess, skipUnless, waitFor } from "../helpers/processes.ts";
import { ourCli } from "../helpers/vde_clients.ts";
import { missing as netnsMissing, vethPair } from "../helpers/netns_pair.ts";

const LAN_A = "10.198.7.1";
const LAN_B = "10.198.7.2";
const HERE = fileURLToPath(new URL(".", import.meta.url));
const PROXY = `${HERE}../cable/_tamper_proxy.ts`;
const TRANSFER = `${HERE}../cable/_transfer.ts`;

async function missing(): Promise<string | null> {
  const n = await netnsMissing(false);
  if (n !== null) return n;
  for (const tool of ["iperf3", "ss"]) if (!(await hasCommand(tool))) return `${tool} is not installed`;
  if (!(await canPing())) return "neither ping nor busybox is installed";
  return null;
}

/** The two switches, the key, and how to start connecting sides. */
interface CableLab {
  a: Netns;
  b: Netns;
  addrA: string;
  swA: ManagedProcess;
  swB: ManagedProcess;
  dirB: string;
  key: string;
  /** Starts `vde cable connect TARGET --sock dirB --key KEY` in b. */
  connect(target: string, key?: string, extra?: string[]): ManagedProcess;
}

async function cableLab(lab: Lab, insecure = false): Promise<CableLab> {
  const p = await vethPair(lab);
  const tmp = await lab.tempDir();
  const key = `${tmp}/cable.key`;
  await Deno.writeTextFile(key, "5a".repeat(32) + "\n", { mode: 0o600 });
  for (const [ns, addr] of [[p.a, LAN_A], [p.b, LAN_B]] as const) {
    await ns.tap("t0");
    await ns.addr("t0", `${addr}/24`);
  }
  const cable = insecure ? `tcp://${p.addrA}:7000/listen/insecure` : `tcp://${p.addrA}:7000/listen`;
  const swA = p.a.spawn(
    [
      ...ourCli(),
      "switch",
      "--sock",
      `${tmp}/a`,
      "--tap",
      "t0",
      "--cable",
      cable,
      ...(insecure ? [] : ["--key", key]),
    ],
    { name: "switch a" },
  );
  const swB = p.b.spawn([...ourCli(), "switch", "--sock", `${tmp}/b`, "--tap", "t0"], { name: "switch b" });
  for (const sw of [swA, swB]) await sw.waitForOutput(/vde switch: serving /, 30_000, "stderr");
  return {
    a: p.a,
    b: p.b,
    addrA: p.addrA,
    swA,
    swB,
    dirB: `${tmp}/b`,
    key,
    connect: (target, k = key, extra = []) =>
      p.b.spawn(
        [
          ...ourCli(),
          "cable",
          "connect",
          target,
          "--sock",
          `${tmp}/b`,
          ...(k === "" ? ["--insecure"] : ["--key", k]),
          ...extra,
        ],
        { name: "vde cable connect" },
      ),
  };
}

async function iperf(client: Netns, server: Netns, to: string): Promise<number> {
  const srv = server.spawn(["iperf3", "-s", "-1", "-B", to, "-p", "5211"], { name: "iperf3 server" });
  await waitFor(async () => {
    if (srv.exitStatus !== null) throw new Error(`iperf3 server exited early:\n${srv.stdout}${srv.stderr}`);
    return (await server.run(["ss", "-Hltn", "sport = :5211"], { check: false })).stdout.trim() !== "";
  }, { timeoutMs: 5000, what: "iperf3 server listening" });
  const r = await client.run(
    ["iperf3", "-c", to, "-p", "5211", "-t", "2", "-J", "--connect-timeout", "3000"],
    {
      check: false,
      timeoutMs: 20_000,
    },
  );
  assert.ok(r.success, `iperf3 failed (exit ${r.code}):\n${r.stdout}${r.stderr}`);
  const report = JSON.parse(r.stdout) as { end?: { sum_received?: { bits_per_second?: number } } };
  return report.end?.sum_received?.bits_per_second ?? 0;
}

function dump(l: CableLab, extra: ManagedProcess[] = []): string {
  return [l.swA, l.swB, ...extra].map((p) => `--- ${p.name} ---\n${p.stderr.trim()}`).join("\n");
}

Deno.test("an encrypted cable between two namespaces carries ping and iperf3; a wrong key is refused and logged", async (t) => {
  if (skipUnless(t, await missing())) return;
  await withNetns(async (lab) => {
    const l = await cableLab(lab);
    const conn = l.connect(`${l.addrA}:7000`);
    try {
      await waitForPing(l.b, LAN_A, 30_000);
      const there = await ping(l.b, LAN_A, 5, 0.1);
      assert.equal(there.received, 5, there.output);
      const back = await ping(l.a, LAN_B, 5, 0.1);
      assert.equal(back.received, 5, back.output);
      const bps = await iperf(l.a, l.b, LAN_B);
      console.log(`  encrypted cable: iperf3 ${(bps / 1e6).toFixed(0)} Mbit/s, ping ${there.avgMs} ms`);
      assert.ok(bps > 0);
      // The connection log: who, which key, which port.
      assert.match(
        l.swA.stderr,
        /vde cable: cable open \S+ remote [\d.]+:\d+ key [0-9a-f]{16} port 2 session [0-9a-f]{16} new session, encrypted/,
      );
      assert.match(
        conn.stderr,
        /vde cable: cable open \S+ remote [\d.]+:7000 key [0-9a-f]{16} port \d+ \(far 2\)/,
      );

      // Another key: refused at the listener, and the client says why; nothing new on switch a.
      const wrongKey = `${l.dirB}.wrong`;
      await Deno.writeTextFile(wrongKey, "c3".repeat(32) + "\n", { mode: 0o600 });
      const bad = l.connect(`${l.addrA}:7000`, wrongKey, ["--session", "intruder"]);
      await bad.waitForOutput(/refused the cable: wrong key/, 15_000, "stderr");
      await l.swA.waitForOutput(
        /cable refused \S+ remote [\d.]+:\d+: wrong key \(client key [0-9a-f]{16}, ours [0-9a-f]{16}\)/,
        10_000,
        "stderr",
      );
      await bad.stop();
      assert.equal((l.swA.stderr.match(/cable open/g) ?? []).length, 1, "only the good cable opened");
      const still = await ping(l.b, LAN_A, 3, 0.1);
      assert.equal(still.received, 3, still.output);
    } catch (err) {
      console.error(dump(l, [conn]));
      throw err;
    }
  });
});

Deno.test("a flipped bit in transit closes the cable's connection; it comes back on the same port", async (t) => {
  if (skipUnless(t, await missing())) return;
  await withNetns(async (lab) => {
    const l = await cableLab(lab);
    const proxy = l.b.spawn([Deno.execPath(), "run", "-A", PROXY, "7001", l.addrA, "7000"], {
      name: "tamper proxy",
    });
    await proxy.waitForOutput(/^ready$/m, 20_000);
    const conn = l.connect("127.0.0.1:7001");
    try {
      await waitForPing(l.b, LAN_A, 30_000);
      // Keep frames flowing, then flip one bit of the next record towards the listener.
      const pinging = ping(l.b, LAN_A, 30, 0.1);
      proxy.kill("SIGUSR2");
      await proxy.waitForOutput(/flipped/, 10_000);
      await l.swA.waitForOutput(
        // The flip lands in a record's tag or body (a failed record) or, rarely, in a header (a bad length).
        /cable close \S+ remote .* port 2 .*: (a record failed authentication: tampered|record length)/,
        10_000,
        "stderr",
      );
      await pinging;
      // The client reconnects through the proxy and resumes its session: port 2 again.
      await l.swA.waitForOutput(
        /cable open \S+ remote .* port 2 session \S+ resumed, encrypted/,
        15_000,
        "stderr",
      );
      await waitForPing(l.b, LAN_A, 15_000);
      assert.equal((l.swA.stderr.match(/new session/g) ?? []).length, 1, "one session throughout");
    } catch (err) {
      console.error(dump(l, [conn, proxy]));
      throw err;
    }
  });
});

Deno.test("killing and restarting the connecting side resumes its port; a long TCP transfer survives", async (t) => {
  if (skipUnless(t, await missing())) return;
  await withNetns(async (lab) => {
    const l = await cableLab(lab);
    let conn = l.connect(`${l.addrA}:7000`);
    const all = [conn];
    try {
      await waitForPing(l.b, LAN_A, 30_000);
      const receiver = l.a.spawn([Deno.execPath(), "run", "-A", TRANSFER, "receive", "9000"], {
        name: "receiver",
      });
      await receiver.waitForOutput(/^listening$/m, 20_000);
      // 24 MiB at 3 MiB/s: about 8 s, long enough to kill and restart the cable in the middle.
      const bytes = 24 * 1024 * 1024;
      const sender = l.b.spawn(
        [Deno.execPath(), "run", "-A", TRANSFER, "send", LAN_A, "9000", String(bytes), "3072"],
        { name: "sender" },
      );
      await new Promise((r) => setTimeout(r, 2500));
      conn.kill("SIGKILL");
      await conn.status;
      await new Promise((r) => setTimeout(r, 1000));
      conn = l.connect(`${l.addrA}:7000`);
      all.push(conn);
      await l.swA.waitForOutput(
        /cable open \S+ remote .* port 2 session \S+ resumed, encrypted/,
        20_000,
        "stderr",
      );
      const sent = await sender.waitForOutput(/^sent (\d+) ([0-9a-f]{64})$/m, 60_000);
      const got = await receiver.waitForOutput(/^received (\d+) ([0-9a-f]{64})$/m, 30_000);
      assert.equal(got[1], String(bytes));
      assert.equal(got[2], sent[2], "SHA-256 of what arrived matches what was sent");
      assert.equal(
        (l.swA.stderr.match(/new session/g) ?? []).length,
        1,
        "the restart resumed, not a new session",
      );
      assert.match(l.swA.stderr, /cable close .* port 2 .*: (peer closed the connection|read failed)/);
    } catch (err) {
      console.error(dump(l, all));
      throw err;
    }
  });
});

Deno.test("an --insecure cable carries ping and says loudly that it is insecure", async (t) => {
  if (skipUnless(t, await missing())) return;
  await withNetns(async (lab) => {
    const l = await cableLab(lab, true);
    const conn = l.connect(`${l.addrA}:7000`, "");
    try {
      await waitForPing(l.b, LAN_A, 30_000);
      assert.match(l.swA.stderr, /WARNING: the cable listening on .* is INSECURE/);
      assert.match(conn.stderr, /WARNING: the cable to .* is INSECURE/);
      assert.match(l.swA.stderr, /cable open .* key none port 2 .*PLAIN \(insecure\)/);
    } catch (err) {
      console.error(dump(l, [conn]));
      throw err;
    }
  });
});
