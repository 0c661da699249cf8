/**
 * What every vde web server does for the browser it may be talking to,
 * whatever it serves, wrapped around its handler (guarded_server.ts and the
 * rootless lab's relayed page both go through it):
 *
 * - a request whose Host is not this server's (host_check.ts) gets 421 and
 *   nothing else: a DNS-rebound page reads nothing;
 * - a request that may change state (any method but GET, HEAD) sent by
 *   another origin's page (its Origin header differs from its Host, or is
 *   "null") gets 403 before the handler sees it: no cross-site form, fetch
 *   or sandboxed frame reaches an action, token or not;
 * - a request another site's page makes without navigating (an EventSource,
 *   fetch, <img>; its Sec-Fetch-Site is cross-site or same-site and its
 *   Sec-Fetch-Mode not navigate, as browsers send them to localhost and
 *   https) gets 403 too: it could not read the answer, but it could hold
 *   the 16 live feeds and the loopback's connections (a page opening
 *   EventSources to e1.localhost, e2.localhost, … six per name) and time
 *   the answers. A link followed to the page is a navigation and works;
 * - every answer says `nosniff` (a text/plain body holding a client's name
 *   is never run as script), denies framing (no clickjacking of the token
 *   buttons), sends no Referer away, and carries a Content-Security-Policy
 *   (the pages set their own, by hash; everything else `default-src 'none'`).
 *   No CORS header is ever sent, so other origins read nothing either.
 *   The connection guard's own 400 (guarded_server.ts) takes them from here
 *   too (browserHeaderLines), so no answer goes out without them;
 * - a handler that throws is answered 500 with those headers and one line
 *   (Deno.serve's own 500 had none of them), the error logged, rate-limited:
 *   a client that can make it throw at will cannot flood the log. (A body
 *   streamed after its headers, the switch's event feed, cannot be answered
 *   500 any more: it ends its stream itself and logs through failureLog.)
 */
import { log } from "../log.ts";
import { RateLimitedLog } from "../rate_limited_log.ts";
import { extraNames, hostAllowed, hostRefusal, machineNames, type OwnNames } from "./host_check.ts";

/** The policy of answers that are not pages: nothing loads, nothing frames them. */
export const BASE_CSP = "default-src 'none'; frame-ancestors 'none'";

const HEADERS: [string, string][] = [
  ["x-content-type-options", "nosniff"],
  ["x-frame-options", "DENY"],
  ["referrer-policy", "no-referrer"],
  ["cross-origin-resource-policy", "same-origin"],
];

/** Whether a request of `method` from `origin` (its Origin header) to Host `host` is from another site's page. */
export function crossOrigin(method: string, origin: string | null, host: string | null): boolean {
  if (method === "GET" || method === "HEAD" || origin === null) return false;
  let from: URL;
  try {
    from = new URL(origin);
  } catch {
    return true; // "null" (a sandboxed frame, a file: page) or garbage
  }
  return host === null || from.host !== host.trim().toLowerCase();
}

/** Whether a request is another site's page fetching from this server rather than navigating to it (Fetch Metadata). */
export function crossSiteFetch(site: string | null, mode: string | null): boolean {
  if (site === null || site === "same-origin" || site === "none") return false;
  return mode !== "navigate";
}

/** The headers every answer carries, as raw HTTP/1.1 header lines (each ending CRLF), for an answer written by hand. */
export function browserHeaderLines(): string {
  return [...HEADERS, ["content-security-policy", BASE_CSP]].map(([k, v]) => `${k}: ${v}\r\n`).join("");
}

/** Adds the headers every answer carries (a Response whose headers are immutable is copied first). */
export function withBrowserHeaders(res: Response): Response {
  let out = res;
  try {
    out.headers.set(HEADERS[0]![0], HEADERS[0]![1]);
  } catch {
    out = new Response(res.body, { status: res.status, statusText: res.statusText, headers: res.headers });
  }
  for (const [k, v] of HEADERS) out.headers.set(k, v);
  if (!out.headers.has("content-security-policy")) out.headers.set("content-security-policy", BASE_CSP);
  return out;
}

/**
 * `handler` behind the checks above, for a server listening on `bound`
 * (its address; the port is for the refusal's hint), its failures logged as
 * `component`.
 */
export function guardBrowser(
  bound: { hostname: string; port: number },
  handler: (req: Request) => Response | Promise<Response>,
  component = "vde web",
  names: OwnNames = ownNames(),
): (req: Request) => Promise<Response> {
  const failures = failureLog(component);
  return async (req) => {
    const host = req.headers.get("host");
    if (!hostAllowed(host, bound.hostname, names)) {
      return withBrowserHeaders(plain(421, hostRefusal(host ?? "", bound, names)));
    }
    if (
      crossOrigin(req.method, req.headers.get("origin"), host) ||
      crossSiteFetch(req.headers.get("sec-fetch-site"), req.headers.get("sec-fetch-mode"))
    ) {
      return withBrowserHeaders(plain(403, "refused: a request from another site's page\n"));
    }
    try {
      return withBrowserHeaders(await handler(req));
    } catch (err) {
      failures.line(failureLine(req, err));
      return withBrowserHeaders(plain(500, "internal error (logged by the server)\n"));
    }
  };
}

/**
 * Where a server's failed requests are said: as errors, at most 10 lines a
 * minute (a client that can make a request fail at will cannot flood the log).
 */
export function failureLog(component: string): RateLimitedLog {
  return new RateLimitedLog((m) => log(component, m, "err"), 10, 60_000, "failed request(s)");
}

/** The log line of `req`'s failure, `when` it failed ("" for before its answer): method, path, the error's first line. */
export function failureLine(req: Request, err: unknown, when = ""): string {
  return `${req.method.slice(0, 16)} ${pathOf(req.url)} failed${when}: ${firstLine(err)}`;
}

/** A request URL's path for a log line: bounded, without its query (which may hold a token). */
function pathOf(url: string): string {
  try {
    return JSON.stringify(new URL(url).pathname.slice(0, 100));
  } catch {
    return "?";
  }
}

/** An error's message, first line, bounded: one log line whatever was thrown. */
function firstLine(err: unknown): string {
  const text = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return (text.split("\n")[0] ?? "").slice(0, 200);
}

/**
 * A refusal, which asks the browser to close its connection: a hostile page's
 * refused requests (one name after another under localhost) would otherwise
 * stay open as idle keep-alives, holding the loopback's 64 connections.
 */
function plain(status: number, body: string): Response {
  return new Response(body, {
    status,
    headers: { "content-type": "text/plain; charset=utf-8", connection: "close" },
  });
}

/** Whether VDE_HTTP_HOSTS' bad entries were logged (once a process: each server reads it). */
let toldBad = false;

/** This machine's names and the user's (VDE_HTTP_HOSTS), read when a server starts. */
export function ownNames(): OwnNames {
  const extra = extraNames(readOr(() => Deno.env.get("VDE_HTTP_HOSTS"), undefined));
  if (extra.bad.length > 0 && !toldBad) {
    toldBad = true;
    log(
      "vde web",
      `VDE_HTTP_HOSTS: ignoring ${extra.bad.map((b) => JSON.stringify(b)).join(", ")}: not a host name`,
    );
  }
  const machine = machineNames(
    readOr(() => Deno.hostname(), ""),
    readOr(() => Deno.readTextFileSync("/etc/hosts"), ""),
  );
  const addresses = readOr(() => Deno.networkInterfaces().map((i) => i.address), []);
  return { machine, extra: extra.names, addresses };
}

/** `read`'s value, or `fallback` when it throws (no permission, no file). */
function readOr<T>(read: () => T, fallback: T): T {
  try {
    return read();
  } catch {
    return fallback;
  }
}
