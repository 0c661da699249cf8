/**
 * Helpers for console tests: a session that records what it is told, an
 * in-process switch with its console, and a raw management-socket client for
 * byte-exact checks (the links plugged in are test/helpers/memory_link.ts).
 * Every wait is bounded.
 */
import { Switch } from "../../src/switch/switch.ts";
import { ConsoleContext, type ConsoleContextOptions } from "../../src/console/switch/context.ts";
import type { CommandRegistry } from "../../src/console/registry.ts";
import { FakeSession } from "../helpers/fake_session.ts";
import { formatReply } from "../../src/console/reply_format.ts";
import { switchCommands } from "../../src/console/switch/switch_commands.ts";
import { MgmtServer, type MgmtServerOptions } from "../../src/console/mgmt_server.ts";
import { buildBpdu } from "../../src/wire/stp.ts";

/** An in-process switch with its console. */
export interface TestConsole {
  sw: Switch;
  ctx: ConsoleContext;
  commands: CommandRegistry;
  session: FakeSession;
  /** Runs a line in `session` and returns the reply as a socket client would read it (no prompt). */
  run(line: string): Promise<string>;
  close(): void;
}

/** Builds a switch with `numPorts` ports and its console, forwarding on the main thread unless told. */
export function makeConsole(
  numPorts = 32,
  options: ConsoleContextOptions = {},
  dataplane: "main" | "thread" = "main",
): TestConsole {
  const sw = new Switch({ numPorts, dataplane });
  const ctx = new ConsoleContext(sw, options);
  const commands = switchCommands(ctx);
  const session = new FakeSession(commands);
  return {
    sw,
    ctx,
    commands,
    session,
    run: async (line) => {
      const reply = await commands.execute(line, session);
      return reply === null ? "" : formatReply(reply);
    },
    close: () => sw.close(),
  };
}

/** An Ethernet frame from `src` to `dst` (MAC strings) carrying `tag`. */
export function macFrame(dst: string, src: string, tag: number, length = 60): Uint8Array {
  const f = new Uint8Array(length);
  const put = (mac: string, at: number) => mac.split(":").forEach((h, i) => (f[at + i] = parseInt(h, 16)));
  put(dst, 0);
  put(src, 6);
  f.set([0x88, 0xb5], 12);
  new DataView(f.buffer).setUint32(14, tag);
  return f;
}

/** A raw client of a management socket, for byte-exact checks. */
export class RawMgmtClient {
  text = "";
  readonly #conn: Deno.Conn;
  readonly #decoder = new TextDecoder();
  readonly done: Promise<void>;
  #closed = false;

  private constructor(conn: Deno.Conn) {
    this.#conn = conn;
    this.done = this.#pump();
  }

  static async connect(path: string): Promise<RawMgmtClient> {
    return new RawMgmtClient(await Deno.connect({ transport: "unix", path }));
  }

  async #pump(): Promise<void> {
    const buf = new Uint8Array(65536);
    try {
      for (;;) {
        const n = await this.#conn.read(buf);
        if (n === null) break;
        this.text += this.#decoder.decode(buf.subarray(0, n), { stream: true });
      }
    } catch { /* closed */ }
    this.#closed = true;
  }

  /** True once the switch closed the connection. */
  get closed(): boolean {
    return this.#closed;
  }

  async send(text: string): Promise<void> {
    const bytes = new TextEncoder().encode(text);
    let off = 0;
    while (off < bytes.length) off += await this.#conn.write(bytes.subarray(off));
  }

  /** Waits until the received text (from `from`) satisfies `done`; returns it. */
  async waitFor(done: (text: string) => boolean, what: string, timeoutMs = 5000, from = 0): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (!done(this.text.slice(from))) {
      if (Date.now() > deadline) {
        throw new Error(`timed out waiting for ${what}; got ${JSON.stringify(this.text.slice(from))}`);
      }
      if (this.#closed && !done(this.text.slice(from))) {
        await new Promise((r) => setTimeout(r, 20));
        if (!done(this.text.slice(from))) {
          throw new Error(`connection closed waiting for ${what}: ${JSON.stringify(this.text.slice(from))}`);
        }
      }
      await new Promise((r) => setTimeout(r, 5));
    }
    return this.text.slice(from);
  }

  /** Sends one command and returns everything up to and including the next prompt. */
  async command(line: string, timeoutMs = 5000): Promise<string> {
    const from = this.text.length;
    await this.send(`${line}\n`);
    return await this.waitFor(
      (t) => t.endsWith("\nvde$ ") || t.includes("9999 END OF SESSION"),
      `reply to ${line}`,
      timeoutMs,
      from,
    );
  }

  close(): void {
    try {
      this.#conn.close();
    } catch { /* already closed */ }
  }
}

/** A temporary directory removed by `cleanup`. */
export async function tempDir(prefix: string): Promise<{ path: string; cleanup: () => Promise<void> }> {
  const path = await Deno.makeTempDir({ prefix });
  return { path, cleanup: () => Deno.remove(path, { recursive: true }).catch(() => {}) };
}

/** An in-process switch serving a management socket in a temporary directory. */
export async function withMgmtServer(
  fn: (
    t: { tc: TestConsole; server: MgmtServer; path: string; dir: string; shutdowns: string[] },
  ) => Promise<void>,
  options: Partial<MgmtServerOptions> & { numPorts?: number } = {},
): Promise<void> {
  const tmp = await tempDir("vde-mgmt-");
  const shutdowns: string[] = [];
  const tc = makeConsole(options.numPorts ?? 32, { shutdown: (why) => shutdowns.push(why) });
  const path = `${tmp.path}/mgmt`;
  const server = await MgmtServer.start(tc.commands, tc.ctx, { ...options, path, log: () => {} });
  tc.ctx.mgmt = { path, mode: server.mode };
  try {
    await fn({ tc, server, path, dir: tmp.path, shutdowns });
  } finally {
    server.close();
    tc.close();
    await tmp.cleanup();
  }
}

/** A config BPDU from bridge 1000.020000000099 claiming root: better than any default-priority bridge. */
export function rogueBpdu(): Uint8Array {
  const mac = Uint8Array.of(2, 0, 0, 0, 0, 0x99);
  const id = "1000.020000000099";
  const times = { messageAge: 0, maxAge: 20 * 256, helloTime: 2 * 256, forwardDelay: 15 * 256 };
  return buildBpdu({
    kind: "config",
    version: 0,
    flags: 0,
    rootId: id,
    rootPathCost: 0,
    bridgeId: id,
    portId: 0x8001,
    ...times,
  }, mac);
}
