/**
 * A lab switch's rc file that sets what the lab file owns (spanning tree,
 * snooping and its knobs, VLANs): the lab records what runs, says which settings came
 * from the rc, and `diff`/`apply` of a file that runs that rc keep them,
 * as `vde up` of it would.
 */
import assert from "node:assert/strict";
import { withLabInProcess } from "./_helpers.ts";
import { labToYaml } from "../../src/lab/to_yaml.ts";

Deno.test("an rc's spanning tree, snooping and VLANs are the lab's record of the switch, said at start, and kept by diff and apply of the file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-lab-rc-" });
  await Deno.writeTextFile(
    `${dir}/sw1.rc`,
    "port/setnumports 8\nfstp/setfstp 1\nmcast/snooping 1\nvlan/create 10\n",
  );
  const logged: string[] = [];
  try {
    await withLabInProcess(
      `name: x\ntopology:\n  nodes:\n    sw1: { kind: switch, ports: 4, rc: ${dir}/sw1.rc }\n  links: []\n`,
      async (r, line, file) => {
        const sw1 = r.lab.nodes.find((n) => n.name === "sw1");
        assert.ok(sw1?.kind === "switch");
        assert.deepEqual([sw1.ports, sw1.stp, sw1.mcastSnooping, sw1.vlans, sw1.hub], [
          8,
          true,
          true,
          [10],
          false,
        ]);
        assert.deepEqual(logged.filter((m) => m.startsWith("sw1: its rc")), [
          "sw1: its rc set ports: 8, stp: true, mcast_snooping: true, vlans: [10], which the lab file does not say: " +
          "recorded as the node's (vde status shows it); an apply of a file that runs this rc keeps it, as " +
          "vde up would",
        ]);
        // vde up of the file runs the rc after it: the file, unchanged, is what runs.
        assert.equal(await line("diff"), "0 ");
        assert.match(await line("apply"), /^0 nothing to apply/);
        assert.notEqual(r.switches.get("sw1")?.sw.engine.stp, null, "spanning tree still runs");
        // What the file changes beside the rc still applies, laid under it (VLAN 20 joins the rc's 10).
        const text = await Deno.readTextFile(file);
        await Deno.writeTextFile(file, text.replace("ports: 4,", "ports: 4, vlans: [20],"));
        assert.equal(await line("diff"), "0 switch sw1: vlans 10 -> 10,20");
        // A setting the file now says otherwise is the rc's still, as at vde up, and said.
        await Deno.writeTextFile(file, text.replace("ports: 4,", "ports: 16,"));
        assert.equal(
          await line("diff"),
          "0 switch sw1: its rc sets ports: 16 -> 8 over the file, as vde up of it would",
        );
      },
      (m) => logged.push(m),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a file whose switch runs another rc, or none, is not given the running rc's settings", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-lab-rc-" });
  await Deno.writeTextFile(`${dir}/sw1.rc`, "fstp/setfstp 1\n");
  await Deno.writeTextFile(`${dir}/other.rc`, "\n");
  try {
    await withLabInProcess(
      `name: x\ntopology:\n  nodes:\n    sw1: { kind: switch, ports: 4, rc: ${dir}/sw1.rc }\n  links: []\n`,
      async (_r, line, file) => {
        const text = await Deno.readTextFile(file);
        await Deno.writeTextFile(file, text.replace(`${dir}/sw1.rc`, `${dir}/other.rc`));
        // An rc changes only at a start: refused as not live, the rc's stp compared as any setting.
        assert.match(await line("diff"), /stp on -> off/);
      },
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an rc that sets only what the lab file says leaves the record as it is and says nothing", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-lab-rc-" });
  await Deno.writeTextFile(`${dir}/sw1.rc`, "fstp/setfstp 1\nhash/setgcint 5\n");
  const logged: string[] = [];
  try {
    await withLabInProcess(
      `name: x\ntopology:\n  nodes:\n    sw1: { kind: switch, ports: 4, stp: true, rc: ${dir}/sw1.rc }\n  links: []\n`,
      async (_r, line) => {
        assert.equal(await line("diff"), "0 ");
      },
      (m) => logged.push(m),
    );
    assert.deepEqual(logged.filter((m) => m.includes("its rc")), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an rc's snooping knob (mcast/query_interval 500) is the lab's record of the switch, saved and kept by diff and apply of the file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-lab-rc-" });
  await Deno.writeTextFile(
    `${dir}/sw1.rc`,
    "mcast/query_interval 500\nmcast/hash_max 64\n",
  );
  const logged: string[] = [];
  try {
    await withLabInProcess(
      `name: x\ntopology:\n  nodes:\n    sw1: { kind: switch, ports: 4, mcast_snooping: true, mcast_hash_max: 64, rc: ${dir}/sw1.rc }\n` +
        "  links: []\n",
      async (r, line, file) => {
        const sw1 = r.lab.nodes.find((n) => n.name === "sw1");
        assert.ok(sw1?.kind === "switch");
        assert.deepEqual(sw1.mcastKnobs, { mcast_hash_max: 64, mcast_query_interval: 500 });
        assert.deepEqual(logged.filter((m) => m.startsWith("sw1: its rc")), [
          "sw1: its rc set mcast_query_interval: 500, which the lab file does not say: " +
          "recorded as the node's (vde status shows it); an apply of a file that runs this rc keeps it, as " +
          "vde up would",
        ]);
        assert.match(labToYaml(r.lab), /mcast_query_interval: 500/, "save writes what runs");
        assert.equal(await line("diff"), "0 ");
        assert.match(await line("apply"), /^0 nothing to apply/);
        assert.match(await line("sw1 mcast/print"), /mcast_query_interval 500 /);
        const text = await Deno.readTextFile(file);
        await Deno.writeTextFile(
          file,
          text.replace("ports: 4,", "ports: 4, mcast_query_interval: 700,"),
        );
        assert.equal(
          await line("diff"),
          "0 switch sw1: its rc sets mcast_query_interval: 700 -> 500 over the file, as vde up of it would",
        );
      },
      (m) => logged.push(m),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
