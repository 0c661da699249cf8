/**
 * The capture socket (`SOCKDIR/capture`): streams a switch's frames to
 * `vde capture` clients, several at once.
 *
 * Theory of operation. A client connects, sends one JSON request line
 * (ports, VLAN, snap length, filter) and from then on only reads records
 * (see wire/capture_stream.ts). Each client has its own output queue: when
 * more than `maxPendingBytes` wait unsent, its frames are dropped and
 * counted, and the counts are sent once the queue has drained to half, so
 * a client that reads slowly or never loses its own frames and costs the
 * switch a bounded amount of memory, never a forwarded frame. The socket is
 * the switch owner's only (mode 0600 unless told otherwise): a capture sees
 * every port.
 */
import { parseBpf } from "./bpf.ts";
import { waitAtMost } from "./wait_at_most.ts";
import type { CaptureHub } from "./hub.ts";
import { nowMicros } from "./file_writer.ts";
import { OutputQueue } from "../console/output_queue.ts";
import type { Switch } from "../switch/switch.ts";
import { MAX_VLAN } from "../switch/engine.ts";
import {
  type CaptureRequest,
  encodeRecord,
  RECORD_ACCEPTED,
  RECORD_DROPS,
  RECORD_ERROR,
  RECORD_FRAME,
  RECORD_NOTICE,
  RECORD_PORT,
} from "../wire/capture_stream.ts";
import { log as defaultLog } from "../log.ts";
import { listenPrivate } from "../os/private_socket.ts";
import { descriptorAdvice, SWITCH_PER_PORT } from "../os/fd_limit.ts";
import { acceptLoop } from "../web/guarded_server.ts";
import { type HeldEntry, placeInfo, placePath, removeSocketFile, type SocketPlace } from "../os/held_dir.ts";
import { concatBytes } from "../wire/bytes.ts";

/** What the server needs of its listening socket. */
export interface CaptureListener {
  accept(): Promise<Deno.Conn>;
  close(): void;
}

/** Settings of a capture socket. */
export interface CaptureServerOptions {
  path: string;
  /**
   * Where the socket is made, replaced and removed, when not by `path`: in a switch's held directory (its
   * `socketAt`), which `path`'s directory may no longer name; a use once that is closed is refused.
   */
  at?: HeldEntry;
  /** Socket mode; default 0600. */
  mode?: number;
  /** Unsent bytes per client above which its frames are dropped; default 4 MiB. */
  maxPendingBytes?: number;
  log?: (message: string) => void;
  /** How the socket is listened on (a test's listener whose accepts fail); listenPrivate by default. */
  listen?: (path: string, mode: number) => CaptureListener;
}

const MAX_REQUEST = 256 * 1024;
/** How long a capture's queued records may take to leave once its client stops. */
const DRAIN_MS = 3000;
const REQUEST_TIMEOUT_MS = 10_000;
const encoder = new TextEncoder();
const EMPTY = new Uint8Array(0);

/**
 * The client description of a port, as `port/print` shows it, as of the
 * frames observed now (`Switch.observedClient`); `port N, no client` for a
 * port without one (a capture of a port named before anything plugs in).
 */
export function describePort(sw: Switch, port: number): string {
  return sw.observedClient(port)?.description || `port ${port}, no client`;
}

/**
 * Whether `port`'s client is news to `described` (port to the client last
 * described), noting it: a port's first frame, or one from a client that
 * took a port another left, as of the frame being observed (with a
 * data-plane thread the copy comes late: the client on the port now may not
 * be the one that sent it). A port left empty (its client gone as its frame
 * came) keeps its description. Compares endpoint ids: a frame's check
 * allocates nothing.
 */
export function newClient(described: Map<number, number>, sw: Switch, port: number): boolean {
  const endpoint = sw.observedClient(port)?.id ?? -1;
  const known = described.get(port);
  if (known !== undefined && (endpoint === known || endpoint === -1)) return false;
  described.set(port, endpoint);
  return true;
}

/** A listening capture socket. */
export class CaptureServer {
  readonly path: string;
  /** Where the socket file is (CaptureServerOptions.at, else `path`). */
  readonly #at: SocketPlace;
  readonly #listener: CaptureListener;
  readonly #sw: Switch;
  readonly #hub: CaptureHub;
  readonly #maxPending: number;
  readonly #log: (message: string) => void;
  readonly #conns = new Set<Deno.Conn>();
  #closed = false;

  private constructor(listener: CaptureListener, sw: Switch, hub: CaptureHub, o: CaptureServerOptions) {
    this.#listener = listener;
    this.#sw = sw;
    this.#hub = hub;
    this.path = o.path;
    this.#at = o.at ?? o.path;
    this.#maxPending = o.maxPendingBytes ?? 4 << 20;
    this.#log = o.log ?? ((m) => defaultLog("vde switch", m));
    this.#accept();
  }

  /** Listens on `options.path`, replacing a socket left there (the switch owns its directory). */
  static start(sw: Switch, hub: CaptureHub, options: CaptureServerOptions): CaptureServer {
    const at = options.at ?? options.path;
    if (placeInfo(at)?.isSocket) {
      try {
        Deno.removeSync(placePath(at));
      } catch { /* gone meanwhile: the bind says what is there */ }
    }
    // Bound in a private directory and given its mode there, then linked into place: bound at its name, it
    // is 0777 under umask 000 until a chmod, and another user could connect first (private_socket.ts).
    const listen = options.listen ?? ((path: string, mode: number) => listenPrivate(path, mode, false));
    const listener = listen(placePath(at), options.mode ?? 0o600);
    return new CaptureServer(listener, sw, hub, options);
  }

  /**
   * Serves each client until the listener closes. A failed accept (EMFILE: the switch's ports took every
   * descriptor) is said once and tried again (acceptLoop): a `for await` ended there, and the capture socket
   * listened on, answering no `vde capture` for the rest of the switch's life.
   */
  #accept(): void {
    void acceptLoop(this.#listener, (conn) => {
      this.#conns.add(conn);
      this.#serve(conn).catch(() => {}).finally(() => {
        this.#conns.delete(conn);
        try {
          conn.close();
        } catch { /* closed */ }
      });
    }, (err) => {
      if (this.#closed) return;
      const advice = descriptorAdvice(err, "the switch", SWITCH_PER_PORT);
      this.#log(
        `capture socket: cannot accept (${err.message}${
          advice === undefined ? "" : `: ${advice}`
        }); trying again`,
      );
    });
  }

  async #serve(conn: Deno.Conn): Promise<void> {
    const queue = new OutputQueue(conn, () => {});
    const line = await readLine(conn);
    let request: ValidRequest;
    try {
      request = parseRequest(line, this.#sw.numPorts);
    } catch (err) {
      queue.pushBytes(encodeRecord(RECORD_ERROR, 0, 0, 0, 0, encoder.encode((err as Error).message)));
      await Promise.race([queue.below(0), new Promise((r) => setTimeout(r, 1000))]);
      return;
    }
    queue.pushBytes(encodeRecord(RECORD_ACCEPTED, 0, 0, 0, 0, EMPTY));
    // A VLAN not made yet is waited for, as tcpdump's `vlan 20` waits for frames that may come: a capture
    // started before `vlan/create` sees the VLAN's first frames. The user is told, not left guessing.
    const vlan = request.vlan;
    if (vlan !== undefined && !this.#sw.engine.vlanExists(vlan)) {
      const notice = `VLAN ${vlan} does not exist yet on this switch; ` +
        `capturing its frames once it does (vlan/create ${vlan})`;
      queue.pushBytes(encodeRecord(RECORD_NOTICE, 0, 0, 0, 0, encoder.encode(notice)));
    }
    // Per port, the client the capture's description names; one that took a port another left is
    // described again, so the file names the client that sent the port's later frames.
    const seen = new Map<number, number>();
    const announce = (port: number) => {
      if (!newClient(seen, this.#sw, port)) return;
      queue.pushBytes(encodeRecord(RECORD_PORT, 0, port, 0, 0, encoder.encode(describePort(this.#sw, port))));
    };
    // Ports named in the request are announced at once, so the file has their interfaces before any
    // frame: a reader that needs one to start (libpcap, `-w - | tcpdump -r -`) does not wait for
    // traffic, nor fail on a capture that ended with none.
    for (const port of request.ports) announce(port);
    const drops = new Map<number, number>();
    let dropsWaiting = false;
    const max = this.#maxPending;
    const sendDrops = () => {
      dropsWaiting = false;
      for (const [port, n] of drops) queue.pushBytes(encodeRecord(RECORD_DROPS, 0, port, 0, n, EMPTY));
    };
    const stop = this.#hub.add(request, (port, direction, frame) => {
      if (queue.pending > max) {
        drops.set(port, (drops.get(port) ?? 0) + 1);
        if (!dropsWaiting) {
          dropsWaiting = true;
          queue.below(max / 2).then(sendDrops);
        }
        return;
      }
      announce(port);
      const data = frame.length > request.snaplen ? frame.subarray(0, request.snaplen) : frame;
      queue.pushBytes(encodeRecord(RECORD_FRAME, direction, port, frame.length, nowMicros(), data));
    });
    try {
      // The client sends nothing more: a read returns when it leaves.
      const buf = new Uint8Array(512);
      while ((await conn.read(buf)) !== null) { /* ignore */ }
      // Its half closed (a stopping vde capture): what is queued goes out, then the drops not said yet,
      // which a client that stalled to the end would not learn otherwise. Bounded, for one that left.
      stop();
      sendDrops();
      await waitAtMost(queue.below(0), DRAIN_MS);
    } finally {
      stop();
    }
  }

  /** Stops listening, ends every capture and removes the socket. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#listener.close();
    } catch { /* closed */ }
    for (const conn of this.#conns) {
      try {
        conn.close();
      } catch { /* closed */ }
    }
    removeSocketFile(this.#at, this.#log);
  }
}

interface ValidRequest {
  ports: number[];
  vlan?: number;
  snaplen: number;
  filter: ReturnType<typeof parseBpf> | null;
}

function parseRequest(line: string, numPorts: number): ValidRequest {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    throw new Error("the capture request is not JSON");
  }
  // Valid JSON need not be an object (null, 5, []): its fields would be read off nothing.
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new Error("the capture request is not a JSON object");
  }
  const raw = parsed as Partial<CaptureRequest>;
  const ports = Array.isArray(raw.ports) ? raw.ports : [];
  for (const p of ports) {
    if (!Number.isInteger(p) || p < 0 || p >= numPorts) {
      throw new Error(`port ${p} is out of range (0-${numPorts - 1})`);
    }
  }
  const vlan = raw.vlan ?? null;
  if (vlan !== null && (!Number.isInteger(vlan) || vlan < 0 || vlan > MAX_VLAN)) {
    throw new Error(`VLAN ${vlan} is out of range (0-${MAX_VLAN})`);
  }
  const snaplen = raw.snaplen ?? 262144;
  if (!Number.isInteger(snaplen) || snaplen < 1 || snaplen > 262144) {
    throw new Error(`snap length ${snaplen} is out of range (1-262144)`);
  }
  const filter = typeof raw.filter === "string" ? parseBpf(raw.filter) : null;
  return { ports, vlan: vlan ?? undefined, snaplen, filter };
}

// Reads up to the first newline, bounded in size and time.
async function readLine(conn: Deno.Conn): Promise<string> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  const buf = new Uint8Array(4096);
  const timer = setTimeout(() => {
    try {
      conn.close();
    } catch { /* closed */ }
  }, REQUEST_TIMEOUT_MS);
  try {
    while (size < MAX_REQUEST) {
      const n = await conn.read(buf);
      if (n === null) break;
      const chunk = buf.slice(0, n);
      const nl = chunk.indexOf(10);
      if (nl >= 0) {
        chunks.push(chunk.subarray(0, nl));
        return new TextDecoder().decode(concatBytes(chunks));
      }
      chunks.push(chunk);
      size += n;
    }
    return new TextDecoder().decode(concatBytes(chunks));
  } finally {
    clearTimeout(timer);
  }
}
