/**
 * Our plug describes itself to a switch in vde_plug's words: scripts that read
 * `port/print` (by pattern, `vdeplug:`, or by field, `$10` for `user=`) see
 * the same line for either plug, on Debian's switch and on ours.
 */
import assert from "node:assert/strict";
import { MgmtClient } from "../../src/console/client.ts";
import { ClientSet, portLinesOnceListed, waitForPortFiles, withMgmtSwitch } from "../helpers/vde_clients.ts";
import { run } from "../helpers/processes.ts";

for (const kind of ["c", "ours"] as const) {
  const which = kind === "c" ? "Debian's vde_switch" : "our switch";
  Deno.test(`our plug's port/print line on ${which} is vde_plug's but for the pid`, async () => {
    await withMgmtSwitch(kind, async (mgmt, dir) => {
      const clients = new ClientSet();
      const client = await MgmtClient.connect(mgmt);
      try {
        const theirs = clients.vdePlug(dir);
        await waitForPortFiles(dir, 1);
        const ours = clients.ourPlug(dir);
        await waitForPortFiles(dir, 2);
        const me = (await run(["id", "-un"])).stdout.trim();
        const lines = await portLinesOnceListed(client, `pid=${ours.pid}`);
        const endpoint = (pid: number) => {
          const line = lines.find((l) => l.endsWith(` pid=${pid}`));
          assert.ok(line, `no port of pid ${pid} in:\n${lines.join("\n")}`);
          return line.replace(/ID \d+/, "ID N").replace(/pid=\d+$/, "pid=P");
        };
        assert.equal(endpoint(ours.pid), endpoint(theirs.pid));
        assert.match(endpoint(ours.pid), new RegExp(`: vdeplug: user=${me} pid=P$`));
      } finally {
        client.close();
        await clients.stopAll();
      }
    });
  });
}
