/**
 * Our switch run by root with `--mode 660 --group nogroup` serves Debian's
 * vde_plug run by a member of that group: its directory is made 3770 through
 * a descriptor (held_dir.ts), and when the switch is killed and started
 * again on the same directory (a stale ctl reclaimed, the directory read and
 * narrowed through its descriptor) the group's clients still join.
 */
import assert from "node:assert/strict";
import { AS_NOGROUP_MEMBER, NOGROUP, skipUnless, skipUnlessRoot } from "../helpers/processes.ts";
import { startOurSwitch } from "../helpers/switches.ts";
import {
  BROADCAST,
  ethFrame,
  mac,
  sameBytes,
  StdioClient,
  waitForPortFiles,
  waitUntilAccepting,
} from "../helpers/vde_clients.ts";
import { onPath } from "../../src/os/command_lookup.ts";

Deno.test("Debian's vde_plug in the --group reaches our switch's 3770 directory, made fresh and found again after a SIGKILL", async (t) => {
  if (
    skipUnlessRoot(t) ||
    skipUnless(t, onPath("vde_plug") ? null : "vde_plug (Debian vdeplug) is missing")
  ) return;
  const tmp = await Deno.makeTempDir({ prefix: "vde-r13-group-dir-" });
  await Deno.chmod(tmp, 0o755);
  const dir = `${tmp}/sw`;
  try {
    for (const [round, tag] of [["made", 1], ["found again", 2]] as const) {
      const sw = await startOurSwitch(dir, { extraArgs: ["--mode", "660", "--group", "nogroup"] });
      try {
        await waitUntilAccepting(dir);
        const st = Deno.lstatSync(dir);
        assert.equal((st.mode ?? 0) & 0o7777, 0o3770, `${round}: mode`);
        assert.equal(st.gid, NOGROUP, `${round}: group`);
        const a = new StdioClient([...AS_NOGROUP_MEMBER, "vde_plug", dir], "vde_plug a (member)");
        const b = new StdioClient([...AS_NOGROUP_MEMBER, "vde_plug", dir], "vde_plug b (member)");
        try {
          await waitForPortFiles(dir, 2);
          const frame = ethFrame(BROADCAST, mac(0xa), tag);
          await a.send(frame);
          assert.ok(sameBytes(await b.waitTag(tag), frame), `${round}: b got a's broadcast`);
        } finally {
          await a.stop();
          await b.stop();
        }
      } finally {
        // The first round's switch dies as a crash would, leaving its directory and ctl behind.
        await sw.process.stop(round === "made" ? { signal: "SIGKILL" } : {});
      }
      // What the next start must give back: the group's access taken, the mode opened.
      if (round === "made") {
        Deno.chownSync(dir, 0, 0);
        Deno.chmodSync(dir, 0o777);
      }
    }
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
