/**
 * Our plug and slirp describe themselves to a switch in vde_plug's and
 * slirpvde's words: scripts that read `port/print` (by pattern, `vdeplug:`,
 * or by field, `$10` for `user=`) see the same line for either program, on
 * Debian's switch and on ours.
 */
import assert from "node:assert/strict";
import { MgmtClient } from "../../src/console/client.ts";
import {
  ClientSet,
  ourCli,
  portLinesOnceListed,
  waitForPortFiles,
  withMgmtSwitch,
} from "../helpers/vde_clients.ts";
import { run, spawnManaged } from "../helpers/processes.ts";

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

for (const kind of ["c", "ours"] as const) {
  const which = kind === "c" ? "Debian's vde_switch" : "our switch";
  Deno.test(`vde slirp's port/print line on ${which} is slirpvde's but for the pid`, async () => {
    await withMgmtSwitch(kind, async (mgmt, dir) => {
      // slirpvde ends at the end of its stdin: a pipe held open keeps it.
      const theirs = spawnManaged(["slirpvde", "-s", dir, "-n", "10.0.5.0"], { stdin: "piped" });
      const ours = spawnManaged([...ourCli(), "slirp", "-s", dir, "-n", "10.0.6.0"], { stdin: "piped" });
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
        assert.match(endpoint(ours.pid), new RegExp(`: slirpvde: user=${me} pid=P$`));
      } finally {
        client.close();
        await ours.stop();
        await theirs.stop();
      }
    });
  });
}
