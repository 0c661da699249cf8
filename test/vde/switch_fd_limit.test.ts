/**
 * Our switch on a machine short of descriptors (`ulimit -n 64`): the
 * clients past its limit are told the limit and the way out, once, and the
 * switch neither spins nor floods its log while they wait in the ctl
 * backlog, and takes them once a port is freed.
 *
 * The switch runs under prlimit; the connections that spend its limit are
 * the test's own, held silent (each is a descriptor in the switch until its
 * request deadline, REQUEST_TIMEOUT_MS), so the shortage is exact and lasts
 * as long as the test holds them.
 */
import assert from "node:assert/strict";
import { REQUEST_TIMEOUT_MS } from "../../src/vde/switch_server.ts";
import { sleep, until, withSwitch } from "../helpers/vde_clients.ts";

/** The machine's limit: Deno itself holds about 40 of them, so the switch has room for about 12 ports. */
const LIMIT = 64;
/** Silent connections: enough to spend the limit and leave more waiting in the backlog (128). */
const HELD = 60;

Deno.test("a switch out of descriptors says its limit and the ulimit that fixes it once, and takes the waiting clients when room is made", async () => {
  await withSwitch("ours", { ports: 300, nofileCap: LIMIT }, async ({ sw, dir, clients }) => {
    // A client first: its port forwards once the data-plane thread runs, which needs descriptors to start.
    await clients.raw(dir);
    const held: Deno.UnixConn[] = [];
    try {
      for (let i = 0; i < HELD; i++) held.push(await Deno.connect({ transport: "unix", path: `${dir}/ctl` }));
      const acceptFailed = () => sw.stderr().split("\n").filter((l) => l.includes("ctl socket: accept4"));
      await until("the switch to say it cannot accept", () => acceptFailed().length > 0, REQUEST_TIMEOUT_MS);
      // The rest of the shortage: before the fix, each poller turn failed the accept again and logged it
      // (400,000 lines in 5 s, a core busy).
      await sleep(REQUEST_TIMEOUT_MS / 2);
      const lines = acceptFailed();
      assert.equal(lines.length, 1, `said once a shortage:\n${lines.slice(0, 5).join("\n")}`);
      assert.match(lines[0]!, new RegExp(`open-file limit \\(${LIMIT}, 2 a port\\) is spent`));
      assert.match(lines[0]!, /new clients wait until a port is freed; .*\(ulimit -n 4096\)$/);
    } finally {
      for (const c of held) c.close();
    }
    // The switch let the silent ones go at their deadline and took those in the backlog; a client now joins.
    assert.equal(sw.process.exitStatus, null, `the switch died: ${sw.stderr()}`);
    await clients.raw(dir);
  });
});
