/**
 * Our plug names its user as Debian's vde_plug does (the effective user's
 * name from the password database, not $USER), and `showinfo` names vde's
 * own version.
 */
import assert from "node:assert/strict";
import { MgmtClient } from "../../src/console/client.ts";
import { VERSION } from "../../src/version.ts";
import { run, spawnManaged } from "../helpers/processes.ts";
import { startOurSwitch } from "../helpers/switches.ts";
import { ourCli, portLinesOnceListed } from "../helpers/vde_clients.ts";

Deno.test("vde plug describes itself with user=NAME of its effective user; showinfo names vde's version", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "vde-user-" });
  const sw = await startOurSwitch(`${tmp}/sw`);
  const me = (await run(["id", "-un"])).stdout.trim();
  const plug = spawnManaged([...ourCli(), "plug", `${tmp}/sw`, "null://"], { env: { USER: "not-a-user" } });
  try {
    const client = await MgmtClient.connect(`${tmp}/sw/mgmt`);
    try {
      const lines = await portLinesOnceListed(client, "vdeplug:");
      const descr = lines.find((l) => l.includes("vdeplug:"))!;
      assert.match(descr, new RegExp(`user=${me} pid=\\d+`));
      const info = await client.command("showinfo");
      assert.ok(info.lines?.includes(`vde ${VERSION} on Deno ${Deno.version.deno}`), info.lines?.join("\n"));
    } finally {
      client.close();
    }
  } finally {
    await plug.stop();
    await sw.stop();
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("the version shown is deno.json's", async () => {
  const config = JSON.parse(await Deno.readTextFile(new URL("../../deno.json", import.meta.url)));
  assert.equal(VERSION, config.version);
});
