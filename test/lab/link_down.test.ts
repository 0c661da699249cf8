/**
 * `link A-B down` in a lab is a pulled cable: the switch ports at both ends
 * go down at once, so spanning tree recomputes without waiting for BPDUs to
 * stop, and `link A-B up` plugs it back. A triangle of switches with
 * spanning tree, one on the main thread and two on their data-plane thread,
 * driven by the lab shell's own commands. Hello time is raised to 10 s on
 * every switch, so a peer noticing the cut only by missing BPDUs would take
 * 30 s: the alternate taking over well within that proves the cut was seen
 * as a carrier loss. The waits bound convergence generously; what is
 * asserted is the state.
 */
import assert from "node:assert/strict";
import { skipUnlessRoot } from "../helpers/processes.ts";
import { labCommands } from "../../src/lab/commands.ts";
import { LabRunner, type RunningLink } from "../../src/lab/runner.ts";
import { validateLab } from "../../src/lab/validate.ts";
import type { Session } from "../../src/console/registry.ts";
import { Role, ROLE_NAMES } from "../../src/switch/rstp.ts";
import { labStatusJson } from "../../src/lab/status_json.ts";
import { leftovers } from "./_helpers.ts";

const TRIANGLE = `name: NAME
topology:
  nodes:
    sw1: { kind: switch, ports: 4, stp: true }
    sw2: { kind: switch, ports: 4, stp: true, dataplane: main }
    sw3: { kind: switch, ports: 4, stp: true }
  links:
    - endpoints: [sw1, sw2]
    - endpoints: [sw2, sw3]
    - endpoints: [sw3, sw1]
`;

/** A switch port at one end of a lab link. */
interface End {
  node: string;
  port: number;
}

Deno.test("link A-B down pulls the cable: both ports go disabled at once and the alternate forwards without BPDU timeouts; up brings them back; links shows the tree's cut as blocked, status --json as stp discarding (RSTP's word) with state up", async (t) => {
  if (skipUnlessRoot(t)) return;
  const name = `cut${Deno.pid.toString(36)}`;
  const { lab } = validateLab(TRIANGLE.replace("NAME", name), { stp: true });
  assert.ok(lab !== undefined);
  const r = await LabRunner.up(lab, { file: "", baseDir: Deno.cwd() });
  try {
    const { commands } = labCommands(r, { down: () => {}, save: () => Promise.resolve("") });
    const session: Session = {
      kind: "script",
      debug: new Set(),
      loadDepth: 0,
      commands,
      notify: () => {},
      render: () => "",
    };
    const shell = async (line: string): Promise<string> => {
      const reply = await commands.execute(line, session);
      assert.equal(reply?.code, 0, `${line}: ${reply?.raw ?? ""}`);
      return reply?.raw ?? (reply?.lines ?? []).join("\n");
    };
    for (const sw of ["sw1", "sw2", "sw3"]) await shell(`${sw} stp/settimers 10 24 15`);

    const ends = (l: RunningLink): End[] => l.spec.ends.map((e) => ({ node: e.node, port: e.port! }));
    const all = r.links.flatMap(ends);
    const view = (e: End) => r.switches.get(e.node)!.sw.engine.stp!.port(e.port)!;
    const roles = () => all.map((e) => `${e.node}:${e.port} ${ROLE_NAMES[view(e).role]}`).join(", ");
    const until = async (what: string, ok: () => boolean, seconds: number) => {
      for (let i = 0; i < seconds * 10 && !ok(); i++) await new Promise((res) => setTimeout(res, 100));
      assert.ok(ok(), `${what}: ${roles()}`);
    };
    // The loop is broken at one port; the other five forward.
    const converged = () =>
      all.filter((e) => view(e).role === Role.Alternate).length === 1 &&
      all.filter((e) => view(e).forwarding).length === 5;
    await until("the triangle converged", converged, 60);
    // The links table says which link the tree cuts (STATE blocked), as the lab's page draws it faint.
    const cutByTree = r.links.find((l) => ends(l).some((e) => view(e).role === Role.Alternate))!;
    const table = await shell("links");
    assert.match(table, new RegExp(`^${cutByTree.name} +blocked `, "m"));
    assert.equal(table.match(/ blocked /g)?.length, 1, table);
    // status --json keeps state up (scripts read it as up or down) and says the cut apart, as stp.
    const json = () => labStatusJson(r, undefined).links as { name: string; state: string; stp?: string }[];
    assert.deepEqual(
      json().map((l) => [l.name, l.state, l.stp]),
      r.links.map((l) => [l.name, "up", l === cutByTree ? "discarding" : "forwarding"]),
    );

    // Cut the tree link into the blocked port's switch: its alternate must become its root port.
    const blocked = all.find((e) => view(e).role === Role.Alternate)!;
    const sw = r.switches.get(blocked.node)!.sw.engine;
    const cut = r.links.find((l) =>
      ends(l).some((e) => e.node === blocked.node && e.port === sw.stp!.rootPort)
    )!;
    await shell(`link ${cut.name} down`);
    for (const e of ends(cut)) {
      assert.equal(view(e).role, Role.Disabled, `${e.node}:${e.port} after the cut: ${roles()}`);
      assert.equal(r.switches.get(e.node)!.sw.engine.isActive(e.port), false);
    }
    assert.match(await shell("links"), new RegExp(`^${cut.name} +down `, "m"));
    assert.match(await shell(`link ${cut.name}`), new RegExp(`^${cut.name} down, `));
    // A cut link is down, neither blocked nor forwarding.
    const cutJson = json().find((l) => l.name === cut.name)!;
    assert.equal(cutJson.state, "down");
    assert.equal(cutJson.stp, undefined);
    // Well inside the 3 x 10 s a missed-BPDU timeout would take.
    await until(
      "the alternate took over",
      () => view(blocked).role === Role.Root && view(blocked).forwarding,
      20,
    );

    await shell(`link ${cut.name} up`);
    for (const e of ends(cut)) {
      assert.notEqual(view(e).role, Role.Disabled, `${e.node}:${e.port} plugged back: ${roles()}`);
      assert.equal(r.switches.get(e.node)!.sw.engine.isActive(e.port), true);
    }
    // Plugged back: up, or already the tree's cut again.
    assert.match(await shell("links"), new RegExp(`^${cut.name} +(up|blocked) `, "m"));
    await until("the triangle converged again", converged, 60);
  } finally {
    await r.down();
  }
  assert.deepEqual(await leftovers(name), []);
});
