/**
 * Debug categories (`debug/list`, `debug/add`, `debug/del`) and the
 * asynchronous `3TTT <category> <text>` lines they produce (spec 5.1).
 *
 * The hub listens to the switch only while at least one session has a
 * category on, so a switch nobody debugs produces no events at all (the
 * engine then allocates nothing for them). Each subscribed session gets
 * the lines through its own `notify`, which applies that session's output
 * limits: a client that never reads cannot make the hub or the switch wait.
 */
import { formatDebugLine, printable } from "../reply_format.ts";
import type { Session } from "../registry.ts";
import type { Switch, SwitchEvent } from "../../switch/switch.ts";
import { endpointDescription } from "./views.ts";

/** A debug category as `debug/list` shows it. */
export interface DebugCategory {
  path: string;
  /** Tag, printed as three octal digits. */
  tag: number;
  help: string;
}

/**
 * The categories this switch can report, with vde_switch's tags.
 */
export const DEBUG_CATEGORIES: readonly DebugCategory[] = [
  { path: "hash/+", tag: 0o11, help: "hash: new element" },
  { path: "hash/-", tag: 0o12, help: "hash: discarded element" },
  { path: "port/+", tag: 0o21, help: "new port" },
  { path: "port/-", tag: 0o22, help: "closed port" },
  { path: "port/descr", tag: 0o23, help: "set port description" },
  { path: "port/ep/+", tag: 0o31, help: "new endpoint" },
  { path: "port/ep/-", tag: 0o32, help: "closed endpoint" },
  { path: "fstp/status", tag: 0o44, help: "fstp: status change" },
  { path: "fstp/root", tag: 0o45, help: "fstp: rootswitch/port change" },
];

const TAGS = new Map(DEBUG_CATEGORIES.map((c) => [c.path, c.tag]));

/** Categories whose path starts with `prefix` ("" matches all). */
export function matchCategories(prefix: string): DebugCategory[] {
  return DEBUG_CATEGORIES.filter((c) => c.path.startsWith(prefix));
}

/** Outcome of `DebugHub.add`/`del`, mapped to errnos by the commands. */
export type DebugChange = "changed" | "no-match" | "unchanged";

/** Routes switch events to the sessions that asked for them. */
export class DebugHub {
  readonly #sw: Switch;
  readonly #sessions = new Set<Session>();
  #unsubscribe: (() => void) | null = null;

  constructor(sw: Switch) {
    this.#sw = sw;
  }

  /** Turns on every category matching `prefix` for `session`. */
  add(session: Session, prefix: string): DebugChange {
    const matched = matchCategories(prefix);
    if (matched.length === 0) return "no-match";
    const fresh = matched.filter((c) => !session.debug.has(c.path));
    if (fresh.length === 0) return "unchanged";
    for (const c of fresh) session.debug.add(c.path);
    this.#sessions.add(session);
    this.#update();
    return "changed";
  }

  /** Turns off every category matching `prefix` for `session`. */
  del(session: Session, prefix: string): DebugChange {
    const matched = matchCategories(prefix);
    if (matched.length === 0) return "no-match";
    const on = matched.filter((c) => session.debug.has(c.path));
    if (on.length === 0) return "unchanged";
    for (const c of on) session.debug.delete(c.path);
    if (session.debug.size === 0) this.#sessions.delete(session);
    this.#update();
    return "changed";
  }

  /** Forgets a session that ended. */
  detach(session: Session): void {
    session.debug.clear();
    this.#sessions.delete(session);
    this.#update();
  }

  /** Number of sessions with at least one category on. */
  get listeners(): number {
    return this.#sessions.size;
  }

  #update(): void {
    if (this.#sessions.size > 0 && this.#unsubscribe === null) {
      this.#unsubscribe = this.#sw.addListener((e) => this.#onEvent(e));
    } else if (this.#sessions.size === 0 && this.#unsubscribe !== null) {
      this.#unsubscribe();
      this.#unsubscribe = null;
    }
  }

  #onEvent(event: SwitchEvent): void {
    for (const [category, text] of describe(event)) {
      const tag = TAGS.get(category)!;
      let line: string | undefined;
      for (const session of this.#sessions) {
        if (!session.debug.has(category)) continue;
        line ??= formatDebugLine(tag, category, text);
        session.notify(line);
      }
    }
  }
}

// vde_switch's texts: ports as %02d, endpoints as "FD %2d" (our endpoint id
// stands where its fd was), the VLAN as two hex bytes.
function describe(event: SwitchEvent): [string, string][] {
  switch (event.type) {
    case "mac-learned":
      return [["hash/+", macText(event.mac, event.vlan, event.port)]];
    case "mac-removed":
      return [["hash/-", macText(event.mac, event.vlan, event.port)]];
    case "mac-moved":
      return [
        ["hash/-", macText(event.mac, event.vlan, event.from)],
        ["hash/+", macText(event.mac, event.vlan, event.to)],
      ];
    case "port-activated":
      return [["port/+", pad2(event.port)]];
    case "port-deactivated":
      return [["port/-", pad2(event.port)]];
    case "endpoint-added": {
      const ep = `Port ${pad2(event.port)} FD ${String(event.endpoint.id).padStart(2)}`;
      return [["port/ep/+", ep], [
        "port/descr",
        `${ep} -> "${printable(endpointDescription(event.endpoint))}"`,
      ]];
    }
    case "stp-port":
      return [["fstp/status", event.message]];
    case "stp-root":
      return [["fstp/root", event.message]];
    case "endpoint-removed":
      return [["port/ep/-", `Port ${pad2(event.port)} FD ${String(event.endpoint.id).padStart(2)}`]];
    default:
      return [];
  }
}

function pad2(n: number): string {
  return String(n).padStart(2, "0");
}

function macText(mac: string, vlan: number, port: number): string {
  const hex = (b: number) => b.toString(16).padStart(2, "0");
  return `${mac} VLAN ${hex(vlan >> 8)}:${hex(vlan & 0xff)} Port ${port}`;
}
