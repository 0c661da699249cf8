import assert from "node:assert/strict";
import { vde2ToolHint } from "../../src/cli/vde2_tools.ts";
import { vde } from "../lab/_helpers.ts";
import { run, skipWithout } from "../helpers/processes.ts";

Deno.test("vde vde_switch with vde_switch's flags is answered with vde switch and the same flags, in one line", async () => {
  const got = await vde([
    "vde_switch",
    "-d",
    "-s",
    "/tmp/sw",
    "-M",
    "/tmp/sw.mgmt",
    "-m",
    "660",
    "-g",
    "kvm",
    "-x",
  ]);
  assert.equal(got.code, 1);
  assert.equal(
    got.stderr.split("\n")[0],
    "vde: unknown command 'vde_switch' (vde2's vde_switch is `vde switch` here, with its options: " +
      "`vde switch -d -s /tmp/sw -M /tmp/sw.mgmt -m 660 -g kvm -x`)",
  );
});

Deno.test("vde vde_switch -x -F is answered without the -F, as vde_switch starts that hub with spanning tree off", () => {
  for (const [hub, stp] of [["-x", "-F"], ["--hub", "--fstp"], ["-hub", "-fstp"]]) {
    const hint = vde2ToolHint("vde_switch", ["-s", "/tmp/sw", "-d", hub!, stp!, "-n", "64"]) ?? "";
    assert.match(hint, new RegExp(`\`vde switch -s /tmp/sw -d ${hub} -n 64\``), hint);
    assert.match(hint, /-F dropped: vde_switch runs that hub with spanning tree off/);
  }
  assert.match(vde2ToolHint("vde_switch", ["-F", "-s", "/tmp/sw"]) ?? "", /`vde switch -F -s \/tmp\/sw`\)?$/);
});

Deno.test("vde2's programs whose arguments take another shape here are answered with the line rebuilt from them", () => {
  assert.match(
    vde2ToolHint("vde_plug2tap", ["-d", "-s", "/tmp/sw", "tap0"])!,
    /`vde plug -d \/tmp\/sw tap:\/\/tap0`/,
    "vde_plug2tap's -d is vde plug's",
  );
  assert.match(
    vde2ToolHint("vde_plug2tap", ["--sock=/tmp/sw", "-p", "3", "-m", "660", "tap0"])!,
    /`vde plug '\/tmp\/sw\[port=3\/mode=660\]' tap:\/\/tap0`/,
  );
  assert.match(
    vde2ToolHint("vde_plug2tap", ["-d", "-P", "/run/t0.pid", "--mod=660", "-s", "/tmp/sw", "tap0"])!,
    /`vde plug -d -p \/run\/t0\.pid '\/tmp\/sw\[mode=660\]' tap:\/\/tap0`/,
    "vde_plug2tap's -P is the pid file (vde plug's -p), its --mod the mode; the tap stays the last word",
  );
  assert.match(
    vde2ToolHint("vde_plug2tap", ["tap0"])!,
    /`vde plug vde:\/\/ tap:\/\/tap0`/,
    "the default switch",
  );
  assert.match(vde2ToolHint("vde_tunctl", ["-u", "alice", "-t", "tap1"])!, /`vde tap create tap1 -u alice`/);
  assert.match(vde2ToolHint("vde_tunctl", ["-d", "tap1"])!, /`vde tap delete tap1`/);
  assert.match(vde2ToolHint("unixterm", ["/tmp/sw.mgmt"])!, /`vde term \/tmp\/sw\.mgmt`/);
  assert.match(vde2ToolHint("vdeterm", ["/tmp/sw.mgmt"])!, /`vde term \/tmp\/sw\.mgmt`/);
  assert.match(
    vde2ToolHint("unixcmd", ["-s", "/tmp/sw.mgmt", "-f", "/etc/vde2/vdecmd", "port/print", "1"])!,
    /`vde term \/tmp\/sw\.mgmt -c 'port\/print 1'`/,
  );
  assert.match(
    vde2ToolHint("vde_plug", ["/tmp/a", "=", "ssh", "host", "vde_plug", "/tmp/b"])!,
    /`vde plug \/tmp\/a = ssh host vde_plug \/tmp\/b`/,
  );
  assert.match(
    vde2ToolHint("slirpvde", ["-d", "-s", "/tmp/sw", "-dhcp"])!,
    /`vde slirp -d -s \/tmp\/sw -dhcp`/,
  );
  assert.match(vde2ToolHint("vde_cryptcab", [])!, /`vde cable listen PORT --sock DIR --key FILE`/);
  assert.match(vde2ToolHint("vdeq", [])!, /-netdev vde,id=n0,sock=DIR/);
  assert.equal(
    vde2ToolHint("vdeq", [
      "qemu",
      "--mod",
      "660",
      "-hda",
      "d.img",
      "-net",
      "nic",
      "-net",
      "vde,sock=/tmp/sw",
    ]),
    "vde2's vdeq is QEMU's own VDE support here: `qemu -hda d.img -net nic -net vde,sock=/tmp/sw`",
    "vdeq's --mod dropped, QEMU's -net vde as typed",
  );
  assert.equal(
    vde2ToolHint("vdekvm", ["-sock", "/tmp/sw", "-hda", "d.img"]),
    "vde2's vdekvm is QEMU's own VDE support here: " +
      "`kvm -netdev vde,id=n0,sock=/tmp/sw -device virtio-net,netdev=n0 -hda d.img`",
    "vdeq's old -sock as QEMU's -netdev",
  );
  assert.equal(
    vde2ToolHint("vdeqemu", ["-sock", "/tmp/vde.ctl,/tmp/my.ctl", "-hda", "d.img"]),
    "vde2's vdeqemu is QEMU's own VDE support here: `qemu-system-x86_64 " +
      "-netdev vde,id=n0,sock=/tmp/vde.ctl -device virtio-net,netdev=n0 " +
      "-netdev vde,id=n1,sock=/tmp/my.ctl -device virtio-net,netdev=n1 -hda d.img`",
    "vdeq's old -sock A,B (its man page's example): an interface on each, not one -netdev of sock=A,/B",
  );
  assert.equal(
    vde2ToolHint("vdeqemu", ["-hda", "d.img", "-sock"], false),
    "vde2's vdeqemu is QEMU's own VDE support here: " +
      "`qemu-system-x86_64 -hda d.img -netdev vde,id=n0 -device virtio-net,netdev=n0`",
    "a -sock with no PATH is no QEMU option to keep",
  );
  assert.equal(
    vde2ToolHint("vdeqemu", ["-sock", "-hda", "d.img"], false),
    "vde2's vdeqemu is QEMU's own VDE support here: " +
      "`qemu-system-x86_64 -hda d.img -netdev vde,id=n0 -device virtio-net,netdev=n0`" +
      "; -sock had no PATH before -hda, which vdeq takes for the switch",
    "an option after -sock is no PATH: kept with its value, the default switch's interface, said why",
  );
  assert.equal(
    vde2ToolHint("vdeqemu", ["-hda", "d.img"], false),
    "vde2's vdeqemu is QEMU's own VDE support here: " +
      "`qemu-system-x86_64 -hda d.img -netdev vde,id=n0 -device virtio-net,netdev=n0`",
    "no VDE interface: one on the default switch, as vdeq gave",
  );
  assert.equal(vde2ToolHint("constructor", []), undefined, "no Object member");
});

Deno.test("vdeq's answer to root names root's switch: an unnamed -netdev vde would join whichever user made /tmp/vde.ctl first", () => {
  assert.equal(
    vde2ToolHint("vdeqemu", ["-hda", "d.img"], true),
    "vde2's vdeqemu is QEMU's own VDE support here: " +
      "`qemu-system-x86_64 -hda d.img -netdev vde,id=n0,sock=/var/run/vde.ctl -device virtio-net,netdev=n0`" +
      "; the switch is named: unnamed, root's QEMU would join whichever user made /tmp/vde.ctl first",
  );
  // A switch named is root's choice: left as typed.
  assert.equal(
    vde2ToolHint("vdeq", ["qemu", "-sock", "/tmp/vde.ctl"], true),
    "vde2's vdeq is QEMU's own VDE support here: " +
      "`qemu -netdev vde,id=n0,sock=/tmp/vde.ctl -device virtio-net,netdev=n0`",
  );
});

Deno.test("every program Debian's vde2 packages install is a vde command or answered with what to type", async (t) => {
  if (await skipWithout(t, { vde_switch: "vde-switch", vde_plug2tap: "vde2", vde_plug: "vdeplug" })) return;
  const listed = await run(["dpkg", "-L", "vde2", "vde-switch", "vdeplug", "vde-wirefilter"], {
    check: false,
  });
  const programs = listed.stdout.split("\n").filter((p) => /^\/usr\/s?bin\/[^/]+$/.test(p))
    .map((p) => p.slice(p.lastIndexOf("/") + 1));
  for (const expected of ["vde_switch", "vde_plug", "vde_plug2tap", "unixterm", "vde_tunctl", "slirpvde"]) {
    assert.ok(programs.includes(expected), `dpkg -L lists ${expected}`);
  }
  const ours = ["dpipe", "wirefilter"];
  for (const program of programs) {
    if (ours.includes(program)) continue;
    assert.match(vde2ToolHint(program, []) ?? "", /`vde |QEMU|vde has no/, program);
  }
});

Deno.test("a vde2 program's answer closes no parenthesis of its own at the end, as `vde` puts it in parentheses", () => {
  const programs = [
    "vde_switch",
    "vde_plug",
    "slirpvde",
    "vde_plug2tap",
    "vde_tunctl",
    "unixterm",
    "vdeterm",
    "unixcmd",
    "vde_cryptcab",
    "vdeq",
    "vdeqemu",
    "vdekvm",
    "vde_pcapplug",
    "vde_autolink",
    "vde_over_ns",
    "vde_l3",
    "vde_router",
    "vde_vxlan",
    "kvde_switch",
    "vdetaplib",
  ];
  for (const program of programs) {
    for (const args of [[], ["/tmp/sw"], ["qemu", "-sock", "-hda", "d.img"]]) {
      const answer = vde2ToolHint(program, args);
      assert.ok(answer !== undefined, program);
      assert.doesNotMatch(answer, /\)$/, `${program} ${args.join(" ")}`);
    }
  }
});

Deno.test("vde2's programs Debian does not build (vde_router, vde_vxlan, kvde_switch, vdetaplib) get a hint too, vde_vxlan's line rebuilt from its options", () => {
  assert.equal(
    vde2ToolHint("vde_vxlan", [
      "-s",
      "/tmp/sw",
      "-p",
      "3",
      "-I",
      "42",
      "-A",
      "239.1.2.3",
      "-P",
      "4790",
      "-T",
      "2",
      "-d",
    ]),
    "vde2's vde_vxlan is a plug between the switch and a VXLAN here: " +
      "`vde plug -d '/tmp/sw[port=3]' vxlan://239.1.2.3/vni=42/port=4790/ttl=2`",
  );
  assert.equal(
    vde2ToolHint("vde_vxlan", ["--sock=/tmp/sw", "--vxlan-id", "7", "--vxlan-addr", "239.0.0.9"]),
    "vde2's vde_vxlan is a plug between the switch and a VXLAN here: `vde plug /tmp/sw vxlan://239.0.0.9/vni=7`",
  );
  assert.match(vde2ToolHint("kvde_switch", ["-s", "/tmp/k", "-d"]) ?? "", /`vde switch -s \/tmp\/k`/);
  assert.match(vde2ToolHint("vde_router", []) ?? "", /^vde has no vde_router: a network namespace routes/);
  assert.match(vde2ToolHint("vdetaplib", []) ?? "", /^vde has no vdetaplib: .*`vde switch --tap NAME`/);
});
