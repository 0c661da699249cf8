/**
 * `vde switch` forwarding on its thread, read as a user reads it right
 * after a change: the first /metrics scrapes of a fresh switch list no MAC
 * address, and `vde term -c port/resetcounter -c port/print` shows the
 * zeros in the same session while Debian's vde_plug has been sending.
 */
import assert from "node:assert/strict";
import { hasCommand, run, skipUnless, waitFor } from "../helpers/processes.ts";
import { loggedUrl } from "../helpers/ports.ts";
import { startOurSwitch } from "../helpers/switches.ts";
import {
  BROADCAST,
  ethFrame,
  mac,
  ourCli,
  StdioClient,
  waitUntilAccepting,
  withMgmtSwitch,
} from "../helpers/vde_clients.ts";

Deno.test("vde switch --http: every scrape from the moment the web view is up lists no MAC address", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-phantom-" });
  const sw = await startOurSwitch(`${dir}/sw`, { extraArgs: ["--http", "127.0.0.1:0"] });
  try {
    const base = await loggedUrl(sw.stderr, /web view on (http:\/\/\S+?)\/ /, "the switch's web view");
    // The thread starts and warms meanwhile; nothing is plugged in, so every count is 0.
    const seen: string[] = [];
    let scrapes = 0;
    const end = Date.now() + 1500;
    while (Date.now() < end) {
      const text = await (await fetch(`${base}/metrics`)).text();
      scrapes++;
      const rows = text.split("\n").filter((l) => l.startsWith("vde_fdb_entries{"));
      assert.ok(rows.length > 0, text);
      seen.push(...rows.filter((l) => !l.endsWith(" 0")));
    }
    assert.ok(scrapes >= 5, `${scrapes} scrapes`);
    assert.deepEqual(seen, [], `non-zero MAC counts in ${scrapes} scrapes`);
    await waitUntilAccepting(`${dir}/sw`);
  } finally {
    await sw.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

Deno.test("vde term: port/resetcounter then port/print in one session shows zeros after vde_plug's frames", async (t) => {
  if (skipUnless(t, (await hasCommand("vde_plug")) ? null : "vde_plug missing (Debian vdeplug)")) return;
  await withMgmtSwitch("ours", async (mgmt, dir) => {
    const plug = StdioClient.vdePlug(dir);
    const term = async (...commands: string[]) => {
      const r = await run([...ourCli(), "term", mgmt, ...commands.flatMap((c) => ["-c", c])], {
        check: false,
        timeoutMs: 30_000,
      });
      assert.equal(r.code, 0, r.stderr);
      return r.stdout;
    };
    const framesIn = (listing: string) =>
      [...listing.matchAll(/^ IN:\s+pkts\s+(\d+)/gm)].map((m) => Number(m[1]));
    try {
      for (let round = 0; round < 5; round++) {
        for (let i = 0; i < 3; i++) await plug.send(ethFrame(BROADCAST, mac(1), i));
        await waitFor(async () => framesIn(await term("port/print")).some((n) => n >= 3), {
          timeoutMs: 10_000,
          what: `round ${round}: vde_plug's frames counted`,
        });
        const out = await term("port/resetcounter", "port/print");
        const counts = framesIn(out);
        assert.ok(counts.length > 0, out);
        assert.deepEqual(
          counts.filter((n) => n !== 0),
          [],
          `round ${round}: counts right after the reset\n${out}`,
        );
      }
    } finally {
      await plug.stop();
    }
  });
});
