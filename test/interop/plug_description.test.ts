/**
 * Our plug, slirp and wirefilter describe themselves to a switch in
 * vde_plug's, slirpvde's and wirefilter's words: scripts that read
 * `port/print` (by pattern, `vdeplug:`, or by field, `$10` for `user=`) see
 * the same line for either program, on Debian's switch and on ours.
 */
import assert from "node:assert/strict";
import { MgmtClient } from "../../src/console/client.ts";
import { ourCli, portLinesOnceListed, withMgmtSwitch } from "../helpers/vde_clients.ts";
import { run, spawnManaged } from "../helpers/processes.ts";
import type { SwitchKind } from "../helpers/switches.ts";

/**
 * Starts Debian's program and ours on a switch of `kind` (each given the
 * switch's directory), and asserts their `port/print` endpoint lines are the
 * same but for the pid and port, and end `WORDS user=ME pid=N`.
 */
async function sameEndpointLine(
  kind: SwitchKind,
  theirsCmd: (dir: string) => string[],
  oursCmd: (dir: string) => string[],
  words: string,
): Promise<void> {
  await withMgmtSwitch(kind, async (mgmt, dir) => {
    // slirpvde and wirefilter end at the end of their stdin: a pipe held open keeps them.
    const theirs = spawnManaged(theirsCmd(dir), { stdin: "piped" });
    const ours = spawnManaged([...ourCli(), ...oursCmd(dir)], { stdin: "piped" });
    const client = await MgmtClient.connect(mgmt);
    try {
      const me = (await run(["id", "-un"])).stdout.trim();
      await portLinesOnceListed(client, `pid=${theirs.pid}`);
      const lines = await portLinesOnceListed(client, `pid=${ours.pid}`);
      const endpoint = (pid: number) => {
        const line = lines.find((l) => l.endsWith(` pid=${pid}`));
        assert.ok(line, `no port of pid ${pid} in:\n${lines.join("\n")}`);
        return line.replace(/ID \d+/, "ID N").replace(/pid=\d+$/, "pid=P");
      };
      assert.equal(endpoint(ours.pid), endpoint(theirs.pid));
      assert.ok(endpoint(ours.pid).endsWith(` : ${words} user=${me} pid=P`), endpoint(ours.pid));
    } finally {
      client.close();
      await ours.stop();
      await theirs.stop();
    }
  });
}

for (const kind of ["c", "ours"] as const) {
  const which = kind === "c" ? "Debian's vde_switch" : "our switch";

  Deno.test(`vde plug's port/print line on ${which} is vde_plug's but for the pid`, async () => {
    await sameEndpointLine(kind, (dir) => ["vde_plug", dir], (dir) => ["plug", dir], "vdeplug:");
  });

  Deno.test(`vde slirp's port/print line on ${which} is slirpvde's but for the pid`, async () => {
    await sameEndpointLine(
      kind,
      (dir) => ["slirpvde", "-s", dir, "-n", "10.0.5.0"],
      (dir) => ["slirp", "-s", dir, "-n", "10.0.6.0"],
      "slirpvde:",
    );
  });

  Deno.test(`vde wirefilter's port/print line on ${which} is wirefilter's but for the pid`, async () => {
    // Both of Debian's ends on this one switch: no frame flows here to loop.
    await sameEndpointLine(
      kind,
      (dir) => ["wirefilter", "-v", `${dir}:${dir}`],
      (dir) => ["wirefilter", `vde://${dir}`, "null://"],
      "vde_crosscable",
    );
  });
}
