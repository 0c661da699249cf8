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
import { noLabsSeen, ourCli } from "../helpers/vde_clients.ts";
import { slirpConfigFromFlags, switchOfVnl, withOptionHint } from "../../src/cli/slirp.ts";
import { joinOptions } from "../../src/cli/join_options.ts";
import { formatIpv4 } from "../../src/wire/ipv4.ts";

async function refused(args: string[], prefix: string[] = []): Promise<string> {
  const r = await run([...prefix, ...ourCli(), ...args], { check: false, timeoutMs: 30_000 });
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
      assert.match(ports.stdout, /^ +7 +active .*slirpvde: user=/m);
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

Deno.test("vde slirp DIR, or -D DIR (slirpvde's trailing switch directory), plugs into DIR; two switches or none are refused in one line", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "vde-slirp-trailing-" });
  const sw = await startOurSwitch(`${tmp}/sw`);
  try {
    for (const args of [[`${tmp}/sw`], ["-D", `${tmp}/sw`], ["-D", "10.0.2.50", `${tmp}/sw`]]) {
      const r = await run([...ourCli(), "slirp", ...args, "-d", "-p", `${tmp}/slirp.pid`], {
        check: false,
        timeoutMs: 30_000,
      });
      assert.equal(r.code, 0, r.stderr);
      const lease = args.includes("10.0.2.50") ? "10.0.2.50" : "10.0.2.15";
      assert.match(
        r.stderr,
        new RegExp(`^vde slirp: on .*/sw: gateway 10\\.0\\.2\\.2/24 .* first lease ${lease}`),
      );
      Deno.kill(Number((await Deno.readTextFile(`${tmp}/slirp.pid`)).trim()), "SIGTERM");
      // The pid file goes with the slirp: the next one starts on a switch without it.
      for (let i = 0; i < 100 && (await Deno.stat(`${tmp}/slirp.pid`).then(() => true, () => false)); i++) {
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  } finally {
    await sw.stop();
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
  assert.equal(
    await refused(["slirp", "-s", "/tmp/net", "/tmp/other"]),
    "vde: vde slirp plugs into one switch: /tmp/net, /tmp/other given; name it once, e.g. `vde slirp --sock /tmp/net`",
  );
});

Deno.test("vde slirp without --sock joins the default switch, as slirpvde and vde plug '' do, and where none is says what to give", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "vde-slirp-default-" });
  const sw = await startOurSwitch(`${tmp}/sw`);
  try {
    await Deno.mkdir(`${tmp}/home/.vdeplug`, { recursive: true });
    // A default naming no switch: the refusal is the default switch's, with what to give.
    await Deno.symlink(`${tmp}/none`, `${tmp}/home/.vdeplug/default`);
    assert.match(
      await refused(["slirp", "-d"], ["env", `HOME=${tmp}/home`]),
      new RegExp(`^vde: no switch at ${tmp}/none`),
    );
    await Deno.remove(`${tmp}/home/.vdeplug/default`);
    // A default that is no switch's VNL: its refusal reads as vde plug's and vde switch's do, `vde: ...`.
    await Deno.writeTextFile(`${tmp}/home/.vdeplug/default`, "tap://t0\n");
    assert.equal(
      await refused(["slirp", "-d"], ["env", `HOME=${tmp}/home`]),
      `vde: ${tmp}/home/.vdeplug/default names "tap://t0", which is no vde:// switch: give the VNL itself: ` +
        "give --sock DIR, the socket directory of a switch",
    );
    await Deno.remove(`${tmp}/home/.vdeplug/default`);
    await Deno.symlink(`${tmp}/sw`, `${tmp}/home/.vdeplug/default`);
    const r = await run(["env", `HOME=${tmp}/home`, ...ourCli(), "slirp", "-d", "-p", `${tmp}/slirp.pid`], {
      check: false,
      timeoutMs: 30_000,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`vde slirp: on ${tmp}/sw: gateway 10\\.0\\.2\\.2/24`));
  } finally {
    await sw.stop();
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
});

Deno.test("vde slirp -s - (slirpvde's slirp on stdin/stdout) speaks VDE's stream framing there, and ends with its input", async () => {
  const child = new Deno.Command(ourCli()[0]!, {
    args: [...ourCli().slice(1), "slirp", "-s", "-"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  // Its first frames (router advertisements, ARP) come unasked: a 2-byte length, then a frame of that length.
  const reader = child.stdout.getReader();
  let got = new Uint8Array(0);
  while (got.length < 2 || got.length < 2 + ((got[0]! << 8) | got[1]!)) {
    const { value, done } = await reader.read();
    if (done) break;
    got = new Uint8Array([...got, ...value]);
  }
  const length = (got[0]! << 8) | got[1]!;
  assert.ok(length >= 14 && length <= 1514, `frame length ${length}`);
  assert.deepEqual([...got.subarray(8, 14)], [0x52, 0x55, 0x0a, 0x00, 0x02, 0x02], "from the gateway's MAC");
  reader.releaseLock();
  await child.stdin.close();
  const out = await child.output();
  assert.equal(out.code, 0);
  assert.match(new TextDecoder().decode(out.stderr), /^vde slirp: on stdin\/stdout: gateway 10\.0\.2\.2\/24/);
  assert.equal(
    await refused(["slirp", "-d", "-s", "-"]),
    "vde: --daemon with --sock - (stdin/stdout) is refused: in the background they are /dev/null",
  );
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

Deno.test("a slirp://OPTIONS (two slashes) given as a later -o is refused with the same slirp:///OPTIONS line as the first", () => {
  const line = (options: string) => {
    try {
      slirpConfigFromFlags({ options });
    } catch (err) {
      return (err as Error).message;
    }
    return "accepted";
  };
  const want = "slirp://addr=10.1.0.2/24 puts options where an address goes (slirp has none): " +
    "write slirp:///addr=10.1.0.2/24";
  assert.equal(line("slirp://addr=10.1.0.2/24"), want);
  // -o mtu=1500 -o slirp://addr=10.1.0.2/24, joined as commander hands them over: was `unknown slirp option "slirp:"`.
  assert.equal(line(joinOptions("slirp://addr=10.1.0.2/24", "mtu=1500")), want);
  assert.equal(
    line(joinOptions("slirp://tcp:8080:80", joinOptions("slirp:///mtu=1500", "vdnssearch=lan"))),
    "slirp://tcp:8080:80 puts options where an address goes (slirp has none): write slirp:///tcpfwd=8080:80",
  );
  assert.equal(line(joinOptions("slirp:///addr=10.1.0.2/24", "mtu=1500")), "accepted");
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
  // QEMU's restrict and ipv6 as flags: restricted, and v4 for ipv6=off (v6 alone would run IPv6 only).
  assert.equal(
    withOptionHint("vde: unknown option '--restrict=on'\n"),
    "vde: unknown option '--restrict=on' (QEMU's restrict=on is -o restricted; off is the default)\n",
  );
  assert.match(
    withOptionHint("vde: unknown option '--ipv6=off'\n"),
    /QEMU's ipv6 is -o v4 when it is ipv6=off /,
  );
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

Deno.test("slirpvde's -H/-n ADDR[/LEN] and -N ADDR set the network and DNS as slirpvde does: hosts 2, 3 and 15 of it", () => {
  const addrs = (c: ReturnType<typeof slirpConfigFromFlags>) =>
    [c.network, c.prefixLength, c.gateway, c.dns, c.dhcpStart].map((v, i) => i === 1 ? v : formatIpv4(v));
  // The host part zero names the network alone.
  assert.deepEqual(addrs(slirpConfigFromFlags({ host: "10.1.0.0/16" })), [
    "10.1.0.0",
    16,
    "10.1.0.2",
    "10.1.0.3",
    "10.1.0.15",
  ]);
  assert.deepEqual(addrs(slirpConfigFromFlags({ network: "192.168.55.1" })), [
    "192.168.55.0",
    24,
    "192.168.55.1",
    "192.168.55.3",
    "192.168.55.15",
  ]);
  // -D's first lease and -N's DNS are read inside the network -H gives.
  const c = slirpConfigFromFlags({ host: "10.1.2.3/16", dhcp: "10.1.0.40", dns: "10.1.0.53" });
  assert.deepEqual(addrs(c), ["10.1.0.0", 16, "10.1.2.3", "10.1.0.53", "10.1.0.40"]);
  // -N outside the network is a server of the host's side: the DNS proxy forwards to it.
  const out = slirpConfigFromFlags({ dns: "192.0.2.53" });
  assert.equal(formatIpv4(out.dns), "10.0.2.3");
  assert.deepEqual(out.dnsUpstream?.map((u) => [...u.addr].join(".")), ["192.0.2.53"]);
  assert.throws(
    () => slirpConfigFromFlags({ host: "10.1.0.0/31" }),
    /^Error: -H takes the gateway's ADDR\[\/LEN\] \(LEN 1-30\), e\.g\. -H 10\.1\.0\.2\/24; got "10\.1\.0\.0\/31"$/,
  );
});

Deno.test("a DNS address that is the gateway's is refused in one line saying why, as QEMU's slirp does: slirpvde's -H at host 3, addr=, vnameserver=; -N parts them", async () => {
  const said =
    "the DNS address 10.0.9.3 is the gateway's, and must be another, as QEMU's must (\"DNS must be " +
    "different from host\"): what the guest sends to one address cannot go both to the host's DNS server and to " +
    "the host's own ports; name another in its network with vnameserver= (slirpvde's -N)";
  const line = new RegExp(`^Error: ${said.replace(/[.()]/g, "\\$&")}$`);
  assert.throws(() => slirpConfigFromFlags({ host: "10.0.9.3/24" }), line);
  assert.throws(() => slirpConfigFromFlags({ options: "addr=10.0.9.3/24" }), line);
  assert.throws(
    () => slirpConfigFromFlags({ host: "10.0.9.2/24", dns: "10.0.9.2" }),
    /DNS address 10\.0\.9\.2 is the gateway's/,
  );
  assert.throws(
    () => slirpConfigFromFlags({ options: "addr6=fd00::3" }),
    /fd00::3 is the IPv6 gateway's, and must be another: what the guest sends to one address cannot go both/,
  );
  const parted = slirpConfigFromFlags({ host: "10.0.9.3/24", dns: "10.0.9.53" });
  assert.deepEqual([formatIpv4(parted.gateway), formatIpv4(parted.dns)], ["10.0.9.3", "10.0.9.53"]);
  // The user's line: one line, status 1, where the slirp would have started with a gateway that answers DNS only.
  const r = await run([...ourCli(), "slirp", "-H", "10.0.9.3/24", "-s", "/nonexistent/sw"], { check: false });
  assert.equal(r.code, 1);
  assert.equal(r.stderr, `vde: ${said}\n`);
});

Deno.test("slirpvde's -P N, -g and -m (and -port, its single-dash long name) plug the slirp into port N of the switch", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "vde-slirp-port-" });
  const sw = await startOurSwitch(`${tmp}/sw`);
  try {
    const r = await run(
      [...ourCli(), "slirp", "-port", "5", "-m", "600", "-D", `${tmp}/sw`, "-d", "-p", `${tmp}/slirp.pid`],
      { check: false, timeoutMs: 30_000 },
    );
    assert.equal(r.code, 0, r.stderr);
    const ports =
      (await run([...ourCli(), "term", `${tmp}/sw`, "-c", "port/print"], { timeoutMs: 10_000 })).stdout;
    assert.match(ports, /Port 0005 .*ACTIVE/);
    Deno.kill(Number((await Deno.readTextFile(`${tmp}/slirp.pid`)).trim()), "SIGTERM");
  } finally {
    await sw.stop();
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
  assert.equal(
    await refused(["slirp", "-P", "3", "-s", "-"]),
    "vde: -P, -g and -m set a switch port's options, and - is not a switch (vde://DIR or DIR)",
  );
});

Deno.test("slirpvde's -x and -X are answered with how they are said here; -q silences the log lines, not a failure", async () => {
  const usage = "(run with --help for usage)\n";
  assert.match(withOptionHint("vde: unknown option '-x'\n"), /--unixfwd 10\.0\.2\.2:PORT:PATH\)/);
  const r = await run([...ourCli(), "slirp", "-s", "/tmp/vde-no-such-switch", "-D", "-X", "10.0.2.15"], {
    check: false,
    timeoutMs: 30_000,
  });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^vde: unknown option '-X' \(slirpvde's -X GUEST is --forward .*\)\n/);
  assert.ok(r.stderr.endsWith(usage), r.stderr);
  const tmp = await Deno.makeTempDir({ prefix: "vde-slirp-quiet-" });
  const sw = await startOurSwitch(`${tmp}/sw`);
  try {
    // In the foreground, from its start to its stop by a signal: not a line.
    const quiet = new Deno.Command(ourCli()[0]!, {
      args: [...ourCli().slice(1), "slirp", "-q", `${tmp}/sw`],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    let ports = "";
    for (let i = 0; i < 100 && !/ACTIVE/.test(ports); i++) {
      await new Promise((res) => setTimeout(res, 100));
      ports =
        (await run([...ourCli(), "term", `${tmp}/sw`, "-c", "port/print"], { timeoutMs: 10_000 })).stdout;
    }
    assert.match(ports, /ACTIVE/, "the slirp is plugged in");
    quiet.kill("SIGTERM");
    const out = await quiet.output();
    assert.deepEqual([out.code, new TextDecoder().decode(out.stderr)], [0, ""]);
  } finally {
    await sw.stop();
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
  // The whole line, as without -q, where no lab runs: a lab of another test (or engineer) would be named
  // after it. Its directory is a fresh one's, so no switch a letter off it is named either.
  const none = await Deno.makeTempDir({ prefix: "vde-slirp-quiet-none-" });
  try {
    for (const quiet of [["-quiet"], ["-q"], []]) {
      assert.equal(
        await refused(["slirp", ...quiet, "-s", `${none}/sw`], noLabsSeen(none)),
        `vde: no switch at ${none}/sw: the directory does not exist (start one: vde switch --sock ${none}/sw --daemon)`,
      );
    }
  } finally {
    await Deno.remove(none, { recursive: true });
  }
});

Deno.test("vde slirp -q -d prints nothing once it serves, as slirpvde -q -d; a gateway taken on the switch is still said", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "vde-slirp-quiet-d-" });
  const sw = await startOurSwitch(`${tmp}/sw`);
  const daemon = async (name: string, ...flags: string[]) => {
    const r = await run([...ourCli(), "slirp", ...flags, "-d", "-p", `${tmp}/${name}.pid`, `${tmp}/sw`], {
      check: false,
      timeoutMs: 30_000,
    });
    assert.equal(r.code, 0, r.stderr);
    return r.stderr;
  };
  const stop = async (name: string) =>
    Deno.kill(Number((await Deno.readTextFile(`${tmp}/${name}.pid`)).trim()), "SIGTERM");
  try {
    assert.equal(await daemon("first", "-q"), "");
    // The second answers the first's gateway: that warning is the line -q keeps, on either thread.
    for (const [name, thread] of [["second", []], ["third", ["--no-thread"]]] as const) {
      assert.match(
        await daemon(name, "-q", ...thread),
        /^vde slirp: the gateway address is taken on this switch: .*this one keeps serving\n$/,
      );
      await stop(name);
    }
    await stop("first");
  } finally {
    await sw.stop();
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
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

Deno.test("vde slirp --sock vde://DIR joins DIR, as slirpvde -s takes it; another VNL (hub://, served here) is refused with the vde plug line that puts a slirp on it", async () => {
  assert.equal(switchOfVnl("vde:///tmp/net"), "/tmp/net");
  assert.equal(switchOfVnl("vde:///tmp/net[port=3]"), "/tmp/net[port=3]");
  assert.equal(switchOfVnl("/tmp/net"), "/tmp/net");
  assert.equal(switchOfVnl("-"), "-");
  assert.throws(
    () => switchOfVnl("tap://t0"),
    {
      message:
        "vde slirp --sock takes a switch's directory (DIR or vde://DIR), not tap://t0: `vde plug tap://t0 slirp://` puts a slirp on it",
    },
  );
  assert.throws(
    () => switchOfVnl("nul://"),
    { message: "vde slirp --sock takes a switch's directory (DIR or vde://DIR), not nul://" },
  );
  assert.equal(
    await refused(["slirp", "--sock", "hub:///tmp/vde-no-such-hub[mode=660]"]),
    "vde: vde slirp --sock takes a switch's directory (DIR or vde://DIR), not hub:///tmp/vde-no-such-hub[mode=660], " +
      "which serves a hub in the process that opens it: " +
      "`vde plug 'hub:///tmp/vde-no-such-hub[mode=660]' slirp://` puts a slirp on it",
  );
});
