/** listTaps reads a tap's mode, owner, group, lifetime and holders where `ip tuntap list` does. */
import assert from "node:assert/strict";
import { busyTapMessage, listTaps, sysfsIsOurs, tapsFromIpLinks } from "../../src/os/taps.ts";
import { hasCommand, run, skipUnless, skipUnlessRoot } from "../helpers/processes.ts";
import { VDE_CLI } from "../helpers/switches.ts";

Deno.test("listTaps lists taps (not tuns or other interfaces) with owner, group, lifetime, state and holders", async () => {
  const root = await Deno.makeTempDir({ prefix: `vde-taps-${Deno.pid}-` });
  try {
    const iface = async (name: string, files: Record<string, string>) => {
      await Deno.mkdir(`${root}/sys/${name}`, { recursive: true });
      for (const [f, v] of Object.entries(files)) {
        await Deno.writeTextFile(`${root}/sys/${name}/${f}`, `${v}\n`);
      }
    };
    // A persistent tap of uid 65534, down; a tap vde opened (not persistent), up; a tun; a veth.
    await iface("tap0", { tun_flags: "0x1802", owner: "65534", group: "-1", flags: "0x1002" });
    await iface("t1", { tun_flags: "0x1002", owner: "-1", group: "0", flags: "0x1003" });
    await iface("tun0", { tun_flags: "0x1001", owner: "-1", group: "-1", flags: "0x1003" });
    await iface("veth0", { flags: "0x1003" });
    // Process 42 holds t1 on fd 5 (and /dev/null on fd 0); process 43 holds a tun fd not yet attached.
    const proc = `${root}/proc`;
    for (const pid of ["42", "43"]) {
      await Deno.mkdir(`${proc}/${pid}/fd`, { recursive: true });
      await Deno.mkdir(`${proc}/${pid}/fdinfo`, { recursive: true });
    }
    await Deno.writeTextFile(`${proc}/42/comm`, "vde\n");
    await Deno.symlink("/dev/net/tun", `${proc}/42/fd/5`);
    await Deno.writeTextFile(`${proc}/42/fdinfo/5`, "pos:\t0\nflags:\t02004002\nmnt_id:\t25\niff:\tt1\n");
    await Deno.symlink("/dev/null", `${proc}/42/fd/0`);
    await Deno.writeTextFile(`${proc}/42/fdinfo/0`, "pos:\t0\n");
    await Deno.symlink("/dev/net/tun", `${proc}/43/fd/3`);
    await Deno.writeTextFile(`${proc}/43/fdinfo/3`, "pos:\t0\nflags:\t02004002\n");

    assert.deepEqual(listTaps(`${root}/sys`, proc), [
      {
        name: "t1",
        owner: null,
        group: 0,
        persistent: false,
        up: true,
        holders: [{ pid: 42, command: "vde" }],
      },
      { name: "tap0", owner: 65534, group: null, persistent: true, up: false, holders: [] },
    ]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("listTaps of a directory that is not there is empty", () => {
  assert.deepEqual(listTaps("/nonexistent-vde-sysfs", "/nonexistent-vde-proc"), []);
});

Deno.test("a tap's holder run by Deno (from source, or the bundle installed as vde) is named as the vde command it is, not as deno", async () => {
  const root = await Deno.makeTempDir({ prefix: `vde-taps-${Deno.pid}-` });
  try {
    await Deno.mkdir(`${root}/sys/t2`, { recursive: true });
    await Deno.writeTextFile(`${root}/sys/t2/tun_flags`, "0x1002\n");
    const proc = `${root}/proc`;
    const holds = async (pid: number, comm: string, args: string[]) => {
      await Deno.mkdir(`${proc}/${pid}/fd`, { recursive: true });
      await Deno.mkdir(`${proc}/${pid}/fdinfo`, { recursive: true });
      await Deno.writeTextFile(`${proc}/${pid}/comm`, `${comm}\n`);
      await Deno.writeTextFile(`${proc}/${pid}/cmdline`, `${args.join("\0")}\0`);
      await Deno.symlink("/dev/net/tun", `${proc}/${pid}/fd/5`);
      await Deno.writeTextFile(`${proc}/${pid}/fdinfo/5`, "pos:\t0\niff:\tt2\n");
    };
    await holds(42, "deno", [
      "deno",
      "run",
      "-A",
      "--quiet",
      "/home/a/vde/src/cli/vde.ts",
      "plug",
      "/tmp/net",
      "tap://t2",
    ]);
    await holds(43, "vde", ["/usr/local/bin/vde", "switch", "-s", "/tmp/net", "--tap", "t2"]);
    await holds(44, "qemu-system-x86", ["qemu-system-x86_64", "-netdev", "tap,id=n0,ifname=t2"]);
    // The bundle installed as a command: its #! line runs it as deno run -A --v8-flags=... --quiet PATH.
    await holds(45, "deno", [
      "deno",
      "run",
      "-A",
      "--v8-flags=--no-maglev",
      "--quiet",
      "/usr/local/bin/vde",
      "up",
      "-d",
    ]);
    // A test run of a directory named vde is Deno's, not a vde command.
    await holds(46, "deno", ["deno", "test", "-A", "test/vde", "test/link"]);
    const [t2] = listTaps(`${root}/sys`, proc);
    assert.deepEqual(t2!.holders.map((h) => h.command).sort(), [
      "deno",
      "qemu-system-x86",
      "vde plug",
      "vde switch",
      "vde up",
    ]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("a tap's holders are the ones in this namespace; another namespace's tap of the same name is not its holder", async () => {
  const root = await Deno.makeTempDir({ prefix: `vde-taps-ns-${Deno.pid}-` });
  try {
    for (const name of ["eth0", "t9"]) {
      await Deno.mkdir(`${root}/sys/${name}`, { recursive: true });
      await Deno.writeTextFile(`${root}/sys/${name}/tun_flags`, "0x1002\n");
    }
    const proc = `${root}/proc`;
    await Deno.mkdir(`${proc}/self/ns`, { recursive: true });
    await Deno.symlink("net:[1]", `${proc}/self/ns/net`);
    // 42 holds this namespace's eth0; 43 holds another namespace's eth0; 44, elsewhere, holds t9, which
    // nobody here holds (a tap moved into this namespace after it was opened, as a lab's are).
    for (const [pid, ns, iface] of [[42, 1, "eth0"], [43, 2, "eth0"], [44, 2, "t9"]] as const) {
      await Deno.mkdir(`${proc}/${pid}/fd`, { recursive: true });
      await Deno.mkdir(`${proc}/${pid}/fdinfo`, { recursive: true });
      await Deno.mkdir(`${proc}/${pid}/ns`, { recursive: true });
      await Deno.symlink(`net:[${ns}]`, `${proc}/${pid}/ns/net`);
      await Deno.writeTextFile(`${proc}/${pid}/comm`, "vde\n");
      await Deno.symlink("/dev/net/tun", `${proc}/${pid}/fd/5`);
      await Deno.writeTextFile(`${proc}/${pid}/fdinfo/5`, `iff:\t${iface}\n`);
    }
    const taps = listTaps(`${root}/sys`, proc);
    assert.deepEqual(taps.map((t) => [t.name, t.holders.map((h) => h.pid)]), [["eth0", [42]], ["t9", [44]]]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("sysfs is this namespace's only when it names the interfaces /proc/self/net/dev does (a file such as bonding_masters is none)", async () => {
  const root = await Deno.makeTempDir({ prefix: `vde-taps-ns-${Deno.pid}-` });
  try {
    await Deno.mkdir(`${root}/sys/lo`, { recursive: true });
    await Deno.mkdir(`${root}/sys/eth0`);
    await Deno.writeTextFile(`${root}/sys/bonding_masters`, "\n");
    const netDev = (names: string[]) =>
      "Inter-|   Receive\n face |bytes    packets\n" + names.map((n) => `${n.padStart(6)}: 0 0 0\n`).join("");
    await Deno.writeTextFile(`${root}/dev-same`, netDev(["eth0", "lo"]));
    await Deno.writeTextFile(`${root}/dev-own`, netDev(["lo", "r14t0"]));
    await Deno.writeTextFile(`${root}/dev-lo`, netDev(["lo"]));
    assert.equal(sysfsIsOurs(`${root}/sys`, `${root}/dev-same`), true);
    // unshare --net: the namespace has lo and a tap of its own; the machine's sysfs eth0 and lo.
    assert.equal(sysfsIsOurs(`${root}/sys`, `${root}/dev-own`), false);
    assert.equal(sysfsIsOurs(`${root}/sys`, `${root}/dev-lo`), false);
    // Unreadable either way: sysfs is taken as it is.
    assert.equal(sysfsIsOurs(`${root}/sys`, `${root}/no-such-file`), true);
    assert.equal(sysfsIsOurs(`${root}/no-sys`, `${root}/dev-own`), true);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("the taps of ip -json -details link show: owner and group by name or number, persistence, state; tuns left out", () => {
  const links = [
    { ifname: "lo", flags: ["LOOPBACK", "UP"] },
    {
      ifname: "tap1",
      flags: ["BROADCAST", "UP"],
      linkinfo: { info_kind: "tun", info_data: { type: "tap", persist: true, user: "root", group: "0" } },
    },
    {
      ifname: "tap0",
      flags: ["BROADCAST"],
      linkinfo: { info_kind: "tun", info_data: { type: "tap", persist: false, user: "4242" } },
    },
    {
      ifname: "tun0",
      flags: ["UP"],
      linkinfo: { info_kind: "tun", info_data: { type: "tun", persist: true } },
    },
    { ifname: "v0", linkinfo: { info_kind: "veth" } },
    { linkinfo: { info_kind: "tun", info_data: { type: "tap" } } },
  ];
  assert.deepEqual(tapsFromIpLinks(JSON.stringify(links)), [
    { name: "tap0", owner: 4242, group: null, persistent: false, up: false },
    { name: "tap1", owner: 0, group: 0, persistent: true, up: true },
  ]);
  assert.deepEqual(tapsFromIpLinks("not json"), []);
  assert.deepEqual(tapsFromIpLinks('{"ifname": "x"}'), []);
  assert.deepEqual(tapsFromIpLinks("[null, 3]"), []);
});

Deno.test("vde tap list in a network namespace of its own (unshare --net keeps the machine's /sys) lists that namespace's taps", async (t) => {
  if (skipUnlessRoot(t)) return;
  if (skipUnless(t, (await hasCommand("unshare")) ? null : "util-linux's unshare is not installed")) return;
  const name = `r14t${Deno.pid % 100000}`;
  const vde = VDE_CLI.join(" ");
  // One process: the namespace and its tap go with it.
  const r = await run([
    "unshare",
    "--net",
    "sh",
    "-c",
    `ip tuntap add ${name} mode tap user nobody && ${vde} tap list`,
  ], { check: false });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`^${name} +nobody +- +persistent +down +-$`, "m"));
  assert.doesNotMatch(r.stdout, /^(eth0|lo) /m);
});

Deno.test("a tap QEMU holds is busy as the VM's end of it: the error says to join it by a bridge or give QEMU -netdev vde", () => {
  assert.equal(
    busyTapMessage("vnet0", [{ pid: 4250, command: "qemu-system-x86" }]),
    "tap vnet0 is busy: held by 4250 (qemu-system-x86), the VM's end of it: join it to the switch by a bridge " +
      "(ip link add br0 up type bridge; ip link set vnet0 master br0 up; vde plug DIR tap://vde0 & then " +
      "ip link set vde0 master br0 up), or give QEMU -netdev vde,id=n0,sock=DIR",
  );
  assert.equal(
    busyTapMessage("t0", [{ pid: 4242, command: "vde plug" }]),
    "tap t0 is busy: held by 4242 (vde plug)",
  );
});

Deno.test("a holder's command name with a newline or a terminal escape (any process names itself) is said printable", () => {
  assert.equal(
    busyTapMessage("t0", [{ pid: 4242, command: "x\nvde: forged\x1b[2J" }]),
    "tap t0 is busy: held by 4242 (x?vde: forged?[2J)",
  );
});
