/** vde_switch's option spellings become ours, values untouched. */
import assert from "node:assert/strict";
import { toLongOptions, vdeSwitchDefaultRc } from "../../src/cli/vde_switch_args.ts";
import { MgmtClient } from "../../src/console/client.ts";
import { run, skipWithout, waitForPath } from "../helpers/processes.ts";
import { startOurSwitch } from "../helpers/switches.ts";
import { ourCli } from "../helpers/vde_clients.ts";

Deno.test("vde_switch's -long options map to ours, and a value keeps every '=' after the first", () => {
  assert.deepEqual(
    toLongOptions(["switch", "-sock", "/tmp/net", "-numports", "4", "-hub", "-d"]),
    ["switch", "--sock", "/tmp/net", "--ports", "4", "--hub", "-d"],
  );
  assert.deepEqual(
    toLongOptions(["switch", "--slirp=tcpfwd=8080:10.0.2.15:80/vdnssearch=lan", "--vdesock=/tmp/a=b"]),
    ["switch", "--slirp=tcpfwd=8080:10.0.2.15:80/vdnssearch=lan", "--sock=/tmp/a=b"],
  );
  assert.deepEqual(toLongOptions(["plug", "-sock=x"]), ["plug", "-sock=x"], "only vde switch's options");
});

Deno.test("vde_switch's long options shortened as getopt_long_only takes them: a prefix of one option maps, an ambiguous one is refused whole", () => {
  assert.deepEqual(
    toLongOptions(["switch", "-numport", "4", "-so", "/tmp/net", "--hu", "-pid", "/tmp/p", "-mgmtm", "600"]),
    ["switch", "--ports", "4", "--sock", "/tmp/net", "--hub", "--pidfile", "/tmp/p", "--mgmtmode", "600"],
  );
  // mgmt, mgmtmode or mgmtgroup: named whole, for the parser to refuse. A letter is a short option.
  assert.deepEqual(toLongOptions(["switch", "-mgm", "x", "-h", "-d"]), ["switch", "--mgm", "x", "-h", "-d"]);
  assert.deepEqual(toLongOptions(["switch", "--", "-numport"]), ["switch", "--", "-numport"]);
});

Deno.test("vde_switch's options: a value in the next argument stays as typed, even one spelt like a long name", () => {
  const kept = ["switch", "-M", "-mgmt", "-f", "-rc", "--sock", "-hub", "-p", "-daemon", "-xs", "-tap"];
  assert.deepEqual(toLongOptions(kept), kept);
  // A value attached (-sD: sock D), a flag, an optional value: the next argument is an option, rewritten.
  assert.deepEqual(toLongOptions(["switch", "-sD", "-tap", "t0"]), ["switch", "-sD", "--tap", "t0"]);
  assert.deepEqual(toLongOptions(["switch", "-d", "-hub", "--slirp", "-daemon"]), [
    "switch",
    "-d",
    "--hub",
    "--slirp",
    "--daemon",
  ]);
});

Deno.test("vde switch --slirp=OPTIONS (the = form) takes every option; a refused slirp/forward says why on stderr", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "vde-args-" });
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  const sw = await startOurSwitch(`${tmp}/net`, {
    extraArgs: [`--slirp=tcpfwd=${port}:10.0.2.15:80/mtu=1400`],
  });
  try {
    const r = await run(
      [...ourCli(), "term", `${tmp}/net`, "-c", "slirp/forward list", "-c", "slirp/print"],
      {
        timeoutMs: 30_000,
      },
    );
    assert.match(r.stdout, new RegExp(`^tcp:0\\.0\\.0\\.0:${port}:10\\.0\\.2\\.15:80$`, "m"));
    assert.match(r.stdout, /mtu 1400/);
    // A refused forward says why on stderr, nothing on stdout.
    const bad = await run([...ourCli(), "term", `${tmp}/net`, "-c", "slirp/forward add tcp:80"], {
      check: false,
      timeoutMs: 30_000,
    });
    assert.equal(bad.code, 1);
    assert.equal(bad.stdout, "");
    assert.equal(
      bad.stderr,
      'vde: slirp/forward add tcp:80: forward "tcp:80" must be tcp:[HOSTIP:]HOSTPORT:[GUESTIP:]GUESTPORT (IPv6 addresses in brackets)\n',
    );
  } finally {
    await sw.stop();
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("vde switch DIR (the directory without --sock) says to write --sock DIR and starts nothing; vde switch help points to --help", async () => {
  const dir = `/tmp/vde-stray-arg-${Deno.pid}`;
  const r = await run([...ourCli(), "switch", dir], { check: false, timeoutMs: 30_000 });
  assert.equal(r.code, 1);
  assert.equal(
    r.stderr,
    `vde: vde switch takes no arguments; the socket directory is --sock: \`vde switch --sock ${dir}\`\n`,
  );
  await assert.rejects(Deno.stat(dir), Deno.errors.NotFound);
  const help = await run([...ourCli(), "switch", "help"], { check: false, timeoutMs: 30_000 });
  assert.equal(help.stderr, "vde: vde switch takes no arguments: `vde switch --help` shows its options\n");
});

Deno.test("vde switch --hub --stp (vde_switch's -x -F) says the two exclude each other and starts nothing", async () => {
  const dir = `/tmp/vde-hub-stp-${Deno.pid}`;
  for (const args of [["--hub", "--stp"], ["-x", "-F"]]) {
    const r = await run([...ourCli(), "switch", "--sock", dir, ...args], { check: false, timeoutMs: 30_000 });
    assert.equal(r.code, 1);
    assert.equal(
      r.stderr,
      "vde: --hub and --stp exclude each other: a hub has no spanning tree (vde_switch: Can't use fstp in hub mode)\n",
    );
    await assert.rejects(Deno.stat(dir), Deno.errors.NotFound);
  }
});

Deno.test("vde_switch's --macaddr, --hashsize, -D and -v are taken: the MAC and hash size show in the console; a bad value is one line", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "vde-args-" });
  const sw = await startOurSwitch(`${tmp}/net`, {
    extraArgs: ["-macaddr", "2:0:0:0:0:a", "-hashsize", "1000", "-D", "2"],
  });
  try {
    const r = await run([...ourCli(), "term", `${tmp}/net`, "-c", "showinfo", "-c", "hash/showinfo"], {
      timeoutMs: 30_000,
    });
    assert.match(r.stdout, /MAC 02:00:00:00:00:0a /);
    assert.match(r.stdout, /^Hash size 1024$/m, "rounded up to a power of two, as hash/setsize does");
  } finally {
    await sw.stop();
    await Deno.remove(tmp, { recursive: true });
  }
  const version = await run([...ourCli(), "switch", "-v"], { timeoutMs: 30_000 });
  assert.match(version.stdout, /^vde \d+\.\d+\.\d+\n$/);
  const dir = `/tmp/vde-bad-macaddr-${Deno.pid}`;
  for (
    const [args, said] of [
      [["--macaddr", "zz"], 'vde: --macaddr: Expected a MAC such as 02:00:00:00:00:01, found "zz"\n'],
      [["--hashsize", "0"], 'vde: --hashsize must be from 1 to 1048576, got "0"\n'],
      [["-D", "x"], 'vde: --debugclients must be a whole number, got "x"\n'],
    ] as const
  ) {
    const bad = await run([...ourCli(), "switch", "--sock", dir, ...args], {
      check: false,
      timeoutMs: 30_000,
    });
    assert.equal(bad.code, 1);
    assert.equal(bad.stderr, said);
    await assert.rejects(Deno.stat(dir), Deno.errors.NotFound);
  }
});

Deno.test("vdeSwitchDefaultRc finds vde_switch's default script, ~/.vde2/vde_switch.rc before /etc/vde2/vde_switch.rc", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "vde-default-rc-" });
  try {
    const home = `${tmp}/home`;
    const etc = `${tmp}/etc`;
    await Deno.mkdir(`${home}/.vde2`, { recursive: true });
    await Deno.mkdir(etc);
    assert.equal(vdeSwitchDefaultRc(home, etc), undefined);
    await Deno.writeTextFile(`${etc}/vde_switch.rc`, "hash/setexpire 60\n");
    assert.equal(vdeSwitchDefaultRc(home, etc), `${etc}/vde_switch.rc`);
    assert.equal(vdeSwitchDefaultRc(undefined, etc), `${etc}/vde_switch.rc`);
    await Deno.writeTextFile(`${home}/.vde2/vde_switch.rc`, "vlan/create 33\n");
    assert.equal(vdeSwitchDefaultRc(home, etc), `${home}/.vde2/vde_switch.rc`);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("a switch without --rc names the ~/.vde2/vde_switch.rc that Debian's vde_switch runs and it does not", async (t) => {
  if (await skipWithout(t, { vde_switch: "vde-switch" })) return;
  const tmp = await Deno.makeTempDir({ prefix: "vde-default-rc-" });
  const env = { HOME: `${tmp}/home` };
  const rc = `${tmp}/home/.vde2/vde_switch.rc`;
  try {
    await Deno.mkdir(`${tmp}/home/.vde2`, { recursive: true });
    await Deno.writeTextFile(rc, "vlan/create 33\n");
    // Debian's runs it: VLAN 33 is there.
    await run(["vde_switch", "-d", "-s", `${tmp}/c`, "-M", `${tmp}/c.mgmt`, "-p", `${tmp}/c.pid`], { env });
    try {
      await waitForPath(`${tmp}/c.mgmt`, 5000, true);
      const c = await MgmtClient.connect(`${tmp}/c.mgmt`);
      try {
        assert.deepEqual((await c.command("vlan/print")).lines, ["VLAN 0000", "VLAN 0033"]);
      } finally {
        c.close();
      }
    } finally {
      await waitForPath(`${tmp}/c.pid`, 5000);
      Deno.kill(Number(await Deno.readTextFile(`${tmp}/c.pid`)), "SIGTERM");
    }
    // Ours does not, and says so in the lines its start prints.
    const ours = await run([...ourCli(), "switch", "-d", "-s", `${tmp}/ours`], { env, timeoutMs: 30_000 });
    try {
      assert.match(
        ours.stderr,
        new RegExp(
          `^vde switch: ${rc}, vde_switch's default startup script, is not run: give it with --rc ${rc}\n`,
        ),
      );
    } finally {
      await run([...ourCli(), "term", `${tmp}/ours`, "-c", "shutdown"], { timeoutMs: 30_000 });
    }
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("each getopt_long_only rewriter knows which of its command's options take a value: the argument after one is kept, after any other rewritten", async () => {
  const { buildProgram } = await import("../../src/cli/main.ts");
  const { switchCommand } = await import("../../src/cli/switch.ts");
  const { slirpCommand } = await import("../../src/cli/slirp.ts");
  const { wirefilterCommand } = await import("../../src/cli/wirefilter.ts");
  const { toSlirpLongOptions } = await import("../../src/cli/slirpvde_flags.ts");
  const { toWirefilterLongOptions } = await import("../../src/cli/wirefilter_args.ts");
  const rewriters = { switch: toLongOptions, slirp: toSlirpLongOptions, wirefilter: toWirefilterLongOptions };
  const program = buildProgram([switchCommand, slirpCommand, wirefilterCommand]);
  for (const [name, rewrite] of Object.entries(rewriters)) {
    const command = program.commands.find((c) => c.name() === name)!;
    for (const option of command.options) {
      for (const spelling of [option.short, option.long]) {
        if (spelling === undefined || spelling.startsWith("--no-")) continue;
        // -daemon is every one of these commands' long option, so it is rewritten wherever it is one.
        const next = rewrite([name, spelling, "-daemon"])[2];
        assert.equal(next, option.required ? "-daemon" : "--daemon", `vde ${name} ${spelling} -daemon`);
      }
    }
  }
});
