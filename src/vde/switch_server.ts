/**
 * The vde_switch-compatible server: a socket directory that real VDE
 * clients (vde_plug, QEMU's -netdev vde, anything on libvdeplug) use
 * unchanged.
 *
 * Theory of operation (spec sections 1.1-1.6): clients connect to
 * `DIR/ctl` (a unix stream socket served by Deno) and send one request
 * naming their bound datagram socket. For each accepted request the server
 * creates a non-blocking datagram socket, binds it to `DIR/NNN.F` (port,
 * fd), connects it to the client's socket *before* replying (vdeplug4
 * unlinks its path right after the reply) and answers with that path. The
 * endpoint lives exactly as long as the ctl connection. Unlike Debian's
 * switch, every refused request closes the ctl connection with a log line
 * that says why, so a client never hangs.
 */
import { libc } from "../../ffi/libc.ts";
import { log } from "../log.ts";
import { canReadWrite, UnixDgramSocket } from "../io/unix_dgram.ts";
import { DgramLink } from "../link/dgram_link.ts";
import { PortRefused, type Switch } from "../switch/switch.ts";
import { buildSockaddrUn } from "../wire/sockaddr_un.ts";
import {
  MAX_DESCRIPTION_LEN,
  MAX_REQUEST_LEN,
  parseVdeRequest,
  type VdeRequest,
} from "../wire/vde_request.ts";
import { resolveModes, type SwitchPermissions } from "./permissions.ts";

/** Options of a switch server. */
export interface SwitchServerOptions {
  /** The socket directory, like vde_switch's `-s`. */
  dir: string;
  /** `--mode`: ctl and data socket mode. */
  mode?: number;
  /** `--dirmode`: directory mode. */
  dirMode?: number;
  /** `--group` resolved to a gid. */
  gid?: number;
  /** Where log lines go (default: stderr with a "vde switch: " prefix). */
  log?: (message: string) => void;
}

/** How long a client may take to send its request. */
const REQUEST_TIMEOUT_MS = 2000;
/** Handshakes in progress at once; more are refused so a flood stays bounded. */
const MAX_PENDING = 256;

/** A switch port endpoint: the data socket plus the client's ctl stream. */
class EndpointLink extends DgramLink {
  readonly #ctl: Deno.Conn;

  constructor(socket: UnixDgramSocket, ctl: Deno.Conn, description: string) {
    super(socket, description);
    this.#ctl = ctl;
  }

  /** Reads the ctl stream until EOF; clients send nothing after the request. */
  async watch(): Promise<void> {
    const buf = new Uint8Array(512);
    try {
      while ((await this.#ctl.read(buf)) !== null) { /* ignored, as vde_switch's clients send nothing */ }
      this.close("client closed its control connection");
    } catch {
      this.close("client control connection failed");
    }
  }

  protected override teardown(): void {
    super.teardown();
    try {
      this.#ctl.close();
    } catch { /* already closed */ }
  }
}

function defaultLog(message: string): void {
  log("vde switch", message);
}

/** Serves a socket directory for `sw`. */
export class VdeSwitchServer {
  readonly dir: string;
  readonly ctlPath: string;
  readonly permissions: SwitchPermissions;
  readonly #sw: Switch;
  readonly #listener: Deno.Listener;
  readonly #log: (message: string) => void;
  #pending = 0;
  #closed = false;
  readonly #endpoints = new Set<EndpointLink>();
  /** Handshakes refused, by reason class, for tests and the console. */
  readonly refused = { request: 0, port: 0, socket: 0, busy: 0 };

  private constructor(
    sw: Switch,
    dir: string,
    listener: Deno.Listener,
    perms: SwitchPermissions,
    log: (m: string) => void,
  ) {
    this.#sw = sw;
    this.dir = dir;
    this.ctlPath = `${dir}/ctl`;
    this.#listener = listener;
    this.permissions = perms;
    this.#log = log;
    this.#acceptLoop();
  }

  /**
   * Creates the directory and the ctl socket and starts serving. A stale
   * ctl socket is reclaimed; a live switch on the same directory is an error.
   */
  static async start(sw: Switch, options: SwitchServerOptions): Promise<VdeSwitchServer> {
    const modes = resolveModes(options.mode, options.dirMode);
    const perms: SwitchPermissions = { ...modes, gid: options.gid };
    const log = options.log ?? defaultLog;
    let created = false;
    try {
      Deno.mkdirSync(options.dir);
      created = true;
    } catch (err) {
      if (!(err instanceof Deno.errors.AlreadyExists)) {
        throw new Error(`cannot create the switch directory ${options.dir}: ${(err as Error).message}`);
      }
      if (!Deno.statSync(options.dir).isDirectory) {
        throw new Error(`${options.dir} exists and is not a directory`);
      }
    }
    const dir = Deno.realPathSync(options.dir);
    try {
      if (created) Deno.chmodSync(dir, perms.dirMode);
      if (perms.gid !== undefined) Deno.chownSync(dir, null, perms.gid);
      const ctlPath = `${dir}/ctl`;
      await reclaimStaleCtl(ctlPath, log);
      const listener = Deno.listen({ transport: "unix", path: ctlPath });
      Deno.chmodSync(ctlPath, perms.socketMode);
      if (perms.gid !== undefined) Deno.chownSync(ctlPath, null, perms.gid);
      return new VdeSwitchServer(sw, dir, listener, perms, log);
    } catch (err) {
      if (created) {
        try {
          Deno.removeSync(dir);
        } catch { /* not empty: leave it */ }
      }
      throw err;
    }
  }

  /** Number of endpoints connected right now. */
  get endpointCount(): number {
    return this.#endpoints.size;
  }

  async #acceptLoop(): Promise<void> {
    try {
      for await (const conn of this.#listener) {
        if (this.#pending >= MAX_PENDING) {
          this.refused.busy++;
          this.#log(`too many handshakes in progress; refusing a connection`);
          conn.close();
          continue;
        }
        this.#pending++;
        this.#handshake(conn).finally(() => this.#pending--);
      }
    } catch (err) {
      if (!this.#closed) this.#log(`ctl socket failed: ${(err as Error).message}`);
    }
  }

  /** Reads the request with a deadline: one read normally, more if cut short. */
  async #readRequest(conn: Deno.Conn): Promise<{ request?: VdeRequest; reason?: string }> {
    const buf = new Uint8Array(MAX_REQUEST_LEN);
    let got = 0;
    const timer = setTimeout(() => {
      try {
        conn.close();
      } catch { /* already closed */ }
    }, REQUEST_TIMEOUT_MS);
    try {
      while (got < buf.length) {
        let n: number | null;
        try {
          n = await conn.read(buf.subarray(got));
        } catch {
          return { reason: got === 0 ? "no request before the deadline" : "request is truncated" };
        }
        if (n === null) {
          return { reason: got === 0 ? "client left before sending a request" : "request is truncated" };
        }
        got += n;
        const parsed = parseVdeRequest(buf.subarray(0, got));
        if (parsed.ok) return { request: parsed.value };
        if (!parsed.incomplete) return { reason: parsed.reason };
      }
      return { reason: "request is too long" };
    } finally {
      clearTimeout(timer);
    }
  }

  async #handshake(conn: Deno.Conn): Promise<void> {
    const { request, reason } = await this.#readRequest(conn);
    if (request === undefined) {
      this.refused.request++;
      // A connect-and-close probe (a liveness check) is not worth a log line.
      if (reason === "client left before sending a request") {
        conn.close();
        return;
      }
      this.#refuse(conn, reason ?? "bad request");
      return;
    }
    let uid = -1;
    if (request.socketPath !== "") {
      try {
        uid = Deno.lstatSync(request.socketPath).uid ?? -1;
      } catch {
        this.refused.socket++;
        this.#refuse(conn, `client socket ${request.socketPath} does not exist`);
        return;
      }
      if (!canReadWrite(request.socketPath)) {
        this.refused.socket++;
        this.#refuse(conn, `client socket ${request.socketPath} is not readable and writable by the switch`);
        return;
      }
    }
    const wanted = request.kind === 1 ? 0 : (request.port === 0 ? undefined : request.port);
    let port: number;
    try {
      port = this.#sw.choosePort({ port: wanted, uid });
    } catch (err) {
      this.refused.port++;
      this.#refuse(conn, err instanceof PortRefused ? err.message : String(err));
      return;
    }
    let sock: UnixDgramSocket | null = null;
    let attached: EndpointLink | null = null;
    try {
      sock = UnixDgramSocket.create();
      const path = `${this.dir}/${port.toString().padStart(3, "0")}.${sock.fd}`;
      try {
        Deno.removeSync(path);
      } catch { /* no stale file */ }
      sock.bind(path);
      this.#applySocketPermissions(path, uid);
      sock.setBuffers(1 << 20);
      if (request.socketPath === "") throw new Error("client sent no socket path");
      sock.connect(request.socketPath);
      const descr = request.description.slice(0, MAX_DESCRIPTION_LEN);
      const link = new EndpointLink(sock, conn, descr === "" ? `port ${port}` : descr);
      this.#sw.attach(link, { port, uid });
      attached = link;
      this.#endpoints.add(link);
      link.closed.then(() => this.#endpoints.delete(link));
      await conn.write(buildSockaddrUn(path));
      link.watch();
    } catch (err) {
      this.refused.socket++;
      // Once attached, the link owns the socket: closing it also frees the
      // port (a client that vanished before the reply must not leave a zombie).
      if (attached !== null) attached.close("handshake failed");
      else sock?.close();
      this.#refuse(conn, `cannot set up port ${port}: ${(err as Error).message}`);
    }
  }

  #applySocketPermissions(path: string, uid: number): void {
    const p = this.permissions;
    if (libc().geteuid() === 0 && uid >= 0) {
      Deno.chmodSync(path, p.socketMode & 0o700);
      Deno.chownSync(path, uid, p.gid ?? null);
    } else {
      Deno.chmodSync(path, p.socketMode);
      if (p.gid !== undefined) Deno.chownSync(path, null, p.gid);
    }
  }

  #refuse(conn: Deno.Conn, reason: string): void {
    this.#log(`refused a client: ${reason}`);
    try {
      conn.close();
    } catch { /* already closed */ }
  }

  /** Stops serving: closes every endpoint, removes every socket file it made and the directory if empty. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const ep of [...this.#endpoints]) ep.close("the switch is shutting down");
    try {
      this.#listener.close();
    } catch { /* already closed */ }
    try {
      Deno.removeSync(this.ctlPath);
    } catch { /* already gone */ }
    try {
      Deno.removeSync(this.dir);
    } catch { /* stray client files remain: leave it, as vde_switch does */ }
  }
}

/** Removes `DIR/ctl` if nothing answers on it; throws if a switch does. */
async function reclaimStaleCtl(ctlPath: string, log: (m: string) => void): Promise<void> {
  let info: Deno.FileInfo;
  try {
    info = Deno.lstatSync(ctlPath);
  } catch {
    return;
  }
  if (!info.isSocket) throw new Error(`${ctlPath} exists and is not a socket`);
  try {
    const c = await Deno.connect({ transport: "unix", path: ctlPath });
    c.close();
  } catch {
    log(`reclaiming the stale socket ${ctlPath}`);
    Deno.removeSync(ctlPath);
    sweepStalePortSockets(ctlPath.slice(0, -4));
    return;
  }
  throw new Error(`another switch is already running on ${ctlPath.slice(0, -4)}`);
}

/** Removes the `NNN.F` port sockets a dead switch left behind. */
function sweepStalePortSockets(dir: string): void {
  for (const entry of Deno.readDirSync(dir)) {
    if (!/^\d{3,}\.\d+$/.test(entry.name)) continue;
    try {
      if (Deno.lstatSync(`${dir}/${entry.name}`).isSocket) Deno.removeSync(`${dir}/${entry.name}`);
    } catch { /* raced with someone else */ }
  }
}
