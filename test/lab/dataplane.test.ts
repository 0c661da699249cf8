/**
 * Where a lab's switches forward: on their data-plane thread, as `vde
 * switch` does, unless a node says `dataplane: main`. A lab with one of
 * each, pinged across, and both switches read as a user reads them: the
 * console over the management socket, /metrics and /status.json of
 * `vde up --http`. A $VDE_DATAPLANE that names no data plane stops a lab
 * before it makes anything, in one line, as it stops `vde switch`.
 */
import assert from "node:assert/strict";
import { skipUnlessRoot } from "../helpers/processes.ts";
import { webViewBase } from "../helpers/ports.ts";
import { MgmtClient } from "../../src/console/client.ts";
import { labDir } from "../../src/lab/names.ts";
import { leftovers, ONE_SWITCH, pingCount, vde, vdeCommand, withLabFile } from "./_helpers.ts";
import { run } from "../helpers/processes.ts";
import { LabRunner } from "../../src/lab/runner.ts";
import { validateLab } from "../../src/lab/validate.ts";

const LAB = `name: lab
topology:
  nodes:
    sw1: { kind: switch, ports: 8 }
    sw2: { kind: switch, ports: 8, dataplane: main }
    h1: { kind: host, address: 10.9.0.1/24 }
    h2: { kind: host, address: 10.9.0.2/24 }
    h3: { kind: host, address: 10.9.0.3/24 }
  links:
    - endpoints: [h1, sw1]
    - endpoints: [h2, sw1]
    - endpoints: [sw1, sw2]
    - endpoints: [h3, sw2]
`;

/** The lines of a console command's reply. */
async function consoleLines(name: string, node: string, line: string): Promise<string> {
  const client = await MgmtClient.connect(`${labDir(name)}/${node}.mgmt`);
  try {
    return ((await client.command(line)).lines ?? []).join("\n");
  } finally {
    client.close();
  }
}

Deno.test("a lab switch forwards on its thread unless it says dataplane: main; console, /metrics and status.json show live counters and MACs", async (t) => {
  if (skipUnlessRoot(t)) return;
  await withLabFile({ text: LAB }, async (name, file) => {
    // Port 0, the URL from `vde up -d`: a port freed by the test could be taken before the lab listens.
    const up = await vde(["up", "-d", file, "--http", "127.0.0.1:0"]);
    assert.equal(up.code, 0, `vde up failed:\n${up.stdout}${up.stderr}`);
    const base = webViewBase(up.stderr);
    assert.equal(await pingCount(name, "h1", "10.9.0.2", 3), 3, "h1 -> h2 through sw1");
    assert.equal(await pingCount(name, "h1", "10.9.0.3", 3), 3, "h1 -> h3 through both switches");

    assert.match(await consoleLines(name, "sw1", "showinfo"), /^forwarding on the switch thread$/m);
    assert.match(await consoleLines(name, "sw2", "showinfo"), /^forwarding on the main thread$/m);
    for (const sw of ["sw1", "sw2"]) {
      const macs = await consoleLines(name, sw, "hash/print");
      assert.ok(
        macs.split("\n").filter((l) => / VLAN 0000 to port: /.test(l)).length >= 2,
        `${sw}:\n${macs}`,
      );
      const counters = await consoleLines(name, sw, "counters");
      const unicast = Number(/^unicast +(\d+)$/m.exec(counters)?.[1]);
      assert.ok(unicast > 0, `${sw} counted unicast frames:\n${counters}`);
      const ports = await consoleLines(name, sw, "port/allprint");
      assert.match(ports, /IN: +pkts +[1-9]\d*/, `${sw}'s ports counted the pings:\n${ports}`);
    }

    const metrics = await (await fetch(`${base}/metrics`)).text();
    for (const sw of ["sw1", "sw2"]) {
      const fdb = /^vde_fdb_entries\{switch="(\w+)",vlan="0"\} (\d+)$/gm;
      const entries = [...metrics.matchAll(fdb)].find((m) => m[1] === sw);
      assert.ok(entries !== undefined && Number(entries[2]) >= 2, `${sw}'s MACs in /metrics`);
      const unicast = new RegExp(
        `^vde_switch_frames_total\\{switch="${sw}",kind="unicast"\\} ([1-9]\\d*)$`,
        "m",
      );
      assert.match(metrics, unicast);
    }
    const status = await (await fetch(`${base}/status.json`)).json() as {
      switches: { name: string; ports: { framesIn: number }[]; counters: { unicast: number } }[];
    };
    assert.deepEqual(status.switches.map((s) => s.name).sort(), ["sw1", "sw2"]);
    for (const s of status.switches) {
      assert.ok(s.ports.some((p) => p.framesIn > 0), `${s.name}'s ports in status.json`);
      assert.ok(s.counters.unicast > 0, `${s.name}'s counters in status.json`);
    }
    assert.equal((await vde(["down", name])).code, 0);
  });
});

Deno.test("vde up with a VDE_DATAPLANE naming no data plane says so in one line and makes nothing, in the foreground and with -d", async () => {
  await withLabFile({ text: ONE_SWITCH }, async (name, file) => {
    for (const args of [["up", file], ["up", "-d", file]]) {
      const r = await run([...vdeCommand(), ...args], {
        env: { VDE_DATAPLANE: "gpu" },
        check: false,
        timeoutMs: 60_000,
      });
      assert.equal(r.code, 1, `${args.join(" ")}: ${r.stdout}${r.stderr}`);
      assert.equal(r.stderr, 'vde: VDE_DATAPLANE must be "thread" or "main", got "gpu"\n');
      assert.deepEqual(await leftovers(name), []);
    }
  });
});

Deno.test("a LabRunner refuses a VDE_DATAPLANE naming no data plane before it makes anything", async () => {
  const name = `dp${Deno.pid.toString(36)}`;
  const { lab } = validateLab(ONE_SWITCH.replace("name: x", `name: ${name}`));
  assert.ok(lab !== undefined);
  const saved = Deno.env.get("VDE_DATAPLANE");
  Deno.env.set("VDE_DATAPLANE", "Thread");
  try {
    await assert.rejects(
      LabRunner.up(lab, { file: "", baseDir: Deno.cwd() }),
      new Error('VDE_DATAPLANE must be "thread" or "main", got "Thread"'),
    );
    assert.deepEqual(await leftovers(name), []);
  } finally {
    if (saved === undefined) Deno.env.delete("VDE_DATAPLANE");
    else Deno.env.set("VDE_DATAPLANE", saved);
  }
});
