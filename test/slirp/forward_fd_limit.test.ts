/**
 * A slirp's forward on a machine short of descriptors (`ulimit -n 48`): the
 * clients past its limit wait in the listen queue, the slirp says why once
 * with the ulimit that fixes it, and it does not spin on the listener, which
 * stays readable while a client waits and accept fails (EMFILE).
 *
 * The slirp runs under prlimit beside our switch; its forward leads to a
 * guest that is not there, so each client it accepted holds a descriptor
 * until its connect to the guest gives up, longer than this test.
 */
import assert from "node:assert/strict";
import { spawnManaged, waitFor } from "../helpers/processes.ts";
import { startOurSwitch } from "../helpers/switches.ts";
import { ourCli, sleep } from "../helpers/vde_clients.ts";

const LIMIT = 48;
/** More than the slirp can take, fewer than the listen queue holds. */
const CLIENTS = 60;
const PORT = 23000 + (Deno.pid % 1000);

/** CPU time (user + system, in clock ticks of 10 ms) process `pid` used so far. */
function cpuTicks(pid: number): number {
  const fields = Deno.readTextFileSync(`/proc/${pid}/stat`).split(") ")[1]!.split(" ");
  return Number(fields[11]) + Number(fields[12]);
}

Deno.test("a slirp forward out of descriptors says so once with the ulimit that fixes it, and does not spin while clients wait", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "vde-slirp-fd-limit-" });
  const sw = await startOurSwitch(`${tmp}/sw`);
  const slirp = spawnManaged([
    "prlimit",
    `--nofile=${LIMIT}:${LIMIT}`,
    "--",
    ...ourCli(),
    "slirp",
    "--sock",
    `${tmp}/sw`,
    "--forward",
    `tcp:127.0.0.1:${PORT}:10.0.2.15:22`,
  ], { name: "slirp" });
  const clients: Deno.TcpConn[] = [];
  try {
    await waitFor(() => slirp.stderr.includes("vde slirp: on ") || undefined, {
      timeoutMs: 30_000,
      what: "the slirp to serve",
    });
    for (let i = 0; i < CLIENTS; i++) clients.push(await Deno.connect({ hostname: "127.0.0.1", port: PORT }));
    const said = () =>
      slirp.stderr.split("\n").filter((l) => l.includes(`accept on 127.0.0.1:${PORT} failed`));
    await waitFor(() => said().length > 0 || undefined, {
      timeoutMs: 10_000,
      what: "the slirp to say it cannot accept",
    });
    const before = cpuTicks(slirp.pid);
    await sleep(2000);
    const spent = cpuTicks(slirp.pid) - before;
    // Idle, it takes a tick or two in 2 s; spinning on the listener it took 60 and more (30% of a core).
    assert.ok(spent < 20, `the slirp used ${spent * 10} ms of CPU in 2 s while clients waited`);
    assert.deepEqual(said(), [
      `slirp: tcp: accept on 127.0.0.1:${PORT} failed: accept: Too many open files (os error 24): the slirp's ` +
      `open-file limit (${LIMIT}, 1 a connection) is spent: start it under a higher one (ulimit -n 4096)`,
    ]);
  } finally {
    for (const c of clients) c.close();
    await slirp.stop({ timeoutMs: 5000 });
    await sw.stop();
    await Deno.remove(tmp, { recursive: true });
  }
});
