import assert from "node:assert/strict";
import { Direction, SwitchEngine } from "../../src/switch/engine.ts";
import { buildFrame } from "../../src/wire/ethernet.ts";

const A = "02:00:00:00:00:0a";
const B = "02:00:00:00:00:0b";
const M = "02:00:00:00:00:0d";
const BROADCAST = "ff:ff:ff:ff:ff:ff";

function rig() {
  const sent: number[] = [];
  const engine = new SwitchEngine({ numPorts: 8 }, (port) => sent.push(port));
  for (const port of [1, 2, 3, 4]) engine.activatePort(port);
  const send = (port: number, frame: Uint8Array): number[] => {
    sent.length = 0;
    engine.input(port, frame);
    return [...sent];
  };
  return { engine, send };
}

Deno.test("observer sees a frame entering its port and each copy leaving, in order", () => {
  const { engine, send } = rig();
  const seen: string[] = [];
  engine.observer = (port, direction) => seen.push(`${port}${direction === Direction.In ? "in" : "out"}`);
  send(1, buildFrame({ dst: BROADCAST, src: A }));
  assert.deepEqual(seen, ["1in", "2out", "3out", "4out"]);
  engine.observer = null;
  seen.length = 0;
  send(1, buildFrame({ dst: BROADCAST, src: A }));
  assert.deepEqual(seen, []);
});

Deno.test("mirror output sees others' unicast once, and its own frames go nowhere", () => {
  const { engine, send } = rig();
  send(2, buildFrame({ dst: BROADCAST, src: B }));
  send(1, buildFrame({ dst: BROADCAST, src: A }));
  // Without a mirror, port 3 never sees unicast between 1 and 2.
  assert.deepEqual(send(1, buildFrame({ dst: B, src: A })), [2]);
  assert.equal(engine.addMirror(3, []), null);
  assert.deepEqual(send(1, buildFrame({ dst: B, src: A })), [3, 2]);
  assert.deepEqual(send(2, buildFrame({ dst: A, src: B })), [3, 1]);
  // Broadcast from a mirrored port: one copy for the mirror, none by flooding.
  assert.deepEqual(send(1, buildFrame({ dst: BROADCAST, src: A })), [3, 2, 4]);
  // The mirror port's own frames are dropped, and nothing learns its MAC.
  assert.deepEqual(send(3, buildFrame({ dst: BROADCAST, src: M })), []);
  assert.deepEqual(send(3, buildFrame({ dst: A, src: M })), []);
  assert.equal(engine.counters.mirrorDropped, 2);
  assert.deepEqual(engine.mirrors(), [{ out: 3, sources: [] }]);
  assert.ok(engine.delMirror(3));
  assert.deepEqual(send(1, buildFrame({ dst: B, src: A })), [2]);
  assert.deepEqual(send(3, buildFrame({ dst: BROADCAST, src: M })), [1, 2, 4]);
});

Deno.test("mirror of chosen ports copies frames entering or leaving them only", () => {
  const { engine, send } = rig();
  send(2, buildFrame({ dst: BROADCAST, src: B }));
  send(1, buildFrame({ dst: BROADCAST, src: A }));
  send(4, buildFrame({ dst: BROADCAST, src: M }));
  assert.equal(engine.addMirror(3, [2]), null);
  assert.deepEqual(send(1, buildFrame({ dst: B, src: A })), [3, 2]);
  assert.deepEqual(send(1, buildFrame({ dst: M, src: A })), [4]);
  assert.equal(engine.addMirror(3, [3]), "port 3 cannot mirror itself: leave it out of the source ports");
  assert.equal(engine.addMirror(9, []), "port 9 is past the last port (port/showinfo says Numports)");
  assert.equal(engine.addMirror(3, [-1]), "-1 is no port number");
});

Deno.test("mirror survives its output port's client leaving and coming back", () => {
  const { engine, send } = rig();
  send(2, buildFrame({ dst: BROADCAST, src: B }));
  engine.addMirror(3, [1]);
  engine.deactivatePort(3);
  assert.deepEqual(send(1, buildFrame({ dst: B, src: A })), [2]);
  engine.activatePort(3);
  assert.deepEqual(send(1, buildFrame({ dst: B, src: A })), [3, 2]);
  assert.deepEqual(send(4, buildFrame({ dst: BROADCAST, src: M })), [3, 1, 2]);
});
