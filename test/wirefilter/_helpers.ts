/**
 * Helpers for process-level wirefilter tests: a filter process fed framed
 * frames on stdin whose stdout is decoded with arrival times (ours or
 * Debian's `wirefilter`, both in their one-way stream mode), a raw client
 * for management sockets that sends one command per write as wirefilter
 * requires, test frames, and a measurement taken again when load spoilt it.
 * Every wait is bounded; `stop()` always reaps.
 */
import { fileURLToPath } from "node:url";
import { StreamDecoder, StreamEncoder } from "../../src/wire/stream_framing.ts";
import { ensureReaper, OWNER_ENV, registerCleanup } from "../helpers/processes.ts";
import { VDE_CLI } from "../helpers/switches.ts";

/** Repository root. */
export const REPO = fileURLToPath(new URL("../../", import.meta.url)).replace(/\/$/, "");

/** Our CLI (switches.ts's VDE_CLI). */
export const VDE = VDE_CLI;

/** A broadcast test frame carrying `tag`, `length` bytes long. */
export function testFrame(tag: number, length = 60): Uint8Array {
  const f = new Uint8Array(length);
  f.fill(0xff, 0, 6);
  f.set([0x02, 0, 0, 0, 0x77, 0x01], 6);
  f[12] = 0x88;
  f[13] = 0xb5;
  new DataView(f.buffer).setUint32(14, tag);
  for (let i = 18; i < length; i++) f[i] = (i * 7 + tag) & 0xff;
  return f;
}

/** The tag of a test frame, -1 for anything else. */
export function tagOf(f: Uint8Array): number {
  if (f.length < 18 || f[12] !== 0x88 || f[13] !== 0xb5) return -1;
  return new DataView(f.buffer, f.byteOffset, f.byteLength).getUint32(14);
}

/** Frames encoded with the 2-byte length prefix. */
export function framed(frames: Uint8Array[]): Uint8Array {
  const enc = new StreamEncoder({ maxBytes: 64 << 20 });
  for (const f of frames) if (enc.append(f) !== "ok") throw new Error(`cannot frame ${f.length} bytes`);
  return enc.bytes.slice();
}

/** How long a filter has to exit after SIGTERM before it is killed. */
const STOP_GRACE_MS = 15_000;

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `cond` until it holds; throws after `ms`. */
export async function until(what: string, cond: () => boolean | Promise<boolean>, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(10);
  }
}

/** A frame as it came out, with its arrival time (ms since the process started). */
export interface Arrival {
  t: number;
  frame: Uint8Array;
}

/**
 * Runs `measure` until `unloaded` holds for its result, at most 3 times, and returns the last. Other
 * work on the machine only delays frames, so a round trip or a rate spoilt by load is taken again
 * rather than believed; a check that load cannot pass (too short, too fast) goes on the result.
 */
export async function measured<T>(
  name: string,
  measure: () => Promise<T>,
  unloaded: (x: T) => boolean,
  show: (x: T) => string,
): Promise<T> {
  let x = await measure();
  for (let tries = 1; tries < 3 && !unloaded(x); tries++) {
    console.log(`  ${name}: ${show(x)} looks loaded; measuring again`);
    x = await measure();
  }
  return x;
}

/**
 * A filter process with piped stdin/stdout/stderr: frames go in framed on
 * stdin, frames coming out of stdout are decoded and time-stamped.
 */
export class FilterProcess {
  readonly child: Deno.ChildProcess;
  readonly out: Arrival[] = [];
  /** stdout as text (the console's replies in the two-VNL mode), the first MiB. */
  stdoutText = "";
  stderr = "";
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #done: Promise<void>;
  readonly #unregister: () => void;
  #exit: Deno.CommandStatus | null = null;
  readonly started = performance.now();

  constructor(readonly cmd: string[], env: Record<string, string> = {}) {
    ensureReaper();
    const child = new Deno.Command(cmd[0]!, {
      args: cmd.slice(1),
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
      env: { ...env, [OWNER_ENV]: String(Deno.pid) },
    }).spawn();
    this.child = child;
    this.#writer = child.stdin.getWriter();
    const decoder = new StreamDecoder(
      (f) => this.out.push({ t: performance.now() - this.started, frame: f.slice() }),
      { maxFrame: 0xffff },
    );
    const text = new TextDecoder();
    this.#done = Promise.all([
      (async () => {
        const text = new TextDecoder();
        for await (const chunk of child.stdout) {
          decoder.push(chunk);
          if (this.stdoutText.length < 1 << 20) this.stdoutText += text.decode(chunk, { stream: true });
        }
      })().catch(() => {}),
      (async () => {
        for await (const chunk of child.stderr) this.stderr += text.decode(chunk, { stream: true });
      })().catch(() => {}),
    ]).then(() => {});
    this.child.status.then((s) => (this.#exit = s));
    this.#unregister = registerCleanup(() => this.stop());
  }

  /** Exit status, or null while running. */
  get exitStatus(): Deno.CommandStatus | null {
    return this.#exit;
  }

  /** Writes bytes to stdin. */
  async writeRaw(bytes: Uint8Array): Promise<void> {
    await this.#writer.write(bytes);
  }

  /** Writes frames to stdin, framed, in one write. */
  async send(frames: Uint8Array[]): Promise<void> {
    await this.writeRaw(framed(frames));
  }

  /** Closes stdin (end of input for the filter). */
  async closeInput(): Promise<void> {
    await this.#writer.close().catch(() => {});
  }

  /** Waits until `n` frames came out. */
  async waitFrames(n: number, ms: number): Promise<void> {
    await until(`${n} frames from ${this.cmd.join(" ")} (got ${this.out.length})\n${this.stderr}`, () => {
      if (this.out.length >= n) return true;
      if (this.#exit !== null) throw new Error(`${this.cmd[0]} exited early: ${this.stderr}`);
      return false;
    }, ms);
  }

  /**
   * Sends one frame through and waits for it (bounded by `ms`), then forgets it: the filter has
   * started and forwards. A Deno filter starting on a loaded machine can take seconds, and frames
   * timed before then would count its start-up as their delay.
   */
  async untilForwarding(ms = 30_000): Promise<void> {
    const before = this.out.length;
    await this.send([testFrame(0xfffe)]);
    await this.waitFrames(before + 1, ms);
    this.out.splice(before);
  }

  /** Waits until stderr matches `re`. */
  async waitStderr(re: RegExp, ms: number): Promise<void> {
    await until(`${re} on stderr of ${this.cmd.join(" ")}\n${this.stderr}`, () => re.test(this.stderr), ms);
  }

  /** Waits for the process to exit by itself (bounded), then for its output. */
  async waitExit(ms: number): Promise<Deno.CommandStatus> {
    await until(`${this.cmd[0]} to exit\n${this.stderr}`, () => this.#exit !== null, ms);
    await this.#done;
    this.#unregister();
    return this.#exit!;
  }

  /**
   * Stops the process with SIGTERM and waits for it; never throws. SIGKILL
   * only after a generous bound: tests read what a graceful exit leaves (the
   * summary line, a removed pid file), and on a loaded machine that exit can
   * take seconds (a hung filter still ends the test, only later).
   */
  async stop(): Promise<void> {
    try {
      this.child.kill("SIGTERM");
    } catch { /* exited */ }
    const exited = await Promise.race([
      this.child.status.then(() => true),
      sleep(STOP_GRACE_MS).then(() => false),
    ]);
    if (!exited) {
      try {
        this.child.kill("SIGKILL");
      } catch { /* exited */ }
    }
    await this.closeInput();
    await this.child.status;
    await this.#done;
    this.#unregister();
  }
}

/**
 * A management-socket client that sends each command in its own write and
 * reads until the prompt comes back, returning the exact bytes, as
 * wirefilter needs (one read is one command there).
 */
export class RawConsole {
  readonly #conn: Deno.Conn;
  readonly #prompt: string;
  readonly #buf = new Uint8Array(65536);
  readonly #text = new TextDecoder();
  #pending = "";
  #reading: Promise<number | null> | null = null;

  private constructor(conn: Deno.Conn, prompt: string) {
    this.#conn = conn;
    this.#prompt = prompt;
  }

  /** Connects, retrying until the socket answers; returns the client and the greeting. */
  static async connect(
    path: string,
    prompt: string,
    ms = 20_000,
  ): Promise<{ client: RawConsole; greeting: string }> {
    let conn: Deno.Conn | undefined;
    await until(`management socket ${path}`, async () => {
      try {
        conn = await Deno.connect({ transport: "unix", path });
        return true;
      } catch {
        return false;
      }
    }, ms);
    const client = new RawConsole(conn!, prompt);
    const greeting = await client.#readUntilPrompt(5000);
    return { client, greeting };
  }

  /** Runs one command; returns everything up to and including the next prompt. */
  async command(line: string, ms = 5000): Promise<string> {
    await this.#conn.write(new TextEncoder().encode(`${line}\n`));
    return await this.#readUntilPrompt(ms);
  }

  async #readUntilPrompt(ms: number): Promise<string> {
    const deadline = Date.now() + ms;
    while (!this.#pending.endsWith(`\n${this.#prompt}`)) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no prompt within ${ms} ms; got ${JSON.stringify(this.#pending)}`);
      let timer: ReturnType<typeof setTimeout> | undefined;
      // One read in flight at a time; it survives a timeout check.
      this.#reading ??= this.#conn.read(this.#buf).catch(() => null);
      const n = await Promise.race([
        this.#reading,
        new Promise<"late">((r) => (timer = setTimeout(() => r("late"), left))),
      ]);
      clearTimeout(timer);
      if (n === "late") continue;
      this.#reading = null;
      if (n === null) throw new Error(`connection closed; got ${JSON.stringify(this.#pending)}`);
      this.#pending += this.#text.decode(this.#buf.subarray(0, n));
    }
    const out = this.#pending;
    this.#pending = "";
    return out;
  }

  close(): void {
    try {
      this.#conn.close();
    } catch { /* closed */ }
  }
}
