/**
 * Helpers for tests of framed byte streams between processes: our CLI,
 * Debian's vde_switch and vde_plug, and taps that decode a child's stdout.
 */
import assert from "node:assert/strict";
import { StreamDecoder, StreamEncoder } from "../../src/wire/stream_framing.ts";
import { listens } from "./switches.ts";
import { DENO_RUN } from "../../src/cli/v8_flags.ts";

export { within } from "./vde_clients.ts";

/** The test-only CLI entry point. */
export const CLI_ENTRY = new URL("./cli_entry.ts", import.meta.url).pathname;
/** CLI_ENTRY run as vde is run (its V8 flags, src/cli/v8_flags.ts). */
export const TEST_CLI: readonly string[] = [Deno.execPath(), ...DENO_RUN, "--quiet", CLI_ENTRY];

/** Options for spawning a child in tests. */
export interface SpawnOptions {
  stdin?: "piped" | "null";
  stdout?: "piped" | "null";
  stderr?: "piped" | "null" | "inherit";
}

/** Spawns `program args` with piped stdin and stdout by default. */
export function spawn(program: string, args: string[], options: SpawnOptions = {}): Deno.ChildProcess {
  return new Deno.Command(program, {
    args,
    stdin: options.stdin ?? "piped",
    stdout: options.stdout ?? "piped",
    stderr: options.stderr ?? "inherit",
  }).spawn();
}

/** Spawns our `vde` CLI with `args`. */
export function spawnVde(args: string[], options: SpawnOptions = {}): Deno.ChildProcess {
  return spawn(TEST_CLI[0]!, [...TEST_CLI.slice(1), ...args], options);
}

/** Kills a child if it still runs and waits for it; never throws. */
export async function reap(child: Deno.ChildProcess): Promise<void> {
  try {
    child.kill("SIGKILL");
  } catch {
    // already exited
  }
  await child.status;
}

/** Waits until `cond()` holds, polling; throws after `ms`. */
export async function waitFor(
  what: string,
  cond: () => boolean | Promise<boolean>,
  ms = 10_000,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Frames one or more frames with our encoder. */
export function framed(...frames: Uint8Array[]): Uint8Array {
  const enc = new StreamEncoder();
  for (const f of frames) {
    if (enc.append(f) !== "ok") throw new Error(`cannot frame a ${f.length}-byte frame`);
  }
  return enc.bytes.slice();
}

/** An Ethernet broadcast frame with a local ethertype and `tag` in its payload. */
export function testFrame(tag: number, length = 60): Uint8Array {
  const f = new Uint8Array(length);
  f.fill(0xff, 0, 6);
  f.set([0x02, 0, 0, 0, 0, tag & 0xff], 6);
  f.set([0x88, 0xb5], 12);
  new DataView(f.buffer).setUint32(14, tag);
  for (let i = 18; i < length; i++) f[i] = (i + tag) & 0xff;
  return f;
}

/** The tag `testFrame` put in a frame, or -1 when it is not one of ours. */
export function tagOf(frame: Uint8Array): number {
  if (frame.length < 18 || frame[12] !== 0x88 || frame[13] !== 0xb5) return -1;
  return new DataView(frame.buffer, frame.byteOffset, frame.byteLength).getUint32(14);
}

/**
 * Asserts that `got` holds the frames of `want`, in order, byte for byte.
 * Compares tags first so a failure prints a short list, never a diff of
 * thousands of bytes (node:assert's diff of large byte arrays can take
 * gigabytes).
 */
export function assertSameFrames(got: Uint8Array[], want: Uint8Array[], message = "frames"): void {
  assert.deepEqual(got.map(tagOf), want.map(tagOf), `${message}: tags`);
  for (let i = 0; i < want.length; i++) assertSameBytes(got[i]!, want[i]!, `${message}: frame ${i}`);
}

/** Asserts two byte arrays are equal, naming the first difference instead of diffing them. */
export function assertSameBytes(got: Uint8Array, want: Uint8Array, message = "bytes"): void {
  assert.equal(got.length, want.length, `${message}: length`);
  const at = got.findIndex((b, i) => b !== want[i]);
  assert.equal(at, -1, `${message}: first difference at byte ${at}`);
}

/** Reads a framed byte stream to its end, keeping the raw bytes and the decoded frames. */
export class FrameTap {
  /** Every byte read, in order. */
  raw = new Uint8Array(0);
  /** Copies of the decoded frames. */
  readonly frames: Uint8Array[] = [];
  /** Resolves when the stream ends. */
  readonly done: Promise<void>;
  readonly #decoder = new StreamDecoder((f) => this.frames.push(f.slice()));

  constructor(stream: ReadableStream<Uint8Array>) {
    this.done = this.#run(stream);
  }

  /** Waits until a frame with `tag` arrives and returns it. */
  async waitTag(tag: number, ms = 10_000): Promise<Uint8Array> {
    await waitFor(`frame ${tag}`, () => this.frames.some((f) => tagOf(f) === tag), ms);
    return this.frames.find((f) => tagOf(f) === tag)!;
  }

  async #run(stream: ReadableStream<Uint8Array>): Promise<void> {
    try {
      for await (const chunk of stream) {
        const next = new Uint8Array(this.raw.length + chunk.length);
        next.set(this.raw);
        next.set(chunk, this.raw.length);
        this.raw = next;
        this.#decoder.push(chunk);
      }
    } catch {
      // the child was killed
    }
  }
}

/** Writes bytes to a child's stdin without closing it. */
export async function writeTo(child: Deno.ChildProcess, bytes: Uint8Array): Promise<void> {
  const writer = child.stdin.getWriter();
  try {
    await writer.write(bytes);
  } finally {
    writer.releaseLock();
  }
}

/** A Debian vde_switch on a temporary directory, stopped with `stop()`. */
export class DebianSwitch {
  readonly child: Deno.ChildProcess;

  private constructor(readonly dir: string) {
    // vde_switch exits on EOF of its stdin console: keep stdin open, never write to it.
    this.child = spawn("vde_switch", ["-s", dir], { stdout: "null", stderr: "null" });
  }

  /** Starts a switch on `dir` and waits for its ctl socket. */
  static async start(dir: string): Promise<DebianSwitch> {
    const sw = new DebianSwitch(dir);
    await waitFor(`${dir}/ctl`, async () => {
      try {
        await Deno.lstat(`${dir}/ctl`);
      } catch {
        return false;
      }
      return await listens(`${dir}/ctl`); // the file exists from bind(), before listen()
    });
    return sw;
  }

  /** Stops the switch and waits for it. */
  async stop(): Promise<void> {
    await reap(this.child);
  }
}
