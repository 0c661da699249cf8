/** `vde status --json` and the links table say a link's real spanning-tree state, not forwarding before it is. */
import assert from "node:assert/strict";
import { linkStp } from "../../src/lab/status_json.ts";
import type { LabRunner, RunningLink } from "../../src/lab/runner.ts";
import { Role, type StpPortView } from "../../src/switch/rstp.ts";

type View = Pick<StpPortView, "enabled" | "learning" | "forwarding" | "role" | "rstp">;

// Just what linkStp reads: each end's switch and its port's view.
function lab(a: View, b: View): { r: LabRunner; l: RunningLink } {
  const sw = (view: View) => ({ sw: { engine: { stp: { port: () => view } } } });
  const r = { switches: new Map([["sw1", sw(a)], ["sw2", sw(b)]]) } as unknown as LabRunner;
  const l = {
    spec: { ends: [{ node: "sw1", port: 1 }, { node: "sw2", port: 1 }] },
  } as unknown as RunningLink;
  return { r, l };
}

const fwd: View = { enabled: true, learning: true, forwarding: true, role: Role.Designated, rstp: true };

Deno.test("a link whose end is still learning reports learning, not forwarding", () => {
  const { r, l } = lab(fwd, { ...fwd, role: Role.Root, forwarding: false });
  assert.deepEqual(linkStp(r, l), { state: "learning", cut: false });
});

Deno.test("a link whose 802.1D end is still listening reports listening", () => {
  const { r, l } = lab(fwd, { ...fwd, learning: false, forwarding: false, rstp: false });
  assert.deepEqual(linkStp(r, l), { state: "listening", cut: false });
});

Deno.test("a link the tree cuts is discarding (RSTP) or blocking (802.1D), and cut", () => {
  const alt: View = { ...fwd, role: Role.Alternate, learning: false, forwarding: false };
  const rstp = lab(fwd, alt);
  assert.deepEqual(linkStp(rstp.r, rstp.l), { state: "discarding", cut: true });
  const stp = lab(fwd, { ...alt, rstp: false });
  assert.deepEqual(linkStp(stp.r, stp.l), { state: "blocking", cut: true });
});

Deno.test("a link both of whose ends forward is forwarding", () => {
  const { r, l } = lab(fwd, fwd);
  assert.deepEqual(linkStp(r, l), { state: "forwarding", cut: false });
});
