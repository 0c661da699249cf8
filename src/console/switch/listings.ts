/**
 * vde_switch's `port/print` and `hash/print` line formats (spec 5.3), both
 * ways: formatting our views, and parsing a switch's listing back into views
 * (`vde term` does that to draw tables for a C vde_switch).
 */
import type { EndpointView, MacView, PortView } from "./views.ts";

const num = (n: number, width: number) => String(n).padStart(width, " ");
const zero = (n: number, width: number) => String(n).padStart(width, "0");

/** The lines of one port in `port/print` / `port/allprint`. */
export function formatPort(v: PortView): string[] {
  const lines = [
    `Port ${zero(v.port, 4)} untagged_vlan=${zero(v.vlan, 4)} ${v.active ? "ACTIVE" : "INACTIVE"} - ${
      v.allocatable ? "" : "NOT "
    }Unnamed Allocatable`,
    ` Current User: ${v.user} Access Control: (User: ${v.accessUser} - Group: ${v.accessGroup})`,
    ` IN:  pkts ${num(v.framesIn, 10)}          bytes ${num(v.bytesIn, 20)}`,
    ` OUT: pkts ${num(v.framesOut, 10)}          bytes ${num(v.bytesOut, 20)}`,
  ];
  // Ours, only on a guarded or shared port: a parser of vde_switch's listing skips a line it does not know.
  if (v.stp !== undefined) lines.push(` STP: ${v.stp}`);
  for (const ep of v.endpoints) {
    lines.push(`  -- endpoint ID ${zero(ep.id, 4)} module ${ep.module.padEnd(12)}: ${ep.description}`);
  }
  return lines;
}

/** One `hash/print` line. */
export function formatHashLine(v: MacView): string {
  return `Hash: ${zero(v.bucket, 4)} Addr: ${v.mac} VLAN ${zero(v.vlan, 4)} to port: ${
    zero(v.port, 3)
  }  age ${v.age} secs`;
}

const PORT_RE = /^Port (\d+) untagged_vlan=(\d+) (ACTIVE|INACTIVE) - (NOT )?Unnamed Allocatable/;
const USER_RE = /^ Current User: (\S+) Access Control: \(User: (\S+) - Group: (\S+)\)/;
const COUNT_RE = /^ (IN|OUT):\s+pkts\s+(\d+)\s+bytes\s+(\d+)/;
const EP_RE = /^ {2}-- endpoint ID (\d+) module (.{12}): ?(.*)$/;
const MAC_RE = /^Hash: (\d+) Addr: ([0-9a-fA-F:]+) VLAN (\d+) to port: (\d+)\s+age (-?\d+) secs/;

/** Parses a `port/print` or `port/allprint` listing; lines it does not know are skipped. */
export function parsePortListing(lines: readonly string[]): PortView[] {
  const views: PortView[] = [];
  let cur: PortView | undefined;
  for (const line of lines) {
    let m = PORT_RE.exec(line);
    if (m !== null) {
      cur = {
        port: Number(m[1]),
        vlan: Number(m[2]),
        active: m[3] === "ACTIVE",
        allocatable: m[4] === undefined,
        user: "NONE",
        accessUser: "NONE",
        accessGroup: "NONE",
        framesIn: 0,
        bytesIn: 0,
        framesOut: 0,
        bytesOut: 0,
        endpoints: [],
      };
      views.push(cur);
      continue;
    }
    if (cur === undefined) continue;
    if ((m = USER_RE.exec(line)) !== null) {
      cur.user = m[1]!;
      cur.accessUser = m[2]!;
      cur.accessGroup = m[3]!;
    } else if ((m = COUNT_RE.exec(line)) !== null) {
      if (m[1] === "IN") {
        cur.framesIn = Number(m[2]);
        cur.bytesIn = Number(m[3]);
      } else {
        cur.framesOut = Number(m[2]);
        cur.bytesOut = Number(m[3]);
      }
    } else if ((m = EP_RE.exec(line)) !== null) {
      const ep: EndpointView = { id: Number(m[1]), module: m[2]!.trimEnd(), description: m[3]! };
      cur.endpoints.push(ep);
    }
  }
  return views;
}

/** Parses a `hash/print` listing. */
export function parseMacListing(lines: readonly string[]): MacView[] {
  const views: MacView[] = [];
  for (const line of lines) {
    const m = MAC_RE.exec(line);
    if (m === null) continue;
    views.push({
      bucket: Number(m[1]),
      mac: m[2]!.toLowerCase(),
      vlan: Number(m[3]),
      port: Number(m[4]),
      age: Number(m[5]),
    });
  }
  return views;
}
