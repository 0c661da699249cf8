/**
 * Slirp options on the command line a user types: a value-taking option
 * without its value, and options after two slashes instead of three, stop
 * the command with one line instead of starting a slirp without them; a
 * forward from host port 0 names the port it got in its log line.
 */
import assert from "node:assert/strict";
import { run, skipUnlessRoot, spawnManaged } from "../helpers/processes.ts";
import { TWO_HOSTS, withLabUp } from "../lab/_helpers.ts";
import { startOurSwitch } from "../helpers/switches.ts";
import { ourCli } from "../helpers/vde_clients.ts";
import { slirpConfigFromFlags, withOptionHint } from "../../src/cli/slirp.ts";
import { joinOptions } from "../../src/cli/join_options.ts";

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

Deno.test("vde slirp -o tcpfwd (no value) says so first while a lab is up, not that the switch is no lab's", async (t) => {
  if (skipUnlessRoot(t)) return;
  await withLabUp({ text: TWO_HOSTS }, async () => {
    assert.equal(
      await refused(["slirp", "-s", `/tmp/vde-no-switch-${Deno.pid}`, "-o", "tcpfwd"]),
      "vde: tcpfwd needs a value, e.g. tcpfwd=8080:80",
    );
  });
});

Deno.test("vde slirp --sock DIR[N] plugs into port N while a lab is up (a VLAN's access port), not 'no switch at DIR[N]'", async (t) => {
  if (skipUnlessRoot(t)) return;
  await withLabUp({ text: TWO_HOSTS }, async () => {
    const dir = await Deno.makeTempDir({ prefix: `vde-slirp-port-${Deno.pid}-` });
    const sw = await startOurSwitch(`${dir}/sw`);
    const slirp = spawnManaged([...ourCli(), "slirp", "--sock", `${dir}/sw[7]`], { name: "vde slirp" });
    try {
      await slirp.waitForOutput(/^vde slirp: on .*sw\[7\]: gateway 10\.0\.2\.2\/24/m, 20_000, "stderr");
      const ports = await run([...ourCli(), "term", `${dir}/sw`, "-c", "ports"], { timeoutMs: 20_000 });
      assert.match(ports.stdout, /^ +7 +active .*vde slirp/m);
    } finally {
      await slirp.stop();
      await sw.stop();
      await Deno.remove(dir, { recursive: true });
    }
  });
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

Deno.test("vde slirp -o A -o B (and vde switch --slirp=A --slirp=B) takes the options of both, as one -o A/B, where the last replaced the ones before", async () => {
  const join = (...each: string[]) =>
    each.reduce<string | undefined>((all, o) => joinOptions(o, all), undefined);
  assert.equal(join("bootfile=x.ipxe", "addr=10.0.6.2/24"), "bootfile=x.ipxe/addr=10.0.6.2/24");
  assert.equal(join("slirp:///mtu=1400", "slirp:///vdnssearch=lan"), "slirp:///mtu=1400//vdnssearch=lan");
  const both = slirpConfigFromFlags({ options: join("slirp:///mtu=1400", "slirp:///vdnssearch=lan") });
  assert.deepEqual(both, slirpConfigFromFlags({ options: "mtu=1400/vdnssearch=lan" }));
  // On the command line: both in force, the bootfile's start-line note and the moved network.
  const dir = await Deno.makeTempDir({ prefix: "vde-slirp-o-" });
  const sw = await startOurSwitch(`${dir}/sw`);
  try {
    const r = await run(
      [...ourCli(), "slirp", "-s", `${dir}/sw`, "-o", "bootfile=x.ipxe", "-o", "addr=10.0.6.2/24", "-d"],
      { check: false, timeoutMs: 30_000 },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /gateway 10\.0\.6\.2\/24 .*; bootfile x\.ipxe but no TFTP directory serves it/);
    // The switch's --slirp=A --slirp=B as well.
    const both = await run(
      [
        ...ourCli(),
        "switch",
        "-s",
        `${dir}/sw2`,
        "--slirp=addr=10.0.6.2/24",
        "--slirp=bootfile=x.ipxe",
        "-d",
      ],
      { check: false, timeoutMs: 30_000 },
    );
    assert.equal(both.code, 0, both.stderr);
    assert.match(both.stderr, /slirp on port 1: gateway 10\.0\.6\.2\/24 .*; bootfile x\.ipxe but no TFTP/);
  } finally {
    await run([...ourCli(), "term", `${dir}/sw2`, "-c", "shutdown"], { check: false, timeoutMs: 30_000 });
    await sw.stop(); // the slirp ends with its switch
    await Deno.remove(dir, { recursive: true });
  }
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
  // slirpvde's -X forwards a free display of the host to the guest's X server: host to guest, not back.
  assert.match(withOptionHint("vde: unknown option '-X'\n"), /--forward tcp:127\.0\.0\.1:6001:GUEST:6000/);
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

Deno.test("slirpvde's -D [START], -L and -U are taken as they mean there: DHCP (first lease START), a TCP and a UDP forward", () => {
  const c = slirpConfigFromFlags({
    dhcp: "10.0.2.40",
    localfwd: ["2222:10.0.2.15:22"],
    udpfwd: ["5353:10.0.2.15:53"],
  });
  const same = slirpConfigFromFlags({
    options: "dhcp=10.0.2.40",
    forward: ["tcp:2222:10.0.2.15:22", "udp:5353:10.0.2.15:53"],
  });
  assert.deepEqual(c, same);
  assert.equal(c.forwards.length, 2);
  // A bare -D changes nothing: DHCP is on by default.
  assert.deepEqual(slirpConfigFromFlags({ dhcp: true }), slirpConfigFromFlags({}));
  // An -o addr= moves the network first, so -D's start is checked against it.
  assert.equal(
    slirpConfigFromFlags({ options: "slirp:///addr=10.1.0.2/24", dhcp: "10.1.0.50" }).dhcpStart,
    0x0a010032,
  );
});

Deno.test("slirpvde's -D DIR (its trailing switch directory) is refused, not read as the first DHCP lease", async () => {
  const r = await run([...ourCli(), "slirp", "-D", "/tmp/vde-no-such-switch"], {
    check: false,
    timeoutMs: 30_000,
  });
  assert.equal(r.code, 1);
  assert.match(
    r.stderr,
    /^vde: option '-D, --dhcp \[start\]' argument '\/tmp\/vde-no-such-switch' is invalid\. -D takes a first DHCP address \(-D 10\.0\.2\.50\); the switch is --sock: vde slirp --sock \/tmp\/vde-no-such-switch -D\n/,
  );
});

Deno.test("slirpvde's -H, -N, -x and -q are answered with how they are said here", async () => {
  const usage = "(run with --help for usage)\n";
  assert.equal(
    withOptionHint(`vde: unknown option '-H'\n${usage}`),
    `vde: unknown option '-H' (slirpvde's -H ADDR/MASK is -o addr=10.0.2.2/24, the gateway's address and prefix)\n${usage}`,
  );
  assert.match(
    withOptionHint("vde: unknown option '-N'\n"),
    /\(slirpvde's -N ADDR is -o vnameserver=10\.0\.2\.3; --dns-upstream is the host's resolver\)\n$/,
  );
  assert.match(withOptionHint("vde: unknown option '-x'\n"), /--unixfwd 10\.0\.2\.2:PORT:PATH\)/);
  // Through the command line: -q (slirpvde's quiet) says where the lines go and how to drop them.
  const r = await run([...ourCli(), "slirp", "-s", "/tmp/vde-no-such-switch", "-D", "-q"], {
    check: false,
    timeoutMs: 30_000,
  });
  assert.equal(r.code, 1);
  assert.equal(
    r.stderr,
    "vde: unknown option '-q' (slirpvde's -q: vde slirp writes only to stderr; 2>/dev/null)\n" +
      usage,
  );
});

Deno.test("vde switch --slirp=A --slirp (a bare one after) keeps A, where commander's bare true replaced it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-slirp-bare-" });
  try {
    const r = await run(
      [...ourCli(), "switch", "-s", `${dir}/sw`, "--slirp=addr=10.0.7.2/24", "--slirp", "-d"],
      { check: false, timeoutMs: 30_000 },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /slirp on port 1: gateway 10\.0\.7\.2\/24 /);
  } finally {
    await run([...ourCli(), "term", `${dir}/sw`, "-c", "shutdown"], { check: false, timeoutMs: 30_000 });
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("vde slirp -o A -o B: a later option of the same key overrides the earlier, as in one slirp:// VNL (vdeplug's last key=value wins)", () => {
  const join = (...each: string[]) =>
    each.reduce<string | undefined>((all, o) => joinOptions(o, all), undefined);
  const later = slirpConfigFromFlags({ options: join("addr=10.1.0.2/24/mtu=1400", "addr=10.2.0.2/24") });
  assert.deepEqual(later, slirpConfigFromFlags({ options: "mtu=1400/addr=10.2.0.2/24" }));
  assert.equal(later.gateway, 0x0a020002);
  assert.equal(later.mtu, 1400);
});
