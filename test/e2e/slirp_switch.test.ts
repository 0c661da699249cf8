/**
 * `vde switch --slirp`: a slirp on a switch port, its forwards changed at
 * run time from the management console, and a guest namespace using it.
 * Root only; in CI it must run.
 */
import assert from "node:assert/strict";
import { canNetns, ping, withNetns } from "../helpers/netns.ts";
import { hasCommand, run, skipUnless, waitFor } from "../helpers/processes.ts";
import { REPO_ROOT, startOurSwitch, type SwitchHandle } from "../helpers/switches.ts";
import { MgmtClient } from "../../src/console/client.ts";
import { udhcpcOnce } from "../helpers/udhcpc.ts";

const HELPER = ["python3", `${REPO_ROOT}/test/e2e/slirp_helper.py`];

Deno.test("vde switch --slirp: a guest gets a lease, and slirp/forward add|list|del work from the console", async (t) => {
  let why = await canNetns();
  for (const tool of ["vde_plug", "busybox", "python3"]) {
    if (why === null && !(await hasCommand(tool))) why = `${tool} is not installed`;
  }
  if (skipUnless(t, why)) return;
  let sw: SwitchHandle | null = null;
  let mgmt: MgmtClient | null = null;
  await withNetns(async (lab) => {
    lab.defer(async () => {
      mgmt?.close();
      await sw?.stop();
    });
    const tmp = await lab.tempDir();
    const dir = `${tmp}/sw`;
    sw = await startOurSwitch(dir, {
      extraArgs: ["--slirp", "vdomainname=vde.test", "--mgmt", `${tmp}/mgmt`],
    });
    await waitFor(() => sw!.stderr().includes("slirp on port"), {
      timeoutMs: 20_000,
      what: "the slirp on a port",
    });
    const guest = await lab.namespace("guest");
    guest.spawn(["vde_plug", `vde://${dir}`, "tap://t0"], { name: "vde_plug" });
    await waitFor(async () => (await guest.run(["ip", "link", "show", "t0"], { check: false })).success, {
      timeoutMs: 10_000,
      what: "t0",
    });
    await guest.run(["ip", "link", "set", "t0", "up"]);
    const r = await guest.run(udhcpcOnce("t0", "/bin/true"), {
      check: false,
      timeoutMs: 20_000,
    });
    assert.match(r.stdout + r.stderr, /lease of 10\.0\.2\.15 obtained/);
    await guest.run(["ip", "addr", "add", "10.0.2.15/24", "dev", "t0"]);
    assert.equal((await ping(guest, "10.0.2.2", 2, 0.2)).received, 2);

    mgmt = await MgmtClient.connect(`${tmp}/mgmt`);
    let reply = await mgmt.command("slirp/forward list");
    assert.equal(reply.code, 0);
    assert.deepEqual(reply.lines, []);
    // Host port 0: the kernel picks a free one, which the reply names.
    reply = await mgmt.command("slirp/forward add udp:0:10.0.2.15:5300");
    assert.equal(reply.code, 0, reply.lines?.join("\n"));
    const port = Number(/^added udp:0\.0\.0\.0:(\d+):10\.0\.2\.15:5300$/.exec(reply.lines?.[0] ?? "")?.[1]);
    assert.ok(port > 0, reply.lines?.join("\n"));
    reply = await mgmt.command("slirp/forward list");
    assert.deepEqual(reply.lines, [`udp:0.0.0.0:${port}:10.0.2.15:5300`]);
    const who = guest.spawn([...HELPER, "udp-whoami", "5300"], { name: "udp whoami" });
    await waitFor(
      async () => (await guest.run(["ss", "-Hlnu", "sport = :5300"], { check: false })).stdout.trim() !== "",
      {
        timeoutMs: 10_000,
        what: "whoami",
      },
    );
    void who;
    // From the switch's namespace (the host): a loopback client shows as the gateway.
    const ask = await run([...HELPER, "udp-ask", "127.0.0.1", String(port), "x"], {
      check: false,
      timeoutMs: 15_000,
    });
    assert.equal(ask.stdout.trim(), "you are 10.0.2.2", ask.stderr);
    // A refusal says why in words before its (empty) listing: vde term -c puts them on stderr.
    reply = await mgmt.command(`slirp/forward add udp:${port}:53`);
    assert.notEqual(reply.code, 0);
    assert.match(reply.raw ?? "", /exists/);
    assert.deepEqual(reply.lines, []);
    reply = await mgmt.command("slirp/forward add udp:5353:192.168.0.1:53");
    assert.equal(reply.code, 22);
    assert.match(reply.raw ?? "", /outside the network/);
    reply = await mgmt.command(`slirp/forward del udp:${port}`);
    assert.equal(reply.code, 0, reply.lines?.join("\n"));
    reply = await mgmt.command("slirp/forward list");
    assert.deepEqual(reply.lines, []);
    reply = await mgmt.command("slirp/print");
    assert.match(reply.lines!.join("\n"), /gateway 10\.0\.2\.2\/24/);
    assert.match(reply.lines!.join("\n"), /lease 02:|lease [0-9a-f]{2}:/);
  });
});
