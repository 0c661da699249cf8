/**
 * The opening messages of a TCP cable (`vde cable`, `tcp://`), as bytes.
 *
 * A cable starts with a short exchange in clear, then carries frames either
 * in sealed records (cable_record.ts) or, with `--insecure`, in VDE's plain
 * stream framing. All integers are big-endian.
 *
 * ```
 * client hello   64 bytes  "VDEC" | version u8 | mode u8 | flags u16 | nonce[32] | key id[8] | session id[16]
 * server hello   72 bytes  "VDES" | version u8 | mode u8 | status u8 | flags u8 | nonce[32] | proof[32]
 * client finish  32 bytes  proof[32]                       (sealed mode only)
 * accept          8 bytes  "VDEA" | status u8 | flags u8 | port u16
 *                          (sealed: the body of the first record; plain: in clear)
 * ```
 *
 * Flags are optional features: the client offers, the listener answers
 * with those it takes (CableFlag). The first peers sent zeros there and
 * ignore what they read there, so an offer to one is declined and nothing
 * new is ever sent to it.
 *
 * The proofs are HMACs over both hellos (the server hello without its proof)
 * under a key both sides derive from the pre-shared key and both nonces; see
 * src/cable/crypto.ts. Parsers check every length and return a reason
 * instead of throwing (parse.ts), since the first bytes come from anyone who
 * connects.
 */
import type { Parsed } from "./parse.ts";

/** Protocol version spoken here. */
export const CABLE_VERSION = 1;
/** Bytes of each side's random nonce. */
export const NONCE_SIZE = 32;
/** Bytes of the key id (a hash of the pre-shared key). */
export const KEY_ID_SIZE = 8;
/** Bytes of a session id. */
export const SESSION_ID_SIZE = 16;
/** Bytes of an HMAC-SHA-256 proof. */
export const PROOF_SIZE = 32;
/** Bytes of the client hello. */
export const CLIENT_HELLO_SIZE = 64;
/** Bytes of the server hello. */
export const SERVER_HELLO_SIZE = 72;
/** Bytes of the server hello covered by the proofs (everything but the proof). */
export const SERVER_HELLO_SIGNED = SERVER_HELLO_SIZE - PROOF_SIZE;
/** Bytes of the client finish. */
export const CLIENT_FINISH_SIZE = PROOF_SIZE;
/** Bytes of the accept message. */
export const ACCEPT_SIZE = 8;

const CLIENT_MAGIC = [0x56, 0x44, 0x45, 0x43]; // "VDEC"
/** Why a client hello, or its first bytes, is refused for its magic. */
export const NOT_A_CABLE = "not a vde cable (bad magic)";
const NOT_A_LISTENER = "the far side is not a vde cable listener";
const SERVER_MAGIC = [0x56, 0x44, 0x45, 0x53]; // "VDES"
const ACCEPT_MAGIC = [0x56, 0x44, 0x45, 0x41]; // "VDEA"

/** Feature flags of the hellos. */
export const CableFlag = {
  /** Sealed only: echo records (RecordType.echoRequest/echoReply) measure the round-trip time. */
  echo: 1,
} as const;

/** How frames travel after the handshake: sealed records or plain stream framing. */
export type CableMode = "sealed" | "plain";

const MODE_CODE: Record<CableMode, number> = { sealed: 1, plain: 2 };

function modeOf(code: number): CableMode | null {
  return code === 1 ? "sealed" : code === 2 ? "plain" : null;
}

/** The listener's answer in the server hello and in accept. */
export const Status = {
  ok: 0,
  /** The client's key id is not the listener's. */
  wrongKey: 1,
  /** One side wants a plain cable, the other a sealed one. */
  modeMismatch: 2,
  /** The client speaks another protocol version. */
  badVersion: 3,
  /** The listener has no room for another cable. */
  busy: 4,
  /** The listener could not give the cable a port. */
  refused: 5,
} as const;

/** A status code from the Status table. */
export type StatusCode = typeof Status[keyof typeof Status];

/** One-line explanation of a status, for logs. */
export function statusText(status: number): string {
  switch (status) {
    case Status.ok:
      return "accepted";
    case Status.wrongKey:
      return "wrong key";
    case Status.modeMismatch:
      return "one side is --insecure (plain) and the other is not";
    case Status.badVersion:
      return "unsupported protocol version";
    case Status.busy:
      return "the listener is full";
    case Status.refused:
      return "the listener could not give the cable a switch port";
    default:
      return `unknown status ${status}`;
  }
}

/** The client's opening message. */
export interface ClientHello {
  version: number;
  mode: CableMode;
  /** Features offered (CableFlag bits); 0 from a first-version peer. */
  flags: number;
  nonce: Uint8Array;
  keyId: Uint8Array;
  sessionId: Uint8Array;
}

/** The listener's answer to a client hello. */
export interface ServerHello {
  version: number;
  mode: CableMode;
  status: number;
  /** Features taken (CableFlag bits, a subset of the offer); 0 from a first-version peer. */
  flags: number;
  nonce: Uint8Array;
  proof: Uint8Array;
}

/** The listener's last word before frames flow: the port the cable got. */
export interface Accept {
  status: number;
  /** True when the cable resumed an existing session (and its port). */
  resumed: boolean;
  /** The switch port on the listener's side, 0 when unknown. */
  port: number;
}

function hasMagic(b: Uint8Array, magic: number[]): boolean {
  return b[0] === magic[0] && b[1] === magic[1] && b[2] === magic[2] && b[3] === magic[3];
}

function put(out: Uint8Array, at: number, bytes: Uint8Array, size: number): void {
  if (bytes.length !== size) throw new RangeError(`expected ${size} bytes, got ${bytes.length}`);
  out.set(bytes, at);
}

/**
 * Why the bytes a client sent so far cannot begin a client hello, or null
 * while they may: a peer that is no vde cable (nc, curl) is told apart by its
 * first bytes, not after the whole hello or the handshake's deadline.
 */
export function notClientHello(b: Uint8Array): string | null {
  return startsLike(b, CLIENT_MAGIC) ? null : NOT_A_CABLE;
}

/**
 * Why the bytes a listener sent so far cannot begin its hello, or null while
 * they may: a port that holds another server (sshd's banner) is named with
 * what it said, not after a wait for 72 bytes that may never come.
 */
export function notServerHello(b: Uint8Array): string | null {
  return startsLike(b, SERVER_MAGIC) ? null : `${NOT_A_LISTENER} (it sent ${peerSaid(b)})`;
}

function startsLike(b: Uint8Array, magic: number[]): boolean {
  for (let i = 0; i < magic.length && i < b.length; i++) if (b[i] !== magic[i]) return false;
  return true;
}

/** A foreign peer's first bytes for a log line: its first line quoted when printable, else hex. */
function peerSaid(b: Uint8Array): string {
  const head = b.subarray(0, 40);
  let text = "";
  for (const c of head) {
    if (c === 0x0d || c === 0x0a) break;
    if (c < 0x20 || c > 0x7e) return `0x${hex(b.subarray(0, 8))}`;
    text += String.fromCharCode(c);
  }
  return JSON.stringify(text);
}

/** Encodes a client hello; throws RangeError on wrong field sizes (a bug, not input). */
export function encodeClientHello(h: ClientHello): Uint8Array {
  const out = new Uint8Array(CLIENT_HELLO_SIZE);
  out.set(CLIENT_MAGIC, 0);
  out[4] = h.version;
  out[5] = MODE_CODE[h.mode];
  out[6] = (h.flags >>> 8) & 0xff;
  out[7] = h.flags & 0xff;
  put(out, 8, h.nonce, NONCE_SIZE);
  put(out, 40, h.keyId, KEY_ID_SIZE);
  put(out, 48, h.sessionId, SESSION_ID_SIZE);
  return out;
}

/** Parses a client hello from exactly CLIENT_HELLO_SIZE bytes. */
export function parseClientHello(b: Uint8Array): Parsed<ClientHello> {
  if (b.length < CLIENT_HELLO_SIZE) return { ok: false, reason: `short hello (${b.length} bytes)` };
  if (!hasMagic(b, CLIENT_MAGIC)) return { ok: false, reason: NOT_A_CABLE };
  const mode = modeOf(b[5]!);
  // The version is reported even when the mode is unknown: a newer client may add modes.
  if (b[4] !== CABLE_VERSION) {
    return { ok: true, value: hello(b, b[4]!, mode ?? "sealed") };
  }
  if (mode === null) return { ok: false, reason: `unknown mode ${b[5]}` };
  return { ok: true, value: hello(b, b[4]!, mode) };
}

function hello(b: Uint8Array, version: number, mode: CableMode): ClientHello {
  return {
    version,
    mode,
    flags: (b[6]! << 8) | b[7]!,
    nonce: b.slice(8, 40),
    keyId: b.slice(40, 48),
    sessionId: b.slice(48, 64),
  };
}

/** Encodes a server hello; `proof` may be all zeros when no proof applies. */
export function encodeServerHello(h: ServerHello): Uint8Array {
  const out = new Uint8Array(SERVER_HELLO_SIZE);
  out.set(SERVER_MAGIC, 0);
  out[4] = h.version;
  out[5] = MODE_CODE[h.mode];
  out[6] = h.status;
  out[7] = h.flags & 0xff;
  put(out, 8, h.nonce, NONCE_SIZE);
  put(out, SERVER_HELLO_SIGNED, h.proof, PROOF_SIZE);
  return out;
}

/** Parses a server hello from exactly SERVER_HELLO_SIZE bytes. */
export function parseServerHello(b: Uint8Array): Parsed<ServerHello> {
  if (b.length < SERVER_HELLO_SIZE) return { ok: false, reason: `short answer (${b.length} bytes)` };
  if (!hasMagic(b, SERVER_MAGIC)) return { ok: false, reason: NOT_A_LISTENER };
  const mode = modeOf(b[5]!);
  if (mode === null) return { ok: false, reason: `unknown mode ${b[5]}` };
  return {
    ok: true,
    value: {
      version: b[4]!,
      mode,
      status: b[6]!,
      flags: b[7]!,
      nonce: b.slice(8, 40),
      proof: b.slice(SERVER_HELLO_SIGNED, SERVER_HELLO_SIZE),
    },
  };
}

/** Encodes an accept message. */
export function encodeAccept(a: Accept): Uint8Array {
  const out = new Uint8Array(ACCEPT_SIZE);
  out.set(ACCEPT_MAGIC, 0);
  out[4] = a.status;
  out[5] = a.resumed ? 1 : 0;
  out[6] = (a.port >>> 8) & 0xff;
  out[7] = a.port & 0xff;
  return out;
}

/** Parses an accept message. */
export function parseAccept(b: Uint8Array): Parsed<Accept> {
  if (b.length !== ACCEPT_SIZE) return { ok: false, reason: `accept of ${b.length} bytes` };
  if (!hasMagic(b, ACCEPT_MAGIC)) return { ok: false, reason: "bad accept message" };
  return { ok: true, value: { status: b[4]!, resumed: (b[5]! & 1) === 1, port: (b[6]! << 8) | b[7]! } };
}

/** Lower-case hex of `bytes`, for logs. */
export function hex(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += b.toString(16).padStart(2, "0");
  return s;
}
