/**
 * Slirp options on the command line a user types: a value-taking option
 * without its value, and options after two slashes instead of three, stop
 * the command with one line instead of starting a slirp without them; a
 * forward from host port 0 names the port it got in its log line.
 */
import assert from "node:assert/strict";
import { run, spawnManaged } from "../helpers/processes.ts";
import { startOurSwitch } from "../helpers/switches.ts";
import { ourCli } from "../helpers/vde_clients.ts";
import { slirpConfigFromFlags, withOptionHint } from "../../src/cli/slirp.ts";

async function refused(args: string[]): Promise<string> {
  const r = await run([...ourCli(), ...args], { check: false, timeoutMs: 30_000 });
  assert.equal(r.code, 1, `${args.join(" ")}: ${r.stderr}`);
  assert.equal(r.stderr.trimEnd().split("\n").length, 1, r.stderr);
  return r.stderr.trimEnd();
}

Deno.test("vde slirp -o tcpfwd (no value) says 'tcpfwd needs a value' and does not start", async () => {
  const dir = `/tmp/vde-no-switch-${Deno.pid}`;
  assert.equal(
    await refused(["slirp", "-s", dir, "-o", "tcpfwd"]),
    "vde: tcpfwd needs a value, e.g. tcpfwd=8080:80",
  );
  // vde switch names the option the mistake is in.
  assert.equal(
    await refused(["switch", "-s", dir, "--slirp=mtu"]),
    "vde: --slirp: mtu needs a value, e.g. mtu=1500",
  );
  assert.equal(
    await refused(["plug", "slirp:///vnameserver", "null://"]),
    "vde: cannot open slirp:///vnameserver: vnameserver needs a value, e.g. vnameserver=10.0.2.3",
  );
});

Deno.test("vde plug slirp://OPTIONS (two slashes) is refused with the slirp:///OPTIONS spelling", async () => {
  assert.equal(
    await refused(["plug", "slirp://tcpfwd=8080:80", "null://"]),
    "vde: cannot open slirp://tcpfwd=8080:80: slirp://tcpfwd=8080:80 puts options where an address goes " +
      "(slirp has none): write slirp:///tcpfwd=8080:80",
  );
});

Deno.test("vde slirp DIR (the switch without --sock) says to write --sock DIR, and no --sock at all says it is needed", async () => {
  assert.equal(
    await refused(["slirp", "/tmp/net"]),
    "vde: vde slirp takes no arguments; the switch is --sock: `vde slirp --sock /tmp/net`",
  );
  assert.equal(await refused(["slirp"]), "vde: vde slirp needs --sock DIR, the socket directory of a switch");
});

Deno.test("--slirp / -o take a whole slirp:// VNL pasted as the options, read as that VNL reads", () => {
  const plain = slirpConfigFromFlags({ options: "tcpfwd=8080:80/vdnssearch=lan" });
  assert.deepEqual(slirpConfigFromFlags({ options: "slirp:///tcpfwd=8080:80/vdnssearch=lan" }), plain);
  assert.equal(plain.forwards.length, 1);
  assert.throws(
    () => slirpConfigFromFlags({ options: "slirp://tcpfwd=8080:80" }),
    /write slirp:\/\/\/tcpfwd=8080:80/,
  );
});

for (
  const [where, extra] of [["on its thread", []], ["on the main thread (--no-thread)", [
    "--no-thread",
  ]]] as const
) {
  Deno.test(`vde slirp ${where}: a forward from host port 0 logs the port the kernel gave it, which takes clients`, async () => {
    const dir = await Deno.makeTempDir({ prefix: `vde-slirp-port0-${Deno.pid}-` });
    const sw = await startOurSwitch(`${dir}/sw`);
    const slirp = spawnManaged(
      [...ourCli(), "slirp", "--sock", `${dir}/sw`, ...extra, "--forward", "tcp:127.0.0.1:0:10.0.2.15:80"],
      { name: "vde slirp" },
    );
    try {
      const m = await slirp.waitForOutput(
        /^vde slirp: forward tcp:127\.0\.0\.1:(\d+):10\.0\.2\.15:80$/m,
        20_000,
        "stderr",
      );
      const port = Number(m[1]);
      assert.notEqual(port, 0);
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
    } finally {
      await slirp.stop();
      await sw.stop();
      await Deno.remove(dir, { recursive: true });
    }
  });
}

Deno.test("vde slirp --restricted, --addr or QEMU's --hostfwd and --net are told how they are written here", async () => {
  const usage = "(run with --help for usage)\n";
  assert.equal(
    withOptionHint(`vde: unknown option '--restricted'\n${usage}`),
    `vde: unknown option '--restricted' (a slirp:// option: -o restricted)\n${usage}`,
  );
  assert.equal(
    withOptionHint("vde: unknown option '--addr=10.0.3.2/24'\n"),
    "vde: unknown option '--addr=10.0.3.2/24' (a slirp:// option: -o addr=10.1.0.2/24)\n",
  );
  assert.match(withOptionHint("vde: unknown option '--net'\n"), /\(QEMU's net is -o addr=10\.0\.2\.2\/24 /);
  assert.equal(withOptionHint("vde: unknown option '--bogus'\n"), "vde: unknown option '--bogus'\n");
  const r = await run([
    ...ourCli(),
    "slirp",
    "--sock",
    "/tmp/vde-no-such-switch",
    "--hostfwd",
    "tcp::2222-:22",
  ], {
    check: false,
    timeoutMs: 30_000,
  });
  assert.equal(r.code, 1);
  assert.equal(
    r.stderr,
    `vde: unknown option '--hostfwd' (QEMU's hostfwd is --forward here, in either form: --forward tcp::2222-:22)\n${usage}`,
  );
});
