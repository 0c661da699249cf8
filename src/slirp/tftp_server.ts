/**
 * A read-only TFTP server on the gateway address (RFC 1350), with option
 * negotiation (RFC 2347) for blksize (RFC 2348), timeout and tsize (RFC
 * 2349), as libslirp has it for PXE boot.
 *
 * Theory of operation. The stack hands every UDP datagram for the
 * gateway's port 69 here, with the guest's address and port; replies leave
 * from port 69 too (libslirp does the same; clients take the server's
 * port from its first answer, RFC 1350 section 4). One transfer per guest
 * address and port, at most `MAX_TRANSFERS` at once. A read request is
 * checked before anything is opened: no `..` component, no backslash or
 * control characters, and the file's real path (symlinks resolved) must
 * lie inside the root; so must the file then opened (by the kernel's name
 * for it), a regular file opened without blocking. A leading `/` names the
 * root, as libslirp joins the name to its prefix (QEMU's own example is
 * `bootfile=/pxelinux.0`). Write requests are refused.
 *
 * The transfer is lock-step: one DATA block in flight, sent again after
 * the timeout (the negotiated one, or `DEFAULT_TIMEOUT_MS`) at most
 * `MAX_RETRIES` times; a duplicate ACK is ignored rather than answered
 * (RFC 1123 section 4.2.3.1, the Sorcerer's Apprentice bug). The block
 * number wraps at 65535 as common clients expect, so files larger than
 * 65535 blocks also go through. A block size is capped so that a DATA
 * packet fits the link's MTU. Blocks are read from the file as they are
 * sent, so a transfer holds one block of memory. The log is bounded as
 * the guest drives it: a name missing, refused, sent or failed is said once
 * (at most MAX_SAID names a minute), further transfers as one count a minute.
 */
import {
  buildTftpError,
  buildTftpOack,
  parseTftpClientPacket,
  parseTftpRequest,
  TFTP_DATA_HLEN,
  TFTP_DEFAULT_BLKSIZE,
  TFTP_ERR,
  TFTP_MAX_BLKSIZE,
  TFTP_MIN_BLKSIZE,
  TFTP_OP,
  writeTftpDataHeader,
} from "../wire/tftp.ts";
import { counted } from "../counted.ts";
import { openRegularFile } from "../os/owned_file.ts";
import { formatIp } from "../wire/ip_address.ts";

/** Transfers at once. */
export const MAX_TRANSFERS = 64;
/**
 * File names a guest asked for in vain (missing or refused) that are logged (once each) per SAID_WINDOW_MS;
 * later ones are not.
 */
const MAX_SAID = 32;
/** After this long a full list of logged misses starts again, so the next boot's real miss is still said. */
const SAID_WINDOW_MS = 60_000;
/**
 * pxelinux asks for about eleven config names under this directory (UUID,
 * 01-MAC, shorter and shorter hex IPs) before `default`: misses there are
 * how it searches, not a problem to log.
 */
const PROBED_DIR = "pxelinux.cfg/";
/** Retransmit timeout without the timeout option. */
export const DEFAULT_TIMEOUT_MS = 1000;
/** Retransmissions of one packet before the transfer is dropped. */
export const MAX_RETRIES = 5;

/** Sends a TFTP payload from the gateway's port 69 to `guest:guestPort`. */
export type TftpSend = (
  family: 4 | 6,
  guest: Uint8Array,
  guestPort: number,
  b: Uint8Array,
  off: number,
  len: number,
) => void;

interface Transfer {
  key: string;
  family: 4 | 6;
  guest: Uint8Array;
  guestPort: number;
  name: string;
  file: Deno.FsFile;
  size: number;
  blksize: number;
  timeoutMs: number;
  /** The block in flight (0: the OACK), counted without wrapping. */
  block: number;
  /** The packet in flight. */
  packet: Uint8Array;
  packetLen: number;
  deadline: number;
  retries: number;
  started: number;
}

/** Why a file name may not be served, or null when it may. */
export function unsafeTftpName(name: string): string | null {
  if (name === "") return "an empty file name";
  // C1 controls too: U+009B is a CSI to some terminals, and the guest's names are logged.
  // deno-lint-ignore no-control-regex
  if (/[\\\x00-\x1f\x7f-\x9f]/.test(name)) return "a backslash or control character";
  if (name.split("/").some((part) => part === "..")) return 'a ".." component';
  return null;
}

/** What #open's refusal ("access", "file not found") says in the log. */
function missingReason(why: string): string {
  return why === "access" ? "not readable" : "not found";
}

/**
 * A guest's file name as a log line shows it: quoted as JSON, which escapes C0 controls, and C1 controls
 * (U+0080-U+009F, which JSON leaves as they are) escaped as well, so no name forges a line or an escape.
 */
function quoted(name: string): string {
  return JSON.stringify(name).replace(
    /[\x7f-\x9f]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/**
 * Lines about transfers of one kind, bounded as the guest drives them: one per name in a window of
 * SAID_WINDOW_MS, at most MAX_SAID names; the rest are counted and said as one line when it ends.
 */
class WindowedLines {
  readonly #said = new Set<string>();
  #since = 0;
  #unsaid = 0;
  readonly #countLine: (n: number) => string;

  constructor(countLine: (n: number) => string) {
    this.#countLine = countLine;
  }

  /** Whether the line for `name` is to be logged now; when not, it is counted. */
  take(name: string, now: number): boolean {
    if (this.#said.has(name) || this.#said.size >= MAX_SAID) {
      this.#unsaid++;
      return false;
    }
    if (this.#said.size === 0) this.#since = now;
    this.#said.add(name);
    return true;
  }

  /** The end of the window while it has lines to count (so the count is said then), else Infinity. */
  get due(): number {
    return this.#unsaid > 0 ? this.#since + SAID_WINDOW_MS : Infinity;
  }

  /** Ends the window if it ran out by `now`: the count line of what it did not say, if anything. */
  end(now: number): string | null {
    if (this.#said.size === 0 || now - this.#since < SAID_WINDOW_MS) return null;
    const n = this.#unsaid;
    this.#said.clear();
    this.#unsaid = 0;
    return n > 0 ? this.#countLine(n) : null;
  }
}

/** The TFTP server of one stack. */
export class TftpServer {
  readonly #root: string;
  readonly #realRoot: string;
  readonly #send: TftpSend;
  readonly #now: () => number;
  readonly #log: (m: string) => void;
  /** Names already logged as missing (see #sayMissing). */
  readonly #said = new Set<string>();
  /** When #said last started empty. */
  #saidSince = 0;
  /**
   * Successful transfers: a guest fetching a file again and again (a ROM in a boot loop) logged a line
   * per transfer, without bound.
   */
  readonly #sent = new WindowedLines((n) => `${counted(n, "more transfer")} sent`);
  /** Failed ones (timed out, stopped, restarted): a guest can fail a transfer per request just as cheaply. */
  readonly #failed = new WindowedLines((n) => `${counted(n, "more transfer")} failed`);
  readonly #maxBlksize: number;
  readonly #transfers = new Map<string, Transfer>();
  /** Transfers served to the end, for the console and tests. */
  completed = 0;

  /**
   * @param root directory served
   * @param maxBlksize largest block that fits the link (MTU less IP, UDP and TFTP headers)
   * @throws Error when `root` is not a directory
   */
  constructor(
    root: string,
    send: TftpSend,
    now: () => number,
    log: (m: string) => void,
    maxBlksize: number,
  ) {
    let real: string;
    try {
      real = Deno.realPathSync(root);
      if (!Deno.statSync(real).isDirectory) throw new Error("not a directory");
    } catch (err) {
      // Deno's text ends in "(os error 2): realpath '/x'", which repeats the path and reads as a crash.
      const why = err instanceof Deno.errors.NotFound
        ? "no such directory"
        : (err as Error).message.split(":")[0]!.replace(/ \(os error \d+\)$/, "");
      throw new Error(`tftp directory ${root}: ${why}`);
    }
    this.#root = root;
    this.#realRoot = real;
    this.#send = send;
    this.#now = now;
    this.#log = log;
    this.#maxBlksize = Math.max(TFTP_MIN_BLKSIZE, Math.min(TFTP_MAX_BLKSIZE, maxBlksize));
  }

  /** The directory served. */
  get root(): string {
    return this.#root;
  }

  /**
   * Why `name` could not be served now, in the log's words ("not found", "not readable", "a \"..\"
   * component"), or null when it could: the start line's check of the boot file DHCP announces, which a
   * guest's ROM otherwise finds missing alone.
   */
  cannotServe(name: string): string | null {
    const unsafe = unsafeTftpName(name);
    if (unsafe !== null) return unsafe;
    const opened = this.#open(name);
    if (typeof opened === "string") return missingReason(opened);
    opened.file.close();
    return null;
  }

  /** Transfers in progress. */
  get transferCount(): number {
    return this.#transfers.size;
  }

  /** Takes a datagram from `guest:guestPort` to the gateway's port 69 (all views borrowed). */
  input(family: 4 | 6, guest: Uint8Array, guestPort: number, b: Uint8Array, off: number, len: number): void {
    if (len < 2) return;
    const key = `${family}|${guest.join(".")}|${guestPort}`;
    const op = (b[off]! << 8) | b[off + 1]!;
    if (op === TFTP_OP.RRQ || op === TFTP_OP.WRQ) {
      this.#request(key, family, guest, guestPort, b, off, len);
      return;
    }
    const t = this.#transfers.get(key);
    const parsedPacket = parseTftpClientPacket(b, off, len);
    if (t === undefined || !parsedPacket.ok) {
      // Not part of a transfer (RFC 1350 section 4: answer with "unknown transfer ID").
      if (parsedPacket.ok && parsedPacket.value.op === TFTP_OP.ERROR) return;
      this.#error(family, guest, guestPort, TFTP_ERR.UNKNOWN_TID, "unknown transfer");
      return;
    }
    const p = parsedPacket.value;
    if (p.op === TFTP_OP.ERROR) {
      this.#finish(t, `stopped by the client: ${p.message}`);
      return;
    }
    if (p.block !== (t.block & 0xffff)) return;
    if (t.block > 0 && t.packetLen - TFTP_DATA_HLEN < t.blksize) {
      this.completed++;
      this.#finish(t, null);
      return;
    }
    t.block++;
    this.#sendBlock(t);
  }

  #request(
    key: string,
    family: 4 | 6,
    guest: Uint8Array,
    guestPort: number,
    b: Uint8Array,
    off: number,
    len: number,
  ): void {
    const old = this.#transfers.get(key);
    if (old !== undefined) this.#finish(old, "restarted by a new request");
    const parsedRequest = parseTftpRequest(b, off, len);
    if (!parsedRequest.ok) {
      this.#error(family, guest, guestPort, TFTP_ERR.ILLEGAL_OP, parsedRequest.reason);
      return;
    }
    const r = parsedRequest.value;
    if (r.op === TFTP_OP.WRQ) {
      this.#error(family, guest, guestPort, TFTP_ERR.ACCESS, "this TFTP server is read-only");
      return;
    }
    if (r.mode !== "octet") {
      this.#error(family, guest, guestPort, TFTP_ERR.ILLEGAL_OP, `mode ${r.mode} is not served (octet only)`);
      return;
    }
    const unsafe = unsafeTftpName(r.filename);
    if (unsafe !== null) {
      this.#sayOnce(r.filename, () => `tftp: refused ${quoted(r.filename)} (${unsafe})`);
      this.#error(family, guest, guestPort, TFTP_ERR.ACCESS, `access violation: ${unsafe}`);
      return;
    }
    if (this.#transfers.size >= MAX_TRANSFERS) {
      this.#error(family, guest, guestPort, TFTP_ERR.UNDEFINED, "too many transfers");
      return;
    }
    const opened = this.#open(r.filename);
    if (typeof opened === "string") {
      this.#sayMissing(r.filename, opened, guest);
      this.#error(
        family,
        guest,
        guestPort,
        opened === "access" ? TFTP_ERR.ACCESS : TFTP_ERR.NOT_FOUND,
        opened,
      );
      return;
    }
    const accepted: [string, string][] = [];
    let blksize = TFTP_DEFAULT_BLKSIZE;
    let timeoutMs = DEFAULT_TIMEOUT_MS;
    for (const [k, v] of r.options) {
      if (!/^\d{1,6}$/.test(v)) continue;
      const n = Number(v);
      if (k === "blksize" && n >= TFTP_MIN_BLKSIZE) {
        blksize = Math.min(n, this.#maxBlksize);
        accepted.push([k, String(blksize)]);
      } else if (k === "tsize") accepted.push([k, String(opened.size)]);
      else if (k === "timeout" && n >= 1 && n <= 255) {
        timeoutMs = n * 1000;
        accepted.push([k, v]);
      }
    }
    const t: Transfer = {
      key,
      family,
      guest: guest.slice(),
      guestPort,
      name: r.filename,
      file: opened.file,
      size: opened.size,
      blksize,
      timeoutMs,
      block: accepted.length > 0 ? 0 : 1,
      packet: new Uint8Array(TFTP_DATA_HLEN + blksize),
      packetLen: 0,
      deadline: 0,
      retries: 0,
      started: this.#now(),
    };
    this.#transfers.set(key, t);
    if (accepted.length > 0) {
      const oack = buildTftpOack(accepted);
      if (oack.length > t.packet.length) t.packet = new Uint8Array(oack.length);
      t.packet.set(oack, 0);
      t.packetLen = oack.length;
      this.#transmit(t);
    } else this.#sendBlock(t);
  }

  /** Opens a checked name inside the root; the reason as text when it cannot be served. */
  #open(name: string): { file: Deno.FsFile; size: number } | string {
    let real: string;
    try {
      real = Deno.realPathSync(`${this.#realRoot}/${name.replace(/^\/+/, "")}`);
    } catch {
      return "file not found";
    }
    if (!real.startsWith(`${this.#realRoot}/`)) return "access";
    // Without blocking, without following a final symlink, and only when the kernel's name for the very file
    // opened lies inside the root: a FIFO in the directory served, opened plainly, would wait for a writer
    // with the whole stack; a device would be read without end; a component swapped for a symlink out of
    // the root between the realpath above and the open would serve any file the slirp may read.
    const file = openRegularFile(real, { noFollow: true, inside: this.#realRoot });
    if (typeof file === "string") {
      return /regular file|directory|no such file/.test(file) ? "file not found" : "access";
    }
    try {
      return { file, size: file.statSync().size };
    } catch {
      file.close();
      return "access";
    }
  }

  /** Reads block `t.block` into the packet and sends it. */
  #sendBlock(t: Transfer): void {
    writeTftpDataHeader(t.packet, 0, t.block & 0xffff);
    const want = t.blksize;
    const at = (t.block - 1) * t.blksize;
    let got = 0;
    try {
      t.file.seekSync(at, Deno.SeekMode.Start);
      while (got < want) {
        const n = t.file.readSync(t.packet.subarray(TFTP_DATA_HLEN + got, TFTP_DATA_HLEN + want));
        if (n === null || n === 0) break;
        got += n;
      }
    } catch (err) {
      this.#error(t.family, t.guest, t.guestPort, TFTP_ERR.UNDEFINED, "read error");
      this.#finish(t, `read error: ${(err as Error).message}`);
      return;
    }
    t.packetLen = TFTP_DATA_HLEN + got;
    t.retries = 0;
    this.#transmit(t);
  }

  #transmit(t: Transfer): void {
    t.deadline = this.#now() + t.timeoutMs;
    this.#send(t.family, t.guest, t.guestPort, t.packet, 0, t.packetLen);
  }

  /**
   * Logs a file the guest asked for and did not get, once per name (a
   * guest retries; a hostile one may ask for many: at most MAX_SAID names a
   * minute): a PXE guest stuck on "No such file" has its reason on its
   * console only. pxelinux's config probes are not misses worth a line.
   */
  #sayMissing(name: string, why: string, guest: Uint8Array): void {
    // With QEMU's bootfile=/pxelinux.0, pxelinux probes /pxelinux.cfg/... (its own path's directory).
    if (name.replace(/^\/+/, "").startsWith(PROBED_DIR)) return;
    const reason = missingReason(why);
    this.#sayOnce(
      name,
      () => `tftp: ${quoted(name)} asked by ${formatIp(guest)}: ${reason} in ${this.#root}`,
    );
  }

  /**
   * Logs `line()` once per name, at most MAX_SAID names a minute: the names are the guest's, one per
   * packet, and a log line per packet would let a guest fill the slirp owner's log.
   */
  #sayOnce(name: string, line: () => string): void {
    if (this.#said.has(name)) return;
    if (this.#said.size >= MAX_SAID) {
      if (this.#now() - this.#saidSince < SAID_WINDOW_MS) return;
      this.#said.clear();
    }
    if (this.#said.size === 0) this.#saidSince = this.#now();
    this.#said.add(name);
    this.#log(line());
  }

  /** Ends the windows that ran out by `now` (all of them when `now` is Infinity), saying their counts. */
  #endWindows(now: number): void {
    for (const w of [this.#sent, this.#failed]) {
      const n = w.end(now);
      if (n !== null) this.#log(`tftp: ${n} in the last minute (names logged once a minute)`);
    }
  }

  #error(family: 4 | 6, guest: Uint8Array, guestPort: number, code: number, message: string): void {
    const e = buildTftpError(code, message);
    this.#send(family, guest, guestPort, e, 0, e.length);
  }

  #finish(t: Transfer, problem: string | null): void {
    this.#transfers.delete(t.key);
    try {
      t.file.close();
    } catch { /* closed already */ }
    const who = formatIp(t.guest);
    const now = this.#now();
    if (problem === null) {
      if (!this.#sent.take(t.name, now)) return;
      this.#log(
        `tftp: sent ${t.name} (${counted(t.size, "byte")}) to ${who} in ${
          Math.round(now - t.started)
        } ms, ${t.blksize}-byte blocks`,
      );
    } else if (this.#failed.take(t.name, now)) this.#log(`tftp: ${t.name} to ${who}: ${problem}`);
  }

  /** Resends what timed out; drops transfers whose client went away. */
  poll(now: number): void {
    this.#endWindows(now);
    for (const t of [...this.#transfers.values()]) {
      if (now < t.deadline) continue;
      if (t.retries >= MAX_RETRIES) {
        this.#finish(t, "timed out");
        continue;
      }
      t.retries++;
      this.#transmit(t);
    }
  }

  /** The earliest retransmission deadline, or Infinity. */
  nextDeadline(): number {
    // The end of a window with transfers still to count, so their count is said then.
    let d = Math.min(this.#sent.due, this.#failed.due);
    for (const t of this.#transfers.values()) d = Math.min(d, t.deadline);
    return d;
  }

  /** Drops every transfer. */
  close(): void {
    for (const t of [...this.#transfers.values()]) this.#finish(t, "closed");
    this.#endWindows(Infinity);
  }
}
