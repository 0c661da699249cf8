/**
 * A rootless lab's slirp counters, handed from the process that runs its
 * slirps (the `vde up --rootless` outside its namespaces, outside.ts) to the
 * lab's /metrics, which renders them as a root lab's own: the families of
 * slirp_metrics.ts, labelled slirp = the node.
 *
 * Theory of operation. The two processes share the lab's runtime directory,
 * where they already talk through unix sockets and files. The process
 * outside listens there on one more private socket, `.slirp-counters` (a
 * name no node has: a node's name starts with a letter or a digit), and
 * answers each connection with one JSON document, `{"slirps": [{"name":
 * NODE, "counters": SlirpCounters}]}`, then closes it. The lab's page
 * connects on each scrape of /metrics, so the counters are those of the
 * moment, as a root lab's are; nothing runs between scrapes. The answer is
 * read as any input: bounded in size and time, each name a node's and once,
 * each counter a number; one that is not (or no answer: the process outside
 * gone) gives no slirp series and one line in the lab's log, and /metrics
 * serves the rest as ever.
 */
import { listenPrivate } from "../os/private_socket.ts";
import { NAME_PATTERN } from "./names.ts";
import { removeIfThere } from "./outside_files.ts";
import { acceptLoop, closeQuietly } from "../web/guarded_server.ts";
import { type NamedSlirp, SLIRP_COUNTER_KEYS, type SlirpCounters } from "../web/slirp_metrics.ts";

/** How long a scrape waits for the answer: the process outside writes it at once. */
const READ_TIMEOUT_MS = 2_000;
/** Far above a lab's answer (about 300 bytes a slirp), so a hostile one cannot make the lab hold much. */
const MAX_ANSWER_BYTES = 256 * 1024;
/** More slirps than any lab has: a longer list is no answer of the process outside. */
const MAX_SLIRPS = 1024;

/** The socket in lab directory `labDir` where the process outside answers with its slirps' counters. */
export function slirpCountersSocket(labDir: string): string {
  return `${labDir}/.slirp-counters`;
}

/**
 * In the process outside: answers each connection on lab directory `labDir`'s socket with `slirps()` now.
 * A failed accept (EMFILE: the slirps' host sockets took every descriptor for a moment) is said once by
 * `say` and retried (acceptLoop), not the end of the answers for the rest of the lab.
 *
 * @throws Deno's error when it cannot listen there (the lab's directory is gone)
 */
export function serveSlirpCounters(
  labDir: string,
  slirps: () => readonly NamedSlirp[],
  say: (m: string) => void,
  listen: (path: string) => { accept(): Promise<Deno.Conn>; close(): void } = listenPrivate,
): { close(): void } {
  const path = slirpCountersSocket(labDir);
  const listener = listen(path);
  const encoder = new TextEncoder();
  void acceptLoop(listener, (conn) => {
    const answer = encoder.encode(JSON.stringify({ slirps: slirps() }));
    (async () => {
      try {
        for (let at = 0; at < answer.length;) at += await conn.write(answer.subarray(at));
      } catch { /* the lab let go: its scrape gave up */ }
      closeQuietly(conn);
    })();
  }, (err) => say(`the slirps' counters for /metrics: cannot accept (${err.message}); trying again`));
  return {
    close: () => {
      closeQuietly(listener);
      removeIfThere(path);
    },
  };
}

/**
 * The slirps and their counters in answer `text`, or why it is none: a list of at most MAX_SLIRPS, each a
 * node's name (once) and every SlirpCounters key a finite number at least 0.
 */
export function parseSlirpCounters(text: string): NamedSlirp[] | string {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return "not JSON";
  }
  const list = (json as { slirps?: unknown } | null)?.slirps;
  if (!Array.isArray(list)) return "no list of slirps";
  if (list.length > MAX_SLIRPS) return `${list.length} slirps, more than ${MAX_SLIRPS}`;
  const out: NamedSlirp[] = [];
  const seen = new Set<string>();
  for (const item of list) {
    const { name, counters } = (item ?? {}) as { name?: unknown; counters?: unknown };
    if (typeof name !== "string" || !NAME_PATTERN.test(name) || seen.has(name)) {
      return `a slirp's name is no node's, or comes twice: ${JSON.stringify(name)?.slice(0, 40)}`;
    }
    seen.add(name);
    if (typeof counters !== "object" || counters === null) return `slirp ${name} has no counters`;
    const c = {} as SlirpCounters;
    for (const key of SLIRP_COUNTER_KEYS) {
      const v: unknown = (counters as Record<string, unknown>)[key];
      if (typeof v !== "number" || !Number.isFinite(v) || v < 0) return `slirp ${name}'s ${key} is no count`;
      c[key] = v;
    }
    out.push({ name, counters: c });
  }
  return out;
}

/**
 * In the lab's process: the slirps' counters the process outside answers on lab directory `labDir`'s
 * socket, or why there are none (that process gone, an answer late, too long or not one).
 */
export async function readSlirpCounters(
  labDir: string,
  timeoutMs = READ_TIMEOUT_MS,
): Promise<NamedSlirp[] | string> {
  let conn: Deno.UnixConn;
  try {
    conn = await Deno.connect({ transport: "unix", path: slirpCountersSocket(labDir) });
  } catch (err) {
    return `no answer from the vde up --rootless outside the lab's namespaces (${(err as Error).message})`;
  }
  let late = false;
  const timer = setTimeout(() => {
    late = true;
    closeQuietly(conn);
  }, timeoutMs);
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    const buf = new Uint8Array(16 * 1024);
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) break;
      total += n;
      if (total > MAX_ANSWER_BYTES) return `an answer longer than ${MAX_ANSWER_BYTES} bytes`;
      chunks.push(buf.slice(0, n));
    }
  } catch {
    return late ? `no answer within ${timeoutMs / 1000} s` : "the answer broke off";
  } finally {
    clearTimeout(timer);
    closeQuietly(conn);
  }
  const bytes = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    bytes.set(c, at);
    at += c.length;
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return "not UTF-8";
  }
  return parseSlirpCounters(text);
}

/**
 * In the lab's process: what its /metrics reads of the slirps run outside, from lab directory `labDir`;
 * none while there is no answer, which `say` logs once until one comes again.
 */
export function slirpCountersFrom(
  labDir: string,
  say: (m: string) => void,
): () => Promise<NamedSlirp[]> {
  let failing = false;
  return async () => {
    const got = await readSlirpCounters(labDir);
    if (typeof got !== "string") {
      failing = false;
      return got;
    }
    if (!failing) say(`/metrics has no slirp series: the slirps' counters: ${got}`);
    failing = true;
    return [];
  };
}
