/**
 * A rig for the cost of routing one data frame to a joined group with
 * snooping on (`McastSnooping.route`), for A/B work on the machine alone:
 * no switch, no sockets, so only the lookup and the port list are timed.
 * A group of MEMBERS member ports and ROUTERS permanent router ports (none
 * of them members), our querier on and past its response interval; each
 * run routes the same frame for SECONDS in a process of its own (its JIT
 * warmed by a first second), for each kind in turn, alternating the order
 * each pair. A kind is `NAME=REPO`: the machine of the checkout REPO.
 *
 *   deno run -A scripts/mcast_route_rig.ts PAIRS SECONDS new=/work/wt base=/work/base [MEMBERS ROUTERS]
 *
 * Prints routes per second per run, then each kind's median and range.
 */
import { median } from "./rig_args.ts";
import { igmp } from "../test/helpers/igmp.ts";
import { internetChecksum } from "../src/wire/checksum.ts";

interface Machine {
  setQuerier(on: boolean): void;
  setRouter(port: number, on: boolean): void;
  tick(nowMs: number): unknown;
  observe(port: number, vlan: number, frame: Uint8Array): boolean;
  route(frame: Uint8Array, vlan: number, into: { length: number }): { length: number } | null;
}

/** One run in this process: routes/s through the machine of `repo`. */
async function one(repo: string, seconds: number, members: number, routers: number): Promise<number> {
  const mod = await import(`file://${repo}/src/switch/mcast_snooping.ts`);
  const snoop: Machine = new mod.McastSnooping(new Uint8Array([0, 0xff, 1, 2, 3, 4]));
  const list = new mod.PortList();
  snoop.setQuerier(true);
  snoop.tick(1000);
  snoop.tick(20_000);
  for (let p = 1; p <= members; p++) snoop.observe(p, 0, igmp(0x16, [239, 1, 1, 1]));
  for (let r = 0; r < routers; r++) snoop.setRouter(1000 + r, true);
  // UDP to 239.1.1.1 from 10.0.0.1.
  const f = new Uint8Array(60);
  f.set([1, 0, 0x5e, 1, 1, 1, 2, 0, 0, 0, 0, 1, 8, 0], 0);
  f.set([0x45, 0, 0, 38, 0, 0, 0, 0, 1, 17, 0, 0, 10, 0, 0, 1, 239, 1, 1, 1], 14);
  const c = internetChecksum(f, 14, 20);
  f[24] = c >> 8;
  f[25] = c & 0xff;
  const expect = members + routers;
  const loop = (ms: number): number => {
    let n = 0;
    const end = performance.now() + ms;
    while (performance.now() < end) {
      for (let i = 0; i < 1000; i++) {
        const out = snoop.route(f, 0, list);
        if (out === null || out.length !== expect) throw new Error(`routed to ${out?.length}, not ${expect}`);
      }
      n += 1000;
    }
    return n;
  };
  loop(1000);
  return loop(seconds * 1000) / seconds;
}

if (Deno.args[0] === "--one") {
  const [, repo, seconds, members, routers] = Deno.args;
  console.log(String(await one(repo!, Number(seconds), Number(members), Number(routers))));
} else {
  const [pairsArg, secondsArg, ...rest] = Deno.args;
  const kinds = rest.filter((a) => a.includes("=")).map((k) => k.split("=") as [string, string]);
  const [members = "16", routers = "4"] = rest.filter((a) => !a.includes("="));
  const rates = new Map<string, number[]>(kinds.map(([name]) => [name, []]));
  for (let pair = 0; pair < Number(pairsArg ?? 3); pair++) {
    const order = pair % 2 === 0 ? kinds : [...kinds].reverse();
    for (const [name, repo] of order) {
      const cmd = new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", import.meta.filename!, "--one", repo, secondsArg ?? "3", members, routers],
      });
      const out = await cmd.output();
      if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
      const rate = Number(new TextDecoder().decode(out.stdout).trim());
      rates.get(name)!.push(rate);
      console.log(`pair ${pair + 1} ${name}: ${Math.round(rate).toLocaleString("en")} routes/s`);
    }
  }
  console.log(`${members} members, ${routers} router ports:`);
  for (const [name, xs] of rates) {
    const r = (x: number) => Math.round(x).toLocaleString("en");
    console.log(
      `${name}: median ${r(median(xs))}, range ${r(Math.min(...xs))}-${r(Math.max(...xs))} routes/s`,
    );
  }
}
