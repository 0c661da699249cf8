/**
 * End to end, the window our slirp offers a guest on this host follows what
 * the switch queues for the slirp's port: behind Debian's vde_switch (93
 * full-size frames at the system's default buffer, the rest dropped) at
 * most 88 segments; behind our switch (a 2 MiB buffer, frames beyond it
 * held) more. The guest, behind Debian's `vde_plug tap://`, uploads to a
 * sink on the host namespace's loopback and reads the window we offered
 * from its own TCP_INFO (`tcpi_snd_wnd`), in the second half of the upload,
 * once the slirp has seen the round trip is short. The switch runs in the
 * slirp's network namespace: the kernel answers socket diagnostics for the
 * asker's namespace only (across namespaces the slirp keeps 88 segments).
 * Root only; in CI it must run.
 */
import assert from "node:assert/strict";
import { type Lab, withNetns } from "../helpers/netns.ts";
import { skipUnless, waitFor } from "../helpers/processes.ts";
import { cSwitchCommand, listensIn, ourSwitchCommand, type SwitchCommand } from "../helpers/switches.ts";
import { HELPER, missingForCSwitch, slirpWithGuest, waitListening } from "./_slirp_e2e.ts";

const SIZE = 16 * 1024 * 1024;
/** 88 segments of 1,460 bytes: the window behind Debian's switch. */
const CAPPED = 88 * 1460;

/**
 * Starts the switch `command` makes for DIR in the slirp's namespace, the
 * slirp and a guest behind it; the largest window the slirp offered the
 * guest during the second half of an upload, bytes.
 */
async function offeredWindow(lab: Lab, command: (dir: string) => SwitchCommand): Promise<number> {
  const host = await lab.namespace("host");
  const guest = await lab.namespace("guest");
  const dir = `${await lab.tempDir()}/sw`;
  const { cmd, stdin } = command(dir);
  const sw = host.spawn(cmd, { name: "switch", stdin });
  // Listening (flag __SO_ACCEPTCON in the namespace's /proc/net/unix), not just bound.
  await waitFor(async () => {
    if (sw.exitStatus !== null) throw new Error(`the switch exited: ${sw.stderr}`);
    const unix = (await host.run(["cat", "/proc/net/unix"])).stdout;
    return listensIn(unix, `${dir}/ctl`) === true;
  }, { timeoutMs: 20_000, what: "the switch's ctl socket" });
  await slirpWithGuest(host, guest, dir);
  await guest.addr("t0", "10.0.2.15/24");
  await guest.run(["ip", "route", "add", "default", "via", "10.0.2.2"]);
  const sink = host.spawn([...HELPER, "tcp-sink", "127.0.0.1", "8097"], { name: "tcp sink" });
  await waitListening(host, "t", 8097, sink);
  const r = await guest.run([...HELPER, "tcp-window", "10.0.2.2", "8097", String(SIZE)], {
    timeoutMs: 120_000,
  });
  console.log(`window offered: ${r.stdout.trim()} bytes`);
  return Number(r.stdout.trim());
}

Deno.test("slirp offers a guest on this host at most 88 segments of window behind Debian's vde_switch", async (t) => {
  if (skipUnless(t, await missingForCSwitch())) return;
  await withNetns(async (lab) => {
    const window = await offeredWindow(lab, (dir) => cSwitchCommand(dir));
    assert.ok(window > 0 && window <= CAPPED, `window ${window}, at most ${CAPPED}`);
  });
});

Deno.test("slirp offers a guest on this host more than 88 segments of window behind our switch", async (t) => {
  if (skipUnless(t, await missingForCSwitch())) return;
  await withNetns(async (lab) => {
    const window = await offeredWindow(lab, (dir) => ourSwitchCommand(dir));
    assert.ok(window > 2 * CAPPED, `window ${window}, more than ${2 * CAPPED}`);
  });
});
