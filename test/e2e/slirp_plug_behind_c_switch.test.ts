/**
 * End to end, issue 11's scenario: `vde plug vde://DIR slirp://` (and the
 * ends the other way round) into Debian's C vde_switch, a guest namespace
 * behind Debian's `vde_plug vde://DIR tap://`, HTTP both ways to a server
 * on the host namespace's loopback.
 *
 * The plug runs the slirp on a thread of its own, as `vde slirp` does; it
 * then says on exit how many frames the switch link carried (the main
 * thread's path says nothing), and with the C switch's own per-port count
 * (`port/print` on its -M socket) that gives the frames lost between. Root
 * only; in CI it must run.
 */
import { withNetns } from "../helpers/netns.ts";
import { skipUnless, waitFor } from "../helpers/processes.ts";
import {
  assertFewLostFromCSwitch,
  cPortOutPackets,
  cSwitchInLab,
  guestBehind,
  httpBothWays,
  missingForCSwitch,
  VDE,
} from "./_slirp_e2e.ts";

const SIZE = 20 * 1024 * 1024;
/**
 * Share of the frames the C switch sends to our port that may be lost: 2%, looser than
 * slirp_behind_c_switch.test.ts's 1.5% because this plug's runs were measured only at 2%.
 */
const MAX_LOST_SHARE = 0.02;

for (const order of ["vde:// slirp://", "slirp:// vde://"] as const) {
  Deno.test(`vde plug ${order} behind Debian's vde_switch runs the slirp thread and moves HTTP both ways intact`, async (t) => {
    if (skipUnless(t, await missingForCSwitch())) return;
    await withNetns(async (lab) => {
      const { tmp, dir, mgmt } = await cSwitchInLab(lab);
      const host = await lab.namespace("host");
      const guest = await lab.namespace("guest");
      const ends = order === "vde:// slirp://" ? [`vde://${dir}`, "slirp://"] : ["slirp://", `vde://${dir}`];
      const plug = host.spawn([...VDE, "plug", "-D", "slirp plug", ...ends], { name: "vde plug" });
      await waitFor(async () => {
        if (plug.exitStatus !== null) throw new Error(`vde plug exited: ${plug.stderr}`);
        return (await cPortOutPackets(mgmt, "slirp plug").then(() => true, () => false));
      }, { timeoutMs: 20_000, what: "the plug's port on the C switch" });
      await guestBehind(guest, dir);
      await guest.addr("t0", "10.0.2.15/24");
      await guest.run(["ip", "route", "add", "default", "via", "10.0.2.2"]);

      await httpBothWays(host, guest, tmp, SIZE);

      await assertFewLostFromCSwitch(mgmt, "slirp plug", plug, "vde plug", {
        minSent: 10_000,
        maxLostShare: MAX_LOST_SHARE,
      });
    });
  });
}
