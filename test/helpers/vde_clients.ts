/**
 * VDE clients for tests of switches: a raw client that speaks the control
 * handshake by hand (so a test can send malformed requests and stray
 * datagrams), stdio clients such as Debian's `vde_plug DIR` that carry
 * 2-byte-length framed frames on stdin/stdout (spec 2), test frames with
 * real MAC addresses, and listings of a switch's socket directory.
 *
 * Every wait here is bounded: a switch that never answers turns into a
 * rejected promise, never a hung test.
 */
import { isErrno, UnixDgramSocket } from "../../src/io/unix_dgram.ts";
import { C, errno } from "../../ffi/libc.ts";
import { buildSockaddrUn, parseSockaddrUn, SOCKADDR_UN_LEN } from "../../src/wire/sockaddr_un.ts";
import { StreamDecoder, StreamEncoder } from "../../src/wire/stream_framing.ts";
import {
  buildVdeRequest,
  buildVdeRequestV1,
  REQ_NEW_CONTROL,
  REQ_NEW_PORT0,
} from "../../src/wire/vde_request.ts";
import type { MgmtClient } from "../../src/console/client.ts";
import { waitFor } from "./processes.ts";
import {
  listens,
  startSwitchOf,
  type SwitchHandle,
  type SwitchKind,
  type SwitchOptions,
  VDE_CLI,
} from "./switches.ts";

/**
 * A command prefix under which no running lab is seen: as root, a mount namespace of its own whose /run
 * (root's labs, /run/vde) is an empty tmpfs; as a user, XDG_RUNTIME_DIR `empty` (where the user's labs are).
 * For the words of a command that names running labs' switches when it finds no switch, on a machine
 * where others' labs run.
 */
export function noLabsSeen(empty: string): string[] {
  if (Deno.uid() === 0) {
    return ["unshare", "--mount", "sh", "-c", 'mount -t tmpfs -o mode=755 vde-test /run && exec "$@"', "sh"];
  }
  return ["env", `XDG_RUNTIME_DIR=${empty}`];
}

// ---------------------------------------------------------------------------
// Time bounds

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Resolves with `p`, or rejects after `ms` with a message naming `what`. */
export async function within<T>(what: string, ms: number, p: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Resolves once a switch's data-plane thread has started and warmed up (`Switch.warmed`), with
 * how long warming took. Bounded at 60 s: the first worker of a test process type-checks its
 * module graph first, which takes seconds on a loaded machine and is what a short wait for a
 * first frame timed out on.
 */
export function threadWarmed(sw: { warmed: Promise<number | null> }): Promise<number | null> {
  return within("the switch thread to start and warm up", 60_000, sw.warmed);
}

/** Polls `cond` every 10 ms until it holds; throws after `ms`. */
export async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(10);
  }
}

// ---------------------------------------------------------------------------
// Test frames

/** Broadcast MAC. */
export const BROADCAST = new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);

/** A locally administered unicast MAC 02:00:00:00:hh:ll for host number `n`. */
export function mac(n: number): Uint8Array {
  return new Uint8Array([0x02, 0, 0, 0, (n >> 8) & 0xff, n & 0xff]);
}

/** EtherType of test frames (IEEE "local experimental"). */
const TEST_ETHERTYPE = 0x88b5;

/**
 * An Ethernet frame from `src` to `dst` carrying `tag` (a u32 right after
 * the header) and a byte pattern derived from it, `length` bytes long.
 */
export function ethFrame(dst: Uint8Array, src: Uint8Array, tag: number, length = 64): Uint8Array {
  if (length < 18) throw new Error(`a test frame needs 18 bytes, asked for ${length}`);
  const f = new Uint8Array(length);
  f.set(dst, 0);
  f.set(src, 6);
  f[12] = TEST_ETHERTYPE >> 8;
  f[13] = TEST_ETHERTYPE & 0xff;
  new DataView(f.buffer).setUint32(14, tag);
  for (let i = 18; i < length; i++) f[i] = (i * 7 + tag) & 0xff;
  return f;
}

/** The tag of a test frame, or -1 for any other frame. */
export function tagOf(frame: Uint8Array): number {
  if (frame.length < 18 || frame[12] !== TEST_ETHERTYPE >> 8 || frame[13] !== (TEST_ETHERTYPE & 0xff)) {
    return -1;
  }
  return new DataView(frame.buffer, frame.byteOffset, frame.byteLength).getUint32(14);
}

/** Whether two frames are byte for byte equal. */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

// ---------------------------------------------------------------------------
// Socket directories

/** Names of a switch's per-port sockets: `NNN.F`. */
export const PORT_FILE = /^\d{3,}\.\d+$/;

/** Sorted entry names of `dir`; [] if it does not exist. */
export async function listDir(dir: string): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) names.push(e.name);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  return names.sort();
}

/** The `NNN.F` port socket names in `dir`. */
export async function portFiles(dir: string): Promise<string[]> {
  return (await listDir(dir)).filter((n) => PORT_FILE.test(n));
}

/** Waits until `dir` holds exactly `n` port sockets; returns their names. */
export async function waitForPortFiles(dir: string, n: number, ms = 5000): Promise<string[]> {
  let last: string[] = [];
  try {
    await until(`${n} port sockets in ${dir}`, async () => (last = await portFiles(dir)).length === n, ms);
  } catch (err) {
    throw new Error(`${(err as Error).message} (found: ${last.join(" ") || "none"})`);
  }
  return last;
}

/** Whether `path` exists (without following a symlink). */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Waits until `dir/ctl` of OUR switch accepts connections (do not use it on
 * Debian's vde_switch: a probe that connects and closes makes it lose track
 * of the next client's endpoint, spec 9.9). A ctl file alone is not enough:
 * it exists between the switch's bind() and listen(), and a stale one is
 * left by a killed switch; both refuse connections.
 */
export function waitUntilAccepting(dir: string, ms = 10_000): Promise<void> {
  return waitUntilSocketAccepts(`${dir}/ctl`, ms);
}

/**
 * Waits until a unix stream socket accepts a connection. Its file existing is not enough: a
 * server binds (the file appears) before it listens, and a connect in between is refused.
 */
export async function waitUntilSocketAccepts(path: string, ms = 10_000): Promise<void> {
  let last = "";
  try {
    await until(`${path} to accept connections`, async () => {
      try {
        const c = await Deno.connect({ transport: "unix", path });
        c.close();
        return true;
      } catch (err) {
        last = (err as Error).message;
        return false;
      }
    }, ms);
  } catch (err) {
    throw new Error(`${(err as Error).message} (last error: ${last})`);
  }
}

/** Waits until every client socket (`.name`) in `dir` is gone: all handshakes are done. */
export async function waitForNoClientFiles(dir: string, ms = 5000): Promise<void> {
  await until(`client sockets in ${dir} to be unlinked`, async () => {
    return (await listDir(dir)).every((n) => !n.startsWith("."));
  }, ms);
}

// ---------------------------------------------------------------------------
// Raw client

/** What came back on the ctl stream after a request. */
export type ReplyOutcome =
  | { type: "reply"; path: string; ms: number }
  | { type: "eof"; bytes: number; ms: number }
  | { type: "timeout"; bytes: number };

let rawSequence = 0;

/** Options of a raw client. */
export interface RawClientOptions {
  /** Where to bind the data socket; default: the switch directory, as vdeplug4 does. */
  bindDir?: string;
}

/**
 * A VDE client built by hand: a stream connection to `DIR/ctl` and a bound,
 * non-blocking datagram socket. A background task reads the ctl stream so
 * the reply, the switch closing it, and when, are all observable.
 */
export class RawClient {
  readonly dir: string;
  readonly ctl: Deno.UnixConn;
  readonly data: UnixDgramSocket;
  /** Path the data socket is bound to. */
  readonly dataPath: string;
  /** Frames received on the data socket (copies), drained by `poll()`. */
  readonly frames: Uint8Array[] = [];
  /** The switch's socket for our port, once the handshake succeeded. */
  portPath: string | null = null;
  #received = new Uint8Array(0);
  #eofAt: number | null = null;
  #sentAt = 0;
  #reader: Promise<void>;
  #closed = false;

  private constructor(dir: string, ctl: Deno.UnixConn, data: UnixDgramSocket, dataPath: string) {
    this.dir = dir;
    this.ctl = ctl;
    this.data = data;
    this.dataPath = dataPath;
    this.#reader = this.#readCtl();
  }

  /** Connects to `dir/ctl` and binds a data socket; sends nothing yet. */
  static async connect(dir: string, opts: RawClientOptions = {}): Promise<RawClient> {
    const data = UnixDgramSocket.create();
    const base = opts.bindDir ?? dir;
    let path = "";
    for (;;) {
      path = `${base}/.t${Deno.pid}-${(rawSequence++).toString().padStart(5, "0")}`;
      try {
        data.bind(path);
        break;
      } catch (err) {
        if (!isErrno(err, C.EADDRINUSE)) {
          data.close(false);
          throw err;
        }
      }
    }
    let ctl: Deno.UnixConn;
    try {
      ctl = await within(
        `connect to ${dir}/ctl`,
        5000,
        Deno.connect({ transport: "unix", path: `${dir}/ctl` }),
      );
    } catch (err) {
      data.close(true);
      throw err;
    }
    return new RawClient(dir, ctl, data, path);
  }

  /** Connects and completes a v3 handshake; `port` undefined = auto, 0 = port 0. */
  static async open(dir: string, port?: number, opts: RawClientOptions = {}): Promise<RawClient> {
    const c = await RawClient.connect(dir, opts);
    try {
      await c.handshake(port);
      return c;
    } catch (err) {
      await c.close();
      throw err;
    }
  }

  async #readCtl(): Promise<void> {
    const buf = new Uint8Array(4096);
    try {
      for (;;) {
        const n = await this.ctl.read(buf);
        if (n === null) break;
        const next = new Uint8Array(this.#received.length + n);
        next.set(this.#received);
        next.set(buf.subarray(0, n), this.#received.length);
        this.#received = next;
      }
    } catch { /* reset by the switch, or closed by us */ }
    this.#eofAt = Date.now();
  }

  /** Bytes the switch has sent on the ctl stream so far. */
  get received(): Uint8Array {
    return this.#received;
  }

  /** Whether the switch has closed (or reset) the ctl stream. */
  get ctlClosed(): boolean {
    return this.#eofAt !== null;
  }

  /** Writes raw bytes on the ctl stream (a request, or garbage) in one write. */
  async sendRaw(bytes: Uint8Array): Promise<void> {
    this.#sentAt = Date.now();
    let off = 0;
    while (off < bytes.length) off += await this.ctl.write(bytes.subarray(off));
  }

  /** Sends a well-formed v3 request naming our data socket. */
  sendRequest(port?: number, description = "raw test client"): Promise<void> {
    const kind = port === 0 ? REQ_NEW_PORT0 : REQ_NEW_CONTROL;
    return this.sendRaw(buildVdeRequest({ kind, port: port ?? 0, socketPath: this.dataPath, description }));
  }

  /** Sends a legacy v1 request naming our data socket. */
  sendRequestV1(description = "raw v1 client"): Promise<void> {
    return this.sendRaw(buildVdeRequestV1(REQ_NEW_CONTROL, this.dataPath, description));
  }

  /**
   * Waits for the 110-byte reply, the switch closing the stream, or `ms`.
   * `ms` in the outcome counts from the last `sendRaw`.
   */
  async awaitReply(ms = 5000): Promise<ReplyOutcome> {
    const deadline = Date.now() + ms;
    while (this.#received.length < SOCKADDR_UN_LEN && this.#eofAt === null && Date.now() < deadline) {
      await sleep(5);
    }
    if (this.#received.length >= SOCKADDR_UN_LEN) {
      const addr = parseSockaddrUn(this.#received);
      if (!addr.ok) throw new Error(`bad reply from the switch: ${addr.reason}`);
      return { type: "reply", path: addr.value, ms: Date.now() - this.#sentAt };
    }
    if (this.#eofAt !== null) {
      return { type: "eof", bytes: this.#received.length, ms: this.#eofAt - this.#sentAt };
    }
    return { type: "timeout", bytes: this.#received.length };
  }

  /** Waits up to `ms` for the switch to close the ctl stream; the delay since the last send, or null. */
  async awaitClose(ms: number): Promise<number | null> {
    const deadline = Date.now() + ms;
    while (this.#eofAt === null && Date.now() < deadline) await sleep(5);
    return this.#eofAt === null ? null : this.#eofAt - this.#sentAt;
  }

  /**
   * Sends a request and finishes the handshake as vdeplug4 does: connect the
   * data socket to the switch's, then unlink our own path.
   */
  async handshake(port?: number, description?: string): Promise<string> {
    await this.sendRequest(port, description);
    const r = await this.awaitReply(5000);
    if (r.type !== "reply") {
      throw new Error(
        `handshake with ${this.dir} failed: ${
          r.type === "eof" ? "the switch closed the connection" : "no reply"
        }`,
      );
    }
    this.data.connect(r.path);
    try {
      await Deno.remove(this.dataPath);
    } catch { /* already gone */ }
    this.portPath = r.path;
    return r.path;
  }

  /** Sends one datagram on the data socket; 0 or the errno. */
  send(frame: Uint8Array): number {
    return this.data.send(frame);
  }

  /** Moves datagrams waiting on the data socket into `frames`; returns how many. */
  poll(): number {
    let got = 0;
    const counters = { oversize: 0 };
    for (;;) {
      const n = this.data.recvBatch((f) => {
        this.frames.push(f.slice());
        got++;
      }, counters);
      if (n <= 0) break;
    }
    return got;
  }

  /** Waits up to `ms` for a frame matching `pred`; returns it. */
  async waitFrame(pred: (f: Uint8Array) => boolean, ms = 5000, what = "a frame"): Promise<Uint8Array> {
    const deadline = Date.now() + ms;
    for (;;) {
      this.poll();
      const f = this.frames.find(pred);
      if (f !== undefined) return f;
      if (Date.now() > deadline) {
        throw new Error(`timed out after ${ms} ms waiting for ${what} at ${this.dataPath}`);
      }
      await sleep(5);
    }
  }

  /** Waits for the test frame tagged `tag`. */
  waitTag(tag: number, ms = 5000): Promise<Uint8Array> {
    return this.waitFrame((f) => tagOf(f) === tag, ms, `frame tagged ${tag}`);
  }

  /** Whether a frame tagged `tag` has arrived (after draining the socket). */
  hasTag(tag: number): boolean {
    this.poll();
    return this.frames.some((f) => tagOf(f) === tag);
  }

  /** Closes the ctl stream and the data socket and unlinks our path; idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.ctl.close();
    } catch { /* already closed */ }
    await this.#reader;
    this.data.close(true);
  }
}

// ---------------------------------------------------------------------------
// Stdio clients (vde_plug DIR, vde plug DIR)

/** The command running our CLI (switches.ts's VDE_CLI). */
export function ourCli(): string[] {
  return [...VDE_CLI];
}

/**
 * A child process that carries frames on stdin/stdout with VDE's stream
 * framing: Debian's `vde_plug DIR` or our `vde plug DIR`. stdout is decoded
 * as it arrives; stderr is captured as text.
 */
export class StdioClient {
  readonly name: string;
  readonly child: Deno.ChildProcess;
  readonly frames: Uint8Array[] = [];
  readonly status: Promise<Deno.CommandStatus>;
  #stderr = "";
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #pumps: Promise<void>;
  #exit: Deno.CommandStatus | null = null;
  #decoder = new StreamDecoder((f) => this.frames.push(f.slice()));

  constructor(cmd: string[], name = cmd.join(" ")) {
    this.name = name;
    this.child = new Deno.Command(cmd[0]!, {
      args: cmd.slice(1),
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#writer = this.child.stdin.getWriter();
    this.status = this.child.status.then((s) => (this.#exit = s));
    this.#pumps = Promise.all([this.#pumpOut(), this.#pumpErr()]).then(() => {});
  }

  /** Debian's `vde_plug TARGET` on stdio. */
  static vdePlug(target: string, extra: string[] = []): StdioClient {
    return new StdioClient(["vde_plug", ...extra, target], `vde_plug ${target}`);
  }

  /** Our `vde plug TARGET` on stdio. */
  static ourPlug(target: string): StdioClient {
    return new StdioClient([...ourCli(), "plug", target], `vde plug ${target}`);
  }

  async #pumpOut(): Promise<void> {
    try {
      for await (const chunk of this.child.stdout) this.#decoder.push(chunk);
    } catch { /* the child was killed */ }
  }

  async #pumpErr(): Promise<void> {
    const dec = new TextDecoder();
    try {
      for await (const chunk of this.child.stderr) this.#stderr += dec.decode(chunk, { stream: true });
    } catch { /* the child was killed */ }
  }

  get pid(): number {
    return this.child.pid;
  }

  get stderr(): string {
    return this.#stderr;
  }

  /** Exit status once exited, else null. */
  get exitStatus(): Deno.CommandStatus | null {
    return this.#exit;
  }

  /** Sends frames, each as length header + frame, all in one write (libvdestream drops split headers). */
  async send(...frames: Uint8Array[]): Promise<void> {
    const enc = new StreamEncoder();
    for (const f of frames) {
      if (enc.append(f) !== "ok") throw new Error(`cannot frame a ${f.length}-byte frame`);
    }
    await within(
      `${this.name} to take ${frames.length} frame(s)`,
      5000,
      this.#writer.write(enc.bytes.slice()),
    );
  }

  /** Writes raw bytes to stdin, e.g. a malformed stream. */
  async sendRaw(bytes: Uint8Array): Promise<void> {
    await within(`${this.name} to take ${bytes.length} bytes`, 5000, this.#writer.write(bytes));
  }

  /** Waits up to `ms` for a frame matching `pred`. */
  async waitFrame(pred: (f: Uint8Array) => boolean, ms = 5000, what = "a frame"): Promise<Uint8Array> {
    const deadline = Date.now() + ms;
    for (;;) {
      const f = this.frames.find(pred);
      if (f !== undefined) return f;
      if (this.#exit !== null) {
        throw new Error(
          `${this.name} exited (code ${this.#exit.code}) while waiting for ${what}: ${this.#stderr.trim()}`,
        );
      }
      if (Date.now() > deadline) {
        throw new Error(`timed out after ${ms} ms waiting for ${what} at ${this.name}`);
      }
      await sleep(5);
    }
  }

  /** Waits for the test frame tagged `tag`. */
  waitTag(tag: number, ms = 5000): Promise<Uint8Array> {
    return this.waitFrame((f) => tagOf(f) === tag, ms, `frame tagged ${tag}`);
  }

  hasTag(tag: number): boolean {
    return this.frames.some((f) => tagOf(f) === tag);
  }

  /** Sends `signal` if the child still runs. */
  kill(signal: Deno.Signal = "SIGTERM"): void {
    if (this.#exit !== null) return;
    try {
      this.child.kill(signal);
    } catch { /* raced with its exit */ }
  }

  /** Waits up to `ms` for the child to exit on its own; its status, or null. */
  async waitExit(ms: number): Promise<Deno.CommandStatus | null> {
    return await Promise.race([this.status, sleep(ms).then(() => null)]);
  }

  /**
   * Stops the child: `signal`, then SIGKILL after `ms`; closes stdin and
   * waits (bounded) for its output pipes. Never throws.
   */
  async stop(signal: Deno.Signal = "SIGTERM", ms = 3000): Promise<Deno.CommandStatus> {
    this.kill(signal);
    if ((await this.waitExit(ms)) === null) this.kill("SIGKILL");
    const status = await this.status;
    await this.#writer.close().catch(() => {});
    // A grandchild holding the pipes open must not hang the test: bound the drain.
    const drained = await Promise.race([this.#pumps.then(() => true), sleep(2000).then(() => false)]);
    if (!drained) {
      await this.child.stdout.cancel().catch(() => {});
      await this.child.stderr.cancel().catch(() => {});
    }
    return status;
  }
}

/** Stops every client, ignoring ones already stopped. */
export async function stopAll(clients: Iterable<StdioClient | RawClient>): Promise<void> {
  await Promise.all([...clients].map((c) => c instanceof RawClient ? c.close() : c.stop()));
}

// ---------------------------------------------------------------------------
// A switch with its clients, always cleaned up

/** Clients opened in a test, stopped at its end whatever happens. */
export class ClientSet {
  readonly #all: (StdioClient | RawClient)[] = [];

  /** Tracks `c` for cleanup and returns it. */
  add<T extends StdioClient | RawClient>(c: T): T {
    this.#all.push(c);
    return c;
  }

  /** Debian's `vde_plug TARGET`, tracked. */
  vdePlug(target: string, extra: string[] = []): StdioClient {
    return this.add(StdioClient.vdePlug(target, extra));
  }

  /** Our `vde plug TARGET`, tracked. */
  ourPlug(target: string): StdioClient {
    return this.add(StdioClient.ourPlug(target));
  }

  /** A raw client with a finished handshake, tracked. */
  async raw(dir: string, port?: number): Promise<RawClient> {
    return this.add(await RawClient.open(dir, port));
  }

  /** Stops every tracked client. */
  async stopAll(): Promise<void> {
    await stopAll(this.#all.splice(0));
  }
}

/** A started switch (see switches.ts) in a fresh temporary directory. */
export interface SwitchFixture {
  sw: SwitchHandle;
  /** The switch's socket directory (`<tmp>/sw`, created by the switch). */
  dir: string;
  /** The temporary directory around it, for pid files and stray sockets. */
  tmp: string;
  clients: ClientSet;
}

/**
 * Runs `fn` with a switch of `kind` serving `<tmp>/sw`; stops the clients,
 * the switch and removes the temporary directory afterwards, also on failure.
 */
export async function withSwitch(
  kind: SwitchKind,
  opts: SwitchOptions,
  fn: (f: SwitchFixture) => Promise<void>,
): Promise<void> {
  const tmp = await Deno.makeTempDir({ prefix: "vde-test-" });
  const clients = new ClientSet();
  let sw: SwitchHandle | null = null;
  try {
    sw = await startSwitchOf(kind, `${tmp}/sw`, opts);
    // Not for Debian's switch: a connect-and-close probe triggers its lost
    // endpoint bug (spec 9.9), and the next client's port never goes away.
    if (kind === "ours") await waitUntilAccepting(`${tmp}/sw`);
    await fn({ sw, dir: `${tmp}/sw`, tmp, clients });
  } finally {
    await clients.stopAll();
    await sw?.stop();
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
}

/**
 * Checks that two fresh raw clients on `dir` exchange broadcast frames both
 * ways, then closes them: the switch still serves and forwards.
 */
export async function assertSwitchForwards(dir: string, tagBase: number): Promise<void> {
  const a = await RawClient.open(dir);
  try {
    const b = await RawClient.open(dir);
    try {
      await exchangeBroadcasts(a, b, tagBase);
    } finally {
      await b.close();
    }
  } finally {
    await a.close();
  }
}

/** `a` and `b` each send a broadcast (from MACs tagBase+1/+2) and each receives the other's. */
export async function exchangeBroadcasts(a: RawClient, b: RawClient, tagBase: number): Promise<void> {
  const fa = ethFrame(BROADCAST, mac(tagBase + 1), tagBase + 1);
  const fb = ethFrame(BROADCAST, mac(tagBase + 2), tagBase + 2);
  assertSent(a.send(fa), "a");
  assertSent(b.send(fb), "b");
  const gotB = await b.waitTag(tagBase + 1);
  const gotA = await a.waitTag(tagBase + 2);
  if (!sameBytes(gotB, fa) || !sameBytes(gotA, fb)) {
    throw new Error("a frame changed on its way through the switch");
  }
}

/** Throws unless a datagram send returned 0. */
export function assertSent(errno: number, who: string): void {
  if (errno !== 0) throw new Error(`send from ${who} failed with errno ${errno}`);
}

// ---------------------------------------------------------------------------
// A stranger's datagram

let sendtoLib:
  | Deno.DynamicLibrary<{
    sendto: { parameters: ["i32", "buffer", "usize", "i32", "buffer", "u32"]; result: "i64" };
  }>
  | null = null;

/**
 * `sendto(fd, frame, path)` from `sock`, which need not be connected: what a
 * process that is not the port's client would do. Returns 0 or the errno.
 */
export function sendTo(sock: UnixDgramSocket, frame: Uint8Array, path: string): number {
  sendtoLib ??= Deno.dlopen("libc.so.6", {
    sendto: { parameters: ["i32", "buffer", "usize", "i32", "buffer", "u32"], result: "i64" },
  });
  const addr = buildSockaddrUn(path);
  const n = sendtoLib.symbols.sendto(sock.fd, frame, BigInt(frame.length), C.MSG_DONTWAIT, addr, addr.length);
  return n < 0n ? errno() : 0;
}

/**
 * Runs `fn` with a switch of `kind` that also serves a management socket
 * (`-M`), both in a fresh temporary directory; waits until the socket exists
 * and always stops the switch and removes the directory.
 */
export async function withMgmtSwitch(
  kind: SwitchKind,
  fn: (mgmt: string, dir: string, sw: SwitchHandle) => Promise<void>,
): Promise<void> {
  const tmp = await Deno.makeTempDir({ prefix: "vde-mgmt-" });
  const mgmt = `${tmp}/mgmt`;
  const dir = `${tmp}/sw`;
  const sw = await startSwitchOf(kind, dir, { extraArgs: ["-M", mgmt] });
  try {
    if (kind === "ours") await waitUntilAccepting(dir);
    const deadline = Date.now() + 10_000;
    // Like ctl, the C switch's management socket exists from bind(), before listen().
    while (!(await exists(mgmt)) || !(await listens(mgmt))) {
      if (Date.now() > deadline) throw new Error(`no management socket ${mgmt}`);
      await sleep(20);
    }
    // Ours answers a first session once its main thread is through its start, which a loaded machine
    // stretches past the second Debian's unixcmd waits for a prompt (/etc/vde2/vdecmd's TIMEOUT 1000): a
    // test of what it answers waits for that prompt once first.
    if (kind === "ours") await promptOf(mgmt, deadline);
    await fn(mgmt, dir, sw);
  } finally {
    await sw.stop();
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
}

/** Opens a management session on `mgmt`, reads up to its first prompt (`$ `) and leaves; throws past `deadline`. */
async function promptOf(mgmt: string, deadline: number): Promise<void> {
  const conn = await Deno.connect({ transport: "unix", path: mgmt });
  const timer = setTimeout(() => conn.close(), Math.max(0, deadline - Date.now()));
  try {
    const buf = new Uint8Array(4096);
    let seen = "";
    while (!seen.endsWith("$ ")) {
      const n = await conn.read(buf).catch(() => null);
      if (n === null) throw new Error(`no prompt on the management socket ${mgmt}: ${JSON.stringify(seen)}`);
      seen += new TextDecoder().decode(buf.subarray(0, n));
    }
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch { /* closed by the timer */ }
  }
}

/** The `port/print` lines of a switch once one of them holds `text` (a client's description). */
export function portLinesOnceListed(client: MgmtClient, text: string, timeoutMs = 20_000): Promise<string[]> {
  return waitFor(async () => {
    const r = await client.command("port/print");
    return r.lines?.some((l) => l.includes(text)) ? r.lines : undefined;
  }, { timeoutMs, what: `a port of ${text}` });
}
