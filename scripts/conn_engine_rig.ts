/**
 * The slirp's own share of a connection through a forward, without I/O:
 * JavaScript time and heap allocated per connection, for the engine-side
 * work of issue 13 (`scripts/conn_rig.ts` measures the whole chain).
 *
 * Theory of operation: a stack of the default configuration with one TCP
 * forward, host sockets in memory (the listener hands clients over as the
 * libc listener's poller round does; streams answer at once) and a fake
 * clock. Each connection is what `connload` makes through the real chain:
 * the client's SYN goes to the guest, which answers SYN-ACK, then sends one
 * byte with PSH and its FIN; the host client closes; our FIN gets the
 * guest's last ACK. The guest's frames are four templates built once and
 * patched per connection (port, acknowledgement, timestamp, checksum), so
 * the rig allocates nothing of its own in the timed part; its patching is
 * timed alone too (`rig` below) and is not subtracted from the figures.
 * Time is the wall clock's and the process's CPU (user and system, V8's
 * helper threads included: on a busy machine the CPU time is the steadier).
 * Heap per connection is V8's used heap before and after a batch, with a
 * young generation large enough that no collection runs inside it (a batch
 * where the heap shrank is reported as collected and not counted).
 *
 *   deno run -A --v8-flags=--no-maglev,--min-semi-space-size=128,--max-semi-space-size=128 scripts/conn_engine_rig.ts [CONNS] [ROUNDS]
 *
 * prints the medians (and ranges) of µs and heap bytes per connection over
 * the rounds. RIG_ALLOC=1 first prints where one round's allocations come
 * from (V8's sampling heap profiler through node:inspector, every 64th
 * byte, objects a collection freed included): bytes a connection by the
 * allocating function, its caller and line.
 */
import { defaultConfig } from "../src/slirp/config.ts";
import { forwardTwin, MemoryListener, MemoryStream } from "../src/slirp/warmup.ts";
import { writeIpv4Header } from "../src/wire/ipv4.ts";
import { buildTcpSegment, setTcpChecksum, TCP_ACK, TCP_FIN, TCP_PSH, TCP_SYN } from "../src/wire/tcp.ts";
import { median } from "./rig_args.ts";
import { Session } from "node:inspector";
import process from "node:process";

const conns = Number(Deno.args[0] ?? 5000);
const rounds = Number(Deno.args[1] ?? 9);
if (!(conns > 0) || !(rounds > 0)) {
  console.error("usage: conn_engine_rig.ts [CONNS] [ROUNDS]");
  Deno.exit(2);
}

const GUEST = new Uint8Array([10, 0, 2, 15]);
const GATEWAY = new Uint8Array([10, 0, 2, 2]);
const GUEST_PORT = 80;
const GUEST_ISS = 0xc000_0000;
const GUEST_TS = 0xc000_0000;

const listener = new MemoryListener();
let clock = 1000;
const { stack, sent } = forwardTwin(defaultConfig().mtu, () => clock, listener);

/** A guest frame template: Ethernet, IPv4, the segment; `seg` views the segment. */
interface Template {
  frame: Uint8Array;
  seg: Uint8Array;
}
function template(seq: number, flags: number, more: Record<string, unknown>, data?: Uint8Array): Template {
  const seg = buildTcpSegment(
    { srcPort: GUEST_PORT, dstPort: 1, seq, ack: 0, flags, window: 64240, ...more },
    data,
    GUEST,
    GATEWAY,
  );
  const frame = new Uint8Array(34 + seg.length);
  frame.set(stack.mac, 0);
  frame.set([0x02, 0, 0, 0, 0, 0x15], 6);
  frame[12] = 0x08;
  writeIpv4Header(frame, 14, {
    totalLength: 20 + seg.length,
    protocol: 6,
    src: 0x0a00020f,
    dst: 0x0a000202,
    id: 1,
  });
  frame.set(seg, 34);
  return { frame, seg: frame.subarray(34) };
}
const synAck = template(GUEST_ISS, TCP_SYN | TCP_ACK, {
  mss: 1460,
  wscale: 7,
  sackPermitted: true,
  tsVal: GUEST_TS,
  tsEcr: 0,
});
const data = template(
  GUEST_ISS + 1,
  TCP_ACK | TCP_PSH,
  { tsVal: GUEST_TS, tsEcr: 0 },
  new Uint8Array([0x78]),
);
const fin = template(GUEST_ISS + 2, TCP_ACK | TCP_FIN, { tsVal: GUEST_TS, tsEcr: 0 });
const lastAck = template(GUEST_ISS + 3, TCP_ACK, { tsVal: GUEST_TS, tsEcr: 0 });

/** Offset of the timestamp value in a template's options (after the NOPs and kind/length), -1 when none. */
function tsOffset(seg: Uint8Array): number {
  const hlen = (seg[12]! >> 4) * 4;
  for (let i = 20; i < hlen;) {
    const kind = seg[i]!;
    if (kind === 1) i++;
    else if (kind === 8) return i + 2;
    else i += seg[i + 1]!;
  }
  return -1;
}
const tsAt = [synAck, data, fin, lastAck].map((t) => tsOffset(t.seg));

function put32(b: Uint8Array, off: number, v: number): void {
  b[off] = v >>> 24;
  b[off + 1] = v >>> 16;
  b[off + 2] = v >>> 8;
  b[off + 3] = v;
}

/** Patches a template for connection `port` and sends it when `send`. */
function guest(t: Template, tsOff: number, port: number, ack: number, ts: number, send: boolean): void {
  const seg = t.seg;
  seg[2] = port >>> 8;
  seg[3] = port;
  put32(seg, 8, ack);
  if (tsOff >= 0) put32(seg, tsOff, ts);
  setTcpChecksum(GUEST, GATEWAY, seg);
  if (send) stack.input(t.frame);
}

// The guest's MAC is learnt from its first frame (a lone ACK for nothing: answered with a RST).
guest(lastAck, tsAt[3]!, 1, 0, 0, true);

let played = 0;
let real = 0;
const streams: MemoryStream[] = [];
/** Plays `n` connections; `send` false runs the rig's own work alone. Returns ms. */
function play(n: number, send: boolean): number {
  while (streams.length < n) streams.push(new MemoryStream());
  for (let i = 0; i < n; i++) {
    streams[i]!.reset();
  }
  const t0 = performance.now();
  for (let i = 0; i < n; i++, played++) {
    const port = 10000 + (played % 50000);
    const conn = streams[i]!;
    const ts = (GUEST_TS + played) >>> 0;
    sent.fin = -1;
    if (send) listener.connect(conn, port);
    stack.flush();
    const ack = (sent.syn + 1) >>> 0;
    clock += 0.05;
    guest(synAck, tsAt[0]!, port, ack, ts, send);
    stack.flush();
    clock += 0.05;
    // The byte and the FIN in one round, as they mostly come (README: a lone data ACK in 5-11%).
    guest(data, tsAt[1]!, port, ack, ts, send);
    guest(fin, tsAt[2]!, port, ack, ts, send);
    stack.flush();
    clock += 0.05;
    if (send) conn.end();
    stack.flush();
    if (send && sent.fin < 0) throw new Error(`connection ${played}: no FIN from the slirp`);
    guest(lastAck, tsAt[3]!, port, (sent.fin + 1) >>> 0, ts, send);
    stack.flush();
    clock += 0.05;
    if ((i & 255) === 0) stack.poll();
  }
  const ms = performance.now() - t0;
  if (send) real += n;
  return ms;
}

play(20_000, true); // warm up the JIT
if (Deno.env.get("RIG_ALLOC")) await allocationSites(conns);
const us: number[] = [];
const cpuUs: number[] = [];
const bytes: number[] = [];
let collected = 0;
const rigUs: number[] = [];
for (let r = 0; r < rounds; r++) {
  const before = Deno.memoryUsage().heapUsed;
  const cpu = process.cpuUsage();
  const ms = play(conns, true);
  const used = process.cpuUsage(cpu);
  const after = Deno.memoryUsage().heapUsed;
  us.push((ms * 1000) / conns);
  cpuUs.push((used.user + used.system) / conns);
  if (after < before) collected++;
  else bytes.push((after - before) / conns);
  rigUs.push((play(conns, false) * 1000) / conns);
}
const s = stack.tcp.stats as unknown as Record<string, number>;
console.log(
  `${rounds} rounds of ${conns} connections: ${median(us).toFixed(2)} µs a connection ` +
    `(${Math.min(...us).toFixed(2)}-${Math.max(...us).toFixed(2)}), CPU ${median(cpuUs).toFixed(2)} µs ` +
    `(${Math.min(...cpuUs).toFixed(2)}-${Math.max(...cpuUs).toFixed(2)}), ` +
    `${bytes.length ? median(bytes).toFixed(0) : "?"} heap bytes a connection ` +
    `(${bytes.length ? `${Math.min(...bytes).toFixed(0)}-${Math.max(...bytes).toFixed(0)}` : "-"}` +
    `${collected ? `, ${collected} rounds collected` : ""}), the rig's own part ${
      median(rigUs).toFixed(2)
    } µs; ` +
    `${(sent.frames / real).toFixed(2)} frames out a connection, ${s.connections} flows left`,
);
stack.close();

interface SamplingNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: SamplingNode[];
}

/** Bytes a connection by allocating site over one round of `n` connections (see the header). */
async function allocationSites(n: number): Promise<void> {
  const session = new Session();
  session.connect();
  const post = <T>(method: string, params: Record<string, unknown> = {}) =>
    new Promise<T>((resolve, reject) =>
      session.post(method, params, (err, res) => err ? reject(err) : resolve(res as T))
    );
  await post("HeapProfiler.enable");
  await post("HeapProfiler.startSampling", {
    samplingInterval: 64,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  });
  play(n, true);
  const { profile } = await post<{ profile: { head: SamplingNode } }>("HeapProfiler.stopSampling");
  session.disconnect();
  const sites = new Map<string, number>();
  const name = (f: SamplingNode["callFrame"]) =>
    `${f.functionName || "(anonymous)"} ${f.url.replace(/.*\/src\//, "")}:${f.lineNumber + 1}`;
  const walk = (node: SamplingNode, caller: string) => {
    const here = name(node.callFrame);
    if (node.selfSize > 0) {
      const key = `${here} <- ${caller}`;
      sites.set(key, (sites.get(key) ?? 0) + node.selfSize);
    }
    for (const c of node.children) walk(c, here);
  };
  walk(profile.head, "");
  const total = [...sites.values()].reduce((a, b) => a + b, 0);
  console.log(`sampled ${(total / n).toFixed(0)} bytes a connection; by site:`);
  for (const [site, b] of [...sites].sort((a, b) => b[1] - a[1]).slice(0, 30)) {
    console.log(`  ${(b / n).toFixed(0).padStart(6)}  ${site}`);
  }
}
