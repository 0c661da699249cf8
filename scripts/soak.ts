/**
 * A bounded soak of `vde switch --slirp`: does anything grow while clients
 * come and go? Run as root: `deno run -A scripts/soak.ts [--rounds N] [--per N]`.
 *
 * Theory of operation. One switch of this checkout runs under `--inspect` on a
 * free loopback port, with a slirp (one inbound forward), a listening tcp://
 * cable and its console socket. A guest namespace is plugged in by Debian's
 * `vde_plug tap://` (10.0.2.15, a small TCP server on port 7). Each round churns,
 * with bounded counts: inbound slirp connections through the forward and
 * outbound ones from the guest to a listener here; Debian `vde_plug` clients
 * that send frames from fresh MACs (which age out: `hash/setexpire`) and quit
 * or are killed;
 * our `vde plug` (vde:// and a tcp:// cable to the switch's listener); console
 * clients as unixterm is (raw socket: banner, `port/allprint` or `debug/add
 * port`, close) and `vde term -c`; `--only in,out,plugs,ours,console` picks. After each round, once the slirp's TIME-WAITs and the MACs
 * have expired, it forces a full GC through the inspector and samples the
 * switch's V8 heap, RSS, fd count, Deno's resource table and live timers
 * (setTimeout/setInterval, counted by wrappers installed through the inspector
 * before the first round). Growth per round is the least-squares slope over
 * the second half of the rounds (the first half grows as V8 compiles the code
 * they run, which `--histogram` shows as "code"). A leak shows as a slope that stays
 * positive however many rounds run; the number of rounds bounds the run (the
 * default takes about three minutes).
 */
import { parseArgs } from "node:util";
import { freeLoopbackPort } from "./free_port.ts";
import { DENO_RUN } from "../src/cli/v8_flags.ts";

const REPO = new URL("../", import.meta.url).pathname.replace(/\/$/, "");
const { values: opts } = parseArgs({
  options: {
    rounds: { type: "string", default: "8" },
    per: { type: "string", default: "40" },
    json: { type: "boolean", default: false },
    // Which churns run (comma-separated): in, out, plugs, ours, console.
    only: { type: "string", default: "in,out,plugs,ours,console" },
    // Heap snapshots after rounds 1 and N, and what grew between them (the snapshot itself raises RSS).
    histogram: { type: "boolean", default: false },
  },
});
/** `--NAME`'s whole number (at least `least`), or one line and exit 2: NaN rounds ran none and said nothing. */
function count(name: string, text: string, least: number): number {
  const n = Number(text);
  if (Number.isSafeInteger(n) && n >= least) return n;
  console.error(`soak: --${name} takes a whole number from ${least}, got ${JSON.stringify(text)}`);
  Deno.exit(2);
}
const ROUNDS = count("rounds", opts.rounds, 3);
const PER = count("per", opts.per, 1);
const CHURNS = ["in", "out", "plugs", "ours", "console"];
const ON = new Set(opts.only.split(","));
for (const word of ON) {
  if (!CHURNS.includes(word)) {
    console.error(`soak: --only takes ${CHURNS.join(",")} (comma-separated), got ${JSON.stringify(word)}`);
    Deno.exit(2);
  }
}
const TIME_WAIT_MS = 10_000; // slirp's TIME-WAIT (tcb.ts DEFAULT_TCB_CONFIG.timeWaitMs)
const MAC_EXPIRE_S = 2;

if (Deno.uid() !== 0) {
  console.error("soak: run as root (it plugs a namespace's tap into the switch)");
  Deno.exit(2);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const tmp = await Deno.makeTempDir({ prefix: "vde-soak-" });
const sock = `${tmp}/sw`;
const ns = `vdesoak${Deno.pid}`;
const tap = "sg0";
const children: Deno.ChildProcess[] = [];
const cleanups: (() => Promise<void>)[] = [];
let closeInspector = () => {};

async function sh(cmd: string[], check = true): Promise<string> {
  const out = await new Deno.Command(cmd[0]!, { args: cmd.slice(1), stdout: "piped", stderr: "piped" })
    .output();
  const text = new TextDecoder().decode(out.stdout);
  if (check && !out.success) {
    throw new Error(`${cmd.join(" ")}: ${new TextDecoder().decode(out.stderr).trim()}`);
  }
  return text;
}

/** `cmd` started; its stderr goes to ours when `say` (the switch: why it ended), else nowhere (never piped unread). */
function spawn(cmd: string[], stdin: "piped" | "null" = "null", say = false): Deno.ChildProcess {
  const stderr = say ? "inherit" : "null";
  const c = new Deno.Command(cmd[0]!, { args: cmd.slice(1), stdin, stdout: "null", stderr }).spawn();
  children.push(c);
  return c;
}

async function stop(c: Deno.ChildProcess, signal: Deno.Signal = "SIGTERM"): Promise<void> {
  try {
    c.kill(signal);
  } catch { /* already gone */ }
  await c.status;
  const i = children.indexOf(c);
  if (i >= 0) children.splice(i, 1);
}

/** The V8 inspector of the switch: full GC, heap use, and code run in its realm. */
class Inspector {
  #ws: WebSocket;
  #id = 0;
  #pending = new Map<number, (m: Record<string, unknown>) => void>();
  onEvent: (m: { method: string; params: Record<string, unknown> }) => void = () => {};
  #gone: Error | undefined;
  private constructor(ws: WebSocket) {
    this.#ws = ws;
    ws.onmessage = (e) => {
      const m = JSON.parse(e.data);
      if (typeof m.id === "number") {
        this.#pending.get(m.id)?.(m);
        this.#pending.delete(m.id);
      } else this.onEvent(m);
    };
    // The switch ended (its stderr says why): every call waiting fails, where it waited for good.
    ws.onclose = () => {
      this.#gone = new Error("the switch's inspector closed (did the switch end?)");
      for (const answer of this.#pending.values()) answer({ error: this.#gone });
      this.#pending.clear();
    };
  }
  static async open(port: number): Promise<Inspector> {
    const list = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json();
    const ws = new WebSocket(list[0].webSocketDebuggerUrl);
    await new Promise((r, j) => {
      ws.onopen = r;
      ws.onerror = j;
    });
    return new Inspector(ws);
  }
  call(method: string, params: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    const id = ++this.#id;
    return new Promise((r, j) => {
      if (this.#gone !== undefined) return j(this.#gone);
      this.#pending.set(
        id,
        (m) => m.error instanceof Error ? j(m.error) : r((m.result ?? {}) as Record<string, unknown>),
      );
      this.#ws.send(JSON.stringify({ id, method, params }));
    });
  }
  async eval(expression: string): Promise<unknown> {
    const r = await this.call("Runtime.evaluate", { expression, returnByValue: true, awaitPromise: true });
    return (r.result as { value?: unknown } | undefined)?.value;
  }
  close(): void {
    this.#ws.close();
  }
}

// Live timers: wrappers over the global timer functions, which the switch's
// modules look up at each call, so timers made after this count.
const TIMER_PATCH = `(() => {
  const live = new Set(); const st = globalThis.setTimeout, si = globalThis.setInterval,
    ct = globalThis.clearTimeout, ci = globalThis.clearInterval;
  globalThis.setTimeout = (fn, ms, ...a) => { let id; id = st((...b) => { live.delete(id);
    return typeof fn === "function" ? fn(...b) : undefined; }, ms, ...a); live.add(id); return id; };
  globalThis.setInterval = (...a) => { const id = si(...a); live.add(id); return id; };
  globalThis.clearTimeout = (id) => { live.delete(id); return ct(id); };
  globalThis.clearInterval = (id) => { live.delete(id); return ci(id); };
  globalThis.__soakTimers = live; return true; })()`;

interface Sample {
  heap: number;
  rss: number;
  fds: number;
  resources: number;
  timers: number;
}

async function sample(insp: Inspector, pid: number): Promise<Sample> {
  await insp.call("HeapProfiler.collectGarbage");
  await insp.call("HeapProfiler.collectGarbage");
  const usage = await insp.call("Runtime.getHeapUsage");
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const rss = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024;
  let fds = 0;
  for await (const _ of Deno.readDir(`/proc/${pid}/fd`)) fds++;
  const resources = Number(
    await insp.eval("Object.keys(Deno[Deno.internal].core.resources()).length"),
  );
  const timers = Number(await insp.eval("globalThis.__soakTimers.size"));
  return { heap: Number(usage.usedSize), rss, fds, resources, timers };
}

/** Bytes per class (objects and closures) or per node type (arrays, strings...) in a heap snapshot, for finding what a leak keeps. */
async function histogram(insp: Inspector): Promise<Map<string, number>> {
  const chunks: string[] = [];
  insp.onEvent = (m) => {
    if (m.method === "HeapProfiler.addHeapSnapshotChunk") chunks.push(m.params.chunk as string);
  };
  await insp.call("HeapProfiler.collectGarbage");
  await insp.call("HeapProfiler.takeHeapSnapshot", { reportProgress: false });
  insp.onEvent = () => {};
  const snap = JSON.parse(chunks.join(""));
  const fields: string[] = snap.snapshot.meta.node_fields;
  const types: string[] = snap.snapshot.meta.node_types[0];
  const nodes: number[] = snap.nodes;
  const strings: string[] = snap.strings;
  const width = fields.length, typeAt = fields.indexOf("type"), nameAt = fields.indexOf("name");
  const sizeAt = fields.indexOf("self_size");
  const counts = new Map<string, number>();
  for (let i = 0; i < nodes.length; i += width) {
    const type = types[nodes[i + typeAt]!]!;
    const name = type === "object" || type === "closure" ? strings[nodes[i + nameAt]!] : "";
    const key = `${type}:${name}`;
    counts.set(key, (counts.get(key) ?? 0) + nodes[i + sizeAt]!);
  }
  return counts;
}

// --- the rig -------------------------------------------------------------

const inspectPort = await freeLoopbackPort();
const fwdPort = await freeLoopbackPort();
const cablePort = await freeLoopbackPort();
const vde = [Deno.execPath(), ...DENO_RUN, `${REPO}/src/cli/vde.ts`];
const sw = spawn(
  [
    Deno.execPath(),
    "run",
    "-A",
    `--inspect=127.0.0.1:${inspectPort}`,
    `${REPO}/src/cli/vde.ts`,
    "switch",
    "--sock",
    sock,
    "--slirp",
    `tcpfwd=${fwdPort}:10.0.2.15:7`,
    "--cable",
    `tcp://127.0.0.1:${cablePort}/listen/insecure`,
  ],
  "null",
  true,
);
const swPid = sw.pid;

// Outbound target: a host server the guest reaches as 10.0.2.2.
const outServer = Deno.listen({ hostname: "127.0.0.1", port: 0 });
const outPort = (outServer.addr as Deno.NetAddr).port;
(async () => {
  for await (const c of outServer) {
    (async () => {
      try {
        await c.write(new TextEncoder().encode("hello\n"));
      } catch { /* the guest went */ }
      c.close();
    })();
  }
})();

const mgmt = `${sock}/mgmt`;
async function consoleClient(command: string): Promise<string> {
  const c = await Deno.connect({ transport: "unix", path: mgmt });
  try {
    await c.write(new TextEncoder().encode(`${command}\n`));
    const buf = new Uint8Array(65536);
    let text = "";
    // A reply ends with its result line, "1000 Success" or "1NNN reason", after the prompt
    // when there is no listing.
    while (!/(^|\$ )1\d{3} [^\n]*\n/m.test(text)) {
      const n = await c.read(buf);
      if (n === null) break;
      text += new TextDecoder().decode(buf.subarray(0, n));
    }
    return text;
  } finally {
    c.close();
  }
}

async function main(): Promise<void> {
  for (let i = 0; i < 100; i++) {
    try {
      await Deno.stat(mgmt);
      break;
    } catch {
      await sleep(100);
    }
  }
  const insp = await Inspector.open(inspectPort);
  // Closed before the switch is stopped: with a debugger attached, Deno does not exit at the end of its
  // program but waits, spinning a core, for the debugger to leave ("Waiting for the debugger to disconnect").
  closeInspector = () => insp.close();
  await insp.eval(TIMER_PATCH);
  await consoleClient(`hash/setexpire ${MAC_EXPIRE_S}`);
  await consoleClient("hash/setgcint 1");

  await sh(["ip", "netns", "add", ns]);
  cleanups.push(async () => void await sh(["ip", "netns", "del", ns], false));
  const guestPlug = spawn(["ip", "netns", "exec", ns, "vde_plug", `vde://${sock}`, `tap://${tap}`]);
  for (let i = 0; i < 50; i++) {
    if ((await sh(["ip", "-n", ns, "link", "show", tap], false)) !== "") break;
    await sleep(100);
  }
  for (
    const c of [
      ["link", "set", "lo", "up"],
      ["addr", "add", "10.0.2.15/24", "dev", tap],
      ["link", "set", tap, "up"],
      ["route", "add", "default", "via", "10.0.2.2"],
    ]
  ) await sh(["ip", "-n", ns, ...c]);
  const guestServer = spawn([
    "ip",
    "netns",
    "exec",
    ns,
    "python3",
    "-c",
    "import socket\ns=socket.socket();s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1);s.bind(('0.0.0.0',7));s.listen(64)\n" +
    "while True:\n c,_=s.accept();c.sendall(b'hi\\n');c.close()",
  ]);
  await sleep(1000);

  const inbound = async (n: number) => {
    let ok = 0;
    for (let i = 0; i < n; i++) {
      try {
        const c = await Deno.connect({ hostname: "127.0.0.1", port: fwdPort });
        const buf = new Uint8Array(64);
        while ((await c.read(buf)) !== null) ok++;
        c.close();
      } catch { /* counted as not ok */ }
    }
    return ok;
  };
  const outbound = async (n: number) => {
    const py =
      `import socket\nok=0\nfor i in range(${n}):\n try:\n  s=socket.create_connection(('10.0.2.2',${outPort}),timeout=3);` +
      `ok+=len(s.recv(64))>0;s.close()\n except Exception: pass\nprint(ok)`;
    return Number((await sh(["ip", "netns", "exec", ns, "python3", "-c", py], false)).trim());
  };
  const debianPlugs = async (n: number) => {
    for (let i = 0; i < n; i++) {
      const p = spawn(["vde_plug", `vde://${sock}`], "piped");
      const w = p.stdin.getWriter();
      // Stream framing (2-byte length) of broadcast frames from fresh MACs.
      const frame = new Uint8Array(2 + 60);
      new DataView(frame.buffer).setUint16(0, 60);
      frame.set([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x5a, 0, 0, (i >> 8) & 255, i & 255], 2);
      frame[14] = 0x88, frame[15] = 0xb5;
      try {
        for (let k = 0; k < 4; k++) {
          frame[10] = k;
          await w.write(frame);
        }
        // Half leave as their stdin ends, half are killed with it open.
        if (i % 2 === 0) await w.close();
      } catch { /* it went */ }
      await stop(p, i % 2 === 0 ? "SIGTERM" : "SIGKILL");
      await w.close().catch(() => {});
    }
  };
  const ourPlugs = async () => {
    for (const vnl of [`vde://${sock}`, `tcp://127.0.0.1:${cablePort}/insecure`]) {
      const p = spawn([...vde, "plug", vnl, "null://"]);
      await sleep(1500);
      await stop(p);
    }
  };
  const consoles = async (n: number) => {
    for (let i = 0; i < n; i++) await consoleClient(i % 2 === 0 ? "port/allprint" : "hash/print");
    // Clients that subscribe to the switch's events and hang up without a word.
    for (let i = 0; i < n; i++) await consoleClient("debug/add port");
    await sh([...vde, "term", sock, "-c", "port/print"], false);
  };

  const samples: Sample[] = [];
  const before = await sample(insp, swPid);
  let firstHist: Map<string, number> | undefined;
  const per = PER;
  const log = (s: string) => !opts.json && console.log(s);
  log(`soak: switch pid ${swPid}, ${ROUNDS} rounds of ${per} slirp connections each way`);
  log(`round  in/out ok  heap KiB  rss KiB  fds  resources  timers`);
  const fmt = (r: string, s: Sample, extra = "") =>
    log(
      `${r.padStart(5)}  ${extra.padStart(9)}  ${(s.heap / 1024).toFixed(0).padStart(8)}  ${
        (s.rss / 1024).toFixed(0).padStart(7)
      }  ${String(s.fds).padStart(3)}  ${String(s.resources).padStart(9)}  ${String(s.timers).padStart(6)}`,
    );
  fmt("base", before);
  let during: Sample | undefined;
  for (let r = 0; r < ROUNDS; r++) {
    const on = ON;
    const [inOk, outOk] = await Promise.all([
      on.has("in") ? inbound(per) : 0,
      on.has("out") ? outbound(per) : 0,
      on.has("plugs") ? debianPlugs(8) : 0,
      on.has("ours") ? ourPlugs() : 0,
      on.has("console") ? consoles(6) : 0,
    ]);
    if (r === 0) during = await sample(insp, swPid);
    // The slirp's flows stay through TIME-WAIT; MACs until they expire.
    await sleep((on.has("in") || on.has("out") ? TIME_WAIT_MS : MAC_EXPIRE_S * 1000) + 1500);
    const s = await sample(insp, swPid);
    samples.push(s);
    fmt(String(r + 1), s, `${inOk}/${outOk}`);
    if (r === 0 && opts.histogram) firstHist = await histogram(insp);
  }
  const lastHist = opts.histogram ? await histogram(insp) : new Map<string, number>();
  if (during !== undefined) fmt("during", during);

  // The first rounds grow while V8 compiles the code they run (the snapshot's "code"); a leak keeps
  // growing in the second half.
  const FROM = Math.min(Math.floor(ROUNDS / 2) + 1, ROUNDS - 1);
  const slope = (k: keyof Sample) => {
    const ys = samples.slice(FROM - 1).map((s) => s[k]);
    const n = ys.length, mx = (n - 1) / 2, my = ys.reduce((a, b) => a + b, 0) / n;
    let num = 0, den = 0;
    ys.forEach((y, x) => {
      num += (x - mx) * (y - my);
      den += (x - mx) ** 2;
    });
    return den === 0 ? 0 : num / den;
  };
  const growth = {
    heapBytesPerRound: Math.round(slope("heap")),
    rssBytesPerRound: Math.round(slope("rss")),
    fdsPerRound: slope("fds"),
    resourcesPerRound: slope("resources"),
    timersPerRound: slope("timers"),
  };
  const grew: [string, number][] = [];
  for (const [k, v] of lastHist) {
    const d = v - (firstHist?.get(k) ?? 0);
    if (d >= 256 * (ROUNDS - 1)) grew.push([k, d]);
  }
  grew.sort((a, b) => b[1] - a[1]);
  if (opts.json) {
    console.log(JSON.stringify({ before, during, samples, growth, grew: grew.slice(0, 30) }));
  } else {
    log(`growth per round after warm-up (least squares over rounds ${FROM}..${ROUNDS}):`);
    for (const [k, v] of Object.entries(growth)) log(`  ${k}: ${Number(v.toFixed(2))}`);
    if (opts.histogram) {
      log(`heap bytes that grew from round 1 to ${ROUNDS} (type:class; code: V8 compiling):`);
    }
    for (const [k, d] of grew.slice(0, 30)) log(`  ${k}: +${d}`);
  }
  await stop(guestServer, "SIGKILL");
  await stop(guestPlug);
}

for (const sig of ["SIGINT", "SIGTERM"] as const) {
  Deno.addSignalListener(sig, () => {
    for (const c of children) {
      try {
        c.kill("SIGKILL");
      } catch { /* gone */ }
    }
    new Deno.Command("ip", { args: ["netns", "del", ns], stderr: "null" }).outputSync();
    Deno.removeSync(tmp, { recursive: true });
    Deno.exit(130);
  });
}
try {
  await main();
} finally {
  closeInspector();
  for (const c of [...children].reverse()) await stop(c, "SIGTERM");
  outServer.close();
  for (const c of cleanups.reverse()) await c();
  await Deno.remove(tmp, { recursive: true }).catch(() => {});
}
Deno.exit(0);
