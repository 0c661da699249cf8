/**
 * The cryptography of an encrypted cable, all on WebCrypto.
 *
 * Theory of operation:
 * - Both ends hold a 32-byte pre-shared key (key.ts). Each connection starts
 *   with a fresh random nonce from each side. HKDF-SHA-256 over the key,
 *   salted with both nonces and bound to both hellos, gives three keys for
 *   this connection only: an HMAC key for the proofs and one AES-256-GCM key
 *   per direction.
 * - Mutual authentication: the listener proves it knows the key with an HMAC
 *   over both hellos (labelled "server"), the client answers with its own
 *   ("client"). A side that lacks the key cannot produce either, and a
 *   recorded handshake is useless later because the other side's nonce is new.
 * - Records: the nonce of each AES-GCM operation is the record's number in
 *   its direction (0, 1, 2, ...), never sent. Keys differ per direction and
 *   per connection, so a nonce never repeats under one key; a replayed,
 *   reordered or dropped record is opened with the wrong number and fails,
 *   as does any flipped bit of header, ciphertext or tag.
 * - Sealer and opener assign numbers when `seal`/`open` is called, not when
 *   a promise settles, so callers must call them in wire order (they may
 *   await the results later and several may run at once on WebCrypto's
 *   threads).
 * - Two implementations of the same AES-256-GCM: OpenSSL through FFI when
 *   libcrypto is there (synchronous, several times faster; openssl_gcm.ts),
 *   else WebCrypto. They produce the same bytes, so the ends of a cable may
 *   differ. The handshake (HKDF, HMAC) is always WebCrypto.
 */
import { concatBytes } from "../wire/bytes.ts";
import { PROOF_SIZE } from "../wire/cable_handshake.ts";
import { RECORD_HEADER_SIZE, TAG_SIZE, writeRecordHeader } from "../wire/cable_record.ts";
import { opensslAvailable, OpensslGcm } from "./openssl_gcm.ts";

const encoder = new TextEncoder();
const HKDF_INFO = encoder.encode("vde cable v1 keys");
const SERVER_LABEL = encoder.encode("vde cable v1 server proof");
const CLIENT_LABEL = encoder.encode("vde cable v1 client proof");

/** Records a sealer or opener may handle before the connection must end (far beyond any real use). */
export const MAX_RECORDS = 2 ** 48;

/** The keys of one connection. */
export interface ConnectionKeys {
  /** HMAC-SHA-256 key for the handshake proofs. */
  auth: CryptoKey;
  /** AES-256-GCM key (raw) for records from the client to the listener. */
  clientToServer: Uint8Array;
  /** AES-256-GCM key (raw) for records from the listener to the client. */
  serverToClient: Uint8Array;
}

/**
 * Derives the keys of one connection.
 *
 * @param psk the pre-shared key
 * @param clientHello the client hello as sent
 * @param serverHelloSigned the server hello without its proof
 * @param clientNonce the client's nonce (also inside the hello)
 * @param serverNonce the listener's nonce
 */
export async function deriveConnectionKeys(
  psk: Uint8Array,
  clientHello: Uint8Array,
  serverHelloSigned: Uint8Array,
  clientNonce: Uint8Array,
  serverNonce: Uint8Array,
): Promise<ConnectionKeys> {
  const base = await crypto.subtle.importKey("raw", concatBytes([psk]), "HKDF", false, ["deriveBits"]);
  const bits = new Uint8Array(
    await crypto.subtle.deriveBits(
      {
        name: "HKDF",
        hash: "SHA-256",
        salt: concatBytes([clientNonce, serverNonce]),
        info: concatBytes([HKDF_INFO, clientHello, serverHelloSigned]),
      },
      base,
      3 * 256,
    ),
  );
  const auth = await crypto.subtle.importKey(
    "raw",
    bits.slice(0, 32),
    { name: "HMAC", hash: "SHA-256" },
    false,
    [
      "sign",
      "verify",
    ],
  );
  const keys = { auth, clientToServer: bits.slice(32, 64), serverToClient: bits.slice(64, 96) };
  bits.fill(0);
  return keys;
}

function transcript(label: Uint8Array, clientHello: Uint8Array, serverHelloSigned: Uint8Array) {
  return concatBytes([label, clientHello, serverHelloSigned]);
}

/** The proof one side sends: an HMAC over its label and both hellos. */
export async function makeProof(
  keys: ConnectionKeys,
  role: "server" | "client",
  clientHello: Uint8Array,
  serverHelloSigned: Uint8Array,
): Promise<Uint8Array> {
  const label = role === "server" ? SERVER_LABEL : CLIENT_LABEL;
  const mac = await crypto.subtle.sign("HMAC", keys.auth, transcript(label, clientHello, serverHelloSigned));
  return new Uint8Array(mac);
}

/** Checks the other side's proof in constant time. */
export async function checkProof(
  keys: ConnectionKeys,
  role: "server" | "client",
  clientHello: Uint8Array,
  serverHelloSigned: Uint8Array,
  proof: Uint8Array,
): Promise<boolean> {
  if (proof.length !== PROOF_SIZE) return false;
  const label = role === "server" ? SERVER_LABEL : CLIENT_LABEL;
  return await crypto.subtle.verify(
    "HMAC",
    keys.auth,
    concatBytes([proof]),
    transcript(label, clientHello, serverHelloSigned),
  );
}

function nonceFor(n: number, iv = new Uint8Array(12)): Uint8Array<ArrayBuffer> {
  const v = new DataView(iv.buffer, iv.byteOffset, 12);
  v.setUint32(0, 0);
  v.setUint32(4, Math.floor(n / 2 ** 32));
  v.setUint32(8, n >>> 0);
  return iv as Uint8Array<ArrayBuffer>;
}

/** Seals the records of one direction; record numbers start at 0. */
export interface RecordSealer {
  /** True when `seal` returns at once (OpenSSL), false when it returns a promise (WebCrypto). */
  readonly sync: boolean;
  /** Records sealed so far. */
  readonly count: number;
  /**
   * Seals `body` as the next record of `type`: header, ciphertext and tag in
   * one buffer. `body` is copied (or encrypted) before this returns, so the
   * caller may reuse it. A synchronous result is valid until the next call.
   *
   * @throws Error when the record counter is exhausted or the cipher fails
   */
  seal(type: number, body: Uint8Array): Uint8Array | Promise<Uint8Array>;
  /**
   * Synchronous sealers only: seals `body` as the next record straight into
   * `out` at `at` (which must have room for the header, body and tag).
   *
   * @returns the record's length
   */
  sealInto?(type: number, body: Uint8Array, out: Uint8Array, at: number): number;
  /** Forgets the key. */
  dispose(): void;
}

/** Opens the records of one direction in order; record numbers start at 0. */
export interface RecordOpener {
  readonly sync: boolean;
  /** Records opened (or attempted) so far. */
  readonly count: number;
  /**
   * Opens the next record. Both views are used (or copied) before this
   * returns. A synchronous result is valid until the next call.
   *
   * @returns the body, or null when the record is not the authentic next one
   */
  open(header: Uint8Array, ciphertext: Uint8Array): Uint8Array | null | Promise<Uint8Array | null>;
  /**
   * What the first record that failed to open was, once `open` has
   * answered null for it: "replay of record N" when it is a copy of one of
   * the last {@link REPLAY_WINDOW} records, else "tampered or out of order".
   * null while every record has opened.
   */
  readonly failure: string | null;
  /** Forgets the key. */
  dispose(): void;
}

/**
 * Records looked back on when one fails, to tell a replayed copy from a
 * tampered record. Only the first failure of a direction is examined (the
 * connection ends there), so the extra work is bounded per connection.
 */
export const REPLAY_WINDOW = 32;
const TAMPERED = "tampered or out of order (no copy of a recent record)";

/** Makes the sealer for `key`: OpenSSL when available, else WebCrypto. */
export async function createSealer(key: Uint8Array): Promise<RecordSealer> {
  const gcm = OpensslGcm.create(key, "encrypt");
  if (gcm !== null) return new OpensslSealer(gcm);
  return new WebCryptoSealer(await importAes(key));
}

/** Makes the opener for `key`: OpenSSL when available, else WebCrypto. */
export async function createOpener(key: Uint8Array): Promise<RecordOpener> {
  const gcm = OpensslGcm.create(key, "decrypt");
  if (gcm !== null) return new OpensslOpener(gcm);
  return new WebCryptoOpener(await importAes(key));
}

/** Which implementation new sealers and openers use. */
export function cipherBackend(): "openssl" | "webcrypto" {
  return opensslAvailable() ? "openssl" : "webcrypto";
}

function importAes(key: Uint8Array): Promise<CryptoKey> {
  return crypto.subtle.importKey("raw", concatBytes([key]), "AES-GCM", false, ["encrypt", "decrypt"]);
}

function header(
  type: number,
  bodyLength: number,
  out: Uint8Array = new Uint8Array(RECORD_HEADER_SIZE),
): Uint8Array {
  writeRecordHeader(out, 0, type, bodyLength + TAG_SIZE);
  return out;
}

/** WebCrypto: each record is encrypted on a helper thread. */
export class WebCryptoSealer implements RecordSealer {
  readonly sync = false;
  readonly #key: CryptoKey;
  #next = 0;

  constructor(key: CryptoKey) {
    this.#key = key;
  }

  get count(): number {
    return this.#next;
  }

  async seal(type: number, body: Uint8Array): Promise<Uint8Array> {
    if (this.#next >= MAX_RECORDS) throw new Error("record counter exhausted");
    const h = header(type, body.length);
    const ct = await crypto.subtle.encrypt(
      { name: "AES-GCM", iv: nonceFor(this.#next++), additionalData: h as Uint8Array<ArrayBuffer> },
      this.#key,
      body as Uint8Array<ArrayBuffer>,
    );
    const out = new Uint8Array(RECORD_HEADER_SIZE + ct.byteLength);
    out.set(h);
    out.set(new Uint8Array(ct), RECORD_HEADER_SIZE);
    return out;
  }

  dispose(): void {}
}

/** WebCrypto: each record is decrypted on a helper thread. */
export class WebCryptoOpener implements RecordOpener {
  readonly sync = false;
  readonly #key: CryptoKey;
  #next = 0;

  constructor(key: CryptoKey) {
    this.#key = key;
  }

  get count(): number {
    return this.#next;
  }

  failure: string | null = null;
  /** Record number of `failure` (the lowest that failed), or Infinity. */
  #failedAt = Infinity;

  async open(header: Uint8Array, ciphertext: Uint8Array): Promise<Uint8Array | null> {
    if (this.#next >= MAX_RECORDS) return null;
    const n = this.#next++;
    const body = await this.#decrypt(n, header, ciphertext);
    if (body !== null || n > this.#failedAt) return body;
    // Records open concurrently: keep the verdict on the first one in wire order.
    this.#failedAt = n;
    this.failure = TAMPERED;
    const h = header.slice();
    const ct = ciphertext.slice();
    for (let k = n - 1; k >= 0 && k >= n - REPLAY_WINDOW; k--) {
      if ((await this.#decrypt(k, h, ct)) !== null) {
        if (this.#failedAt === n) this.failure = `replay of record ${k}`;
        break;
      }
    }
    return null;
  }

  async #decrypt(n: number, header: Uint8Array, ciphertext: Uint8Array): Promise<Uint8Array | null> {
    try {
      const body = await crypto.subtle.decrypt(
        { name: "AES-GCM", iv: nonceFor(n), additionalData: header as Uint8Array<ArrayBuffer> },
        this.#key,
        ciphertext as Uint8Array<ArrayBuffer>,
      );
      return new Uint8Array(body);
    } catch {
      return null;
    }
  }

  dispose(): void {}
}

/**
 * What OpenSSL's sealer and opener share: the cipher context, the record
 * counter that makes each nonce, and one output buffer reused (and grown)
 * across records.
 */
abstract class OpensslRecords {
  readonly sync = true;
  protected readonly gcm: OpensslGcm;
  readonly #iv = new Uint8Array(12);
  #out = new Uint8Array(64 * 1024);
  #next = 0;

  constructor(gcm: OpensslGcm) {
    this.gcm = gcm;
  }

  get count(): number {
    return this.#next;
  }

  /** True once the key has protected as many records as it may. */
  protected get exhausted(): boolean {
    return this.#next >= MAX_RECORDS;
  }

  /** The nonce of the next record; advances the counter. */
  protected nextNonce(): Uint8Array {
    return nonceFor(this.#next++, this.#iv);
  }

  /** The nonce of record `n`, without touching the counter. */
  protected nonceOf(n: number): Uint8Array {
    return nonceFor(n, this.#iv);
  }

  /** The reused output buffer, grown to hold at least `size` bytes. */
  protected buffer(size: number): Uint8Array {
    if (this.#out.length < size) this.#out = new Uint8Array(Math.max(size, this.#out.length * 2));
    return this.#out;
  }

  dispose(): void {
    this.gcm.free();
  }
}

/** OpenSSL: records are sealed synchronously into one reused buffer. */
export class OpensslSealer extends OpensslRecords implements RecordSealer {
  seal(type: number, body: Uint8Array): Uint8Array {
    const out = this.buffer(RECORD_HEADER_SIZE + body.length + TAG_SIZE);
    return out.subarray(0, this.sealInto(type, body, out, 0));
  }

  sealInto(type: number, body: Uint8Array, out: Uint8Array, at: number): number {
    if (this.exhausted) throw new Error("record counter exhausted");
    const size = RECORD_HEADER_SIZE + body.length + TAG_SIZE;
    const h = header(type, body.length, out.subarray(at, at + RECORD_HEADER_SIZE));
    const ct = out.subarray(at + RECORD_HEADER_SIZE, at + size);
    if (!this.gcm.seal(this.nextNonce(), h, body, ct)) {
      throw new Error("AES-GCM encryption failed");
    }
    return size;
  }
}

/** OpenSSL: records are opened synchronously into one reused buffer. */
export class OpensslOpener extends OpensslRecords implements RecordOpener {
  failure: string | null = null;

  open(header: Uint8Array, ciphertext: Uint8Array): Uint8Array | null {
    if (this.exhausted || ciphertext.length < TAG_SIZE) return null;
    const n = ciphertext.length - TAG_SIZE;
    const body = this.buffer(n).subarray(0, n);
    if (this.gcm.open(this.nextNonce(), header, ciphertext, body)) return body;
    if (this.failure === null) {
      this.failure = TAMPERED;
      const at = this.count - 1;
      for (let k = at - 1; k >= 0 && k >= at - REPLAY_WINDOW; k--) {
        if (this.gcm.open(this.nonceOf(k), header, ciphertext, body)) {
          this.failure = `replay of record ${k}`;
          break;
        }
      }
    }
    return null;
  }
}
