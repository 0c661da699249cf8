/**
 * The live page of a lab: the topology drawn server-side as inline SVG
 * (nodes on a circle, shaped by kind, links labelled with their VLANs and
 * impairments, and each link's traffic rates both ways written on its edge)
 * and, below it, the links, the cables' sessions (RTT, reconnects) and each
 * switch's ports (and multicast groups, with snooping on), refreshed from
 * /status.json twice a second with rates from two polls' counters. The
 * server writes the state at the request into the page (withFirst, shared
 * with the switch page), so the tables are there before the first poll. A
 * switch whose data-plane thread died is drawn red and labelled FAILED under
 * its box (not by colour alone), by the server in the drawing it sends (a
 * reader without JavaScript sees it) and by the script as it polls, and its
 * table is headed by why (its counters stand still, and would read as a
 * quiet network).
 *
 * A circle needs no layout engine and keeps every edge visible for the
 * handful of nodes a lab has; `vde graph` with Graphviz draws big labs.
 * Nodes go round it in depth-first order of the links, not in the file's
 * order: a tree (most labs) then draws with no edge crossing another, each
 * host beside its switch.
 */
import type { Lab, LabNode } from "../lab/spec.ts";
import { linkLabel } from "./lab_dot.ts";
import { portUpText } from "./status.ts";
import { linkName } from "../lab/spec.ts";
import { FIRST_PLACEHOLDER, pageCsp, READ_FIRST, withFirst } from "./page.ts";

const SIZE = 520;
const RADIUS = 190;

/** Text safe inside HTML and SVG. */
function esc(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

function shape(n: LabNode, x: number, y: number): string {
  switch (n.kind) {
    case "switch":
      return `<rect x="${x - 34}" y="${y - 16}" width="68" height="32" rx="3" class="sw"/>`;
    case "slirp":
      return `<polygon points="${
        [0, 1, 2, 3, 4, 5].map((i) =>
          `${(x + 34 * Math.cos(i * Math.PI / 3)).toFixed(1)},${
            (y + 18 * Math.sin(i * Math.PI / 3)).toFixed(1)
          }`
        ).join(" ")
      }"/>`;
    default:
      return `<ellipse cx="${x}" cy="${y}" rx="34" ry="16"/>`;
  }
}

/** The lab's nodes in depth-first order of its links, from each unvisited node in file order. */
export function circleOrder(lab: Lab): LabNode[] {
  const next = new Map<string, string[]>(lab.nodes.map((n) => [n.name, []]));
  for (const l of lab.links) {
    next.get(l.ends[0].node)?.push(l.ends[1].node);
    next.get(l.ends[1].node)?.push(l.ends[0].node);
  }
  const byName = new Map(lab.nodes.map((n) => [n.name, n]));
  const order: LabNode[] = [];
  const seen = new Set<string>();
  const visit = (name: string): void => {
    if (seen.has(name)) return;
    seen.add(name);
    order.push(byName.get(name)!);
    for (const n of next.get(name) ?? []) visit(n);
  };
  for (const n of lab.nodes) visit(n.name);
  return order;
}

/** The nodes and links the drawing has, by name (status.json's `drawing`, which the script compares). */
export function labDrawing(lab: Lab): { nodes: string[]; links: string[] } {
  return { nodes: lab.nodes.map((n) => n.name), links: lab.links.map(linkName) };
}

/**
 * What the page's first state says of each switch and link (lab_server.ts's /status.json); only a switch's
 * `failure` and a link's `up` are read here.
 */
export interface LabPageFirst {
  readonly switches?: readonly {
    readonly name: string;
    readonly failure?: string | null;
    readonly [k: string]: unknown;
  }[];
  readonly links?: readonly { readonly name: string; readonly up?: boolean }[];
  readonly [k: string]: unknown;
}

/** The label under a switch whose data-plane thread ended (the script writes the same). */
export const FAILED_LABEL = "FAILED";

/** What a cut link's edge says in place of its rates (the script writes the same). */
export const CUT_LABEL = "cut";

/**
 * The lab's drawing: nodes on a circle, links as labelled lines; the
 * switches named in `failed` drawn red and labelled FAILED, the links named
 * in `cut` struck red and labelled cut.
 */
export function labSvg(
  lab: Lab,
  failed: ReadonlySet<string> = new Set(),
  cut: ReadonlySet<string> = new Set(),
): string {
  const c = SIZE / 2;
  const nodes = circleOrder(lab);
  const at = new Map(nodes.map((n, i) => {
    const a = -Math.PI / 2 + 2 * Math.PI * i / Math.max(1, nodes.length);
    return [n.name, { x: Math.round(c + RADIUS * Math.cos(a)), y: Math.round(c + RADIUS * Math.sin(a)) }];
  }));
  const parts: string[] = [];
  for (const l of lab.links) {
    const a = at.get(l.ends[0].node), b = at.get(l.ends[1].node);
    if (a === undefined || b === undefined) continue;
    const label = linkLabel(l);
    // A point `f` of the way from a to b.
    const along = (f: number) => ({
      x: Math.round(a.x + (b.x - a.x) * f),
      y: Math.round(a.y + (b.y - a.y) * f),
    });
    const down = cut.has(linkName(l));
    const classes = [...label ? ["impaired"] : [], ...down ? ["cut"] : []];
    parts.push(
      `<line x1="${a.x}" y1="${a.y}" x2="${b.x}" y2="${b.y}" id="line-${esc(linkName(l))}"${
        classes.length > 0 ? ` class="${classes.join(" ")}"` : ""
      }/>`,
    );
    // The impairments at 65% and the rates at 35%: apart from each other, and from the
    // labels of links that cross this one at their middles.
    const el = along(0.65), r = along(0.35);
    if (label) parts.push(`<text x="${el.x}" y="${el.y - 4}" class="el">${esc(label)}</text>`);
    // Filled in by the page's script: "A→B rate" and "B→A rate".
    parts.push(
      `<text x="${r.x}" y="${r.y + 9}" class="rate" id="rate-${esc(linkName(l))}">` +
        `<tspan class="ab${down ? " cutlabel" : ""}" x="${r.x}">${
          down ? CUT_LABEL : ""
        }</tspan><tspan class="ba" x="${r.x}" dy="11"></tspan></text>`,
    );
  }
  for (const n of lab.nodes) {
    const { x, y } = at.get(n.name)!;
    const dead = n.kind === "switch" && failed.has(n.name);
    parts.push(
      `<g class="node ${n.kind}${dead ? " failed" : ""}" id="node-${esc(n.name)}">${shape(n, x, y)}`,
    );
    parts.push(`<text x="${x}" y="${y + 4}">${esc(n.name)}</text>`);
    // Every switch has the label's place, empty while it runs, so the script can fill it as the switch dies.
    if (n.kind === "switch") {
      parts.push(
        `<text x="${x}" y="${y + 28}" class="flabel" id="flabel-${esc(n.name)}">${
          dead ? FAILED_LABEL : ""
        }</text>`,
      );
    }
    parts.push("</g>");
  }
  return `<svg viewBox="0 0 ${SIZE} ${SIZE}" role="img" aria-label="topology of lab ${esc(lab.name)}">` +
    parts.join("") + "</svg>";
}

/** The lab page's style: hashed into its policy, so it is the style element's whole text. */
const LAB_STYLE = `body{font:14px system-ui,sans-serif;margin:0;padding:.5rem;color:#222;background:#fafafa}
h1{font-size:1.1rem;margin:.2rem 0}h2{font-size:1rem;margin:.8rem 0 .3rem}
svg{width:100%;max-width:520px;display:block}svg text{font-size:11px;text-anchor:middle}
svg line{stroke:#555;stroke-width:1.5}svg line.impaired{stroke:#c60;stroke-dasharray:5 3}
svg line.blocked{stroke:#bbb;stroke-dasharray:2 4}svg line.cut{stroke:#b00;stroke-dasharray:2 4}
svg .rate .cutlabel{fill:#b00;font-weight:bold}
svg .node>*:first-child{fill:#fff;stroke:#333}svg .sw{stroke-width:2.5}svg .el{fill:#c60;font-size:10px}
svg .rate{fill:#06c;font-size:9px}svg text{paint-order:stroke;stroke:#fafafa;stroke-width:3px}
.wrap{overflow-x:auto}table{border-collapse:collapse;width:100%}
th,td{padding:.2rem .4rem;border-bottom:1px solid #ddd;text-align:right;white-space:nowrap}
th:nth-child(2),td:nth-child(2){text-align:left;white-space:normal}.down{color:#999}#state{font-size:.85rem;color:#666}
.failed{color:#b00;font-weight:bold;margin:.2rem 0}svg .node.failed>*:first-child{stroke:#b00;fill:#fdd}
svg .flabel{fill:#b00;font-weight:bold}
`;

/** The lab page's script: hashed into its policy, so it is the script element's whole text. */
const LAB_SCRIPT = `"use strict";
let last = new Map(), lastLinks = new Map(), lastTime = 0;
function human(n) { return n >= 1e6 ? (n / 1e6).toFixed(1) + "M" : n >= 1e3 ? (n / 1e3).toFixed(1) + "k" : String(n); }
function per(now, prev, dt) { return prev && dt > 0 ? Math.max(0, Math.round((now - prev) / dt)) : 0; }
function drawLinks(u, dt) {
  const body = document.querySelector("#links tbody"), now = new Map(); body.textContent = "";
  // Links whose switch port spanning tree keeps discarding (its client is "lab link NAME"): drawn faint.
  const blocked = new Set();
  for (const s of u.switches || []) {
    for (const p of s.ports) if (p.stp && p.stp.state === 4 && p.name.startsWith("lab link ")) blocked.add(p.name.slice(9));
  }
  for (const l of u.links || []) {
    const q = lastLinks.get(l.name); now.set(l.name, l);
    const abF = per(l.ab.frames, q && q.ab.frames, dt), abB = per(l.ab.bytes, q && q.ab.bytes, dt);
    const baF = per(l.ba.frames, q && q.ba.frames, dt), baB = per(l.ba.bytes, q && q.ba.bytes, dt);
    const tr = document.createElement("tr"); tr.id = "link-" + l.name; if (!l.up) tr.className = "down";
    cell(tr, l.a + " → " + l.b); cell(tr, l.name); cell(tr, l.up ? (blocked.has(l.name) ? "yes (STP blocks)" : "yes") : "cut");
    const line = document.getElementById("line-" + l.name);
    // A cut link (link A-B down) drawn as the others would read as carrying: struck through in red, said so.
    if (line) { line.classList.toggle("blocked", blocked.has(l.name)); line.classList.toggle("cut", !l.up); }
    cell(tr, abF).className = "ab-fps"; cell(tr, abB); cell(tr, baF).className = "ba-fps"; cell(tr, baB); cell(tr, l.drops);
    body.appendChild(tr);
    const t = document.getElementById("rate-" + l.name);
    if (t) {
      t.querySelector(".ab").classList.toggle("cutlabel", !l.up);
      t.querySelector(".ab").textContent = l.up ? l.a + "→" + l.b + " " + human(abB) + "B/s " + abF + " f/s" : "${CUT_LABEL}";
      t.querySelector(".ba").textContent = l.up ? l.b + "→" + l.a + " " + human(baB) + "B/s " + baF + " f/s" : "";
    }
  }
  lastLinks = now;
  const cables = u.cables || [], cbody = document.querySelector("#cables tbody");
  document.getElementById("cablebox").hidden = cables.length === 0; cbody.textContent = "";
  for (const c of cables) {
    const tr = document.createElement("tr"); tr.id = "cable-" + c.name; if (!c.connected) tr.className = "down";
    cell(tr, c.session.slice(0, 8)); cell(tr, c.name); cell(tr, c.connected ? "yes" : "waiting");
    cell(tr, c.rttSeconds === null ? "-" : (c.rttSeconds * 1000).toFixed(2) + " ms").className = "rtt";
    cell(tr, c.framesIn); cell(tr, c.framesOut); cell(tr, c.reconnects); cell(tr, c.dropsIn + c.dropsOut);
    cbody.appendChild(tr);
  }
}
const portUpText = ${portUpText.toString()};
function cell(row, text) { const td = document.createElement("td"); td.textContent = text; row.appendChild(td); return td; }
function rate(now, prev, key, dt) { return prev && dt > 0 ? Math.max(0, Math.round((now[key] - prev[key]) / dt)) : ""; }
function draw(u) {
  document.getElementById("state").textContent = "updated " + new Date(u.time).toLocaleTimeString();
  const dt = lastTime ? (u.time - lastTime) / 1000 : 0, now = new Map(), box = document.getElementById("switches");
  drawLinks(u, dt);
  box.textContent = "";
  for (const s of u.switches) {
    const h = document.createElement("h2"); h.textContent = "switch " + s.name + (s.hub ? " (hub)" : ""); box.appendChild(h);
    // A dead data-plane thread: its counters stand still, which reads as a quiet network unless said.
    const node = document.getElementById("node-" + s.name); if (node) node.classList.toggle("failed", !!s.failure);
    const label = document.getElementById("flabel-" + s.name); if (label) label.textContent = s.failure ? "${FAILED_LABEL}" : "";
    if (s.failure) {
      const f = document.createElement("p"); f.className = "failed"; f.id = "failed-" + s.name;
      f.textContent = "FAILED: its data-plane thread ended (" + s.failure + "); it forwards nothing"; box.appendChild(f);
    }
    const t = document.createElement("table"); t.id = "switch-" + s.name;
    t.innerHTML = "<thead><tr><th>port</th><th>client</th><th>VLAN</th><th>up</th><th>rx frames</th><th>rx B/s</th><th>tx frames</th><th>tx B/s</th><th>drops</th></tr></thead>";
    const body = document.createElement("tbody");
    for (const p of s.ports) {
      const key = s.name + "/" + p.port, q = last.get(key); now.set(key, p);
      const tr = document.createElement("tr"); if (!p.up) tr.className = "down";
      cell(tr, p.port); cell(tr, p.name || "-"); cell(tr, p.vlan); cell(tr, portUpText(p));
      cell(tr, p.framesIn); cell(tr, rate(p, q, "bytesIn", dt)); cell(tr, p.framesOut); cell(tr, rate(p, q, "bytesOut", dt));
      cell(tr, p.dropsIn + p.dropsOut); body.appendChild(tr);
    }
    t.appendChild(body); const w = document.createElement("div"); w.className = "wrap"; w.appendChild(t); box.appendChild(w);
    if (s.mcast) {
      const g = document.createElement("table"); g.id = "mcast-" + s.name;
      g.innerHTML = "<thead><tr><th>VLAN</th><th>multicast group</th><th>ports</th></tr></thead>";
      const gb = document.createElement("tbody");
      for (const m of s.mcast) { const tr = document.createElement("tr"); cell(tr, m.vlan); cell(tr, m.group); cell(tr, m.ports.join(" ")); gb.appendChild(tr); }
      g.appendChild(gb); const gw = document.createElement("div"); gw.className = "wrap"; gw.appendChild(g); box.appendChild(gw);
    }
  }
  last = now; lastTime = u.time;
}
// The drawing is the server's, of the lab at the page's load: one that grew or shrank since (add, del) is
// drawn again by loading the page again, at most every 5 s, should the two ever disagree for good.
function redrawn(u) {
  if (!u.drawing) return false;
  const has = (kind, names) => {
    const drawn = document.querySelectorAll("svg [id^='" + kind + "-']");
    return drawn.length === names.length && names.every((n) => document.getElementById(kind + "-" + n));
  };
  if (has("node", u.drawing.nodes) && has("line", u.drawing.links)) return false;
  // A browser that refuses the page its storage (cookies blocked) throws here: the drawing stays as it is,
  // the rest is drawn; unguarded, a reload with nothing to bound it could repeat at every poll.
  try {
    const last = Number(sessionStorage.getItem("vde-redrawn") || 0);
    if (Date.now() - last < 5000) return false;
    sessionStorage.setItem("vde-redrawn", String(Date.now()));
  } catch { return false; }
  location.reload();
  return true;
}
async function poll() {
  try { const u = await (await fetch("/status.json")).json(); if (redrawn(u)) return; draw(u); }
  catch { document.getElementById("state").textContent = "disconnected, retrying…"; }
  setTimeout(poll, 500);
}
${READ_FIRST}
if (FIRST) draw(FIRST);
poll();
`;

/** The lab page's Content-Security-Policy. */
export const LAB_PAGE_CSP = pageCsp([LAB_SCRIPT], [LAB_STYLE]);

/**
 * The whole page of `lab`, style and script inline; with `first` (what
 * /status.json answers now) written in and drawn at load, so the tables are
 * there before the first poll and for a reader without JS.
 */
export function labPageHtml(lab: Lab, first?: LabPageFirst): string {
  const failed = new Set((first?.switches ?? []).filter((s) => s.failure).map((s) => s.name));
  const cut = new Set((first?.links ?? []).filter((l) => l.up === false).map((l) => l.name));
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>vde lab ${esc(lab.name)}</title>
<style>${LAB_STYLE}</style></head><body>
<h1>vde lab ${esc(lab.name)}</h1>
<div id="state">connecting…</div>
${labSvg(lab, failed, cut)}
<h2>Links</h2>
<div class="wrap"><table id="links"><thead><tr><th>ends</th><th>link</th><th>up</th><th>frames/s</th><th>B/s</th>
<th>frames/s back</th><th>B/s back</th><th>drops</th></tr></thead><tbody></tbody></table></div>
<div id="cablebox" hidden><h2>Cables</h2>
<div class="wrap"><table id="cables"><thead><tr><th>cable</th><th>node</th><th>connected</th><th>RTT</th>
<th>rx frames</th><th>tx frames</th><th>reconnects</th><th>drops</th></tr></thead><tbody></tbody></table></div></div>
<div id="switches"></div>
${FIRST_PLACEHOLDER}
<script>${LAB_SCRIPT}</script>
</body></html>
`;
  return first === undefined ? html : withFirst(html, first);
}
