/**
 * A user refused by another user's switch is told what to do about it, not
 * only "Permission denied (os error 13)". The other user is played by
 * handing the switch directory to nobody and running our client as root
 * without CAP_DAC_OVERRIDE, which then sees it as any other user would.
 */
import assert from "node:assert/strict";
import { AS_OTHER_USER, run, skipUnlessRoot, spawnManaged } from "../helpers/processes.ts";
import { startCSwitch, startOurSwitch } from "../helpers/switches.ts";
import { ourCli, portLinesOnceListed } from "../helpers/vde_clients.ts";
import { MgmtClient } from "../../src/console/client.ts";

async function giveToNobody(dir: string): Promise<void> {
  for (const e of [dir, ...[...Deno.readDirSync(dir)].map((e) => `${dir}/${e.name}`)]) {
    await Deno.chown(e, 65534, 65534);
  }
}

const hint = (dir: string) =>
  `permission denied on the switch at ${dir}: run as the switch's user (or root), ` +
  `or start the switch with --mode 666 (vde_switch: -m 666)`;

Deno.test("vde plug and vde slirp refused by another user's switch say to run as its user or start it with --mode 666", async (t) => {
  if (skipUnlessRoot(t)) return;
  const tmp = await Deno.makeTempDir({ prefix: "vde-perm-" });
  const sw = await startCSwitch(`${tmp}/sw`);
  try {
    await giveToNobody(`${tmp}/sw`);
    const plug = await run([...AS_OTHER_USER, ...ourCli(), "plug", `${tmp}/sw`, "null://"], {
      check: false,
      timeoutMs: 30_000,
    });
    assert.equal(plug.code, 1);
    assert.equal(plug.stderr, `vde: ${hint(`${tmp}/sw`)}\n`, "one line, naming the switch once");
    const slirp = await run([...AS_OTHER_USER, ...ourCli(), "slirp", "-s", `${tmp}/sw`], {
      check: false,
      timeoutMs: 30_000,
    });
    assert.equal(slirp.code, 1);
    assert.equal(slirp.stderr, `vde: ${hint(`${tmp}/sw`)}\n`);
  } finally {
    await sw.stop();
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("vde capture refused by another user's switch says to run it as that user, since a capture sees every port", async (t) => {
  if (skipUnlessRoot(t)) return;
  const tmp = await Deno.makeTempDir({ prefix: "vde-perm-" });
  const sw = await startOurSwitch(`${tmp}/sw`);
  try {
    await giveToNobody(`${tmp}/sw`);
    const r = await run([...AS_OTHER_USER, ...ourCli(), "capture", `${tmp}/sw`, "-w", "/dev/null"], {
      check: false,
      timeoutMs: 30_000,
    });
    assert.equal(r.code, 1);
    assert.equal(
      r.stderr,
      `vde: permission denied on the switch at ${tmp}/sw: run vde capture as the switch's user (or root); a capture sees every port\n`,
    );
  } finally {
    await sw.stop();
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("the advice works: another user plugs into a switch started with --mode 666", async (t) => {
  if (skipUnlessRoot(t)) return;
  const tmp = await Deno.makeTempDir({ prefix: "vde-perm-" });
  await Deno.chmod(tmp, 0o755);
  const sw = await startOurSwitch(`${tmp}/sw`, { extraArgs: ["--mode", "666"] });
  await giveToNobody(`${tmp}/sw`);
  const plug = spawnManaged([...AS_OTHER_USER, ...ourCli(), "plug", `${tmp}/sw`, "null://"]);
  try {
    const client = await MgmtClient.connect(`${tmp}/sw/mgmt`);
    try {
      await portLinesOnceListed(client, "vdeplug:");
    } finally {
      client.close();
    }
  } finally {
    await plug.stop();
    await sw.stop();
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("vde term refused by another user's management socket says whose it is and to start the switch with --mgmtmode", async (t) => {
  if (skipUnlessRoot(t)) return;
  const tmp = await Deno.makeTempDir({ prefix: "vde-perm-" });
  await Deno.chmod(tmp, 0o755);
  // --mode 666 opens the data sockets to everyone; the console stays its owner's.
  const sw = await startOurSwitch(`${tmp}/sw`, { extraArgs: ["--mode", "666"] });
  try {
    await giveToNobody(`${tmp}/sw`);
    const r = await run([...AS_OTHER_USER, ...ourCli(), "term", `${tmp}/sw`, "-c", "ports"], {
      check: false,
      timeoutMs: 30_000,
    });
    assert.equal(r.code, 1);
    assert.equal(
      r.stderr,
      `vde: cannot open the management socket ${tmp}/sw/mgmt: permission denied (owner nobody, mode 600): ` +
        "run vde term as that user (or root), or start the switch with --mgmtmode 666 " +
        "(or --mgmtgroup GROUP --mgmtmode 660; vde_switch takes the same options)\n",
    );
  } finally {
    await sw.stop();
    await Deno.remove(tmp, { recursive: true });
  }
});
