/**
 * AES-256-GCM through the system's OpenSSL (libcrypto.so.3), for the bulk of
 * an encrypted cable.
 *
 * Why: WebCrypto's AES-GCM in Deno runs each call on a helper thread and
 * measured about 700 MB/s on 256 KiB records, which caps an encrypted cable
 * well below a plain one. OpenSSL with AES-NI measured 5-6 GB/s as a
 * synchronous FFI call on the same machine, so sealing a record costs tens
 * of microseconds and no thread hop. The cipher, nonces and bytes are the
 * same as WebCrypto's (tested against each other), so the two ends of a
 * cable may use either. When libcrypto cannot be loaded, or
 * VDE_CABLE_CRYPTO=webcrypto is set, cables use WebCrypto.
 *
 * Every call is synchronous on the main thread; a context holds one key and
 * is freed with `free()`.
 */

const symbols = {
  EVP_CIPHER_CTX_new: { parameters: [], result: "pointer" },
  EVP_CIPHER_CTX_free: { parameters: ["pointer"], result: "void" },
  EVP_aes_256_gcm: { parameters: [], result: "pointer" },
  EVP_EncryptInit_ex: { parameters: ["pointer", "pointer", "pointer", "buffer", "buffer"], result: "i32" },
  EVP_EncryptUpdate: { parameters: ["pointer", "buffer", "buffer", "buffer", "i32"], result: "i32" },
  EVP_EncryptFinal_ex: { parameters: ["pointer", "buffer", "buffer"], result: "i32" },
  EVP_DecryptInit_ex: { parameters: ["pointer", "pointer", "pointer", "buffer", "buffer"], result: "i32" },
  EVP_DecryptUpdate: { parameters: ["pointer", "buffer", "buffer", "buffer", "i32"], result: "i32" },
  EVP_DecryptFinal_ex: { parameters: ["pointer", "buffer", "buffer"], result: "i32" },
  EVP_CIPHER_CTX_ctrl: { parameters: ["pointer", "i32", "i32", "buffer"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

const EVP_CTRL_GCM_GET_TAG = 0x10;
const EVP_CTRL_GCM_SET_TAG = 0x11;
const TAG = 16;

type Lib = Deno.DynamicLibrary<typeof symbols>["symbols"];

let lib: Lib | null | undefined;

/** The libcrypto symbols, or null when OpenSSL is not usable here. */
function libcrypto(): Lib | null {
  if (lib !== undefined) return lib;
  lib = null;
  if (Deno.env.get("VDE_CABLE_CRYPTO") === "webcrypto") return lib;
  for (const name of ["libcrypto.so.3", "libcrypto.so"]) {
    try {
      lib = Deno.dlopen(name, symbols).symbols;
      break;
    } catch { /* try the next name */ }
  }
  return lib;
}

/** Whether OpenSSL's AES-GCM is in use. */
export function opensslAvailable(): boolean {
  return libcrypto() !== null;
}

/** An AES-256-GCM key in an OpenSSL context, for one direction. */
export class OpensslGcm {
  readonly #s: Lib;
  #ctx: Deno.PointerValue;
  readonly #outl = new Uint8Array(4);
  readonly #tag = new Uint8Array(TAG);
  /** Where the Final calls may write (GCM writes nothing there). */
  readonly #scratch = new Uint8Array(32);

  private constructor(s: Lib, ctx: Deno.PointerValue) {
    this.#s = s;
    this.#ctx = ctx;
  }

  /**
   * Makes a context for `key` (32 bytes) to encrypt or decrypt with.
   *
   * @returns null when OpenSSL is not available or refuses the key
   */
  static create(key: Uint8Array, direction: "encrypt" | "decrypt"): OpensslGcm | null {
    const s = libcrypto();
    if (s === null || key.length !== 32) return null;
    const ctx = s.EVP_CIPHER_CTX_new();
    if (ctx === null) return null;
    const k = key.slice() as Uint8Array<ArrayBuffer>;
    const ok = direction === "encrypt"
      ? s.EVP_EncryptInit_ex(ctx, s.EVP_aes_256_gcm(), null, k, null)
      : s.EVP_DecryptInit_ex(ctx, s.EVP_aes_256_gcm(), null, k, null);
    k.fill(0);
    if (ok !== 1) {
      s.EVP_CIPHER_CTX_free(ctx);
      return null;
    }
    return new OpensslGcm(s, ctx);
  }

  /**
   * Encrypts `body` into `out` (at least body.length + 16 bytes): ciphertext
   * then tag. `aad` is authenticated, not encrypted.
   *
   * @returns false if OpenSSL failed
   */
  seal(iv: Uint8Array, aad: Uint8Array, body: Uint8Array, out: Uint8Array): boolean {
    const s = this.#s;
    const ctx = this.#ctx;
    if (ctx === null || out.length < body.length + TAG) return false;
    const outl = this.#outl as Uint8Array<ArrayBuffer>;
    if (s.EVP_EncryptInit_ex(ctx, null, null, null, iv as Uint8Array<ArrayBuffer>) !== 1) return false;
    if (s.EVP_EncryptUpdate(ctx, null, outl, aad as Uint8Array<ArrayBuffer>, aad.length) !== 1) return false;
    if (body.length > 0) {
      if (
        s.EVP_EncryptUpdate(
          ctx,
          out as Uint8Array<ArrayBuffer>,
          outl,
          body as Uint8Array<ArrayBuffer>,
          body.length,
        ) !== 1
      ) {
        return false;
      }
    }
    if (s.EVP_EncryptFinal_ex(ctx, this.#scratch as Uint8Array<ArrayBuffer>, outl) !== 1) return false;
    const tag = this.#tag as Uint8Array<ArrayBuffer>;
    if (s.EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG, tag) !== 1) return false;
    out.set(tag, body.length);
    return true;
  }

  /**
   * Decrypts `ciphertext` (body then 16-byte tag) into `out` (at least
   * ciphertext.length - 16 bytes) and checks the tag.
   *
   * @returns false when the record is not authentic (or OpenSSL failed)
   */
  open(iv: Uint8Array, aad: Uint8Array, ciphertext: Uint8Array, out: Uint8Array): boolean {
    const s = this.#s;
    const ctx = this.#ctx;
    const n = ciphertext.length - TAG;
    if (ctx === null || n < 0 || out.length < n) return false;
    const outl = this.#outl as Uint8Array<ArrayBuffer>;
    if (s.EVP_DecryptInit_ex(ctx, null, null, null, iv as Uint8Array<ArrayBuffer>) !== 1) return false;
    if (s.EVP_DecryptUpdate(ctx, null, outl, aad as Uint8Array<ArrayBuffer>, aad.length) !== 1) return false;
    if (n > 0) {
      const body = ciphertext.subarray(0, n) as Uint8Array<ArrayBuffer>;
      if (s.EVP_DecryptUpdate(ctx, out as Uint8Array<ArrayBuffer>, outl, body, n) !== 1) return false;
    }
    this.#tag.set(ciphertext.subarray(n));
    if (s.EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG, this.#tag as Uint8Array<ArrayBuffer>) !== 1) {
      return false;
    }
    return s.EVP_DecryptFinal_ex(ctx, this.#scratch as Uint8Array<ArrayBuffer>, outl) === 1;
  }

  /** Frees the context (and the key in it); further calls fail. */
  free(): void {
    if (this.#ctx === null) return;
    this.#s.EVP_CIPHER_CTX_free(this.#ctx);
    this.#ctx = null;
  }
}
