/**
 * `--http` of `vde slirp` and `vde cable listen`: their /metrics, judged by
 * Debian's promtool, count what really crossed them (frames from Debian's
 * vde_plug into the slirp; a cable session between two of our switches).
 */
import assert from "node:assert/strict";
import { loggedUrl } from "../helpers/ports.ts";
import { hasCommand, run, skipUnless, spawnManaged, waitFor } from "../helpers/processes.ts";
import { processAlive } from "../../src/os/processes.ts";
import { startOurSwitch, type SwitchHandle } from "../helpers/switches.ts";
import { BROADCAST, ethFrame, mac, ourCli, StdioClient, waitUntilAccepting } from "../helpers/vde_clients.ts";
import { generateKeyFile } from "../../src/cable/key.ts";
import { assertPromtoolClean, skipWithoutPromtool } from "../helpers/promtool.ts";

async function scrape(base: string): Promise<string> {
  try {
    const r = await fetch(`${base}/metrics`);
    return r.ok ? await r.text() : (await r.body?.cancel(), "");
  } catch {
    return "";
  }
}

/** The base URL in a "metrics on URL/metrics" log line. */
const METRICS_ON = /metrics on (http:\/\/\S+)\/metrics/;

function value(text: string, series: RegExp): number {
  const m = new RegExp(`^${series.source} (\\d+)$`, "m").exec(text);
  return m === null ? -1 : Number(m[1]);
}

Deno.test("vde slirp --http: /metrics counts vde_plug's frames into the slirp; promtool finds no problem", async (t) => {
  if (await skipWithoutPromtool(t)) return;
  if (skipUnless(t, (await hasCommand("vde_plug")) ? null : "vde_plug missing (Debian vdeplug)")) return;
  const dir = await Deno.makeTempDir({ prefix: "vde-web-slirp-" });
  const sw: SwitchHandle = await startOurSwitch(`${dir}/sw`);
  // Port 0: the kernel picks as the slirp listens, and the slirp logs its URL. A port freed by the
  // test before the slirp starts may be taken meanwhile by another process of a parallel run.
  const slirp = spawnManaged([...ourCli(), "slirp", "--sock", `${dir}/sw`, "--http", "0"], {
    name: "vde slirp",
  });
  let plug: StdioClient | undefined;
  try {
    await waitUntilAccepting(`${dir}/sw`);
    const base = await loggedUrl(() => slirp.stderr, METRICS_ON, "the slirp's metrics URL");
    await waitFor(async () => (await scrape(base)) !== "", {
      timeoutMs: 20_000,
      what: "the slirp's /metrics",
    });
    plug = StdioClient.vdePlug(`${dir}/sw`);
    const N = 20;
    let text = "";
    // Broadcast frames reach the slirp once the plug's port is up; resend until they count.
    await waitFor(async () => {
      for (let i = 0; i < N; i++) await plug!.send(ethFrame(BROADCAST, mac(7), i));
      text = await scrape(base);
      return value(text, /vde_slirp_receive_packets_total\{slirp="[^"]+"\}/) >= N;
    }, { timeoutMs: 20_000, what: `${N} frames in vde_slirp_receive_packets_total` });
    assert.equal(value(text, /vde_slirp_tcp_connections\{slirp="[^"]+"\}/), 0);
    assert.ok(value(text, /vde_slirp_udp_flows\{slirp="[^"]+"\}/) >= 0);
    await assertPromtoolClean(text);
  } finally {
    await plug?.stop();
    await slirp.stop();
    await sw.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

Deno.test("vde switch --slirp --http: the switch's /metrics has its slirp's counters too; promtool finds no problem", async (t) => {
  if (await skipWithoutPromtool(t)) return;
  const dir = await Deno.makeTempDir({ prefix: "vde-web-switch-slirp-" });
  const sw = spawnManaged([...ourCli(), "switch", "--sock", `${dir}/sw`, "--slirp", "--http", "0"], {
    name: "vde switch --slirp",
  });
  try {
    const base = await loggedUrl(
      () => sw.stderr,
      /web view on (http:\/\/\S+?)\/ /,
      "the switch's web view URL",
    );
    let text = "";
    // The slirp's gateway probes leave it as it plugs in: its transmit counter moves without a guest.
    await waitFor(async () => {
      text = await scrape(base);
      return value(text, /vde_slirp_transmit_packets_total\{slirp="[^"]+"\}/) > 0;
    }, { timeoutMs: 20_000, what: "vde_slirp_transmit_packets_total on the switch's /metrics" });
    assert.match(text, /^vde_port_receive_packets_total\{switch="[^"]+",port="1"\} \d+$/m);
    assert.equal(value(text, /vde_slirp_gateway_conflicts_total\{slirp="[^"]+"\}/), 0);
    await assertPromtoolClean(text);
  } finally {
    await sw.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

for (const mode of ["insecure", "encrypted"] as const) {
  Deno.test(`vde cable listen --http (${mode}): /metrics shows the session with the frames it carried${mode === "encrypted" ? " and its RTT" : ""}; promtool finds no problem`, async (t) => {
    if (await skipWithoutPromtool(t)) return;
    if (skipUnless(t, (await hasCommand("vde_plug")) ? null : "vde_plug missing (Debian vdeplug)")) return;
    const dir = await Deno.makeTempDir({ prefix: "vde-web-cable-" });
    const keyArgs = mode === "insecure" ? ["--insecure"] : ["--key", `${dir}/lab.key`];
    if (mode === "encrypted") await generateKeyFile(`${dir}/lab.key`);
    const a = await startOurSwitch(`${dir}/a`);
    const b = await startOurSwitch(`${dir}/b`);
    // Both ports 0, read back from the listener's log (as for the slirp above).
    const listen = spawnManaged([
      ...ourCli(),
      "cable",
      "listen",
      "127.0.0.1:0",
      "--sock",
      `${dir}/a`,
      ...keyArgs,
      "--http",
      "0",
    ], { name: "vde cable listen" });
    let connect: ReturnType<typeof spawnManaged> | undefined;
    let plug: StdioClient | undefined;
    try {
      const base = await loggedUrl(() => listen.stderr, METRICS_ON, "the cable's metrics URL");
      const cablePort = await loggedUrl(
        () => listen.stderr,
        /listening on 127\.0\.0\.1:(\d+) \(/,
        "the cable's port",
      );
      await waitUntilAccepting(`${dir}/a`);
      await waitUntilAccepting(`${dir}/b`);
      await waitFor(async () => (await scrape(base)) !== "", {
        timeoutMs: 20_000,
        what: "the cable's /metrics",
      });
      connect = spawnManaged(
        [...ourCli(), "cable", "connect", `127.0.0.1:${cablePort}`, "--sock", `${dir}/b`, ...keyArgs],
        { name: "vde cable connect" },
      );
      const session = /vde_cable_session_connected\{listen="[^"]+",session="[0-9a-f]+",port="\d+"\}/;
      await waitFor(async () => value(await scrape(base), session) === 1, {
        timeoutMs: 20_000,
        what: "a connected session",
      });
      plug = StdioClient.vdePlug(`${dir}/b`);
      const N = 20;
      const received = /vde_cable_receive_packets_total\{[^}]*\}/;
      let text = "";
      await waitFor(async () => {
        for (let i = 0; i < N; i++) await plug!.send(ethFrame(BROADCAST, mac(9), i));
        text = await scrape(base);
        return value(text, received) >= N;
      }, { timeoutMs: 20_000, what: `${N} frames over the cable` });
      assert.equal(value(text, /vde_cable_sessions\{listen="[^"]+"\}/), 1);
      // The peer's address (a new source port at each reconnect) only on the info series, not the counters'.
      assert.equal(
        value(
          text,
          /vde_cable_session_info\{listen="[^"]+",session="[0-9a-f]+",port="\d+",remote="127\.0\.0\.1:\d+"\}/,
        ),
        1,
      );
      assert.doesNotMatch(text, /^vde_cable_(?!session_info)[a-z_]+\{[^}]*remote=/m);
      assert.equal(value(text, /vde_cable_reconnects_total\{listen="[^"]+"\}/), 0);
      assert.equal(value(text, /vde_cable_session_reconnects_total\{[^}]*\}/), 0);
      const rtt = /^vde_cable_rtt_seconds\{[^}]*\} (\S+)$/m.exec(text);
      if (mode === "insecure") assert.equal(rtt, null, "a plain cable has no RTT");
      else {
        assert.ok(rtt !== null, text);
        assert.ok(Number(rtt[1]) > 0 && Number(rtt[1]) < 1, `rtt ${rtt[1]} s`);
      }
      await assertPromtoolClean(text);
    } finally {
      await plug?.stop();
      await connect?.stop();
      await listen.stop();
      await a.stop();
      await b.stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  });
}

Deno.test("vde slirp -d and vde cable listen -d with --logfile and --http 0 say their metrics URL as they return, not only into the file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-web-daemon-url-" });
  const sw: SwitchHandle = await startOurSwitch(`${dir}/sw`);
  const pids: number[] = [];
  try {
    const starts = [
      ["slirp", "--sock", `${dir}/sw`],
      ["cable", "listen", "127.0.0.1:0", "--sock", `${dir}/sw`, "--insecure"],
    ];
    for (const [i, args] of starts.entries()) {
      const r = await run([...ourCli(), ...args, "--http", "0", "--daemon", "--logfile", `${dir}/${i}.log`], {
        check: false,
        timeoutMs: 60_000,
      });
      assert.equal(r.code, 0, r.stderr);
      const m = /; metrics: (http:\/\/127\.0\.0\.1:\d+)\/metrics; in the background as pid (\d+);/.exec(
        r.stderr,
      );
      assert.ok(m !== null, `${args[0]}: ${r.stderr}`);
      pids.push(Number(m[2]));
      assert.match(await scrape(m[1]!), /^# HELP vde_/m, `${args[0]}'s metrics answer at the URL said`);
    }
  } finally {
    for (const pid of pids) Deno.kill(pid, "SIGTERM");
    await waitFor(() => pids.every((pid) => !processAlive(pid)), {
      timeoutMs: 20_000,
      what: "the daemons to end",
    });
    await sw.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
