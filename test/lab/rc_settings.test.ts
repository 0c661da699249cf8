/**
 * A lab switch's rc file that sets what the lab file owns (spanning tree,
 * snooping, VLANs): the lab records what runs, says which settings came
 * from the rc, and `diff`/`apply` compare the file with them.
 */
import assert from "node:assert/strict";
import { withLabInProcess } from "./_helpers.ts";

Deno.test("an rc's spanning tree, snooping and VLANs are the lab's record of the switch, said at start and seen by diff", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-lab-rc-" });
  await Deno.writeTextFile(`${dir}/sw1.rc`, "fstp/setfstp 1\nmcast/snooping 1\nvlan/create 10\n");
  const logged: string[] = [];
  try {
    await withLabInProcess(
      `name: x\ntopology:\n  nodes:\n    sw1: { kind: switch, ports: 4, rc: ${dir}/sw1.rc }\n  links: []\n`,
      async (r, line, file) => {
        const sw1 = r.lab.nodes.find((n) => n.name === "sw1");
        assert.ok(sw1?.kind === "switch");
        assert.deepEqual([sw1.stp, sw1.mcastSnooping, sw1.vlans, sw1.hub], [true, true, [10], false]);
        assert.deepEqual(logged.filter((m) => m.startsWith("sw1: its rc")), [
          "sw1: its rc set stp: true, mcast_snooping: true, vlans: [10], which the lab file does not say: " +
          "recorded as the node's (vde status shows it); write it in the lab file, or an apply of the file " +
          "takes it back",
        ]);
        // The file leaves them out: what an apply of it would do is said, as for a change made by hand.
        assert.equal(
          await line("diff"),
          "0 switch sw1: stp on -> off, mcast_snooping on -> off, vlans 10 -> none",
        );
        // Written in the file, the record and the file agree: nothing to do (it saw nothing to do before).
        const text = await Deno.readTextFile(file);
        await Deno.writeTextFile(
          file,
          text.replace("ports: 4,", "ports: 4, stp: true, mcast_snooping: true, vlans: [10],"),
        );
        assert.equal(await line("diff"), "0 ");
      },
      (m) => logged.push(m),
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
