/**
 * `vde switch --slirp` under downloads at full speed: the slirp lives on
 * the main thread and its frames cross into the switch thread through a
 * ring. A host server (on the "host" namespace's loopback, where the
 * switch runs) sends 50 MB to a guest namespace behind Debian's `vde_plug
 * tap://` at MTU 9000, first to 8 downloads at once while the switch
 * thread gets a CPU only when the main thread leaves it (the process
 * pinned to one CPU, the thread SCHED_IDLE: a loaded machine at its
 * worst, where slirp's flows, up to 2 MB in flight each at that MTU,
 * outrun the thread), then to one, the thread scheduled as usual. The
 * slirp's TCP must be held back while the ring is congested: every copy
 * arrives intact and the console's `showinfo` counts no frame dropped at
 * the ring (the code before flow control dropped 250-480 there in the
 * first step). Root only; in CI it must run.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { type Netns, withNetns } from "../helpers/netns.ts";
import { hasCommand, run, skipUnless, waitFor } from "../helpers/processes.ts";
import { MgmtClient } from "../../src/console/client.ts";
import { guestBehind, HELPER, VDE, waitListening } from "./_slirp_e2e.ts";
import { missing } from "./slirp_lab.ts";

const SIZE = 50 * 1024 * 1024;
const FLOWS = 8;

/** Downloads the blob `flows` times at once in `guest`, sums kept in `dir`; answers each copy's SHA-256. */
async function download(guest: Netns, flows: number, dir: string): Promise<string[]> {
  const one = "busybox wget -q -O - http://10.0.2.2:8099/blob | sha256sum | cut -d' ' -f1";
  const script = `for i in $(seq ${flows}); do (${one} > "$D/sum.$i") & done; wait; cat "$D"/sum.*`;
  await run(["sh", "-c", 'rm -f "$0"/sum.*', dir]);
  const r = await guest.run(["env", `D=${dir}`, "sh", "-c", script], { check: false, timeoutMs: 180_000 });
  return r.stdout.trim().split("\n");
}

async function ringDrops(mgmt: MgmtClient): Promise<number> {
  const info = (await mgmt.command("showinfo")).lines!.join("\n");
  const m = /^switch thread ring drops (\d+)$/m.exec(info);
  assert.ok(m, info);
  return Number(m[1]);
}

Deno.test("vde switch --slirp: 50 MB downloads at full speed arrive intact with no frame dropped at the switch thread's ring", async (t) => {
  let why = await missing();
  for (const tool of ["taskset", "chrt"]) {
    if (why === null && !(await hasCommand(tool))) why = `${tool} is not installed`;
  }
  if (skipUnless(t, why)) return;
  await withNetns(async (lab) => {
    const tmp = await lab.tempDir();
    const dir = `${tmp}/sw`;
    const host = await lab.namespace("host");
    const guest = await lab.namespace("guest");
    await host.run(["ip", "link", "set", "lo", "up"]);
    const cmd = [
      "taskset",
      "-c",
      "0",
      ...VDE,
      "switch",
      "--sock",
      dir,
      "--slirp",
      "mtu=9000",
      "--mgmt",
      `${tmp}/mgmt`,
    ];
    const sw = host.spawn(cmd, { name: "vde switch" });
    await sw.waitForOutput(/slirp on port/, 20_000, "stderr");
    let mgmt: MgmtClient | null = null;
    lab.defer(() => void mgmt?.close());
    mgmt = await MgmtClient.connect(`${tmp}/mgmt`);
    await waitFor(
      async () => /switch thread warmed up/.test((await mgmt!.command("showinfo")).lines!.join("\n")),
      {
        timeoutMs: 30_000,
        what: "the switch thread's warm-up",
      },
    );
    // Room for each flow's window to grow as far as the slirp's send buffer (2 MB at a jumbo MTU) lets it.
    await guest.run(["sysctl", "-qw", "net.ipv4.tcp_rmem=4096 131072 33554432"]);
    await guestBehind(guest, dir);
    await guest.run(["ip", "link", "set", "t0", "mtu", "9000", "up"]);
    await guest.run(["ip", "addr", "add", "10.0.2.15/24", "dev", "t0"]);

    const blob = new Uint8Array(SIZE);
    for (let i = 0; i < SIZE; i += 65536) crypto.getRandomValues(blob.subarray(i, i + 65536));
    await Deno.writeFile(`${tmp}/blob`, blob);
    const sha = createHash("sha256").update(blob).digest("hex");
    const http = host.spawn([...HELPER, "http-serve", "127.0.0.1", "8099", `${tmp}/blob`], {
      name: "http server",
    });
    await waitListening(host, "t", 8099, http);

    // First: the first flows' bursts are the ones that overran the ring.
    let worker = "";
    await t.step(`${FLOWS} downloads at once, the thread SCHED_IDLE on the main thread's CPU`, async () => {
      // Deno names a Worker's thread worker-N; the switch thread is the process's only Worker.
      const workers = [...Deno.readDirSync(`/proc/${sw.pid}/task`)].map((e) => e.name).filter((tid) =>
        Deno.readTextFileSync(`/proc/${sw.pid}/task/${tid}/comm`).startsWith("worker-")
      );
      assert.equal(workers.length, 1, `threads named worker-N: ${workers.join(", ")}`);
      await run(["chrt", "--idle", "-p", "0", workers[0]!]);
      worker = workers[0]!;
      assert.deepEqual(await download(guest, FLOWS, tmp), Array(FLOWS).fill(sha));
      assert.equal(await ringDrops(mgmt!), 0);
    });
    await t.step("one download, the thread scheduled as usual again", async () => {
      await run(["chrt", "--other", "-p", "0", worker]);
      assert.deepEqual(await download(guest, 1, tmp), [sha]);
      assert.equal(await ringDrops(mgmt!), 0);
    });
  });
});
