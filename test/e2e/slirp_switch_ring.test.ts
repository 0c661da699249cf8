/**
 * `vde switch --slirp` under a download at full speed: the slirp lives on
 * the main thread and its frames cross into the switch thread through a
 * ring. A host server (on the "host" namespace's loopback, where the
 * switch runs) sends 50 MB to a guest namespace behind Debian's `vde_plug
 * tap://`; the slirp's TCP must be held back while the ring is congested,
 * so the file arrives intact and the console's `showinfo` counts no frame
 * dropped at the ring. Root only; in CI it must run.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { withNetns } from "../helpers/netns.ts";
import { skipUnless, waitFor } from "../helpers/processes.ts";
import { MgmtClient } from "../../src/console/client.ts";
import { guestBehind, HELPER, VDE, waitListening } from "./_slirp_e2e.ts";
import { missing } from "./slirp_lab.ts";

const SIZE = 50 * 1024 * 1024;

Deno.test("vde switch --slirp: a 50 MB download at full speed arrives intact with no frame dropped at the switch thread's ring", async (t) => {
  if (skipUnless(t, await missing())) return;
  await withNetns(async (lab) => {
    const tmp = await lab.tempDir();
    const dir = `${tmp}/sw`;
    const host = await lab.namespace("host");
    const guest = await lab.namespace("guest");
    await host.run(["ip", "link", "set", "lo", "up"]);
    const sw = host.spawn([...VDE, "switch", "--sock", dir, "--slirp", "--mgmt", `${tmp}/mgmt`], {
      name: "vde switch",
    });
    await sw.waitForOutput(/slirp on port/, 20_000, "stderr");
    let mgmt: MgmtClient | null = null;
    lab.defer(() => void mgmt?.close());
    mgmt = await MgmtClient.connect(`${tmp}/mgmt`);
    await waitFor(async () => /switch thread warmed up/.test((await mgmt!.command("showinfo")).lines!.join("\n")), {
      timeoutMs: 30_000,
      what: "the switch thread's warm-up",
    });
    await guestBehind(guest, dir);
    await guest.run(["ip", "link", "set", "t0", "up"]);
    await guest.run(["ip", "addr", "add", "10.0.2.15/24", "dev", "t0"]);

    const blob = new Uint8Array(SIZE);
    for (let i = 0; i < SIZE; i += 65536) crypto.getRandomValues(blob.subarray(i, i + 65536));
    await Deno.writeFile(`${tmp}/blob`, blob);
    const http = host.spawn([...HELPER, "http-serve", "127.0.0.1", "8099", `${tmp}/blob`], {
      name: "http server",
    });
    await waitListening(host, "t", 8099, http);
    const down = await guest.run(["sh", "-c", "busybox wget -q -O - http://10.0.2.2:8099/blob | sha256sum"], {
      check: false,
      timeoutMs: 180_000,
    });
    assert.equal(
      down.stdout.split(" ")[0],
      createHash("sha256").update(blob).digest("hex"),
      `download: ${down.stderr}`,
    );
    const info = (await mgmt.command("showinfo")).lines!.join("\n");
    const drops = Number(/^switch thread ring drops (\d+)$/m.exec(info)?.[1]);
    assert.equal(drops, 0, info);
  });
});
