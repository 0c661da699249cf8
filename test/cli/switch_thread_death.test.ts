/**
 * A standalone `vde switch` whose data-plane thread dies once it serves
 * forwards nothing: it exits 1 with one line saying why, and cleans up as a
 * stopped switch does (socket directory and pid file gone), so a supervisor
 * (systemd's Restart=on-failure) brings it back.
 */
import assert from "node:assert/strict";
import { DYING_WORDS } from "../dataplane/_dying_words.ts";
import { threadDeath } from "../../src/cli/switch.ts";
import { exists } from "../helpers/vde_clients.ts";

const RIG = new URL("./_dying_switch.ts", import.meta.url).pathname;

Deno.test("a vde switch whose data-plane thread dies after it served exits 1 with one line saying why, its socket directory and pid file removed", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "vde-thread-death-" });
  const sock = `${tmp}/net`;
  const pidfile = `${tmp}/sw.pid`;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", RIG, sock, pidfile],
    stdin: "piped",
    stdout: "null",
    stderr: "piped",
    env: { VDE_DATAPLANE: "" },
  }).spawn();
  const stdin = child.stdin.getWriter();
  const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
  try {
    let stderr = "";
    const decoder = new TextDecoder();
    const reader = child.stderr.getReader();
    // Served (pid file written, socket directory made) before its thread is made to die.
    while (!stderr.includes("serving ")) {
      const { value, done } = await reader.read();
      if (done) break;
      stderr += decoder.decode(value, { stream: true });
    }
    assert.ok(await exists(`${sock}/ctl`), stderr);
    assert.ok(await exists(pidfile), stderr);
    const served = stderr;
    await stdin.write(new TextEncoder().encode("hash/setexpire 10\n"));
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      stderr += decoder.decode(value, { stream: true });
    }
    const status = await child.status;
    assert.equal(status.code, 1, stderr);
    // The one line, and nothing else (no stack, no second report of the same death, no "cleaning up").
    assert.equal(stderr.slice(served.length), `vde: ${threadDeath(DYING_WORDS)}\n`);
    assert.equal(await exists(sock), false, "its socket directory is removed");
    assert.equal(await exists(pidfile), false, "its pid file is removed");
  } finally {
    clearTimeout(timer);
    await stdin.close().catch(() => {});
    await child.status;
    await Deno.remove(tmp, { recursive: true });
  }
});
