/**
 * VLANs against Debian's vde_switch: the same configuration through the
 * management socket and the same frames from four raw clients, on the C
 * switch and on ours. Every console reply and every frame each client
 * receives (tag added, removed or kept) must be the same on both, and a few
 * of them are pinned here as well, so a bug both share still fails.
 */
import assert from "node:assert/strict";
import { MgmtClient } from "../../src/console/client.ts";
import { hex } from "../../src/wire/cable_handshake.ts";
import { buildFrame, vlanId } from "../../src/wire/ethernet.ts";
import { hasCommand, skipUnless } from "../helpers/processes.ts";
import { RawClient, sleep, withMgmtSwitch } from "../helpers/vde_clients.ts";

/** VLAN 10: port 1 and 4 tagged, port 2 untagged. VLAN 20: port 1 tagged, port 3 untagged. */
const CONFIG = [
  "vlan/create 10",
  "vlan/create 20",
  "vlan/addport 10 1",
  "vlan/addport 20 1",
  "port/setvlan 2 10",
  "port/setvlan 3 20",
  "vlan/addport 10 4",
  "port/create 6",
  "vlan/addport 10 6",
  "vlan/print",
  "vlan/allprint",
  "vlan/print 10",
  "vlan/allprint 20",
  // Errors.
  "vlan/create 10",
  "vlan/create 4094",
  "vlan/addport 30 1",
  "vlan/addport 10 7",
  "vlan/addport 10 99",
  "vlan/delport 10 2",
  "vlan/remove 20",
  "port/setvlan 2 30",
  "vlan/print 30",
  "vlan/print 4094",
];

const host = (n: number) => `02:00:00:00:00:${n.toString(16).padStart(2, "0")}`;
const BCAST = "ff:ff:ff:ff:ff:ff";

/** One step: an optional console command, then a frame from a port. */
interface Step {
  command?: string;
  from: number;
  frame: Uint8Array;
}

/** A frame whose payload is filled with `step` (1-based), so its last byte says which step sent it. */
function frame(dst: string, from: number, step: number, vlan?: number): Uint8Array {
  const payload = new Uint8Array(46).fill(step);
  return buildFrame({ dst, src: host(from), type: 0x88b5, vlan, payload });
}

const STEPS: Step[] = [
  { from: 1, frame: frame(BCAST, 1, 1, 10) }, // trunk -> VLAN 10
  { from: 1, frame: frame(BCAST, 1, 2, 20) }, // trunk -> VLAN 20
  { from: 2, frame: frame(BCAST, 2, 3) }, // access port of VLAN 10
  { from: 3, frame: frame(BCAST, 3, 4) }, // access port of VLAN 20
  { from: 4, frame: frame(BCAST, 4, 5) }, // VLAN 0
  { from: 4, frame: frame(host(2), 4, 6, 10) }, // known unicast, tagged -> untagged
  { from: 2, frame: frame(host(4), 2, 7) }, // known unicast, untagged -> tagged
  { from: 1, frame: frame(BCAST, 1, 8, 30) }, // VLAN that does not exist
  { from: 2, frame: frame(BCAST, 2, 9, 20) }, // VLAN the port is not in
  { from: 4, frame: frame(BCAST, 4, 10, 0) }, // priority-tagged: VLAN 0
  { command: "vlan/delport 10 4", from: 2, frame: frame(BCAST, 2, 11) },
  { command: "port/setvlan 3 4095", from: 3, frame: frame(BCAST, 3, 12) },
  { from: 1, frame: frame(BCAST, 1, 13, 20) },
];

interface Run {
  replies: string[];
  /** Per step, per receiving port: the frames it received. */
  received: Record<number, Uint8Array[]>[];
}

async function runOn(kind: "c" | "ours"): Promise<Run> {
  const run: Run = { replies: [], received: [] };
  await withMgmtSwitch(kind, async (mgmt, dir) => {
    const clients = new Map<number, RawClient>();
    const console = await MgmtClient.connect(mgmt);
    try {
      for (const p of [1, 2, 3, 4]) clients.set(p, await RawClient.open(dir, p));
      const ask = async (line: string) => {
        const r = await console.command(line);
        run.replies.push(`${line} => ${r.code} ${(r.lines ?? []).join(" | ")}`);
      };
      for (const line of CONFIG) await ask(line);
      run.received = STEPS.map(() => ({}));
      // Each frame goes to the step its payload names, so one that a loaded machine delivers after
      // the next step began still counts for its own.
      const collect = () => {
        for (const [p, c] of clients) {
          c.poll();
          for (const f of c.frames.splice(0)) {
            const got = run.received[f[f.length - 1]! - 1];
            assert.ok(got !== undefined, `port ${p} got a frame of no step: ${hex(f)}`);
            (got[p] ??= []).push(f);
          }
        }
      };
      for (const step of STEPS) {
        if (step.command !== undefined) await ask(step.command);
        assert.equal(clients.get(step.from)!.send(step.frame), 0);
        // Time for the frame to be forwarded before the next step's command changes what it would do.
        await sleep(150);
        collect();
      }
      await sleep(500);
      collect();
    } finally {
      console.close();
      for (const c of clients.values()) await c.close();
    }
  });
  return run;
}

/** A step's receptions with each frame as hex, so a difference reads as bytes. */
function asHex(got: Record<number, Uint8Array[]>): Record<number, string[]> {
  return Object.fromEntries(Object.entries(got).map(([p, frames]) => [p, frames.map(hex)]));
}

Deno.test("VLANs: our switch answers and forwards exactly as Debian's vde_switch", async (t) => {
  if (
    skipUnless(t, (await hasCommand("vde_switch")) ? null : "needs vde_switch (Debian package vde-switch)")
  ) return;
  const c = await runOn("c");
  const ours = await runOn("ours");
  for (let i = 0; i < c.replies.length; i++) assert.equal(ours.replies[i], c.replies[i]);
  for (let i = 0; i < STEPS.length; i++) {
    assert.deepEqual(asHex(ours.received[i]!), asHex(c.received[i]!), `step ${i + 1}: who received what`);
  }
  // Pinned, whatever both do: the trunk's VLAN 10 broadcast reaches port 2 without its tag and
  // port 4 with it; port 2's untagged broadcast reaches the trunk tagged 10; a VLAN that does
  // not exist and a VLAN the port is not in get nothing through.
  const vidsAt = (step: number, port: number) => (ours.received[step - 1]![port] ?? []).map(vlanId);
  assert.deepEqual(vidsAt(1, 2), [-1]);
  assert.deepEqual(vidsAt(1, 4), [10]);
  assert.deepEqual(vidsAt(1, 3), []);
  assert.deepEqual(vidsAt(3, 1), [10]);
  assert.deepEqual(ours.received[7], {});
  assert.deepEqual(ours.received[8], {});
  assert.match(
    ours.replies.find((r) => r.startsWith("vlan/allprint 20"))!,
    / -- Port 0003 tagged=0 active=1/,
  );
});
