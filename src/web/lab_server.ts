/**
 * The web view of a whole lab (`vde up lab.yaml --http`): one server for
 * every switch of the lab. /metrics carries each switch's series labelled
 * switch = its node name, /topology.dot is the lab as `vde graph` prints
 * it (its cut and spanning-tree-blocked links marked), / is a page with the lab drawn as SVG and each switch's ports, and
 * /status.json is what that page polls (a switch whose data-plane thread
 * died carries why, and the page marks it). Beyond the switches, /metrics has
 * each link's traffic, the drops of its impairments by reason and the
 * cables' sessions (lab_status.ts), its slirps' counters (a rootless lab's,
 * run by the process outside its namespaces, read from that one at each
 * scrape: outsideSlirps), and the page draws the links' rates.
 *
 * Switches may come and go while the lab runs (the lab shell's `add` and
 * `del`), so the set is read from the lab on every request; a SwitchStatus
 * (which counts MAC moves) is kept per switch object and dropped with it.
 * Read-only: actions on a lab's switches belong to the lab shell. On a TCP
 * address its connections are bounded (guarded_server.ts).
 */
import type { Lab } from "../lab/spec.ts";
import type { Switch } from "../switch/switch.ts";
import type { HttpAddress } from "./address.ts";
import { type GuardedServer, serveGuarded } from "./guarded_server.ts";
import { guardBrowser, withBrowserHeaders } from "./browser_guard.ts";
import { labDot } from "./lab_dot.ts";
import { LAB_PAGE_CSP, labDrawing, labPageHtml } from "./lab_page.ts";
import { METRICS_CONTENT_TYPE, renderMetrics } from "./metrics.ts";
import { SwitchStatus } from "./status.ts";
import { type NamedSlirp, slirpCounters, slirpFamilies } from "./slirp_metrics.ts";
import type { SlirpStack } from "../slirp/stack.ts";
import {
  cableStatuses,
  type LabCableView,
  labFamilies,
  type LabLinkView,
  linkStatuses,
} from "./lab_status.ts";

/** What the server reads of a running lab (LabRunner has it). */
export interface LabView {
  readonly lab: Lab;
  readonly switches: ReadonlyMap<string, { readonly sw: Switch }>;
  /** The running links (traffic, drops, impairments' counters). */
  readonly links?: readonly LabLinkView[];
  /** The cable nodes and their current sessions. */
  readonly cables?: ReadonlyMap<string, LabCableView>;
  /** The slirp nodes this process runs, by name. */
  readonly slirps?: ReadonlyMap<string, { readonly stack: SlirpStack }>;
}

/** The counters of the slirps another process runs for the lab (a rootless lab's), read at each scrape. */
export type OutsideSlirps = () => Promise<readonly NamedSlirp[]>;

/** `http://HOST:PORT/` of a listening address, an IPv6 host in brackets. */
export function httpUrl({ hostname, port }: { hostname: string; port: number }): string {
  return `http://${hostname.includes(":") ? `[${hostname}]` : hostname}:${port}/`;
}

/** The listening address in a relayed page's URL; the loopback's when it has none. */
function relayedBound(url: string): { hostname: string; port: number } {
  try {
    const u = new URL(url);
    return { hostname: u.hostname.replace(/^\[(.*)\]$/, "$1"), port: Number(u.port || "80") };
  } catch {
    return { hostname: "127.0.0.1", port: 0 };
  }
}

const NO_CABLES: ReadonlyMap<string, LabCableView> = new Map();

/**
 * A unix socket to serve on, and the page's address where another process
 * passes it connections from the network (a rootless lab's, outside.ts).
 */
export interface RelayedAddress {
  path: string;
  url: string;
}

/** A running lab web server. */
export class LabWebServer {
  readonly #server: GuardedServer | Deno.HttpServer<Deno.UnixAddr>;
  readonly #view: LabView;
  readonly #statuses = new Map<string, SwitchStatus>();
  readonly #url: string | undefined;
  readonly #outsideSlirps: OutsideSlirps | undefined;

  private constructor(view: LabView, address: HttpAddress | RelayedAddress, outsideSlirps?: OutsideSlirps) {
    this.#view = view;
    this.#outsideSlirps = outsideSlirps;
    const common = {
      onListen: () => {},
      onError: () => withBrowserHeaders(new Response("internal error\n", { status: 500 })),
    };
    const handler = (req: Request) => this.#handle(req);
    if ("path" in address) {
      this.#url = address.url;
      // The browser's checks by the address the other process listens on (loopback when unsaid).
      this.#server = Deno.serve(
        { ...common, path: address.path },
        guardBrowser(relayedBound(address.url), handler, "vde up"),
      );
    } else this.#server = serveGuarded("vde up", address, handler);
  }

  /**
   * Starts serving.
   *
   * @throws Deno.errors.AddrInUse and the like when it cannot listen
   */
  static start(
    view: LabView,
    address: HttpAddress | RelayedAddress,
    outsideSlirps?: OutsideSlirps,
  ): LabWebServer {
    return new LabWebServer(view, address, outsideSlirps);
  }

  /** The page's address, for the log. */
  get url(): string {
    const addr: Deno.Addr = this.#server.addr;
    if (this.#url !== undefined) return this.#url;
    return "path" in addr ? `unix:${addr.path}` : httpUrl(addr);
  }

  async close(): Promise<void> {
    await this.#server.shutdown();
    for (const s of this.#statuses.values()) s.close();
    this.#statuses.clear();
  }

  /** One status per running switch, in the lab's node order. */
  #current(): SwitchStatus[] {
    const out: SwitchStatus[] = [];
    for (const [name, { sw }] of this.#view.switches) {
      let s = this.#statuses.get(name);
      if (s !== undefined && s.sw !== sw) {
        s.close();
        s = undefined;
      }
      if (s === undefined) this.#statuses.set(name, s = new SwitchStatus(sw, name));
      out.push(s);
    }
    for (const [name, s] of this.#statuses) {
      if (!this.#view.switches.has(name)) {
        s.close();
        this.#statuses.delete(name);
      }
    }
    return out;
  }

  /** The switches' families, then the links', the impairments', the cables' and the slirps'. */
  async #metrics(): Promise<string> {
    const slirps: NamedSlirp[] = [...this.#view.slirps ?? []].map(([name, { stack }]) => ({
      name,
      counters: slirpCounters(stack),
    }));
    if (this.#outsideSlirps !== undefined) slirps.push(...await this.#outsideSlirps());
    const lab = [
      ...labFamilies(this.#view.links ?? [], this.#view.cables ?? NO_CABLES),
      ...slirpFamilies(slirps),
    ];
    const switches = renderMetrics(this.#current().map((s) => s.snapshot()));
    return lab.length === 0 ? switches : switches + lab.join("\n") + "\n";
  }

  /** The links spanning tree discards at a switch end (its port's client is `lab link NAME`), as the page finds them. */
  #blockedLinks(): Set<string> {
    const blocked = new Set<string>();
    for (const s of this.#current()) {
      for (const p of s.ports()) {
        if (p.stp?.state === 4 && p.name.startsWith("lab link ")) {
          blocked.add(p.name.slice("lab link ".length));
        }
      }
    }
    return blocked;
  }

  /** What /status.json answers, and what the page draws at load. */
  #status() {
    return {
      name: this.#view.lab.name,
      time: Date.now(),
      switches: this.#current().map((s) => ({
        name: s.name,
        hub: s.sw.engine.hub,
        ports: s.ports(),
        counters: s.sw.engine.counters,
        mcast: s.mcastGroups(),
        // Why its data-plane thread died (it forwards nothing), as `vde status` says it; null while it runs.
        failure: s.sw.threadFailure,
      })),
      links: linkStatuses(this.#view.links ?? []),
      cables: cableStatuses(this.#view.cables ?? NO_CABLES),
      // What the page's drawing has, so a page left open redraws once the lab grows or shrinks (add, del).
      drawing: labDrawing(this.#view.lab),
    };
  }

  async #handle(req: Request): Promise<Response> {
    if (req.method !== "GET" && req.method !== "HEAD") {
      return text(405, "method not allowed\n", { allow: "GET, HEAD" });
    }
    switch (new URL(req.url).pathname) {
      case "/metrics":
        return new Response(await this.#metrics(), {
          headers: { "content-type": METRICS_CONTENT_TYPE },
        });
      case "/":
        return new Response(labPageHtml(this.#view.lab, this.#status()), {
          headers: { "content-type": "text/html; charset=utf-8", "content-security-policy": LAB_PAGE_CSP },
        });
      case "/status.json":
        return Response.json(this.#status());
      case "/topology.dot":
        return new Response(labDot(this.#view.lab, cutLinks(this.#view.links ?? []), this.#blockedLinks()), {
          headers: { "content-type": "text/vnd.graphviz; charset=utf-8" },
        });
      default:
        return text(404, "not found\n");
    }
  }
}

/** The names of the links cut now (`link A-B down`). */
function cutLinks(links: readonly LabLinkView[]): Set<string> {
  return new Set(links.filter((l) => !l.wire.up).map((l) => l.name));
}

function text(status: number, body: string, headers: Record<string, string> = {}): Response {
  return new Response(body, { status, headers: { "content-type": "text/plain; charset=utf-8", ...headers } });
}
