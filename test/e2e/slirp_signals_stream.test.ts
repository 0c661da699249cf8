/**
 * SIGTERM, SIGINT and SIGHUP to `vde slirp` and to `vde plug vde://
 * slirp://` in the middle of a full-speed TCP stream through them (iperf3
 * between a guest and a server on the host namespace's loopback, upload and
 * download in turn): the slirp thread is then inside its TCP engine and
 * host-socket writes, not only draining frames (signals_under_load.test.ts
 * floods broadcasts, which the stack drops at once). Each must exit 0 with
 * no crash and leave no port on the switch and no socket file. The setting
 * is issue 11's: our slirp on Debian's vde_switch, the guest behind
 * Debian's `vde_plug tap://`. Root only; in CI it must run.
 */
import assert from "node:assert/strict";
import { type Netns, withNetns } from "../helpers/netns.ts";
import { hasCommand, type ManagedProcess, skipUnless, sleep, waitFor } from "../helpers/processes.ts";
import { listDir } from "../helpers/vde_clients.ts";
import { cPortOut, cSwitchInLab, guestBehind, missingForCSwitch, VDE, waitListening } from "./_slirp_e2e.ts";

const SIGNALS: Deno.Signal[] = ["SIGTERM", "SIGINT", "SIGHUP"];
const COMMANDS = [
  { name: "vde slirp", args: (dir: string) => ["slirp", "--sock", dir] },
  { name: "vde plug vde:// slirp://", args: (dir: string) => ["plug", `vde://${dir}`, "slirp://"] },
];

async function missing(): Promise<string | null> {
  return (await missingForCSwitch()) ?? ((await hasCommand("iperf3")) ? null : "iperf3 is not installed");
}

/** Waits until the slirp answers the guest's ping to the gateway. */
async function gatewayAnswers(guest: Netns, slirp: ManagedProcess): Promise<void> {
  await waitFor(async () => {
    if (slirp.exitStatus !== null) throw new Error(`${slirp.name} exited: ${slirp.stderr}`);
    return (await guest.run(["ping", "-n", "-c", "1", "-W", "1", "10.0.2.2"], { check: false })).success;
  }, { timeoutMs: 30_000, what: "the gateway's answer to a ping" });
}

Deno.test("vde slirp and vde plug slirp:// exit 0 on SIGTERM, SIGINT and SIGHUP in the middle of a TCP stream through them", async (t) => {
  if (skipUnless(t, await missing())) return;
  await withNetns(async (lab) => {
    const { dir, mgmt } = await cSwitchInLab(lab);
    const host = await lab.namespace("host");
    const guest = await lab.namespace("guest");
    await guestBehind(guest, dir);
    await guest.addr("t0", "10.0.2.15/24");
    await guest.run(["ip", "route", "add", "default", "via", "10.0.2.2"]);

    let round = 0;
    for (const [i, signal] of SIGNALS.entries()) {
      for (const [j, command] of COMMANDS.entries()) {
        // Each command gets both directions over the three signals.
        const down = (i + j) % 2 === 1;
        const port = 5301 + round++;
        await t.step(
          `${signal} to ${command.name} during iperf3 ${down ? "host->guest" : "guest->host"}`,
          async () => {
            const server = host.spawn(["iperf3", "-s", "-1", "-B", "127.0.0.1", "-p", String(port)], {
              name: "iperf3 server",
            });
            await waitListening(host, "t", port, server);
            const slirp = host.spawn([...VDE, ...command.args(dir)], { name: command.name });
            let client: ManagedProcess | null = null;
            try {
              await gatewayAnswers(guest, slirp);
              client = guest.spawn(
                ["iperf3", "-c", "10.0.2.2", "-p", String(port), "-t", "30", "-i", "0.2", "--forceflush"]
                  .concat(
                    down ? ["-R"] : [],
                  ),
                { name: "iperf3 client" },
              );
              // Two reports with bytes in them: the stream runs at full speed.
              await waitFor(() => {
                if (client!.exitStatus !== null) {
                  throw new Error(`iperf3 exited: ${client!.stdout}${client!.stderr}`);
                }
                return (client!.stdout.match(/sec\s+[\d.]+ [KMG]Bytes/g) ?? []).length >= 2;
              }, { timeoutMs: 30_000, what: "iperf3 moving data" });
              const before = (await cPortOut(mgmt, new RegExp(`pid=${slirp.pid}\\b`))).out ?? 0;
              assert.ok(before > 1000, `the C switch sent ${before} frames to ${command.name}`);
              slirp.kill(signal);
              const exited = await Promise.race([
                slirp.status.then(() => true),
                sleep(15_000).then(() => false),
              ]);
              assert.ok(exited, `${command.name} did not exit within 15 s of ${signal}`);
              const status = await slirp.status;
              assert.equal(
                status.code,
                0,
                `${command.name} after ${signal}: ${JSON.stringify(status)}\n${slirp.stderr}`,
              );
              assert.doesNotMatch(slirp.stderr, /panicked|Uncaught|Segmentation|core dumped/, slirp.stderr);
            } finally {
              await slirp.stop({ timeoutMs: 2000 });
              await client?.stop({ signal: "SIGKILL", timeoutMs: 2000 });
              await server.stop({ signal: "SIGKILL", timeoutMs: 2000 });
            }
            await waitFor(
              async () => (await cPortOut(mgmt, new RegExp(`pid=${slirp.pid}\\b`))).out === null,
              {
                timeoutMs: 5000,
                what: `${command.name}'s port freed`,
              },
            );
            const pid = String(slirp.pid).padStart(5, "0");
            assert.deepEqual((await listDir(dir)).filter((n) => n.startsWith(`.${pid}-`)), []);
          },
        );
      }
    }
  });
});
