/**
 * The web server of `vde switch --http`: Prometheus metrics at /metrics, a
 * live page at /, its feed of server-sent events at /events, the switch as
 * Graphviz DOT at /topology.dot, and, when a token is configured, POST
 * actions under /api/.
 *
 * It runs on Deno's own HTTP server in the switch's process. Nothing here
 * touches the data path: every answer reads a snapshot through
 * SwitchStatus, so a scrape costs one walk of the ports and the MAC table.
 *
 * Bounds, so a hostile or broken client cannot grow the process: request
 * bodies are capped (actions take their arguments in the query), at most
 * MAX_FEEDS event streams are open at once, and a feed whose browser does
 * not read skips updates instead of queueing them (each update is a whole
 * snapshot, so a skipped one loses nothing). Oversized headers are refused
 * by Deno's server itself (431). Connections are bounded in number, in the
 * time a request may take to arrive and in idleness (guarded_server.ts).
 * Against a hostile page in the user's browser, a rebound Host and another
 * site's POST are refused before this handler runs, and every answer gets
 * the browser's headers (browser_guard.ts); the page's policy lets only its
 * own script run (page.ts).
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { SwitchStatus } from "./status.ts";
import { METRICS_CONTENT_TYPE, renderMetrics } from "./metrics.ts";
import { PAGE_CSP, pageWith } from "./page.ts";
import { feedUpdate } from "./feed.ts";
import { topologyDot } from "./topology.ts";
import type { HttpAddress } from "./address.ts";
import { type GuardedServer, serveGuarded } from "./guarded_server.ts";
import { failureLine, failureLog } from "./browser_guard.ts";

/** Most event streams served at once; more get 503. */
export const MAX_FEEDS = 16;
/** How often an event stream sends a snapshot. */
export const FEED_INTERVAL_MS = 250;
/**
 * The event that ends a feed whose update failed: named, so the page tells it
 * from an update and from a dropped connection. Its data is what a 500 says.
 */
export const FEED_FAILED = "event: failed\ndata: internal error (logged by the server)\n\n";
/** The paths of the POST actions. */
const ACTIONS = new Set(["/api/hub", "/api/port"]);
/** Largest request body accepted (actions carry none). */
const MAX_BODY = 1024;

/** Settings of the web server. */
export interface WebServerOptions extends HttpAddress {
  /** The secret POST actions must carry (header X-Vde-Token); none: read-only. */
  token?: string;
}

/** A running web server. */
export class WebServer {
  readonly #server: GuardedServer;
  readonly #status: SwitchStatus;
  /** The token's SHA-256: digests of equal length are compared, so the time taken says nothing of its length. */
  readonly #token: Uint8Array | undefined;
  readonly #feeds = new Set<() => void>();
  readonly #failures = failureLog("vde switch");

  private constructor(status: SwitchStatus, options: WebServerOptions) {
    this.#status = status;
    this.#token = options.token === undefined ? undefined : sha256(options.token);
    this.#server = serveGuarded("vde switch", options, (req) => this.#handle(req));
  }

  /**
   * Starts serving.
   *
   * @throws Deno.errors.AddrInUse and the like when it cannot listen
   */
  static start(status: SwitchStatus, options: WebServerOptions): WebServer {
    return new WebServer(status, options);
  }

  /** Where it listens (the real port when 0 was asked for). */
  get addr(): Deno.NetAddr {
    return this.#server.addr;
  }

  /** The page's address, for the log. */
  get url(): string {
    const { hostname, port } = this.addr;
    return `http://${hostname.includes(":") ? `[${hostname}]` : hostname}:${port}/`;
  }

  /** Ends the event streams and stops listening. */
  async close(): Promise<void> {
    for (const end of [...this.#feeds]) end();
    await this.#server.shutdown();
    this.#failures.close();
    this.#status.close();
  }

  #handle(req: Request): Response {
    const url = new URL(req.url);
    const length = Number(req.headers.get("content-length") ?? "0");
    if (!(length <= MAX_BODY)) return text(413, "request body too large\n");
    if (url.pathname.startsWith("/api/")) {
      if (req.method === "POST") return this.#action(req, url);
      // `curl URL` is a GET: "not found" would send its user looking for a wrong path.
      if (ACTIONS.has(url.pathname)) {
        return text(405, `${url.pathname} is an action: POST it (curl -X POST -H 'X-Vde-Token: ...')\n`, {
          allow: "POST",
        });
      }
    }
    if (req.method !== "GET" && req.method !== "HEAD") {
      return text(405, "method not allowed\n", { allow: "GET, HEAD" });
    }
    switch (url.pathname) {
      case "/metrics":
        return new Response(renderMetrics(this.#status.snapshot()) + (this.#status.extraMetrics?.() ?? ""), {
          headers: { "content-type": METRICS_CONTENT_TYPE },
        });
      case "/":
        return new Response(pageWith(feedUpdate(this.#status, "", this.#token !== undefined)), {
          headers: {
            "content-type": "text/html; charset=utf-8",
            "content-security-policy": PAGE_CSP,
          },
        });
      case "/events":
        return this.#feed(req, url.searchParams.get("q") ?? "");
      case "/topology.dot":
        return new Response(topologyDot(this.#status.name, this.#status.ports()), {
          headers: { "content-type": "text/vnd.graphviz; charset=utf-8" },
        });
      case "/status.json":
        return Response.json(feedUpdate(this.#status, "", this.#token !== undefined));
      default:
        return text(404, "not found\n");
    }
  }

  /**
   * The event stream of the live page: a snapshot every FEED_INTERVAL_MS.
   * An update that fails to be made (a throw in a snapshot) comes after the
   * headers, where the guard's 500 cannot: the stream ends with FEED_FAILED,
   * whole, which the page's script shows, its close making the browser's
   * EventSource reconnect; the failure is logged as the guard logs a 500.
   * (Thrown from the timer, it ended the whole switch process.)
   */
  #feed(req: Request, query: string): Response {
    if (this.#feeds.size >= MAX_FEEDS) return text(503, "too many live pages open\n");
    const encoder = new TextEncoder();
    const writable = this.#token !== undefined;
    const status = this.#status;
    const feeds = this.#feeds;
    const failures = this.#failures;
    let timer: ReturnType<typeof setInterval> | undefined;
    let end = () => {};
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        const send = () => {
          // Full queue: the browser is not reading; skip this update.
          if ((controller.desiredSize ?? 0) <= 0) return;
          let event: string;
          try {
            event = `data: ${JSON.stringify(feedUpdate(status, query, writable))}\n\n`;
          } catch (err) {
            failures.line(failureLine(req, err, " after its headers (its stream ended)"));
            controller.enqueue(encoder.encode(FEED_FAILED));
            end();
            return;
          }
          controller.enqueue(encoder.encode(event));
        };
        end = () => {
          clearInterval(timer);
          feeds.delete(end);
          try {
            controller.close();
          } catch { /* already closed */ }
        };
        feeds.add(end);
        // The timer first: a first update that fails ends the feed, and clears only a timer already set.
        timer = setInterval(send, FEED_INTERVAL_MS);
        send();
      },
      cancel() {
        clearInterval(timer);
        feeds.delete(end);
      },
    }, new CountQueuingStrategy({ highWaterMark: 2 }));
    return new Response(body, {
      headers: { "content-type": "text/event-stream", "cache-control": "no-store" },
    });
  }

  #action(req: Request, url: URL): Response {
    if (this.#token === undefined) return text(403, "read-only: start the switch with --http-token FILE\n");
    // Only from the header: a browser sends no custom header across sites without a preflight, which
    // this server never allows (browser_guard.ts); a token in the query would also land in logs.
    if (!timingSafeEqual(sha256(req.headers.get("x-vde-token") ?? ""), this.#token)) {
      return text(403, "wrong or missing token\n");
    }
    const engine = this.#status.sw.engine;
    const on = url.searchParams.get("on");
    if (on !== "0" && on !== "1") return text(400, "on=0 or on=1 is required\n");
    switch (url.pathname) {
      case "/api/hub":
        engine.hub = on === "1";
        return text(200, `hub ${engine.hub ? "on" : "off"}\n`);
      case "/api/port": {
        const given = url.searchParams.get("port") ?? "";
        const numPorts = this.#status.sw.numPorts;
        // Digits only: Number() read a missing or empty port= as 0 (acting on port 0) and 0x2 as 2.
        if (!/^\d{1,9}$/.test(given)) {
          return text(400, `port=N is required, N a port number (the switch's are 0-${numPorts - 1})\n`);
        }
        const port = Number(given);
        if (port >= numPorts) {
          return text(404, `no such port: the switch's ports are 0-${numPorts - 1}\n`);
        }
        // A port in range without a client is none yet: said so, where "no such port" read as a typo.
        if (this.#status.sw.port(port) === undefined) {
          return text(
            404,
            `port ${port} has no client: a port exists while one is plugged in (or after port/create ${port})\n`,
          );
        }
        // A disabled port keeps its clients but stops switching; one with no client stays down.
        const up = this.#status.sw.setPortEnabled(port, on === "1");
        return text(200, `port ${port} ${up ? "up" : "down"}\n`);
      }
      default:
        return text(404, "no such action\n");
    }
  }
}

function sha256(text: string): Uint8Array {
  return createHash("sha256").update(text).digest();
}

function text(status: number, body: string, headers: Record<string, string> = {}): Response {
  return new Response(body, { status, headers: { "content-type": "text/plain; charset=utf-8", ...headers } });
}
