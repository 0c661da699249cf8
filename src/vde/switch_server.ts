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
 * that says why (the first 10 in 10 s; then one line counts the rest, so a
 * stream of bad clients cannot flood the log), so a client never hangs;
 * the reason is written to the client first (wire/vde_refusal.ts), so ours
 * can say it too. Requests are read from at most MAX_PENDING clients at
 * once, and from at most MAX_PENDING_PER_USER of one other user's, with a
 * few kept for the switch's user and root: a shared switch's member who
 * holds connections that never speak turns away only their own. A uid of a
 * user's /etc/subuid ranges is that user (os/subordinate_ids.ts), so their
 * rootless containers' uids share their cap.
 *
 * The directory is held by a descriptor from the start to the close
 * (PinnedDirectory, os/held_dir.ts), and ctl, every port's socket, its
 * `.NNN.F.new` rename and every unlink go through it, never through DIR's
 * name: in a parent others may write without the sticky bit, the name may
 * be another user's directory by then. Renamed away, the directory is still
 * served; clients are told where it went, and the log says so once.
 *
 * Who a client is comes from the kernel, not from the request: the ctl
 * connection's peer credentials (SO_PEERCRED) give its uid and gid, and
 * they alone decide port ownership and `port/setuser`/`port/setgroup`
 * access. vde_switch instead takes the owner of the socket file the client
 * names, so any user could name root's socket and be root. Here the named
 * socket must be owned by the client's uid (root's clients excepted) and
 * writable by its owner, and it is opened without following a symlink and
 * connected through that very fd (see src/io/unix_stream.ts): the switch
 * never connects to a path the client could not have written itself.
 */
import { C, libc, SysError } from "../../ffi/libc.ts";
import { log } from "../log.ts";
import { RateLimitedLog } from "../rate_limited_log.ts";
import { printable } from "../console/reply_format.ts";
import { canReadWrite, UnixDgramSocket } from "../io/unix_dgram.ts";
import type { StreamConn } from "../io/stream_conn.ts";
import {
  closeFd,
  type OpenedPath,
  openOwnedPath,
  type PeerCred,
  UnixStreamListener,
} from "../io/unix_stream.ts";
import { ownerAndMode, userName } from "../os/users.ts";
import { exists, isSocket } from "../os/paths.ts";
import { removeStaleStaging } from "../os/private_socket.ts";
import { unmakeableDir } from "../os/unwritable.ts";
import { descriptorAdvice, shortDescriptorAdvice, SWITCH_PER_PORT } from "../os/fd_limit.ts";
import { writeFailure } from "../os/write_failure.ts";
import { isSessionLockName } from "../cable/session_lock.ts";
import { giveSocketFile } from "../os/socket_file.ts";
import {
  type DirectoryIdentity,
  type HeldDirectory,
  type HeldEntry,
  holdDirectory,
  holdForStart,
  makeOwnDirectory,
  PinnedDirectory,
  removeIdleDirectory,
  removeMadeDirectory,
  removeSocketFile,
} from "../os/held_dir.ts";
import { DgramLink } from "../link/dgram_link.ts";
import { PortRefused, type Switch } from "../switch/switch.ts";
import { buildSockaddrUn } from "../wire/sockaddr_un.ts";
import { buildRefusal, busyReason } from "../wire/vde_refusal.ts";
import {
  MAX_DESCRIPTION_LEN,
  MAX_REQUEST_LEN,
  parseVdeRequest,
  type VdeRequest,
} from "../wire/vde_request.ts";
import { resolveModes, type SwitchPermissions } from "./permissions.ts";
import { SubordinateIds } from "../os/subordinate_ids.ts";

/**
 * What the server plugs its clients into: a Switch, or a vdeplug4 node
 * (link/node_link.ts), whose ports it numbers and forwards its own way.
 */
export type PortHost = Pick<Switch, "choosePort" | "attach" | "threaded" | "forwarding">;

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
  /** How the user names the directory, for the advice of a refusal (default `--sock`; a node's VNL: `hub://DIR`). */
  dirOption?: string;
  /**
   * Refuse a directory that is there and another user's, where a switch serves it and says so: its
   * owner can swap the ctl socket for one of theirs. A node's default path (/tmp/vdenode_USER) is one any
   * user can make first, and vdeplug4's node refuses a directory that is there at all.
   */
  ownDirectoryOnly?: boolean;
  /** The subordinate uid file whose ranges count as their owners (default /etc/subuid; a test's). */
  subuid?: string;
}

/** How long a client may take to send its request. */
export const REQUEST_TIMEOUT_MS = 2000;
/** Handshakes in progress at once; more are refused so a flood stays bounded. */
const MAX_PENDING = 256;
/**
 * Handshakes in progress at once of one user other than the switch's and
 * root: one user (a switch shared by `--mode 666`, or a group member) who
 * kept 256 connections that never speak refused every other client, root's
 * plugs included.
 */
export const MAX_PENDING_PER_USER = 16;
/** Handshakes only the switch's user and root may have under way (of MAX_PENDING). */
const OWNERS_RESERVE = 8;
/**
 * The names a client binds its socket at in the directory for its handshake
 * (vdeplug4's and vde://'s `.PID-N`), unlinked by the client once answered:
 * what a handshake under way (or a client killed in one) leaves there.
 */
const CLIENT_HANDSHAKE_SOCKET = /^\.\d{5,}-\d{5,}$/;

/** A switch port endpoint: the data socket plus the client's ctl stream. */
class EndpointLink extends DgramLink {
  readonly #ctl: StreamConn;
  /** Its socket's names in the held directory: `NNN.F`, and `.NNN.F.new` until renamed. */
  readonly #names: readonly HeldEntry[];
  /** The server's log: a removal refused once the directory is no longer held is said there. */
  readonly #log: (message: string) => void;

  constructor(
    socket: UnixDgramSocket,
    ctl: StreamConn,
    description: string,
    names: readonly HeldEntry[],
    log: (message: string) => void,
  ) {
    super(socket, description);
    this.#ctl = ctl;
    this.#names = names;
    this.#log = log;
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
    // The port's file goes now: a switch thread may hold the socket a moment longer, and
    // the directory must be empty when the server removes it. Now, not at the socket's close: the
    // held directory's descriptor is closed with the server.
    // Already gone, or renamed onto NNN.F, is fine.
    for (const name of this.#names) removeSocketFile(name, this.#log);
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
  readonly #sw: PortHost;
  /** The directory served, held from the start: every socket is made and removed through it (held_dir.ts). */
  #pin!: PinnedDirectory;
  #listener: UnixStreamListener | null = null;
  readonly #log: (message: string) => void;
  /** Refusals, which any local user can cause once per connection: a few lines per interval, then a count. */
  readonly #refusals: RateLimitedLog;
  /** Control connections whose handshake is under way: closed with the server, so their clients let go. */
  readonly #handshakes = new Set<StreamConn>();
  /** Handshakes under way per other user (a uid, or the owner of its subuid range): MAX_PENDING_PER_USER bounds. */
  readonly #othersByUid = new Map<number, number>();
  #others = 0;
  readonly #self = Deno.uid();
  /** Whose each client uid is, for the caps: a subordinate uid is its range's owner. */
  readonly #accounts: SubordinateIds;
  #closed = false;
  readonly #endpoints = new Set<EndpointLink>();
  /** Handshakes refused, by reason class, for tests and the console. */
  readonly refused = { request: 0, port: 0, socket: 0, busy: 0 };

  private constructor(
    sw: PortHost,
    dir: string,
    perms: SwitchPermissions,
    log: (m: string) => void,
    subuid: string | undefined,
  ) {
    this.#sw = sw;
    this.dir = dir;
    this.ctlPath = `${dir}/ctl`;
    this.permissions = perms;
    this.#log = log;
    this.#accounts = new SubordinateIds({ path: subuid, log });
    this.#refusals = new RateLimitedLog(log);
  }

  /** Binds and listens on ctl; throws the bind's error, or (as `[err]`) the one giving the socket its mode. */
  #listen(): void {
    const { socketMode, gid } = this.permissions;
    const ctl = this.#pin.entry("ctl");
    this.#listener = new UnixStreamListener(
      ctl,
      (conn, peer) => this.#accepted(conn, peer),
      (err) => {
        if (this.#closed) return;
        // Once a shortage (the listener says it once): clients wait in the backlog meanwhile.
        const advice = descriptorAdvice(err, "the switch", SWITCH_PER_PORT);
        this.#log(
          advice === undefined
            ? `ctl socket: ${err.message}`
            : `ctl socket: ${err.message}: new clients wait until a port is freed; ${advice}`,
        );
      },
      {},
      // Before it listens: under umask 000 it is bound 0777, and another user could connect first. Not by
      // name: the directory may be one others write (socket_file.ts).
      () => {
        try {
          giveSocketFile(ctl, socketMode, gid);
        } catch (err) {
          throw [err];
        }
      },
    );
  }

  /**
   * Creates the directory and the ctl socket and starts serving. A stale
   * ctl socket is reclaimed; a live switch on the same directory is an error.
   */
  static async start(sw: PortHost, options: SwitchServerOptions): Promise<VdeSwitchServer> {
    const modes = resolveModes(options.mode, options.dirMode);
    const perms: SwitchPermissions = { ...modes, gid: options.gid };
    const log = options.log ?? defaultLog;
    for (let attempt = 1;; attempt++) {
      const server = await VdeSwitchServer.#startIn(sw, options, perms, log);
      if (server !== null) return server;
      // Removed as it was being held (a switch stopping, a cable's end): made again.
      if (attempt === 3) {
        throw new Error(`${printable(options.dir)} keeps being removed as the switch starts in it`);
      }
    }
  }

  /** One try of `start`: null when a removal took the directory before it was held. */
  static async #startIn(
    sw: PortHost,
    options: SwitchServerOptions,
    perms: SwitchPermissions,
    log: (m: string) => void,
  ): Promise<VdeSwitchServer | null> {
    let made: DirectoryIdentity | null;
    try {
      // Its mode and group are given through a descriptor: the parent may be others' to write (held_dir.ts).
      made = makeOwnDirectory(options.dir, perms.dirMode, perms.gid);
    } catch (err) {
      throw new Error(
        `cannot create the switch directory ${printable(options.dir)}${
          unmakeableDir(options.dir, options.dirOption ?? "--sock", err)
        }`,
      );
    }
    let dir: string;
    try {
      if (made === null && !Deno.statSync(options.dir).isDirectory) {
        throw new Error(`${printable(options.dir)} exists and is not a directory`);
      }
      dir = Deno.realPathSync(options.dir);
    } catch (err) {
      // Found there, then removed before it is held (a cable's end letting go, a switch stopping): made
      // again. A name still there that leads nowhere (a dangling symlink) is said as it is.
      if (err instanceof Deno.errors.NotFound && !exists(options.dir)) return null;
      throw err;
    }
    let held: HeldDirectory | undefined;
    let pin: PinnedDirectory | undefined;
    try {
      const server = new VdeSwitchServer(sw, dir, perms, log, options.subuid);
      try {
        // Held from here until ctl is bound: no removal takes it meanwhile, and what is checked to be
        // a switch's directory is the one narrowed, whatever the name.
        try {
          held = holdDirectory(dir);
        } catch (err) {
          // Gone since it was made or found: a removal came first.
          if (err instanceof SysError && err.code === C.ENOENT) return null;
          // One made with a mode its owner may not read (--mode 0200) cannot be opened: unguarded, as before.
          if (made === null || !(err instanceof SysError && err.code === C.EACCES)) throw err;
        }
        if (held !== undefined && !(await holdForStart(held, dir))) return null;
        if (options.ownDirectoryOnly && made === null && held !== undefined && held.uid !== Deno.uid()) {
          throw new Error(printable(
            `${dir} is ${userName(held.uid)}'s, who could replace the sockets served in it: ` +
              `give a directory of your own with ${options.dirOption ?? "--sock DIR"}`,
          ));
        }
        // Held for the switch's life from here: its name may lead elsewhere by the time the sweep
        // removes names, or at any moment after (another user's directory renamed in for it).
        pin = PinnedDirectory.pin(dir, held);
        server.#pin = pin;
        const reclaimed = await reclaimStaleCtl(dir, pin.at, log);
        if (made === null && held !== undefined) {
          // Another user's: they can replace its sockets, and only they (or root) may change it.
          const why = held.uid !== Deno.uid()
            ? `is ${userName(held.uid)}'s, who can replace this switch's sockets in it`
            : notASwitchDir(options.dir, held.listing, reclaimed);
          if (why === undefined) narrowExisting(held, perms);
          else log(`${dir} ${why}: its mode and group are left as they are`);
        }
        server.#listen();
      } catch (err) {
        // A refused chown or chmod is no refused directory (--group of a group not ours): said as it is.
        if (Array.isArray(err)) throw err[0];
        throw deniedDirectory(dir, err, options.dirOption) ?? err;
      } finally {
        held?.close();
      }
      return server;
    } catch (err) {
      pin?.close();
      // Only the directory this start made, and only empty.
      if (made !== null) removeMadeDirectory(dir, made);
      throw err;
    }
  }

  /**
   * `DIR/name` in the directory held, for another socket of the switch's in it (capture, mgmt) to be made
   * and removed there whatever DIR names by then; each use asks the hold, refused once `close` let it go.
   */
  socketAt(name: string): HeldEntry {
    return this.#pin.held(name);
  }

  /**
   * `path` as `socketAt` gives it when its directory is the one served (a `--mgmt DIR/NAME`), so it too is
   * made and removed there whatever DIR names later; else undefined: `path` itself is worked by name.
   */
  socketIn(path: string): HeldEntry | undefined {
    const cut = path.lastIndexOf("/");
    const name = path.slice(cut + 1);
    if (name === "" || name === "." || name === "..") return undefined;
    try {
      const parent = Deno.statSync(cut < 0 ? "." : path.slice(0, cut) || "/");
      if (BigInt(parent.dev) === this.#pin.dev && BigInt(parent.ino ?? -1) === this.#pin.ino) {
        return this.socketAt(name);
      }
    } catch { /* no directory there: the bind says why */ }
    return undefined;
  }

  /** Number of endpoints connected right now. */
  get endpointCount(): number {
    return this.#endpoints.size;
  }

  #accepted(conn: StreamConn, peer: PeerCred): void {
    // Another user's client counts as its uid's user (a subordinate uid is its range's owner). One of root's or
    // the switch's user's subordinate uids is another user still, counted apart from them: a container's
    // process is not trusted as its owner is. Their own uids never pay the subuid file's stat.
    const other = peer.uid !== 0 && peer.uid !== this.#self;
    const uid = other ? this.#accounts.accountOf(peer.uid) : peer.uid;
    const full = this.#busy(uid, other);
    if (full !== undefined) {
      this.refused.busy++;
      this.#refuse(conn, full);
      return;
    }
    this.#handshakes.add(conn);
    if (other) {
      this.#others++;
      this.#othersByUid.set(uid, (this.#othersByUid.get(uid) ?? 0) + 1);
    }
    this.#handshake(conn, peer).finally(() => {
      this.#handshakes.delete(conn);
      if (!other) return;
      this.#others--;
      const left = this.#othersByUid.get(uid)! - 1;
      if (left === 0) this.#othersByUid.delete(uid);
      else this.#othersByUid.set(uid, left);
    });
  }

  /** Why a connection of `uid` is refused now, in words short enough for the client; undefined when taken. */
  #busy(uid: number, other: boolean): string | undefined {
    if (this.#handshakes.size >= MAX_PENDING) {
      return busyReason.full(MAX_PENDING);
    }
    if (!other) return undefined;
    if ((this.#othersByUid.get(uid) ?? 0) >= MAX_PENDING_PER_USER) {
      // Another user counted as root or as us is one of our subordinate uids (#accepted).
      const reason = uid === 0 || uid === this.#self ? busyReason.subordinate : busyReason.user;
      return reason(userName(uid), MAX_PENDING_PER_USER);
    }
    // The last few are the switch's user's and root's, so other users together cannot shut them out.
    if (this.#others >= MAX_PENDING - OWNERS_RESERVE) {
      return busyReason.others(MAX_PENDING - OWNERS_RESERVE);
    }
    return undefined;
  }

  /** Reads the request with a deadline: one read normally, more if cut short. */
  async #readRequest(conn: StreamConn): Promise<{ request?: VdeRequest; reason?: string }> {
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

  async #handshake(conn: StreamConn, peer: PeerCred): Promise<void> {
    const { request, reason } = await this.#readRequest(conn);
    // Stopped meanwhile (its close closed this connection): no port, no refusal to log.
    if (this.#closed) {
      conn.close();
      return;
    }
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
    const { uid, gid } = peer;
    if (request.socketPath === "") {
      this.refused.socket++;
      this.#refuse(conn, "client sent no socket path");
      return;
    }
    const target = this.#checkClientSocket(request.socketPath, conn, peer);
    if (target === null) return;
    try {
      await this.#plug(conn, request, target, uid, gid);
    } finally {
      closeFd(target.fd);
    }
  }

  /**
   * Opens the socket the client named and checks that the client may have
   * the switch write into it; refuses (and returns null) otherwise.
   */
  #checkClientSocket(path: string, conn: StreamConn, peer: PeerCred): OpenedPath | null {
    const { uid, pid } = peer;
    // Names looked up only for a refusal: an accepted request runs no NSS lookup.
    const who = () => `client uid ${uid} (${userName(uid)}, pid ${pid})`;
    let target: OpenedPath;
    try {
      target = openOwnedPath(path);
    } catch (err) {
      this.refused.socket++;
      this.#refuse(
        conn,
        err instanceof SysError && err.code === C.ENOENT
          ? `client socket ${path} does not exist`
          : `cannot open client socket ${path}: ${withAdvice(err)}`,
        err instanceof SysError && err.code === C.ENOENT ? undefined : `client socket: ${shortAdvice(err)}`,
      );
      return null;
    }
    let why: string | null = null;
    if (target.isSymlink) why = `${who()} named ${path}, a symbolic link: name the socket itself`;
    else if (!target.isSocket) why = `${who()} named ${path}, which is not a socket`;
    else if (uid !== 0 && target.uid !== uid) {
      why = `${who()} named socket ${path} owned by uid ${target.uid} (${userName(target.uid)}): ` +
        `a client may only name its own socket`;
    } else if (uid !== 0 && !target.ownerWritable) {
      why = `${who()} named socket ${path}, which its owner may not write`;
    } else if (!canReadWrite(target.procPath)) {
      why = `client socket ${path} is not readable and writable by the switch`;
    }
    if (why !== null) {
      closeFd(target.fd);
      this.refused.socket++;
      this.#refuse(conn, why);
      return null;
    }
    return target;
  }

  async #plug(
    conn: StreamConn,
    request: VdeRequest,
    target: OpenedPath,
    uid: number,
    gid: number,
  ): Promise<void> {
    const wanted = request.kind === 1 ? 0 : (request.port === 0 ? undefined : request.port);
    let port: number;
    try {
      port = this.#sw.choosePort({ port: wanted, uid, gid });
    } catch (err) {
      this.refused.port++;
      this.#refuse(conn, err instanceof PortRefused ? err.message : String(err));
      return;
    }
    let sock: UnixDgramSocket | null = null;
    let attached: EndpointLink | null = null;
    let unbound: HeldEntry | undefined;
    try {
      sock = UnixDgramSocket.create();
      const name = `${port.toString().padStart(3, "0")}.${sock.fd}`;
      // Made, renamed and removed in the very directory served, whatever its name holds now: each use
      // asks the hold (a handshake that outlives the server is refused, not led into another file).
      const final = this.#pin.held(name);
      // With a data-plane thread the socket is bound under a hidden name and renamed once the
      // thread forwards for it: a client that sees NNN.F finds the port forwarding, as on one thread.
      const threaded = this.#sw.threaded;
      const bound = threaded ? this.#pin.held(`.${name}.new`) : final;
      try {
        Deno.removeSync(bound.path);
      } catch { /* no stale file */ }
      // Its mode and owner from its first moment at its name: under umask 000 a bind there, then a chmod,
      // would let anyone who reaches the directory send in between (os/private_socket.ts).
      this.#bindDataSocket(sock, bound.path, uid);
      // Its names are removed by the link's teardown (below), while the directory is still held.
      sock.leaveName();
      unbound = bound;
      // Our slirp reads this send buffer to size its window to a guest (slirp/tcp/tcb.ts, switchQueueFrames).
      sock.setBuffers(1 << 20);
      // Through the fd that was checked: the name may have been swapped since.
      sock.connect(target.procPath);
      const descr = request.description.slice(0, MAX_DESCRIPTION_LEN);
      const link = new EndpointLink(
        sock,
        conn,
        descr === "" ? `port ${port}` : descr,
        [final, bound],
        this.#log,
      );
      const ep = this.#sw.attach(link, { port, uid, gid });
      attached = link;
      unbound = undefined;
      this.#endpoints.add(link);
      link.closed.then(() => this.#endpoints.delete(link));
      if (threaded) {
        await this.#sw.forwarding(ep);
        if (link.isClosed) throw new Error("the port closed during the handshake");
        Deno.renameSync(bound.path, final.path);
      }
      // Where the client finds it: the directory's name, or where it was renamed to (said once).
      await conn.writeAll(buildSockaddrUn(`${this.#pin.whereNow(this.#log)}/${name}`));
      link.watch();
    } catch (err) {
      this.refused.socket++;
      // Once attached, the link owns the socket: closing it also frees the
      // port (a client that vanished before the reply must not leave a zombie).
      if (attached !== null) attached.close("handshake failed");
      else {
        sock?.close();
        if (unbound !== undefined) removeSocketFile(unbound, this.#log);
      }
      this.#refuse(
        conn,
        `cannot set up port ${port}: ${withAdvice(err)}`,
        `port ${port}: ${shortAdvice(err)}`,
      );
    }
  }

  #bindDataSocket(sock: UnixDgramSocket, path: string, uid: number): void {
    const p = this.permissions;
    // Root gives the port's socket to its client alone (the owner's bits), as vde_switch does.
    if (libc().geteuid() === 0 && uid >= 0) sock.bindPrivate(path, p.socketMode & 0o700, { uid, gid: p.gid });
    else sock.bindPrivate(path, p.socketMode, { gid: p.gid });
  }

  /** `toClient`: the reason in the few bytes a refusal holds (MAX_REFUSAL_LEN), where the log's is longer. */
  async #refuse(conn: StreamConn, reason: string, toClient = reason): Promise<void> {
    // The reason quotes the client's socket path as it sent it: a newline in it would forge a log line.
    this.#refusals.line(`refused a client: ${printable(reason)}`);
    // A few bytes into an empty socket buffer: the write does not wait on the client.
    await conn.writeAll(buildRefusal(toClient)).catch(() => {});
    try {
      conn.close();
    } catch { /* already closed */ }
  }

  /** Stops serving: closes every endpoint, removes every socket file it made and the directory if empty. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#refusals.close();
    for (const ep of [...this.#endpoints]) ep.close("the switch is shutting down");
    // A client whose handshake is under way learns now, not when this process exits.
    for (const conn of this.#handshakes) {
      try {
        conn.close();
      } catch { /* already closed */ }
    }
    this.#listener?.close();
    try {
      Deno.removeSync(this.#pin.entry("ctl"));
    } catch { /* already gone */ }
    // The sockets clients bound for a handshake go with it (their own unlink comes after ours: the
    // directory stayed); other files remain, as vde_switch leaves them, and so does a directory another
    // switch is starting in, or one put at its name once it was renamed away (only the pinned one goes).
    if (this.#pin.named) removeIdleDirectory(this.dir, "ctl", CLIENT_HANDSHAKE_SOCKET, this.#pin);
    else this.#pin.whereNow(this.#log);
    this.#pin.close();
  }
}

/**
 * `err`'s message, and what to do when it is a run-out of descriptors or a full filesystem (no inode left
 * for the port's socket), said to the client and the log.
 */
function withAdvice(err: unknown): string {
  const advice = descriptorAdvice(err, "the switch", SWITCH_PER_PORT);
  if (advice === undefined) return writeFailure(err);
  return `${err instanceof Error ? err.message : String(err)}: ${advice}`;
}

/**
 * `withAdvice` short enough for a refusal's bytes (a client sees at most MAX_REFUSAL_LEN of it): the way out
 * first, the OS's words where there is none.
 */
function shortAdvice(err: unknown): string {
  const descriptors = shortDescriptorAdvice(err, "the switch");
  if (descriptors !== undefined) return descriptors;
  const message = err instanceof Error ? err.message : String(err);
  if (/\(os error 28\)/.test(message)) {
    return "the switch's directory has no space left (its filesystem is full)";
  }
  return message;
}

/**
 * Why a directory another user owns cannot be served, when `err` is the
 * kernel's refusal: the default directory (`/tmp/vde.ctl`) is shared by
 * every user, so the first one's switch makes it theirs ("bind: Permission
 * denied" said nothing of that). Undefined for any other error.
 */
export function deniedDirectory(dir: string, err: unknown, dirOption = "--sock"): Error | undefined {
  const denied = err instanceof Deno.errors.PermissionDenied ||
    (err instanceof SysError && (err.code === C.EACCES || err.code === C.EPERM));
  if (!denied) return undefined;
  const whose = ownerAndMode(dir);
  return new Error(printable(
    `cannot serve ${dir}: permission denied (${whose && `${whose}; `}another user's switch?): ` +
      `give a directory of your own with ${dirOption}${dirOption.endsWith("DIR") ? "" : " DIR"}`,
  ));
}

/**
 * Removes `DIR/ctl` if nothing answers on it (then true), with the names a dead switch left beside it;
 * throws if a switch answers. `at` reaches the directory `dir`: the held one's /proc/self/fd/N, so a name
 * renamed away meanwhile and replaced by a link (a parent others may write without the sticky bit) does
 * not lead root's unlink of `ctl`, of port sockets and of staging directories into any directory it names.
 */
export async function reclaimStaleCtl(dir: string, at: string, log: (m: string) => void): Promise<boolean> {
  const ctlPath = `${dir}/ctl`;
  let info: Deno.FileInfo;
  try {
    info = Deno.lstatSync(`${at}/ctl`);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
  if (!info.isSocket) throw new Error(printable(`${ctlPath} exists and is not a socket`));
  try {
    const c = await Deno.connect({ transport: "unix", path: `${at}/ctl` });
    c.close();
  } catch {
    log(`reclaiming the stale socket ${ctlPath}`);
    Deno.removeSync(`${at}/ctl`);
    sweepStalePortSockets(at);
    return true;
  }
  throw new Error(alreadyRunning(dir));
}

function alreadyRunning(dir: string): string {
  return printable(`another switch is already running on ${dir}: stop it first, or give another directory`);
}

/**
 * Throws what `start` would when a switch answers on DIR/ctl. `vde switch` asks before its --rc script
 * runs (the script runs before the socket is served), so a start on a taken directory says that alone,
 * as vde_switch, which binds before it reads its rc file, does: not the script's complaints first.
 */
export async function refuseServedDir(dir: string): Promise<void> {
  const ctlPath = `${dir}/ctl`;
  try {
    if (!Deno.lstatSync(ctlPath).isSocket) return;
    const c = await Deno.connect({ transport: "unix", path: ctlPath });
    c.close();
  } catch {
    return; // Not there, or nothing answers: start reclaims it or says why it cannot.
  }
  throw new Error(alreadyRunning(dir));
}

/**
 * Removes the `NNN.F` port sockets a dead switch left behind, with a port's hidden `.NNN.F.new` and the
 * staging directories (`.XXXXXXXX`) of ours that a kill in the middle of a bind left: kept, they were there
 * for good, and the directory was never removed at a stop.
 */
function sweepStalePortSockets(dir: string): void {
  removeStaleStaging(dir);
  for (const entry of Deno.readDirSync(dir)) {
    if (!/^(\d{3,}\.\d+|\.\d{3,}\.\d+\.new)$/.test(entry.name)) continue;
    try {
      if (Deno.lstatSync(`${dir}/${entry.name}`).isSocket) Deno.removeSync(`${dir}/${entry.name}`);
    } catch { /* raced with someone else */ }
  }
}

/**
 * Why an existing directory `given` (its entries read at `dir`) is not to be given
 * the switch's mode and group, or undefined when it is: one a switch left
 * (its stale `ctl` was just reclaimed) or an empty one made for it is. A
 * directory that holds other files is no switch's (`--sock ~` would close a
 * home directory to 2700), and one reached through a symlink may be
 * anything (a member of a shared directory's group could point `sw` at
 * /etc for root's switch to chmod).
 */
function notASwitchDir(given: string, dir: string, reclaimed: boolean): string | undefined {
  try {
    if (Deno.lstatSync(given.replace(/\/+$/, "") || "/").isSymlink) return "is reached through a symlink";
  } catch { /* swapped meanwhile: served as found */ }
  if (reclaimed) return undefined;
  // Sockets (clients', a switch's) and cable session locks only may be left in a switch's directory.
  for (const e of Deno.readDirSync(dir)) {
    if (e.isFile && isSessionLockName(e.name)) continue;
    if (e.isSymlink || !isSocket(`${dir}/${e.name}`)) return "holds other files (no switch's directory)";
  }
  return undefined;
}

/**
 * A directory that was there before (a switch killed with SIGKILL leaves
 * its own) is given the mode and group this start asks for, as vde_switch
 * chmods it: kept as it was, a restart with a narrower `--mode` or without
 * `--group` would still let the old group in. Only a directory of ours
 * (another user's is left as it is, and said), its group first (chown may
 * clear the setgid bit), and only once no live switch serves it.
 */
function narrowExisting(held: HeldDirectory, perms: SwitchPermissions): void {
  const gid = perms.gid ?? Deno.gid();
  if (gid !== null) held.chown(gid);
  held.chmod(perms.dirMode);
}
