/**
 * One update of the live page: the ports and the MAC table as JSON, the MAC
 * table filtered by the page's search on the server and cut at MAX_MACS,
 * so a switch with 65,536 addresses never sends megabytes per update.
 */
import type { EngineCounters } from "../switch/engine.ts";
import type { MacStatus, McastGroupStatus, PortStatus, SwitchStatus } from "./status.ts";

/** Most MAC entries in one update; the page says how many matched. */
export const MAX_MACS = 500;

/** What the page receives a few times a second. */
export interface FeedUpdate {
  name: string;
  hub: boolean;
  /** Whether POST actions are possible (a token is configured). */
  writable: boolean;
  time: number;
  ports: PortStatus[];
  /** The switch-wide counters (frames flooded, dropped and why). */
  counters: EngineCounters;
  macs: MacStatus[];
  /** Entries matching the search, including those cut off. */
  macsMatched: number;
  macsTotal: number;
  /** Snooped multicast groups; absent while snooping is off. */
  mcast?: McastGroupStatus[];
}

/** A snapshot for the page; `query` keeps MACs whose text contains it (case-insensitive). */
export function feedUpdate(status: SwitchStatus, query: string, writable: boolean): FeedUpdate {
  const q = query.trim().toLowerCase();
  const all = status.macs();
  const matched = q === ""
    ? all
    : all.filter((m) => m.mac.includes(q) || `${m.vlan}` === q || `port ${m.port}` === q);
  return {
    name: status.name,
    hub: status.sw.engine.hub,
    writable,
    time: Date.now(),
    ports: status.ports(),
    counters: status.sw.engine.counters,
    macs: matched.slice(0, MAX_MACS),
    macsMatched: matched.length,
    macsTotal: all.length,
    mcast: status.mcastGroups(),
  };
}
