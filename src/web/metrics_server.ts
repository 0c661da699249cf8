/**
 * `--http` of the programs that have counters but no switch (`vde slirp`,
 * `vde cable listen`, `vde wirefilter`): /metrics only, rendered on each
 * scrape from the counters the program keeps anyway, so serving costs
 * nothing between scrapes. `/` is a line that points there, as an
 * exporter's landing page does (a browser opened on the bare address met
 * "not found"); everything else is 404 naming /metrics, or 405. Its
 * connections are bounded as the switch's page's are (guarded_server.ts).
 */
import { UsageError } from "../cli/usage_error.ts";
import { log } from "../log.ts";
import { httpListenFailure, parseHttpAddress } from "./address.ts";
import { METRICS_CONTENT_TYPE } from "./metrics.ts";
import { type GuardedServer, serveGuarded } from "./guarded_server.ts";

/** A running /metrics server. */
export interface MetricsServer {
  readonly url: string;
  close(): Promise<void>;
}

/** One family's HELP and TYPE lines and its samples (`labels` without braces, "" for none). */
export function metricFamily(
  name: string,
  type: "counter" | "gauge",
  help: string,
  samples: [labels: string, value: number][],
): string[] {
  return [
    `# HELP ${name} ${help}`,
    `# TYPE ${name} ${type}`,
    ...samples.map(([labels, value]) => `${name}${labels ? `{${labels}}` : ""} ${value}`),
  ];
}

/**
 * `; metrics: URL` for a program's ready line (none without --http): a `--daemon` started with `--http 0`
 * says there where the kernel put it, as `vde switch -d` says its web view, not only in its log or syslog.
 */
export function metricsPart(url: string | undefined): string {
  return url === undefined ? "" : `; metrics: ${url}`;
}

/**
 * Serves `render()` at /metrics on `address` ([ADDR:]PORT), logged as `component`.
 *
 * @throws UsageError for a bad address or one it cannot listen on
 */
export function startMetricsServer(
  component: string,
  address: string,
  render: () => string | Promise<string>,
): MetricsServer {
  let addr;
  try {
    addr = parseHttpAddress(address);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  let server: GuardedServer;
  try {
    server = serveGuarded(component, addr, async (req) => {
      const plain = { "content-type": "text/plain; charset=utf-8" };
      if (req.method !== "GET" && req.method !== "HEAD") {
        return new Response("method not allowed\n", {
          status: 405,
          headers: { ...plain, allow: "GET, HEAD" },
        });
      }
      const path = new URL(req.url).pathname;
      if (path === "/") return new Response(`${component}: metrics at /metrics\n`, { headers: plain });
      if (path !== "/metrics") {
        return new Response("not found: metrics are at /metrics\n", { status: 404, headers: plain });
      }
      return new Response(await render(), { headers: { "content-type": METRICS_CONTENT_TYPE } });
    });
  } catch (err) {
    throw new UsageError(httpListenFailure(address, err));
  }
  const { hostname, port } = server.addr;
  const url = `http://${hostname.includes(":") ? `[${hostname}]` : hostname}:${port}/metrics`;
  log(component, `metrics on ${url}`);
  return { url, close: () => server.shutdown() };
}
