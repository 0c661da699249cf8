/**
 * A lab's switches are real vde switches: Debian's vde_plug joins one
 * through the lab's runtime directory and its namespace reaches the lab's
 * hosts; unixterm (vde2) reads the switch's management socket.
 */
import assert from "node:assert/strict";
import { withNetns } from "../helpers/netns.ts";
import { hasCommand, run, skipUnless, skipUnlessRoot, waitFor } from "../helpers/processes.ts";
import { labDir } from "../../src/lab/names.ts";
import { pingCount, vde, withLabUp } from "./_helpers.ts";

const LAB = `name: x
topology:
  nodes:
    sw1: { kind: switch, ports: 8 }
    h1: { kind: host, address: 10.4.0.1/24 }
  links:
    - endpoints: [h1, sw1]
`;

Deno.test("Debian's vde_plug joins a lab switch by its socket directory and pings the lab's host", async (t) => {
  if (
    skipUnlessRoot(t) || skipUnless(t, (await hasCommand("vde_plug")) ? null : "needs vde_plug (vdeplug)")
  ) return;
  await withLabUp({ text: LAB }, async (name) => {
    await withNetns(async (lab) => {
      const guest = await lab.namespace("guest");
      const plug = guest.spawn(["vde_plug", `vde://${labDir(name)}/sw1`, "tap://t0"], { name: "vde_plug" });
      await waitFor(async () => {
        if (plug.exitStatus !== null) throw new Error(`vde_plug exited: ${plug.stderr}`);
        return (await guest.run(["ip", "link", "show", "t0"], { check: false })).success;
      }, { timeoutMs: 10_000, what: "t0 in the guest" });
      await guest.run(["ip", "link", "set", "t0", "up"]);
      await guest.addr("t0", "10.4.0.9/24");
      assert.equal(await pingCount(name, "h1", "10.4.0.9", 3), 3);
      // unixterm relays stdin to the socket; the pause lets the listing arrive before logout.
      const script = `(printf 'port/print\\n'; sleep 1; printf 'logout\\n'; sleep 0.5) | unixterm ${
        labDir(name)
      }/sw1.mgmt`;
      const ports = await run(["sh", "-c", script], { check: false });
      assert.match(ports.stdout, /lab link h1:eth0-sw1:1/);
      plug.kill();
    });
    assert.equal((await vde(["down", name])).code, 0);
  });
});
