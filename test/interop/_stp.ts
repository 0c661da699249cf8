/**
 * Our switch with spanning tree for interop tests: started inside a network
 * namespace with taps t1 and t2 for the peer bridge, and read through its
 * management socket; and a console on any switch's management socket.
 */
import { MgmtClient } from "../../src/console/client.ts";
import { tagOf, testFrame } from "../helpers/framed_peers.ts";
import { type RawClient, sleep } from "../helpers/vde_clients.ts";
import type { Lab, Netns } from "../helpers/netns.ts";
import { waitFor } from "../helpers/processes.ts";
import { listens, VDE_CLI } from "../helpers/switches.ts";

/** One row of the `stp` table. */
export interface StpRow {
  port: number;
  role: string;
  state: string;
}

/**
 * Sends broadcast `tag` from `clients[from]`, waits `ms`, and returns how
 * many copies each client got: a loop shows as more than one.
 */
export async function broadcastCopies(
  clients: RawClient[],
  from: number,
  tag: number,
  ms: number,
): Promise<number[]> {
  for (const c of clients) {
    c.poll();
    c.frames.length = 0;
  }
  clients[from]!.send(testFrame(tag));
  await sleep(ms);
  return clients.map((c) => {
    c.poll();
    return c.frames.filter((f) => tagOf(f) === tag).length;
  });
}

/** A console on the management socket at `path`, once it listens (ours or a vde_switch's). */
export async function mgmtConsole(path: string): Promise<MgmtClient> {
  await waitFor(async () => (await Deno.stat(path).then(() => true, () => false)) && (await listens(path)), {
    timeoutMs: 20_000,
    what: `management socket ${path}`,
  });
  return await MgmtClient.connect(path);
}

/** The port rows of our `stp` command's table. */
export async function stpRows(console: MgmtClient): Promise<StpRow[]> {
  const reply = await console.command("stp");
  return (reply.lines ?? []).flatMap((line) => {
    const m = /^\s*(\d+)\s+[0-9a-f]{4}\s+(\w+)\s+([\w-]+)/.exec(line);
    return m === null ? [] : [{ port: Number(m[1]), role: m[2]!, state: m[3]! }];
  });
}

/**
 * Starts `vde switch --stp --tap t1 --tap t2 ARGS` in `ns` serving `dir`/sw
 * and waits until its management socket (`dir`/mgmt) answers and both taps
 * exist (the socket comes up before the taps are opened). Returns a console
 * closed at the lab's teardown.
 */
export async function startStpSwitchIn(
  lab: Lab,
  ns: Netns,
  dir: string,
  args: string[],
): Promise<MgmtClient> {
  const mgmt = `${dir}/mgmt`;
  const sw = ns.spawn(
    [...VDE_CLI, "switch", "--sock", `${dir}/sw`, "--stp", "-M", mgmt]
      .concat(["--tap", "t1", "--tap", "t2", ...args]),
    { name: "our switch" },
  );
  await waitFor(async () => {
    if (sw.exitStatus !== null) throw new Error(`our switch exited:\n${sw.stderr}`);
    const taps = await Promise.all(
      ["t1", "t2"].map((tap) => ns.run(["ip", "link", "show", tap], { check: false })),
    );
    return (await Deno.stat(mgmt).then(() => true, () => false)) && (await listens(mgmt)) &&
      taps.every((r) => r.success);
  }, { timeoutMs: 30_000, what: "our switch with its taps" });
  const term = await MgmtClient.connect(mgmt);
  lab.defer(() => term.close());
  return term;
}
