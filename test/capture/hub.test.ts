import assert from "node:assert/strict";
import { CaptureHub } from "../../src/capture/hub.ts";
import { parseBpf } from "../../src/capture/bpf.ts";
import { SwitchEngine } from "../../src/switch/engine.ts";
import { buildFrame } from "../../src/wire/ethernet.ts";
import { STP_GROUP_MAC } from "../../src/wire/stp.ts";

function rig() {
  const engine = new SwitchEngine({ numPorts: 8 }, () => {});
  for (const p of [1, 2, 3, 4]) engine.activatePort(p);
  const hub = new CaptureHub(engine);
  const seen = (selection: Parameters<CaptureHub["add"]>[0]) => {
    const out: string[] = [];
    const stop = hub.add(
      selection,
      (port, direction) => out.push(`${port}${direction === 1 ? "in" : "out"}`),
    );
    return { out, stop };
  };
  return { engine, hub, seen };
}

const A = "02:00:00:00:00:0a";
const B = "02:00:00:00:00:0b";

Deno.test("a capture records each frame once, where it first crosses a chosen port", () => {
  const { engine, seen } = rig();
  const all = seen({});
  const two = seen({ ports: [2] });
  const twoThree = seen({ ports: [3, 2] });
  engine.input(1, buildFrame({ dst: "ff:ff:ff:ff:ff:ff", src: A }));
  engine.input(2, buildFrame({ dst: A, src: B }));
  assert.deepEqual(all.out, ["1in", "2in"]);
  assert.deepEqual(two.out, ["2out", "2in"]);
  assert.deepEqual(twoThree.out, ["2out", "2in"]);
});

Deno.test("a capture selects by VLAN and by BPF program, and stopping the last one unhooks the engine", () => {
  const { engine, hub, seen } = rig();
  engine.createVlan(10);
  engine.setPortVlan(3, 10);
  engine.addVlanPort(10, 4);
  const vlan10 = seen({ vlan: 10 });
  const icmp = seen({
    filter: parseBpf("6\n40 0 0 12\n21 0 3 2048\n48 0 0 23\n21 0 1 1\n6 0 0 262144\n6 0 0 0\n"),
  });
  engine.input(1, buildFrame({ dst: "ff:ff:ff:ff:ff:ff", src: A }));
  engine.input(3, buildFrame({ dst: "ff:ff:ff:ff:ff:ff", src: B }));
  const ping = new Uint8Array(28);
  ping[0] = 0x45;
  ping[9] = 1;
  engine.input(1, buildFrame({ dst: "ff:ff:ff:ff:ff:ff", src: A, payload: ping }));
  assert.deepEqual(vlan10.out, ["3in"]);
  assert.deepEqual(icmp.out, ["1in"]);
  assert.notEqual(engine.observer, null);
  vlan10.stop();
  icmp.stop();
  assert.equal(hub.size, 0);
  assert.equal(engine.observer, null);
});

Deno.test("with spanning tree on, a capture of one VLAN leaves out the BPDUs of its access ports", () => {
  const { engine, seen } = rig();
  engine.createVlan(10);
  engine.setPortVlan(3, 10);
  const all = seen({});
  const vlan10 = seen({ vlan: 10 });
  const bpdu = () => buildFrame({ dst: STP_GROUP_MAC, src: B });
  engine.input(3, bpdu());
  assert.deepEqual(
    vlan10.out,
    ["3in"],
    "spanning tree off: a BPDU is flooded in the port's VLAN like any frame",
  );
  engine.enableStp({ mac: new Uint8Array([2, 0, 0, 0, 1, 1]) });
  engine.input(3, bpdu());
  engine.input(3, buildFrame({ dst: "ff:ff:ff:ff:ff:ff", src: B }));
  // The switch's own BPDUs left port 3 as well; the VLAN's capture has the broadcast only.
  assert.deepEqual(all.out.filter((p) => p.startsWith("3")), ["3in", "3out", "3out", "3in", "3in"]);
  assert.deepEqual(vlan10.out, ["3in", "3in"]);
});
