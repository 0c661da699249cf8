/**
 * Pre-shared cable keys: 32 random bytes kept in a file as 64 hex digits
 * (so they survive copy and paste), made by `vde cable keygen FILE` with mode
 * 0600. The key id, a short hash of the key, names a key in logs and lets a
 * listener tell "wrong key" from other failures; it reveals nothing usable
 * about the key itself.
 */
import { hex, KEY_ID_SIZE } from "../wire/cable_handshake.ts";
import { ownersOfSecrets, readSecretFile, secretRefusal } from "../os/owned_file.ts";
import { stepAdvice, stepText, untrustedStep } from "../os/trusted_path.ts";
import { unwritable } from "../os/unwritable.ts";

/** Bytes of a cable key. */
export const KEY_SIZE = 32;

/** Most a key file may be: its 64 hex digits and blanks around them, with room to spare. */
const MAX_KEY_FILE_BYTES = 4096;

/** A loaded pre-shared key. */
export interface CableKey {
  /** The secret. */
  readonly bytes: Uint8Array;
  /** First KEY_ID_SIZE bytes of SHA-256("vde cable key id" | key). */
  readonly id: Uint8Array;
  /** The id in hex, as logs show it. */
  readonly idHex: string;
  /** Where it came from, for messages. */
  readonly source: string;
}

/** Thrown for a key file that is missing or malformed; the message is one line. */
export class KeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "KeyError";
  }
}

/** Makes a CableKey from raw bytes. */
export async function keyFromBytes(bytes: Uint8Array, source = "memory"): Promise<CableKey> {
  if (bytes.length !== KEY_SIZE) throw new KeyError(`a cable key has ${KEY_SIZE} bytes, got ${bytes.length}`);
  const label = new TextEncoder().encode("vde cable key id");
  const input = new Uint8Array(label.length + bytes.length);
  input.set(label);
  input.set(bytes, label.length);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", input));
  const id = digest.slice(0, KEY_ID_SIZE);
  return { bytes: bytes.slice(), id, idHex: hex(id), source };
}

/** Parses a key file's text: 64 hex digits, blanks around them allowed. */
export function parseKeyText(text: string): Uint8Array | null {
  const t = text.trim();
  if (!/^[0-9a-fA-F]{64}$/.test(t)) return null;
  const out = new Uint8Array(KEY_SIZE);
  for (let i = 0; i < KEY_SIZE; i++) out[i] = parseInt(t.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/**
 * Loads the key in `path`. Like ssh with a private key, it refuses a key
 * file that group or others may read: a secret others could have copied
 * authenticates nobody. Unlike ssh, whoever owns it: root's `--key
 * /tmp/lab.key` may be a file another user made first, readable by all.
 *
 * @throws KeyError when the file is missing, open to others or does not hold a key
 */
export async function loadKey(path: string): Promise<CableKey> {
  const bytes = readKeyFile(path);
  if (typeof bytes === "string") throw new KeyError(bytes);
  return await keyFromBytes(bytes, path);
}

/**
 * Why `path` cannot be a cable's key, in the one line `loadKey` would throw, or undefined when it can: what
 * a lab file's validation says of a node's `key`, before anything starts, rather than when the cable opens.
 */
export function keyFileProblem(path: string): string | undefined {
  const bytes = readKeyFile(path);
  return typeof bytes === "string" ? bytes : undefined;
}

/** The key in `path`, or the one line that says why not (loadKey's rules). */
function readKeyFile(path: string): Uint8Array | string {
  // One open, without blocking: the mode checked is the mode of the very file whose secret is read, and a
  // name leading to /dev/zero or a FIFO is refused rather than read without end or waited on for good.
  const file = readSecretFile(path, MAX_KEY_FILE_BYTES);
  if (typeof file === "string") {
    // The usual case in plain words, with what to do.
    const why = file === "no such file"
      ? "no such file (make one with: vde cable keygen FILE, then copy it to both hosts)"
      : file;
    return `cannot read key file ${path}: ${why}`;
  }
  if ("openTo" in file) return `key file ${secretRefusal(path, file)}`;
  return parseKeyText(file.text) ??
    `key file ${path} must hold 64 hex digits (make one with: vde cable keygen FILE)`;
}

/**
 * Writes a new random key to `path` with mode 0600.
 *
 * @param overwrite replace an existing file (otherwise it is an error)
 * @returns the new key
 */
export async function generateKeyFile(path: string, overwrite = false): Promise<CableKey> {
  const bytes = crypto.getRandomValues(new Uint8Array(KEY_SIZE));
  // Neither --force nor "exists already" helps a directory (`vde cable keygen /etc/vde`): the file goes inside.
  if (await Deno.stat(path).then((s) => s.isDirectory, () => false)) {
    throw new KeyError(`${path} is a directory: name the key file, e.g. ${path.replace(/\/+$/, "")}/lab.key`);
  }
  // Judged as every reader judges it (readSecretFile): a key written through a directory others may write,
  // or another user's, was refused by each command given it, and its writers could swap in a key they know.
  const step = untrustedStep(path, ownersOfSecrets());
  if (step !== undefined && step.kind !== "missing") {
    throw new KeyError(
      `will not write key file ${path}: it would be reached through ${stepText(step)}, where another user ` +
        `could swap it for a key they know (and every command reading it would refuse it): ${
          stepAdvice(step)
        }`,
    );
  }
  try {
    if (overwrite) await Deno.remove(path).catch(() => {});
    // Made 0600 at its exclusive open (O_EXCL: never through a name swapped in) and set so through that
    // descriptor whatever the umask: a chmod by name could follow a symlink put there meanwhile.
    await Deno.writeTextFile(path, `${hex(bytes)}\n`, { createNew: true, mode: 0o600 });
  } catch (err) {
    if (err instanceof Deno.errors.AlreadyExists) {
      // --force would not help a directory (`vde cable keygen /etc/vde`): a key file goes inside it.
      const isDir = await Deno.stat(path).then((s) => s.isDirectory, () => false);
      if (isDir) {
        throw new KeyError(
          `${path} is a directory: name the key file, e.g. ${path.replace(/\/$/, "")}/lab.key`,
        );
      }
      throw new KeyError(`${path} exists already (use --force to replace it)`);
    }
    throw new KeyError(`cannot write key file ${path}${unwritable(path, "key file", err)}`);
  }
  return await keyFromBytes(bytes, path);
}
