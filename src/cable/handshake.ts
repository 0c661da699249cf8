/**
 * The opening exchange of a TCP cable, on both sides (messages in
 * src/wire/cable_handshake.ts, keys and proofs in crypto.ts).
 *
 * ```
 * client                                   listener
 *   client hello (nonce, key id, session) ->
 *                                       <- server hello (nonce, status, proof)
 *   client finish (proof)                ->            (sealed mode only)
 *                                       <- accept (port, resumed)
 * ```
 *
 * The listener checks the client's key id before anything costly and answers
 * a mismatch with a status, so both sides can log "wrong key"; the proofs are
 * what actually authenticate. Every read is bounded by the caller's deadline:
 * when it passes the transport is closed, so a peer that sends nothing, or
 * random bytes, costs one short-lived connection.
 */
import {
  ACCEPT_SIZE,
  CABLE_VERSION,
  CableFlag,
  type CableMode,
  CLIENT_FINISH_SIZE,
  CLIENT_HELLO_SIZE,
  type ClientHello,
  encodeAccept,
  encodeClientHello,
  encodeServerHello,
  hex,
  NONCE_SIZE,
  notClientHello,
  notServerHello,
  parseAccept,
  parseClientHello,
  parseServerHello,
  PROOF_SIZE,
  SERVER_HELLO_SIGNED,
  SERVER_HELLO_SIZE,
  Status,
  statusText,
} from "../wire/cable_handshake.ts";
import { RECORD_HEADER_SIZE, RecordType, TAG_SIZE } from "../wire/cable_record.ts";
import {
  checkProof,
  createOpener,
  createSealer,
  deriveConnectionKeys,
  makeProof,
  type RecordOpener,
  type RecordSealer,
} from "./crypto.ts";
import type { CableKey } from "./key.ts";

/** A byte stream a cable runs on: a Deno.TcpConn, or an in-memory pipe in tests. */
export interface CableTransport {
  read(p: Uint8Array): Promise<number | null>;
  write(p: Uint8Array): Promise<number>;
  close(): void;
}

/**
 * What went wrong in a handshake: "auth" is a wrong key, "replay" a client
 * hello seen before (a recorded stream sent again), "tamper" a proof that
 * fails although the key id is ours (bytes altered in transit, or a peer
 * that claims our key id without the key).
 */
export type HandshakeFailure = "timeout" | "protocol" | "auth" | "replay" | "tamper" | "refused" | "closed";

/** A failed handshake; the message is one line for the log. */
export class HandshakeError extends Error {
  constructor(readonly kind: HandshakeFailure, message: string, readonly status?: number) {
    super(message);
    this.name = "HandshakeError";
  }
}

/** The record layer of a sealed cable, one direction each way. */
export interface SealedChannel {
  sealer: RecordSealer;
  opener: RecordOpener;
}

/** What a finished handshake hands to the connection. */
export interface Established {
  mode: CableMode;
  /** The session the client asked for. */
  sessionId: Uint8Array;
  /** Key id of the key in use; all zeros for a plain cable. */
  keyId: Uint8Array;
  /** Present in sealed mode. */
  channel: SealedChannel | null;
  /** Bytes read past the handshake: the start of the frame stream. */
  leftover: Uint8Array;
  /** Both ends take echo records (sealed only): the connection measures its round-trip time. */
  echo: boolean;
}

/** The features we offer: echo, in sealed mode only (plain frames have no room for it). */
function ourFlags(mode: CableMode, offerEcho: boolean | undefined): number {
  return mode === "sealed" && offerEcho !== false ? CableFlag.echo : 0;
}

/** Reads exact amounts from a transport, keeping what it read beyond them. */
class ExactReader {
  #buf = new Uint8Array(4096);
  #start = 0;
  #end = 0;

  constructor(readonly transport: CableTransport, readonly deadline: { expired: boolean }) {}

  /** `unfit` is asked about the bytes so far after each read; a reason ends the handshake at once (a protocol error). */
  async read(
    n: number,
    what: string,
    unfit?: (b: Uint8Array) => string | null,
  ): Promise<Uint8Array> {
    if (this.#buf.length < n) {
      const bigger = new Uint8Array(n);
      bigger.set(this.#buf.subarray(this.#start, this.#end));
      this.#end -= this.#start;
      this.#start = 0;
      this.#buf = bigger;
    }
    while (this.#end - this.#start < n) {
      if (this.#buf.length - this.#start < n) {
        this.#buf.copyWithin(0, this.#start, this.#end);
        this.#end -= this.#start;
        this.#start = 0;
      }
      let got: number | null;
      try {
        got = await this.transport.read(this.#buf.subarray(this.#end));
      } catch (err) {
        if (this.deadline.expired) throw new HandshakeError("timeout", `timed out waiting for the ${what}`);
        throw new HandshakeError("closed", `connection failed before the ${what}: ${errorText(err)}`);
      }
      if (got === null) {
        if (this.deadline.expired) throw new HandshakeError("timeout", `timed out waiting for the ${what}`);
        const have = this.#end - this.#start;
        throw new HandshakeError(
          "closed",
          `the peer closed the connection ${have > 0 ? `after ${have} bytes of` : "before"} the ${what}`,
        );
      }
      this.#end += got;
      const why = unfit?.(this.#buf.subarray(this.#start, this.#end)) ?? null;
      if (why !== null) throw new HandshakeError("protocol", why);
    }
    const out = this.#buf.slice(this.#start, this.#start + n);
    this.#start += n;
    return out;
  }

  /** Bytes read beyond the last `read`. */
  leftover(): Uint8Array {
    return this.#buf.slice(this.#start, this.#end);
  }
}

async function writeAll(t: CableTransport, bytes: Uint8Array, what: string): Promise<void> {
  try {
    let off = 0;
    while (off < bytes.length) off += await t.write(bytes.subarray(off));
  } catch (err) {
    throw new HandshakeError("closed", `cannot send the ${what}: ${errorText(err)}`);
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

/** Runs `fn` with a deadline that closes the transport when it passes. */
async function withDeadline<T>(
  t: CableTransport,
  ms: number,
  fn: (deadline: { expired: boolean }) => Promise<T>,
): Promise<T> {
  const deadline = { expired: false };
  const timer = setTimeout(() => {
    deadline.expired = true;
    try {
      t.close();
    } catch { /* closed already */ }
  }, ms);
  try {
    return await fn(deadline);
  } finally {
    clearTimeout(timer);
  }
}

/** Options of the client side. */
export interface ClientHandshakeOptions {
  /** The pre-shared key; null for a plain (--insecure) cable. */
  key: CableKey | null;
  sessionId: Uint8Array;
  timeoutMs: number;
  /** Offer echo records (default true; false behaves as a first-version client). */
  echo?: boolean;
}

/** The client's view of a finished handshake. */
export interface ClientEstablished extends Established {
  /** The listener's switch port for this cable (0 when it did not say). */
  port: number;
  /** Whether the listener resumed the session. */
  resumed: boolean;
}

/**
 * Runs the client side of the handshake on a fresh connection.
 *
 * @throws HandshakeError, with kind "refused" and the status when the listener said no
 */
export function clientHandshake(t: CableTransport, o: ClientHandshakeOptions): Promise<ClientEstablished> {
  return withDeadline(t, o.timeoutMs, async (deadline) => {
    const mode: CableMode = o.key === null ? "plain" : "sealed";
    const reader = new ExactReader(t, deadline);
    const nonce = crypto.getRandomValues(new Uint8Array(NONCE_SIZE));
    const keyId = o.key?.id ?? new Uint8Array(8);
    const flags = ourFlags(mode, o.echo);
    const ch = encodeClientHello({
      version: CABLE_VERSION,
      mode,
      flags,
      nonce,
      keyId,
      sessionId: o.sessionId,
    });
    await writeAll(t, ch, "hello");
    const shBytes = await reader.read(SERVER_HELLO_SIZE, "listener's hello", notServerHello);
    const sh = parseServerHello(shBytes);
    if (!sh.ok) throw new HandshakeError("protocol", sh.reason);
    if (sh.value.status !== Status.ok) {
      // A wrong key does not mend itself: say which key we hold, and where the listener's id shows.
      const which = sh.value.status === Status.wrongKey
        ? ` (ours is ${hex(keyId)}; the listener logs its key id: both ends need the same key file)`
        : "";
      throw new HandshakeError(
        "refused",
        `the listener refused the cable: ${statusText(sh.value.status)}${which}`,
        sh.value.status,
      );
    }
    if (sh.value.version !== CABLE_VERSION || sh.value.mode !== mode) {
      throw new HandshakeError(
        "protocol",
        `the listener answered version ${sh.value.version} ${sh.value.mode}`,
      );
    }
    let channel: SealedChannel | null = null;
    let acceptBody: Uint8Array;
    if (o.key !== null) {
      const signed = shBytes.subarray(0, SERVER_HELLO_SIGNED);
      const keys = await deriveConnectionKeys(o.key.bytes, ch, signed, nonce, sh.value.nonce);
      if (!(await checkProof(keys, "server", ch, signed, sh.value.proof))) {
        throw new HandshakeError("auth", "the listener does not hold our key (its proof failed)");
      }
      await writeAll(t, await makeProof(keys, "client", ch, signed), "proof");
      channel = {
        sealer: await createSealer(keys.clientToServer),
        opener: await createOpener(keys.serverToClient),
      };
      keys.clientToServer.fill(0);
      keys.serverToClient.fill(0);
      const header = await reader.read(RECORD_HEADER_SIZE, "accept");
      const len = (header[1]! << 16) | (header[2]! << 8) | header[3]!;
      if (header[0] !== RecordType.accept || len !== ACCEPT_SIZE + TAG_SIZE) {
        throw new HandshakeError(
          "protocol",
          `expected an accept record, got type ${header[0]} of ${len} bytes`,
        );
      }
      const body = await channel.opener.open(header, await reader.read(len, "accept"));
      if (body === null) throw new HandshakeError("auth", "the accept record failed authentication");
      acceptBody = body.slice();
    } else {
      acceptBody = await reader.read(ACCEPT_SIZE, "accept");
    }
    const accept = parseAccept(acceptBody);
    if (!accept.ok) throw new HandshakeError("protocol", accept.reason);
    if (accept.value.status !== Status.ok) {
      throw new HandshakeError(
        "refused",
        `the listener refused the cable: ${statusText(accept.value.status)}`,
        accept.value.status,
      );
    }
    return {
      mode,
      sessionId: o.sessionId,
      keyId,
      channel,
      leftover: reader.leftover(),
      port: accept.value.port,
      resumed: accept.value.resumed,
      // Only what we offered counts: a listener cannot switch on what we did not ask for.
      echo: (sh.value.flags & flags & CableFlag.echo) !== 0,
    };
  });
}

/**
 * The client hello nonces a listener has seen. A client draws a fresh random
 * nonce for every connection, so one seen twice is a replayed handshake. The
 * oldest are forgotten beyond `capacity` (a replay older than that fails its
 * proof instead, which is logged as possible tampering).
 */
export class NonceMemory {
  readonly #seen = new Map<string, number>();

  constructor(readonly capacity = 8192) {}

  /** Remembers `nonce`; returns when it was first seen (ms since the epoch), or undefined when new. */
  remember(nonce: Uint8Array, now = Date.now()): number | undefined {
    const key = hex(nonce);
    const first = this.#seen.get(key);
    if (first !== undefined) return first;
    if (this.#seen.size >= this.capacity) {
      const oldest = this.#seen.keys().next();
      if (!oldest.done) this.#seen.delete(oldest.value);
    }
    this.#seen.set(key, now);
    return undefined;
  }
}

/** Options of the listener side. */
export interface ServerHandshakeOptions {
  key: CableKey | null;
  timeoutMs: number;
  /** Nonces of earlier client hellos (one per listener), to tell a replay from a wrong key. */
  nonces?: NonceMemory;
  /** Take echo records when offered (default true; false behaves as a first-version listener). */
  echo?: boolean;
}

/**
 * Runs the listener's side up to (not including) the accept: the client is
 * authenticated when this resolves. Refusals the client should hear about
 * (wrong key, mode, version) are answered before the error is thrown.
 *
 * @throws HandshakeError
 */
export function serverHandshake(t: CableTransport, o: ServerHandshakeOptions): Promise<Established> {
  return withDeadline(t, o.timeoutMs, async (deadline) => {
    const mode: CableMode = o.key === null ? "plain" : "sealed";
    const reader = new ExactReader(t, deadline);
    const ch = await reader.read(CLIENT_HELLO_SIZE, "hello", notClientHello);
    const parsed = parseClientHello(ch);
    if (!parsed.ok) throw new HandshakeError("protocol", parsed.reason);
    const hello: ClientHello = parsed.value;
    const nonce = crypto.getRandomValues(new Uint8Array(NONCE_SIZE));
    const refuse = async (status: number, message: string): Promise<never> => {
      const sh = encodeServerHello({
        version: CABLE_VERSION,
        mode,
        status,
        flags: 0,
        nonce,
        proof: new Uint8Array(PROOF_SIZE),
      });
      await writeAll(t, sh, "refusal").catch(() => {});
      throw new HandshakeError(status === Status.wrongKey ? "auth" : "refused", message, status);
    };
    if (hello.version !== CABLE_VERSION) {
      return await refuse(
        Status.badVersion,
        `client speaks version ${hello.version}, we speak ${CABLE_VERSION}`,
      );
    }
    if (hello.mode !== mode) {
      return await refuse(
        Status.modeMismatch,
        mode === "sealed"
          ? "client wants a plain (--insecure) cable; this listener requires a key"
          : "client wants an encrypted cable; this listener is --insecure",
      );
    }
    if (o.key !== null && !sameBytes(hello.keyId, o.key.id)) {
      return await refuse(Status.wrongKey, `wrong key (client key ${hex(hello.keyId)}, ours ${o.key.idHex})`);
    }
    const firstSeen = o.key !== null ? o.nonces?.remember(hello.nonce) : undefined;
    if (firstSeen !== undefined) {
      // No answer: whoever replays a recorded stream learns nothing from us.
      throw new HandshakeError(
        "replay",
        `replayed handshake: this client hello was first seen ${new Date(firstSeen).toISOString()} ` +
          `(a recorded cable stream sent again; not a wrong key)`,
      );
    }
    const flags = hello.flags & ourFlags(mode, o.echo);
    const head = encodeServerHello({
      version: CABLE_VERSION,
      mode,
      status: Status.ok,
      flags,
      nonce,
      proof: new Uint8Array(PROOF_SIZE),
    });
    const signed = head.subarray(0, SERVER_HELLO_SIGNED);
    let channel: SealedChannel | null = null;
    if (o.key !== null) {
      const keys = await deriveConnectionKeys(o.key.bytes, ch, signed, hello.nonce, nonce);
      head.set(await makeProof(keys, "server", ch, signed), SERVER_HELLO_SIGNED);
      await writeAll(t, head, "hello");
      const proof = await reader.read(CLIENT_FINISH_SIZE, "proof");
      if (!(await checkProof(keys, "client", ch, signed, proof))) {
        throw new HandshakeError(
          "tamper",
          `the client's proof failed although its key id is ours (${o.key.idHex}): the handshake was ` +
            `altered in transit, or the peer claims our key id without holding the key`,
        );
      }
      channel = {
        sealer: await createSealer(keys.serverToClient),
        opener: await createOpener(keys.clientToServer),
      };
      keys.clientToServer.fill(0);
      keys.serverToClient.fill(0);
    } else {
      await writeAll(t, head, "hello");
    }
    return {
      mode,
      sessionId: hello.sessionId,
      keyId: hello.keyId,
      channel,
      leftover: reader.leftover(),
      echo: (flags & CableFlag.echo) !== 0,
    };
  });
}

/**
 * Sends the listener's accept (or a refusal after authentication), sealed as
 * the first record in sealed mode.
 */
export async function sendAccept(
  t: CableTransport,
  e: Established,
  accept: { status: number; resumed: boolean; port: number },
): Promise<void> {
  const body = encodeAccept(accept);
  if (e.channel === null) {
    await writeAll(t, body, "accept");
    return;
  }
  await writeAll(t, (await e.channel.sealer.seal(RecordType.accept, body)).slice(), "accept");
}
