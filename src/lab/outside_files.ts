/**
 * The files through which a rootless lab's two processes talk (outside.ts):
 * the lab's process, in its namespaces, and the `vde up --rootless` outside
 * them that runs its slirp and cable nodes. Both see the lab's directory,
 * the user's own; each file there is a request, an answer or a word of one
 * to the other, named by the node it is about. Here are their names, the
 * quiet reads and removals both sides make (the other side may have taken
 * a file a moment ago), and what the lab says once the other is gone.
 * A request file is read as a small regular file, bounded: it is in the
 * user's directory, where anything may be put in its place.
 */
import { readSmallFile } from "../os/owned_file.ts";
import { MAX_LAB_FILE_BYTES } from "./lab_text.ts";

/** How often a side looks again for what the other writes or makes. */
export const POLL_MS = 50;

/**
 * The suffix of a request for a node added live, of one for a slirp's forwards changed live, and of the
 * word of a slirp's reserved addresses changed live (no answer: its DHCP server just leases none of them).
 */
export const REQUEST = ".outside.json";
export const FORWARDS = ".forwards.json";
export const RESERVED = ".reserved.json";

/**
 * The socket in lab directory `labDir` where the lab waits for node `node` from outside: one of its start,
 * or the one asked for in request `generation` (the lab's count of its requests for nodes). An asked node's
 * files are its request's own, so an answer to one the lab gave up on, come late, finds none of the next's.
 */
export function outsideSocket(labDir: string, node: string, generation?: number): string {
  return `${labDir}/${node}${generation === undefined ? "" : `.${generation}`}.outside`;
}

/** Whether `v` is a request's generation (a count from 1): the lab's own requests carry one. */
export function isGeneration(v: unknown): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v > 0;
}

/** The file in lab directory `labDir` that asks the process outside to open node `node`, added live. */
export function requestFile(labDir: string, node: string): string {
  return `${labDir}/${node}${REQUEST}`;
}

/**
 * The file in lab directory `labDir` where the process outside says why it could not open node `node`,
 * asked for in request `generation`.
 */
export function refusalFile(labDir: string, node: string, generation: number): string {
  return `${labDir}/${node}.${generation}.outside.error`;
}

/**
 * The file in lab directory `labDir` where the process outside says, before it plugs in listening cable
 * `node` (of its start, or of request `generation`), the ADDR:PORT it listens on there (the port the
 * kernel picked for `listen: 0`).
 */
export function listeningFile(labDir: string, node: string, generation?: number): string {
  return `${labDir}/${node}${generation === undefined ? "" : `.${generation}`}.listening`;
}

/** The file in lab directory `labDir` that asks the process outside to change slirp `node`'s forwards. */
export function forwardsFile(labDir: string, node: string): string {
  return `${labDir}/${node}${FORWARDS}`;
}

/**
 * The file in lab directory `labDir` that tells the process outside the addresses slirp `node`'s DHCP
 * server must not lease (a JSON list of IPv4 addresses as numbers: same_lan.ts's slirpStatics).
 */
export function reservedFile(labDir: string, node: string): string {
  return `${labDir}/${node}${RESERVED}`;
}

/**
 * The most a request file (a node's settings, a forwards change, reserved addresses) may hold: twice the
 * largest lab file, since each says no more than the file's text does (an address as a number is no
 * longer than the address it stands for, written with its prefix length); one longer is no lab's, and
 * is not read whole.
 */
export const MAX_REQUEST_BYTES = 2 * MAX_LAB_FILE_BYTES;

/** Request file `path` parsed as JSON, or why not in a few words (too long, not JSON, not a file). */
export function readRequestFile(path: string): { json: unknown } | { error: string } {
  const read = readSmallFile(path, MAX_REQUEST_BYTES, true);
  if (typeof read === "string") return { error: read };
  try {
    return { json: JSON.parse(read.text) };
  } catch {
    return { error: "not JSON" };
  }
}

/** A reserved file's parsed JSON as its addresses; undefined for anything but a list of IPv4 numbers. */
export function reservedAddresses(parsed: unknown): number[] | undefined {
  const ok = Array.isArray(parsed) &&
    parsed.every((a) => typeof a === "number" && Number.isInteger(a) && a >= 0 && a <= 0xffffffff);
  return ok ? parsed as number[] : undefined;
}

/**
 * Takes reserved file `path` of slirp `node`: its addresses to `reserve`, or, where it is too long, no
 * JSON, or no list of IPv4 addresses as numbers, one line to `say` and nothing reserved, so the slirp's
 * DHCP keeps the reservations it had (a static host's address is never leased meanwhile).
 */
export function takeReserved(
  path: string,
  node: string,
  reserve: (addrs: number[]) => void,
  say: (m: string) => void,
): void {
  const read = readRequestFile(path);
  const addrs = "json" in read ? reservedAddresses(read.json) : undefined;
  if (addrs !== undefined) return reserve(addrs);
  const why = "error" in read ? read.error : "not a list of IPv4 addresses as numbers";
  say(`${node}${RESERVED} ignored (${why}): slirp ${node}'s DHCP keeps the addresses it had reserved`);
}

/**
 * The file where request `generation` of slirp `node`'s forwards is answered (empty once done, else why
 * not), or where the lab said it gave up on it (outside_forwards.ts).
 */
export function forwardsDoneFile(labDir: string, node: string, generation: number): string {
  return `${labDir}/${node}.forwards.${generation}.done`;
}

/** What the lab says to a change of node `node` once the process outside is gone (a SIGKILL). */
export function outsideGone(node: string): Error {
  return new Error(
    `${node}: the vde up --rootless that runs this lab's slirps and cables outside its namespaces is gone; ` +
      "`vde up -c --rootless FILE` brings the lab up again with the node",
  );
}

/** The text of file `path`, trimmed; undefined while there is none. */
export function readIfThere(path: string): string | undefined {
  try {
    return Deno.readTextFileSync(path).trim();
  } catch {
    return undefined;
  }
}

/** Removes file `path`; whether it was there to remove (the other side had not taken it). */
export function removeIfThere(path: string): boolean {
  try {
    Deno.removeSync(path);
    return true;
  } catch {
    return false;
  }
}
