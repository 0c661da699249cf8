/**
 * The live page, embedded whole (no CDN, no files next to the binary).
 *
 * It opens /events (server-sent events) and redraws the ports table, the
 * MAC table and, with snooping on, the multicast groups on each update;
 * rates are the difference of two updates' counters over their time stamps. The MAC search is sent to the server as
 * `?q=`, which filters. The server writes the state at the request into the
 * page (pageWith), so the tables are there before the feed connects: a
 * `chromium --headless --dump-dom` or a slow link sees ports, not
 * "connecting…". With a token configured the page shows a token field
 * and buttons; each action is a POST carrying the token in X-Vde-Token.
 */

import { createHash } from "node:crypto";
import { countersLine, ENGINE_COUNTER_VIEWS } from "./engine_counters.ts";
import { portUpText } from "./status.ts";
import type { FeedUpdate } from "./feed.ts";

/**
 * A page's Content-Security-Policy: only its own inline `scripts` and
 * `styles` run, named by their SHA-256 (an element a client's name smuggled
 * in would not match), it fetches only from its own origin, and no other
 * site may frame it (its token buttons cannot be clickjacked).
 */
export function pageCsp(scripts: string[], styles: string[]): string {
  const hashes = (texts: string[]) =>
    texts.map((t) => `'sha256-${createHash("sha256").update(t).digest("base64")}'`);
  return `default-src 'none'; script-src ${hashes(scripts).join(" ")}; style-src ${
    hashes(styles).join(" ")
  }; ` +
    "connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
}

/**
 * Where a page's first state goes: a JSON data block, which no browser runs
 * (so the script stays the same text, and its hash the same, whatever the
 * state), replaced by withFirst and read by the page's script.
 */
export const FIRST_PLACEHOLDER = '<script type="application/json" id="first">null</script>';

/** The statement of a page's script that reads its first state. */
export const READ_FIRST = 'const FIRST = JSON.parse(document.getElementById("first").textContent);';

/** The page's HTML with its style and script inline. */
/** The page's style: hashed into its policy, so it is the style element's whole text. */
const PAGE_STYLE = `body{font:14px system-ui,sans-serif;margin:0;padding:.5rem;color:#222;background:#fafafa}
h1{font-size:1.1rem;margin:.2rem 0}h2{font-size:1rem;margin:.8rem 0 .3rem}
.wrap{overflow-x:auto}table{border-collapse:collapse;width:100%}
th,td{padding:.2rem .4rem;border-bottom:1px solid #ddd;text-align:right;white-space:nowrap}
th:nth-child(2),td:nth-child(2){text-align:left;white-space:normal}
.down{color:#999}#state{font-size:.85rem;color:#666}
input{font:inherit;padding:.2rem;max-width:100%}button{font:inherit}
`;

/** The page's script: hashed into its policy, so it is the script element's whole text. */
const PAGE_SCRIPT = `"use strict";
const $ = (id) => document.getElementById(id);
const COUNTER_VIEWS = ${JSON.stringify(ENGINE_COUNTER_VIEWS)};
const countersLine = ${countersLine.toString()};
const portUpText = ${portUpText.toString()};
let last = null, source = null, writable = false;
function cell(row, text) { const td = document.createElement("td"); td.textContent = text; row.appendChild(td); return td; }
function rate(now, prev, key, dt) {
  if (!prev || dt <= 0) return "";
  return Math.max(0, Math.round((now[key] - prev[key]) / dt)).toString();
}
async function act(path) {
  const r = await fetch(path, { method: "POST", headers: { "x-vde-token": $("token").value } });
  $("msg").textContent = (await r.text()).trim();
}
function draw(u) {
  $("name").textContent = u.name;
  $("state").textContent = (u.hub ? "hub mode" : "switching") + " · updated " + new Date(u.time).toLocaleTimeString();
  writable = u.writable; $("admin").hidden = !writable;
  $("hub").textContent = u.hub ? "switch mode" : "hub mode";
  $("hub").onclick = () => act("/api/hub?on=" + (u.hub ? 0 : 1));
  const prev = new Map(last ? last.ports.map((p) => [p.port, p]) : []);
  const dt = last ? (u.time - last.time) / 1000 : 0;
  const body = $("ports"); body.textContent = "";
  for (const p of u.ports) {
    const tr = document.createElement("tr"); tr.id = "port-" + p.port; if (!p.up) tr.className = "down";
    const q = prev.get(p.port);
    cell(tr, p.port); cell(tr, p.name || "-"); cell(tr, p.vlan); cell(tr, portUpText(p));
    cell(tr, p.framesIn).className = "rx-frames"; cell(tr, p.bytesIn); cell(tr, rate(p, q, "bytesIn", dt));
    cell(tr, p.framesOut).className = "tx-frames"; cell(tr, p.bytesOut); cell(tr, rate(p, q, "bytesOut", dt));
    cell(tr, p.dropsIn + p.dropsOut);
    const td = cell(tr, "");
    if (writable && p.clients > 0) {
      const b = document.createElement("button"); b.textContent = p.up ? "disable" : "enable";
      b.onclick = () => act("/api/port?port=" + p.port + "&on=" + (p.up ? 0 : 1)); td.appendChild(b);
    }
    body.appendChild(tr);
  }
  const c = u.counters;
  $("counters").textContent = c ? countersLine(c, COUNTER_VIEWS) : "";
  const macs = $("macs"); macs.textContent = "";
  for (const m of u.macs) { const tr = document.createElement("tr"); cell(tr, m.vlan); cell(tr, m.mac); cell(tr, m.port); macs.appendChild(tr); }
  $("macn").textContent = "(" + (u.macsMatched < u.macsTotal ? u.macsMatched + " of " : "") + u.macsTotal
    + (u.macs.length < u.macsMatched ? ", first " + u.macs.length + " shown" : "") + ")";
  $("mcastbox").hidden = !u.mcast;
  const groups = $("mcast"); groups.textContent = "";
  for (const g of u.mcast || []) { const tr = document.createElement("tr"); cell(tr, g.vlan); cell(tr, g.group); cell(tr, g.ports.join(" ")); groups.appendChild(tr); }
  last = u;
}
function connect() {
  if (source) source.close();
  source = new EventSource("/events?q=" + encodeURIComponent($("q").value));
  // The server's "failed" event ends the stream (the browser then reconnects): said until an update comes.
  let failed = false;
  source.onmessage = (e) => { failed = false; draw(JSON.parse(e.data)); };
  source.addEventListener("failed", (e) => { failed = true; $("state").textContent = "the server failed (" + e.data + "), retrying…"; });
  source.onerror = () => { if (!failed) $("state").textContent = "disconnected, retrying…"; };
}
let timer = 0;
$("q").oninput = () => { clearTimeout(timer); timer = setTimeout(connect, 300); };
${READ_FIRST}
if (FIRST) draw(FIRST);
connect();
`;

export const PAGE_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>vde switch</title>
<style>${PAGE_STYLE}</style></head><body>
<h1>vde switch <span id="name"></span></h1>
<div id="state">connecting…</div>
<div id="admin" hidden><label>token <input id="token" type="password" autocomplete="off"></label>
<button id="hub"></button> <span id="msg"></span></div>
<h2>Ports</h2>
<div class="wrap"><table><thead><tr><th>port</th><th>client</th><th>VLAN</th><th>up</th>
<th>rx frames</th><th>rx bytes</th><th>rx B/s</th><th>tx frames</th><th>tx bytes</th><th>tx B/s</th><th>drops</th>
<th class="act"></th></tr></thead><tbody id="ports"></tbody></table></div>
<div id="counters"></div>
<h2>MAC table <span id="macn"></span></h2>
<input id="q" type="search" size="28" placeholder="search MAC, VLAN or &quot;port N&quot;">
<div class="wrap"><table><thead><tr><th>VLAN</th><th>MAC</th><th>port</th></tr></thead>
<tbody id="macs"></tbody></table></div>
<div id="mcastbox" hidden><h2>Multicast groups (snooping)</h2>
<div class="wrap"><table><thead><tr><th>VLAN</th><th>group</th><th>ports</th></tr></thead>
<tbody id="mcast"></tbody></table></div></div>
${FIRST_PLACEHOLDER}
<script>${PAGE_SCRIPT}</script>
</body></html>
`;

/** The switch page's policy. */
export const PAGE_CSP = pageCsp([PAGE_SCRIPT], [PAGE_STYLE]);

/**
 * `html` with `first` written into its FIRST_PLACEHOLDER, so the page's
 * script draws it at load: a reader without JS (`chromium --headless
 * --dump-dom` before the feed) sees the tables. The JSON goes inside a
 * script element, so every `<` is escaped: a client's name cannot close it.
 */
export function withFirst(html: string, first: unknown): string {
  const json = JSON.stringify(first).replace(/</g, "\\u003c");
  return html.replace(FIRST_PLACEHOLDER, () => `<script type="application/json" id="first">${json}</script>`);
}

/** The switch page with `first` drawn at load. */
export function pageWith(first: FeedUpdate): string {
  return withFirst(PAGE_HTML, first);
}
