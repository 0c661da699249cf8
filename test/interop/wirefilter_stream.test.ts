/**
 * `vde wirefilter` as a stream filter (its dpipe mode), as a process:
 * seeded loss over 5,000 frames, MTU drops, reordering only with
 * --nofifo, delay and bandwidth figures side by side with Debian's
 * `wirefilter` run the same way, hostile length prefixes, a live change
 * through --mgmt, the console protocol compared byte for byte with
 * Debian's, and the real dpipe (Debian's and ours) between two C switches.
 */
import assert from "node:assert/strict";
import { hasCommand, skipUnless, waitFor } from "../helpers/processes.ts";
import {
  ClientSet,
  ethFrame,
  mac,
  StdioClient,
  tagOf as clientTag,
  waitForPortFiles,
} from "../helpers/vde_clients.ts";
import { startCSwitch, type SwitchHandle } from "../helpers/switches.ts";
import {
  FilterProcess,
  measured,
  RawConsole,
  sleep,
  tagOf,
  testFrame,
  until,
  VDE,
} from "../wirefilter/_helpers.ts";

const OURS = [...VDE, "wirefilter"];

async function missing(...tools: string[]): Promise<string | null> {
  for (const t of tools) if (!(await hasCommand(t))) return `${t} is not installed`;
  return null;
}

/** Runs a one-way filter over `frames` (written in batches), closes its input and returns what came out. */
async function through(cmd: string[], frames: Uint8Array[], batch = 50): Promise<FilterProcess> {
  const p = new FilterProcess(cmd);
  try {
    for (let i = 0; i < frames.length; i += batch) await p.send(frames.slice(i, i + batch));
    await p.closeInput();
    await p.waitExit(60_000);
    return p;
  } catch (err) {
    await p.stop();
    throw err;
  }
}

Deno.test("vde wirefilter --seed: 20% loss over 5,000 frames lands within bounds, and repeats exactly", async () => {
  const frames = Array.from({ length: 5000 }, (_, i) => testFrame(i));
  const a = await through([...OURS, "--loss", "20", "--seed", "42"], frames);
  const tags = a.out.map((x) => tagOf(x.frame));
  // Binomial(5000, 0.8): mean 4000, sigma 28.3; 4 sigma either way.
  assert.ok(tags.length >= 3887 && tags.length <= 4113, `passed ${tags.length}`);
  assert.deepEqual(tags, [...tags].sort((x, y) => x - y), "loss keeps the order");
  assert.match(a.stderr, /seed 42/);
  assert.match(a.stderr, new RegExp(`L->R 5000 in, ${tags.length} out, ${5000 - tags.length} dropped`));
  const b = await through([...OURS, "-l", "20", "--seed", "42"], frames);
  assert.deepEqual(b.out.map((x) => tagOf(x.frame)), tags, "same seed, same frames lost");
  const c = await through([...OURS, "-l", "20", "--seed", "43"], frames);
  assert.notDeepEqual(c.out.map((x) => tagOf(x.frame)), tags, "another seed, other frames");
});

Deno.test("vde wirefilter delivers the frames still on the wire when its input ends", async () => {
  const frames = Array.from({ length: 200 }, (_, i) => testFrame(i));
  const started = performance.now();
  const p = await through([...OURS, "--delay", "300", "--band", "1M"], frames);
  assert.equal(p.out.length, 200);
  assert.ok(performance.now() - started >= 300);
  assert.equal(p.exitStatus?.code, 0);
  assert.match(p.stderr, /left side ended: peer closed the stream; L->R 200 in, 200 out, 0 dropped/);
});

Deno.test("vde wirefilter drops frames above the MTU exactly as Debian's wirefilter does", async (t) => {
  if (skipUnless(t, await missing("wirefilter"))) return;
  const sizes = [60, 997, 998, 999, 1000, 1500, 300];
  const frames = sizes.map((n, i) => testFrame(i, n));
  const ours = await through([...OURS, "--mtu", "1000"], frames, 1);
  const debian = new FilterProcess(["wirefilter", "-m", "1000"]);
  try {
    for (const f of frames) await debian.send([f]);
    await debian.waitFrames(4, 10_000);
    await sleep(200);
  } finally {
    await debian.stop();
  }
  const lengths = (p: FilterProcess) => p.out.map((x) => x.frame.length);
  assert.deepEqual(lengths(ours), [60, 997, 998, 300], "the 2-byte prefix counts, as in wirefilter");
  assert.deepEqual(lengths(debian), lengths(ours));
  assert.match(ours.stderr, /L->R 7 in, 4 out, 3 dropped/);
});

Deno.test("vde wirefilter reorders frames only with --nofifo", async () => {
  const frames = Array.from({ length: 300 }, (_, i) => testFrame(i));
  const order = async (extra: string[]) => {
    const p = new FilterProcess([...OURS, "--delay", "30+25", "--seed", "5", ...extra]);
    try {
      for (let i = 0; i < frames.length; i += 10) {
        await p.send(frames.slice(i, i + 10));
        await sleep(1);
      }
      await p.waitFrames(300, 20_000);
      return p.out.map((x) => tagOf(x.frame));
    } finally {
      await p.stop();
    }
  };
  const fifo = await order([]);
  assert.deepEqual(fifo, frames.map((_, i) => i), "FIFO: in order");
  const nofifo = await order(["--nofifo"]);
  assert.deepEqual([...nofifo].sort((a, b) => a - b), frames.map((_, i) => i), "nofifo: every frame once");
  assert.notDeepEqual(nofifo, fifo, "nofifo: some overtake others");
});

Deno.test("vde wirefilter delay and bandwidth figures agree with Debian's wirefilter", async (t) => {
  if (skipUnless(t, await missing("wirefilter"))) return;
  /** Median latency of 10 frames sent 40 ms apart through a 100 ms delay. */
  const latency = async (cmd: string[]) => {
    const p = new FilterProcess(cmd);
    try {
      await p.untilForwarding();
      const sent: number[] = [];
      for (let i = 0; i < 10; i++) {
        sent.push(performance.now() - p.started);
        await p.send([testFrame(i)]);
        await sleep(40);
      }
      await p.waitFrames(10, 10_000);
      // The median, so one scheduling hiccup on a busy machine does not decide the comparison.
      const lat = p.out.map((x) => x.t - sent[tagOf(x.frame)]!).sort((x, y) => x - y);
      return (lat[4]! + lat[5]!) / 2;
    } finally {
      await p.stop();
    }
  };
  /**
   * Time from writing 20 frames of 998 bytes at once to the last one out through 100000 bytes/s.
   * Not from the first one out: a late first timer lets the frames due meanwhile leave together,
   * which shortened the first-to-last spread under load (157 ms for 190).
   */
  const spread = async (cmd: string[]) => {
    const p = new FilterProcess(cmd);
    try {
      await p.untilForwarding();
      const sent = performance.now() - p.started;
      await p.send(Array.from({ length: 20 }, (_, i) => testFrame(i, 998)));
      await p.waitFrames(20, 10_000);
      return p.out[19]!.t - sent;
    } finally {
      await p.stop();
    }
  };
  /** `what` through `cmd` (named `who` in the log), taken again while it is `loaded` ms or more. */
  const figure = (what: (cmd: string[]) => Promise<number>, who: string, cmd: string[], loaded: number) =>
    measured(who, () => what(cmd), (x) => x < loaded, (x) => `${x.toFixed(1)} ms`);
  const ours = await figure(latency, "ours -d 100", [...OURS, "-d", "100"], 120);
  const debian = await figure(latency, "Debian -d 100", ["wirefilter", "-d", "100"], 120);
  console.log(`  delay 100 ms: ours ${ours.toFixed(1)} ms, Debian ${debian.toFixed(1)} ms`);
  assert.ok(ours >= 99 && ours < 120, `ours ${ours}`);
  assert.ok(Math.abs(ours - debian) < 15, `ours ${ours} vs Debian ${debian}`);
  const oursBand = await figure(spread, "ours -b 100000", [...OURS, "-b", "100000"], 230);
  const debianBand = await figure(spread, "Debian -b 100000", ["wirefilter", "-b", "100000"], 230);
  console.log(
    `  band 100000 B/s, 20 x 1000 B: ours ${oursBand.toFixed(0)} ms, Debian ${debianBand.toFixed(0)} ms`,
  );
  // 20 frames of 10 ms each; faster would be a shaper letting more than the band through.
  assert.ok(oursBand > 198 && oursBand < 230, `ours ${oursBand}`);
  assert.ok(Math.abs(oursBand - debianBand) < 40, `ours ${oursBand} vs Debian ${debianBand}`);
});

Deno.test("vde wirefilter survives hostile length prefixes: 0 is skipped, above the limit resynchronises", async () => {
  const p = new FilterProcess(OURS);
  try {
    await p.writeRaw(new Uint8Array([0, 0, 0, 0]));
    const one = testFrame(1);
    await p.writeRaw(new Uint8Array([0, 0, 0, one.length, ...one]));
    await p.waitFrames(1, 20_000);
    for (const len of [0xffff, 9237]) {
      const junk = new Uint8Array(2 + 100);
      junk[0] = len >> 8;
      junk[1] = len & 0xff;
      junk.fill(0xab, 2);
      await p.writeRaw(junk);
      await sleep(200);
    }
    await p.send([testFrame(2)]);
    await p.waitFrames(2, 5000);
    await p.send([testFrame(3, 9000)]);
    await p.waitFrames(3, 5000);
    assert.deepEqual(p.out.map((x) => tagOf(x.frame)), [1, 2, 3]);
    assert.equal(p.out[2]!.frame.length, 9000, "a jumbo frame within the limit passes");
    assert.equal(p.exitStatus, null, "still running");
    assert.match(p.stderr, /frame length 65535 above 9236/);
  } finally {
    await p.stop();
  }
});

Deno.test("vde wirefilter --mgmt: a change on the console applies to the very next frame", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-wf-mgmt-" });
  const p = new FilterProcess([...OURS, "--mgmt", `${dir}/m`, "--seed", "1"]);
  let con: RawConsole | undefined;
  try {
    ({ client: con } = await RawConsole.connect(`${dir}/m`, "VDEwf$ "));
    await p.send([testFrame(1)]);
    await p.waitFrames(1, 5000);
    assert.match(await con.command("loss 100"), /^1000 Success\n\nVDEwf\$ $/);
    await p.send([testFrame(2), testFrame(3)]);
    // stdin and the socket are read independently: wait until the filter has seen both frames.
    const seen = con;
    await until(
      "frames 2 and 3 to reach the filter",
      async () => /Frames in +3\n/.test(await seen.command("counters")),
      5000,
    );
    assert.match(await con.command("loss 0"), /1000 Success/);
    await p.send([testFrame(4)]);
    await p.waitFrames(2, 5000);
    assert.deepEqual(p.out.map((x) => tagOf(x.frame)), [1, 4]);
    const counters = await con.command("counters");
    assert.match(counters, /Loss drops +2\n/);
    assert.match(await con.command("delay 300"), /1000 Success/);
    const t0 = performance.now() - p.started;
    await p.send([testFrame(5)]);
    await p.waitFrames(3, 5000);
    assert.ok(p.out[2]!.t - t0 >= 295, `delayed ${p.out[2]!.t - t0} ms`);
    assert.ok((await con.command("showinfo")).includes("WireFilter: monodirectional\nLoss   0+0U\n"));
  } finally {
    con?.close();
    await p.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("vde wirefilter's console answers byte for byte as Debian's wirefilter", async (t) => {
  if (skipUnless(t, await missing("wirefilter"))) return;
  const dir = await Deno.makeTempDir({ prefix: "vde-wf-proto-" });
  const ours = new FilterProcess([...OURS, "--mgmt", `${dir}/ours`, "-l", "10", "-d", "100+50N"]);
  const debian = new FilterProcess(["wirefilter", "-M", `${dir}/debian`, "-l", "10", "-d", "100+50N"]);
  const clients: RawConsole[] = [];
  try {
    const a = await RawConsole.connect(`${dir}/ours`, "VDEwf$ ");
    const b = await RawConsole.connect(`${dir}/debian`, "VDEwf$ ");
    clients.push(a.client, b.client);
    assert.ok(a.greeting.startsWith("\nVDE wirefilter V.2.3.2\n"));
    assert.ok(a.greeting.endsWith("\n\nVDEwf$ "));
    const session = [
      "showinfo",
      "loss LR5",
      "delay RL20+10U",
      "bandwidth 100K",
      "mtu LR1000",
      "capacity 12345",
      "noise 0.5",
      "dup 2+1N",
      "lostburst 3",
      "speed 1.5M",
      "fifo 0",
      "showinfo",
      // Transitions are random and timed: keep them far away so both stay on node 0.
      "markov-time 100000",
      "markov-numnodes 3",
      "markov-name 2,x y",
      "setedge 0,1,30",
      "setedge 0,2,12.5",
      "showedges 0",
      "markov-setnode 0",
      "showcurrent",
      "loss 3[2]",
      "showinfo 2",
      "loss 3[5]",
      "showinfo 9",
      "showedges 7",
      "markov-setnode 9",
      "markov-numnodes 1",
      "showinfo",
      "nonsense",
      "load /nonexistent/file",
      "",
    ];
    for (const cmd of session) {
      const mine = await a.client.command(cmd);
      const theirs = await b.client.command(cmd);
      assert.equal(mine, theirs, `reply to ${JSON.stringify(cmd)}`);
    }
  } finally {
    for (const c of clients) c.close();
    await ours.stop();
    await debian.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

/** Two C switches joined by `cable`, one vde_plug client on each; everything stopped afterwards. */
async function withTwoSwitches(
  cable: (a: string, b: string) => string[],
  fn: (onA: StdioClient, onB: StdioClient) => Promise<void>,
): Promise<void> {
  const tmp = await Deno.makeTempDir({ prefix: "vde-wf-dpipe-" });
  const switches: SwitchHandle[] = [];
  const clients = new ClientSet();
  try {
    switches.push(await startCSwitch(`${tmp}/a`), await startCSwitch(`${tmp}/b`));
    const wire = clients.add(new StdioClient(cable(`${tmp}/a`, `${tmp}/b`), "cable"));
    await waitForPortFiles(`${tmp}/a`, 1, 20_000);
    await waitForPortFiles(`${tmp}/b`, 1, 20_000);
    const onA = clients.vdePlug(`${tmp}/a`);
    const onB = clients.vdePlug(`${tmp}/b`);
    await waitForPortFiles(`${tmp}/a`, 2);
    await waitForPortFiles(`${tmp}/b`, 2);
    // dpipe's C vde_plugs make the port files while our wirefilter between them may still be
    // starting: a frame timed from then carried its start-up (1086 ms for a 50 ms delay, on a
    // loaded machine). It forwards once it says so.
    await waitFor(() => wire.stderr.includes(" filter L="), {
      timeoutMs: 20_000,
      what: `the wirefilter's ready line (stderr: ${wire.stderr.trim()})`,
    });
    try {
      await fn(onA, onB);
    } catch (err) {
      throw new Error(`${(err as Error).message}\ncable stderr: ${wire.stderr.trim()}`);
    }
  } finally {
    await clients.stopAll();
    for (const sw of switches.reverse()) await sw.stop();
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
}

/** Frames cross both ways, each delayed by at least `ms`. */
async function crossDelayed(onA: StdioClient, onB: StdioClient, ms: number): Promise<void> {
  const A = mac(0xa1);
  const B = mac(0xb1);
  let t0 = performance.now();
  await onA.send(ethFrame(mac(0xff), A, 1, 100));
  await onB.waitTag(1, 10_000);
  const ab = performance.now() - t0;
  t0 = performance.now();
  await onB.send(ethFrame(A, B, 2, 1000));
  await onA.waitTag(2, 10_000);
  const ba = performance.now() - t0;
  console.log(`delays: A to B ${ab.toFixed(0)} ms, B to A ${ba.toFixed(0)} ms (filter delay ${ms} ms)`);
  assert.ok(ab >= ms && ba >= ms, `delays ${ab.toFixed(0)} and ${ba.toFixed(0)} ms`);
  assert.ok(ab < ms + 1000 && ba < ms + 1000, `delays ${ab.toFixed(0)} and ${ba.toFixed(0)} ms`);
  assert.equal(clientTag(onA.frames.find((f) => clientTag(f) === 2)!), 2);
}

Deno.test("Debian dpipe vde_plug A = vde wirefilter -d 50 = vde_plug B delays frames both ways", async (t) => {
  if (skipUnless(t, await missing("dpipe", "vde_plug", "vde_switch"))) return;
  await withTwoSwitches(
    (a, b) => ["dpipe", "vde_plug", a, "=", ...OURS, "-d", "50", "=", "vde_plug", b],
    (onA, onB) => crossDelayed(onA, onB, 50),
  );
});

Deno.test("vde dpipe vde_plug A = vde wirefilter -d 50 = vde_plug B delays frames both ways", async (t) => {
  if (skipUnless(t, await missing("vde_plug", "vde_switch"))) return;
  await withTwoSwitches(
    (a, b) => [...VDE, "dpipe", "vde_plug", a, "=", ...OURS, "-d", "50", "=", "vde_plug", b],
    (onA, onB) => crossDelayed(onA, onB, 50),
  );
});

Deno.test("vde wirefilter vde://A vde://B -d 50 delays frames both ways between two C switches", async (t) => {
  if (skipUnless(t, await missing("vde_plug", "vde_switch"))) return;
  await withTwoSwitches(
    (a, b) => [...OURS, `vde://${a}`, `vde://${b}`, "-d", "50"],
    (onA, onB) => crossDelayed(onA, onB, 50),
  );
});

Deno.test("vde wirefilter takes a value with a unit as Debian's wirefilter reads it, and refuses one Debian reads otherwise than written", async (t) => {
  if (skipUnless(t, await missing("wirefilter"))) return;
  const dir = await Deno.makeTempDir({ prefix: "vde-wf-units-" });
  const ours = new FilterProcess([...OURS, "--mgmt", `${dir}/ours`]);
  const debian = new FilterProcess(["wirefilter", "-M", `${dir}/debian`]);
  // command, value, its showinfo row, and whether Debian's reading is what the value says.
  const FORMS: [string, string, string, boolean][] = [
    ["delay", "10ms", "Delay ", true],
    ["delay", "100+20msN", "Delay ", true],
    ["delay", "2K", "Delay ", true],
    ["delay", "1s", "Delay ", false],
    ["delay", "10m", "Delay ", false],
    ["delay", "10ms+5", "Delay ", false],
    ["bandwidth", "10M", "Bandw ", true],
    ["bandwidth", "10m", "Bandw ", true],
    ["bandwidth", "128+64KN", "Bandw ", true],
    ["bandwidth", "10Mbit", "Bandw ", false],
    ["bandwidth", "10MB", "Bandw ", false],
    ["speed", "1G", "Speed ", true],
    ["speed", "100Mbps", "Speed ", false],
    ["loss", "5%", "Loss  ", true],
    ["loss", "5K N", "Loss  ", false],
    ["mtu", "1500B", "MTU   ", false],
  ];
  const clients: RawConsole[] = [];
  try {
    const a = (await RawConsole.connect(`${dir}/ours`, "VDEwf$ ")).client;
    const b = (await RawConsole.connect(`${dir}/debian`, "VDEwf$ ")).client;
    clients.push(a, b);
    const row = async (c: RawConsole, label: string) => {
      const line = (await c.command("showinfo")).split("\n").find((l) => l.startsWith(label));
      assert.ok(line !== undefined, label);
      return line;
    };
    for (const [cmd, value, label, asWritten] of FORMS) {
      await b.command(`${cmd} ${value}`);
      const theirs = await row(b, label);
      const mine = await a.command(`${cmd} ${value}`);
      if (asWritten) {
        assert.match(mine, /^1000 Success$/m, `${cmd} ${value}: ${mine}`);
        assert.equal(await row(a, label), theirs, `${cmd} ${value}`);
        continue;
      }
      // Refused, naming the number Debian's wirefilter made of it.
      const said = mine.match(/wirefilter reads "[^"]*" as ([-\d.e+]+?)(?:\+[-\d.e]+)?, not as written: /)
        ?.[1];
      assert.ok(said !== undefined, `${cmd} ${value}: ${mine}`);
      assert.match(mine, /^1022 Invalid argument$/m);
      const shown = Number(theirs.slice(label.length).trim().match(/^[-\d.]+(?:e[+-]\d+)?/)?.[0]);
      assert.ok(
        Math.abs(Number(said) - shown) <= Math.abs(shown) * 1e-5,
        `${cmd} ${value}: ${said} vs ${theirs}`,
      );
    }
  } finally {
    for (const c of clients) c.close();
    await Promise.all([ours.stop(), debian.stop()]);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Debian dpipe A =} vde wirefilter }= B: the one-way filter there (ALTERNATE_STDIN named, its fd closed) passes frames one way, as Debian's wirefilter does", async (t) => {
  if (skipUnless(t, await missing("dpipe", "wirefilter"))) return;
  const tmp = await Deno.makeTempDir({ prefix: "vde-wf-oneway-" });
  try {
    // Debian's dpipe names fds 3 and 4 to every command, a one-way filter's too, where they are closed.
    for (const [name, filter] of [["debian", ["wirefilter"]], ["ours", OURS]] as const) {
      const out = `${tmp}/${name}`;
      const child = new Deno.Command("dpipe", {
        args: [
          "sh",
          "-c",
          // One 60-byte frame in dpipe's framing (a 2-byte length first), then a wait for it to cross.
          "printf '\\000\\074'; printf %060d 0; sleep 1",
          "=}",
          ...filter,
          "}=",
          "sh",
          "-c",
          `head -c 62 > ${out}`,
        ],
        stdin: "null",
        stdout: "null",
        stderr: "piped",
      }).spawn();
      const { code, stderr } = await child.output();
      const said = new TextDecoder().decode(stderr);
      assert.equal(code, 0, `${name}: ${said}`);
      assert.equal(await Deno.readTextFile(out), `\x00<${"0".repeat(60)}`, `${name}: ${said}`);
    }
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
