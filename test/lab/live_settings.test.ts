/**
 * `apply` of a node's settings on a running lab, seen in the running
 * processes: a switch's hub, ports, spanning tree, snooping and VLANs in
 * its console's answers; a host's address, mtu, routes and gateway in `ip`
 * in its namespace; a slirp's forward reachable from this machine and gone
 * again. A change whose second step is refused undoes its first, and says
 * so; `diff` names each change in a line, `vde status` and `save` show the
 * new settings.
 */
import assert from "node:assert/strict";
import { run, skipUnlessRoot } from "../helpers/processes.ts";
import type { LabRunner } from "../../src/lab/runner.ts";
import { inHost, pingCount, TWO_HOSTS, vde, withLabInProcess, withLabUp } from "./_helpers.ts";

const SWITCHES = `name: x
topology:
  nodes:
    sw1: { kind: switch, ports: 4, vlans: [30] }
    sw2: { kind: switch, ports: 4 }
  links:
    - endpoints: [sw1, sw2]
`;

Deno.test("apply changes a running switch's ports, hub, spanning tree, snooping and VLANs through its console, and diff names them first", async () => {
  await withLabInProcess(SWITCHES, async (_r, line, file) => {
    const text = await Deno.readTextFile(file);
    const hub = text.replace(
      "sw1: { kind: switch, ports: 4, vlans: [30] }",
      "sw1: { kind: switch, ports: 8, hub: true, vlans: [40], mcast_snooping: true, mcast_querier: true }",
    );
    await Deno.writeTextFile(file, hub);
    const change =
      "switch sw1: ports 4 -> 8, hub off -> on, mcast_snooping off -> on, mcast_querier off -> on, " +
      "vlans 30 -> 40";
    assert.equal(await line("diff"), `0 ${change}`);
    assert.equal(await line("apply"), `0 ${change}\n`);
    assert.equal(await line("sw1 port/showinfo"), "0 Numports=8\nHUB=true\ncounters=true");
    assert.equal(await line("sw1 vlan/print 30"), "6 ", "VLAN 30 removed");
    assert.match(await line("sw1 vlan/print 40"), /^0 VLAN 0040/);
    assert.match(await line("sw1 mcast/print"), /querier/i);
    assert.match(await line("nodes"), /^sw1 +switch +8 ports \(1 in use\), hub,/m);
    // Said in the file's order, made in one that works: hub off before spanning tree on (a hub has none),
    // the querier off before snooping.
    await Deno.writeTextFile(
      file,
      text.replace("ports: 4, vlans: [30] }", "ports: 8, stp: true, vlans: [30] }"),
    );
    assert.equal(
      await line("apply"),
      "0 switch sw1: stp off -> on, vlans 40 -> 30, hub on -> off, mcast_snooping on -> off, mcast_querier on -> off\n",
    );
    assert.match(await line("sw1 fstp/showinfo"), /FSTP=true/);
    assert.equal(await line("sw1 port/showinfo"), "0 Numports=8\nHUB=false\ncounters=true");
    assert.equal(await line("diff"), "0 ");
  });
});

Deno.test("apply sets a running switch's snooping knobs through mcast/query_interval and the like, and back to the bridge's default when the file drops one", async () => {
  const text = SWITCHES.replace(
    "sw2: { kind: switch, ports: 4 }",
    "sw2: { kind: switch, ports: 4, mcast_snooping: true }",
  );
  await withLabInProcess(text, async (_r, line, file) => {
    const start = await Deno.readTextFile(file);
    await Deno.writeTextFile(
      file,
      start.replace(
        "mcast_snooping: true }",
        "mcast_snooping: true, mcast_query_interval: 500, mcast_hash_max: 64 }",
      ),
    );
    const change = "switch sw2: mcast_hash_max 4096 -> 64, mcast_query_interval 12500 -> 500";
    assert.equal(await line("diff"), `0 ${change}`);
    assert.equal(await line("apply"), `0 ${change}\n`);
    assert.match(await line("sw2 mcast/print"), /\nmcast_hash_max 64 .* mcast_query_interval 500 /);
    await Deno.writeTextFile(file, start);
    assert.equal(
      await line("apply"),
      "0 switch sw2: mcast_hash_max 64 -> 4096, mcast_query_interval 500 -> 12500\n",
    );
    assert.match(await line("sw2 mcast/print"), /\nmcast_hash_max 4096 .* mcast_query_interval 12500 /);
    // Snooping turned on with a knob: the fresh machine takes it.
    await Deno.writeTextFile(
      file,
      start.replace(
        "ports: 4, vlans: [30] }",
        "ports: 4, vlans: [30], mcast_snooping: true, mcast_querier_interval: 800 }",
      ),
    );
    assert.equal(
      await line("apply"),
      "0 switch sw1: mcast_snooping off -> on, mcast_querier_interval 25500 -> 800\n",
    );
    assert.match(await line("sw1 mcast/print"), / mcast_querier_interval 800 /);
    assert.equal(await line("diff"), "0 ");
  });
});

Deno.test("apply sets a running switch's spanning tree priority through stp/setprio, and back to the default when the file drops it", async () => {
  const text = SWITCHES.replace(
    "sw2: { kind: switch, ports: 4 }",
    "sw2: { kind: switch, ports: 4, stp: true }",
  );
  await withLabInProcess(text, async (_r, line, file) => {
    const start = await Deno.readTextFile(file);
    const prio = start.replace("ports: 4, stp: true }", "ports: 4, stp: true, priority: 4096 }");
    await Deno.writeTextFile(file, prio);
    assert.equal(await line("apply"), "0 switch sw2: priority 32768 -> 4096\n");
    assert.match(await line("sw2 stp"), /^0 bridge id +1000\./);
    assert.match(await line("nodes"), /^sw2 +switch +4 ports \(1 in use\), stp, priority 4096,/m);
    await Deno.writeTextFile(file, start);
    assert.equal(await line("apply"), "0 switch sw2: priority 4096 -> 32768\n");
    assert.match(await line("sw2 stp"), /^0 bridge id +8000\./);
    // The shell's add takes the same keys, a mode in the file's digits (a group of this user's: any may).
    const gid = Deno.gid();
    assert.equal(
      await line(`add switch sw3 stp priority 4096 mode 660 group ${gid}`),
      "0 added switch sw3\n",
    );
    assert.match(
      await line("nodes"),
      new RegExp(
        `^sw3 +switch +32 ports \\(0 in use\\), stp, priority 4096, sock \\S+ \\(mode 660, group ${gid}\\)$`,
        "m",
      ),
    );
  });
});

Deno.test("a switch's change refused halfway (a VLAN still on a port) undoes the steps before it: nothing was changed", async () => {
  await withLabInProcess(SWITCHES, async (_r, line, file) => {
    // Port 1 (the link to sw2) joined by hand at the console: vlan/remove refuses while it is a member.
    assert.equal(await line("sw1 vlan/addport 30 1"), "0 ");
    await Deno.writeTextFile(
      file,
      (await Deno.readTextFile(file)).replace("ports: 4, vlans: [30] }", "ports: 6, hub: true }"),
    );
    assert.equal(
      await line("apply"),
      "5 changing switch sw1 failed: sw1: vlan/remove 30: Address already in use; nothing was changed\n",
    );
    assert.equal(
      await line("sw1 port/showinfo"),
      "0 Numports=4\nHUB=false\ncounters=true",
      "ports and hub undone",
    );
    assert.match(await line("sw1 vlan/print 30"), /^0 VLAN 0030/);
    assert.match(await line("diff"), /^0 switch sw1: ports 4 -> 6, hub off -> on, vlans 30 -> none$/);
  });
});

Deno.test("a switch shrunk below a port its link keeps is refused up front, with the link named", async () => {
  await withLabInProcess(SWITCHES.replace("[sw1, sw2]", "['sw1:3', sw2]"), async (_r, line, file) => {
    await Deno.writeTextFile(
      file,
      (await Deno.readTextFile(file)).replace("ports: 4, vlans: [30] }", "ports: 2, hub: true, vlans: [30] }")
        .replace("['sw1:3', sw2]", "[sw1, sw2]"),
    );
    assert.match(
      await line("apply"),
      /^5 switch sw1: ports 4 -> 2, hub off -> on \(not live: link sw1:3-sw2:1 keeps port 3\)\nnothing was changed; /,
    );
    assert.equal(await line("sw1 port/showinfo"), "0 Numports=4\nHUB=false\ncounters=true");
  });
});

Deno.test("vde up --apply changes a running host's address, mtu, routes and gateway with ip in its namespace; status and save show them", async (t) => {
  if (skipUnlessRoot(t)) return;
  await withLabUp({ text: TWO_HOSTS }, async (name, file) => {
    const text = await Deno.readTextFile(file);
    await Deno.writeTextFile(
      file,
      text.replace(
        "h1: { kind: host, address: 10.9.0.1/24 }",
        "h1: { kind: host, address: 10.9.0.11/24, mtu: 1400, routes: ['10.77.0.0/16 via 10.9.0.2'], gateway: 10.9.0.2 }",
      ),
    );
    const lines = [
      "link h1:eth0-sw1:1: h1 address 10.9.0.1/24 -> 10.9.0.11/24",
      "host h1: gateway none -> 10.9.0.2, routes none -> 10.77.0.0/16 via 10.9.0.2, mtu none -> 1400",
    ];
    assert.equal((await vde(["term", name, "-c", "diff"])).stdout, lines.map((l) => `${l}\n`).join(""));
    const applied = await vde(["up", "--apply", file]);
    assert.equal(applied.stdout, lines.map((l) => `lab ${name}: ${l}\n`).join(""), applied.stderr);
    const addr = (await inHost(name, "h1", ["ip", "-o", "-4", "addr", "show", "dev", "eth0"])).stdout;
    assert.match(addr, /inet 10\.9\.0\.11\/24/);
    assert.doesNotMatch(addr, /inet 10\.9\.0\.1\//);
    assert.match((await inHost(name, "h1", ["ip", "link", "show", "eth0"])).stdout, / mtu 1400 /);
    const routes = (await inHost(name, "h1", ["ip", "route"])).stdout;
    assert.match(routes, /^default via 10\.9\.0\.2 dev eth0/m);
    assert.match(routes, /^10\.77\.0\.0\/16 via 10\.9\.0\.2 dev eth0/m);
    assert.ok(await pingCount(name, "h2", "10.9.0.11", 2) >= 1, "h1 answers at its new address");
    assert.match((await vde(["status", name])).stdout, /^h1 +host +netns \S+, eth0 10\.9\.0\.11\/24$/m);
    assert.equal((await vde(["term", name, "-c", "save"])).code, 0);
    assert.match(
      await Deno.readTextFile(file),
      /address: 10\.9\.0\.11\/24,\s+mtu: 1400,\s+routes: \['10\.77/,
    );
    assert.equal(
      (await vde(["up", "--apply", file])).stdout,
      `lab ${name}: nothing to apply: lab ${name} runs ${file} as it is\n`,
    );
    // An address changed alone: the kernel takes the default route out with the old one; it is put back.
    const saved0 = await Deno.readTextFile(file);
    await Deno.writeTextFile(file, saved0.replace("10.9.0.11/24", "10.9.0.12/24"));
    assert.equal(
      (await vde(["up", "--apply", file])).stdout,
      `lab ${name}: link h1:eth0-sw1:1: h1 address 10.9.0.11/24 -> 10.9.0.12/24\n`,
    );
    assert.match((await inHost(name, "h1", ["ip", "route"])).stdout, /^default via 10\.9\.0\.2 dev eth0/m);
    // A route ip refuses (the link's own subnet, there already) after the mtu was set: the mtu is set back.
    const saved = await Deno.readTextFile(file);
    await Deno.writeTextFile(
      file,
      saved.replace("mtu: 1400", "mtu: 1300").replace("routes: [", "routes: ['10.9.0.0/24 via 10.9.0.2', "),
    );
    const failed = await vde(["up", "--apply", file]);
    assert.equal(failed.code, 1);
    assert.match(
      failed.stderr,
      new RegExp(
        `^vde: lab ${name}: changing host h1 failed: ip -n vde-${name}-h1 route add 10\\.9\\.0\\.0/24 via 10\\.9\\.0\\.2: .*; nothing was changed\n$`,
      ),
    );
    assert.match(
      (await inHost(name, "h1", ["ip", "link", "show", "eth0"])).stdout,
      / mtu 1400 /,
      "mtu undone",
    );
  });
});

/** A switch with a slirp and a host at the slirp's first lease address, serving HTTP on 8080. */
const NAT = `name: x
topology:
  nodes:
    sw1: { kind: switch, ports: 4 }
    nat: { kind: slirp }
    h1: { kind: host, address: 10.0.2.15/24, gateway: 10.0.2.2 }
  links:
    - endpoints: [nat, sw1]
    - endpoints: [h1, sw1]
`;

/** What GET / on 127.0.0.1:`port` answers, or the error's name. */
async function fetchText(port: number): Promise<string> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(10_000) });
    return (await res.text()).trim();
  } catch (err) {
    return (err as Error).name;
  }
}

Deno.test("vde up --apply adds a slirp's forward live, reachable from this machine, and removes it again; a host takes a DHCP lease from it live and lets it go", async (t) => {
  if (skipUnlessRoot(t)) return;
  await withLabUp({ text: NAT }, async (name, file) => {
    const dir = file.slice(0, file.lastIndexOf("/"));
    await Deno.writeTextFile(`${dir}/index.html`, "hello from h1\n");
    const serve = await vde(["term", name, "-c", `exec h1 busybox httpd -p 8080 -h ${dir}`]);
    assert.equal(serve.code, 0, serve.stderr);
    const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = probe.addr.port;
    probe.close();
    const text = await Deno.readTextFile(file);
    const forward = `tcp:127.0.0.1:${port}:10.0.2.15:8080`;
    await Deno.writeTextFile(
      file,
      text.replace("nat: { kind: slirp }", `nat: { kind: slirp, forwards: ['${forward}'] }`),
    );
    const added = await vde(["up", "--apply", file]);
    assert.equal(added.stdout, `lab ${name}: slirp nat: forwards none -> ${forward}\n`, added.stderr);
    assert.equal(await fetchText(port), "hello from h1");
    await Deno.writeTextFile(file, text);
    const removed = await vde(["up", "--apply", file]);
    assert.equal(removed.stdout, `lab ${name}: slirp nat: forwards ${forward} -> none\n`, removed.stderr);
    assert.notEqual(await fetchText(port), "hello from h1", "the forward is gone");
    // h1 takes its address from the slirp's DHCP instead, and gives it back: 10.0.2.15 is the first lease.
    await Deno.writeTextFile(
      file,
      text.replace("address: 10.0.2.15/24, gateway: 10.0.2.2", "address: 10.0.2.9/24"),
    );
    assert.equal(
      (await vde(["up", "--apply", file])).stdout,
      `lab ${name}: link h1:eth0-sw1:2: h1 address 10.0.2.15/24 -> 10.0.2.9/24\n` +
        `lab ${name}: host h1: gateway 10.0.2.2 -> none\n`,
    );
    await Deno.writeTextFile(file, text.replace("address: 10.0.2.15/24, gateway: 10.0.2.2", "address: dhcp"));
    const leased = await vde(["up", "--apply", file], 90_000);
    assert.equal(
      leased.stdout,
      `lab ${name}: link h1:eth0-sw1:2: h1 address 10.0.2.9/24 -> dhcp\n`,
      leased.stderr,
    );
    const addr = async () =>
      (await inHost(name, "h1", ["ip", "-o", "-4", "addr", "show", "dev", "eth0"])).stdout;
    assert.match(await addr(), /inet 10\.0\.2\.15\/24/);
    assert.doesNotMatch(await addr(), /10\.0\.2\.9\//);
    assert.match(
      (await vde(["status", name])).stdout,
      /^h1 +host +netns \S+, eth0 10\.0\.2\.15\/24 \(dhcp\)$/m,
    );
    await Deno.writeTextFile(
      file,
      text.replace("address: 10.0.2.15/24, gateway: 10.0.2.2", "address: 10.0.2.9/24"),
    );
    const released = await vde(["up", "--apply", file]);
    assert.equal(
      released.stdout,
      `lab ${name}: link h1:eth0-sw1:2: h1 address dhcp -> 10.0.2.9/24\n`,
      released.stderr,
    );
    assert.match(await addr(), /inet 10\.0\.2\.9\/24/);
    assert.doesNotMatch(await addr(), /10\.0\.2\.15\//, "the lease is let go");
  });
});

Deno.test("a slirp's forward on host port 0 (the kernel's pick) is removed live by the file's words for it", async () => {
  const lab = `name: x
topology:
  nodes:
    sw1: { kind: switch, ports: 4 }
    nat: { kind: slirp, forwards: ['tcp:127.0.0.1:0:10.0.2.15:80', 'tcp:127.0.0.1:0:10.0.2.15:81'] }
  links:
    - endpoints: [nat, sw1]
`;
  await withLabInProcess(lab, async (r, line, file) => {
    const stack = r.slirps.get("nat")!.stack;
    const ports = () => stack.forwards().map((f) => f.guestPort);
    assert.deepEqual(ports(), [80, 81]);
    assert.ok(stack.forwards().every((f) => f.hostPort !== 0), "bound where the kernel picked");
    await Deno.writeTextFile(
      file,
      (await Deno.readTextFile(file)).replace("'tcp:127.0.0.1:0:10.0.2.15:80', ", ""),
    );
    assert.equal(
      await line("apply"),
      "0 slirp nat: forwards tcp:127.0.0.1:0:10.0.2.15:80,tcp:127.0.0.1:0:10.0.2.15:81 -> " +
        "tcp:127.0.0.1:0:10.0.2.15:81\n",
    );
    assert.deepEqual(ports(), [81]);
    assert.equal(await line("diff"), "0 ");
  });
});

Deno.test("a DHCP lease taken live beside static and IPv6 addresses leaves them, and letting it go takes the lease only", async (t) => {
  if (skipUnlessRoot(t)) return;
  const statics = "address: [10.0.2.9/24, 'fd00::9/64']";
  await withLabUp(
    { text: NAT.replace("address: 10.0.2.15/24, gateway: 10.0.2.2", statics) },
    async (name, file) => {
      const text = await Deno.readTextFile(file);
      const addrs = async () =>
        (await inHost(name, "h1", ["ip", "-o", "addr", "show", "dev", "eth0"])).stdout;
      await Deno.writeTextFile(file, text.replace(statics, "address: [dhcp, 10.0.7.1/24, 'fd00::9/64']"));
      const leased = await vde(["up", "--apply", file], 90_000);
      assert.equal(
        leased.stdout,
        `lab ${name}: link h1:eth0-sw1:2: h1 address 10.0.2.9/24,fd00::9/64 -> dhcp,10.0.7.1/24,fd00::9/64\n`,
        leased.stderr,
      );
      const both = await addrs();
      for (const a of ["10.0.2.15/24", "10.0.7.1/24", "fd00::9/64", "fe80::"]) {
        assert.ok(
          both.includes(`${a}`),
          `${a} in ${both}`,
        );
      }
      await Deno.writeTextFile(file, text.replace(statics, "address: [10.0.7.1/24, 'fd00::9/64']"));
      const released = await vde(["up", "--apply", file]);
      assert.equal(released.code, 0, released.stderr);
      const after = await addrs();
      assert.ok(!after.includes("10.0.2.15/"), "the lease is let go");
      for (const a of ["10.0.7.1/24", "fd00::9/64", "fe80::"]) {
        assert.ok(
          after.includes(a),
          `${a} in ${after}`,
        );
      }
    },
  );
});

Deno.test("a slirp forward on a host port in use fails the apply in one line, and the switch changed before it is set back: nothing half-done", async () => {
  const lab = `name: x
topology:
  nodes:
    sw1: { kind: switch, ports: 4 }
    nat: { kind: slirp }
  links:
    - endpoints: [nat, sw1]
      delay: 5ms
`;
  await withLabInProcess(lab, async (r, line, file) => {
    const busy = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    try {
      const forward = `tcp:127.0.0.1:${busy.addr.port}:10.0.2.15:80`;
      await Deno.writeTextFile(
        file,
        (await Deno.readTextFile(file)).replace("ports: 4 }", "ports: 6, hub: true, vlans: [5] }")
          .replace("nat: { kind: slirp }", `nat: { kind: slirp, forwards: ['${forward}'] }`)
          .replace("delay: 5ms", "delay: 9ms"),
      );
      assert.equal(
        await line("apply"),
        `5 changing slirp nat failed: nat: forward ${forward}: Host port ${busy.addr.port} on 127.0.0.1 is ` +
          "already in use (TCP forward to 10.0.2.15:80): forward another host port (0 takes any free one); " +
          "nothing was changed\n",
      );
      assert.equal(await line("sw1 port/showinfo"), "0 Numports=4\nHUB=false\ncounters=true");
      assert.equal(await line("sw1 vlan/print 5"), "6 ", "VLAN 5 removed again");
      assert.match(await line("links"), /^nat-sw1:1 .* delay 5ms$/m);
      assert.deepEqual(r.slirps.get("nat")!.stack.forwards(), []);
      assert.equal(r.file, file);
    } finally {
      busy.close();
    }
    assert.match(await line("diff"), /^0 link nat-sw1:1: delay 5ms -> 9ms\nswitch sw1: ports 4 -> 6/);
  });
});

Deno.test("a host whose file drops its gateway for a DHCP address keeps the lease's default route, as a lab brought up from that file has; dhcp with a gateway comes up", async (t) => {
  if (skipUnlessRoot(t)) return;
  const routes = async (r: LabRunner) =>
    (await run(["ip", "-n", r.hosts.get("h1")!.ns, "route"], { check: false })).stdout;
  await withLabInProcess(NAT, async (r, line, file) => {
    const text = await Deno.readTextFile(file);
    await Deno.writeTextFile(file, text.replace("address: 10.0.2.15/24, gateway: 10.0.2.2", "address: dhcp"));
    assert.equal(
      await line("apply"),
      "0 link h1:eth0-sw1:2: h1 address 10.0.2.15/24 -> dhcp\nhost h1: gateway 10.0.2.2 -> none\n",
    );
    assert.match(await routes(r), /^default via 10\.0\.2\.2 dev eth0/m);
  });
  await withLabInProcess(
    NAT.replace("gateway: 10.0.2.2", "gateway: 10.0.2.3").replace("10.0.2.15/24", "dhcp"),
    async (r) => {
      assert.match(
        await routes(r),
        /^default via 10\.0\.2\.3 dev eth0/m,
        "the file's gateway wins over the lease's",
      );
    },
  );
});

Deno.test("a change whose undo is refused too says both, and not that nothing was changed", async () => {
  await withLabInProcess(SWITCHES, async (r, line, file) => {
    assert.equal(await line("sw1 vlan/addport 30 1"), "0 ");
    const commands = r.switches.get("sw1")!.commands;
    const execute = commands.execute.bind(commands);
    // The switch refuses to leave hub mode, as a console that broke halfway would.
    commands.execute = (l, s) =>
      l === "port/sethub 0" ? Promise.resolve({ code: 1, raw: "stuck" }) : execute(l, s);
    await Deno.writeTextFile(
      file,
      (await Deno.readTextFile(file)).replace("ports: 4, vlans: [30] }", "ports: 4, hub: true }"),
    );
    assert.equal(
      await line("apply"),
      "5 changing switch sw1 failed: sw1: vlan/remove 30: Address already in use " +
        "(and undoing it: sw1: port/sethub 0: stuck); what could not be undone runs on as it is; " +
        `\`vde up -c ${file}\` brings the file up whole\n`,
    );
  });
});

Deno.test("a VLAN no link carries any more and the switch does not list goes, as the file brought up would not have it; a listed one stays", async () => {
  const lab = SWITCHES.replace("[sw1, sw2]", "[sw1, sw2]\n      vlan: 50\n      trunk: [60]");
  await withLabInProcess(lab, async (_r, line, file) => {
    const text = await Deno.readTextFile(file);
    await Deno.writeTextFile(file, text.replace("vlan: 50\n      trunk: [60]", "vlan: 30"));
    assert.equal(await line("apply"), "0 link sw1:1-sw2:1: vlan 50 -> 30, trunk 60 -> none\n");
    for (const sw of ["sw1", "sw2"]) {
      assert.equal(await line(`${sw} vlan/print 50`), "6 ", `${sw}: VLAN 50 gone`);
      assert.equal(await line(`${sw} vlan/print 60`), "6 ", `${sw}: VLAN 60 gone`);
    }
    assert.equal(await line("del sw1-sw2"), "0 removed link sw1:1-sw2:1\n");
    assert.match(await line("sw1 vlan/print 30"), /^0 VLAN 0030/, "sw1 lists VLAN 30");
    assert.equal(await line("sw2 vlan/print 30"), "6 ", "sw2 does not");
  });
});

/** NAT with h1 on `address` in place of its static address and gateway. */
function natWith(address: string): string {
  return NAT.replace("address: 10.0.2.15/24, gateway: 10.0.2.2", `address: ${address}`);
}

/** The IPv4 addresses on host h1's eth0, and its default route. */
async function h1Ipv4(r: LabRunner): Promise<{ addrs: string[]; routes: string }> {
  const ns = r.hosts.get("h1")!.ns;
  const addrs = (await run(["ip", "-n", ns, "-4", "-o", "addr", "show", "dev", "eth0"])).stdout;
  const routes = (await run(["ip", "-n", ns, "route", "show", "default"])).stdout;
  return { addrs: [...addrs.matchAll(/inet (\S+)/g)].map((m) => m[1]!), routes };
}

Deno.test("a static address removed live takes none of the others on its subnet along: a DHCP lease, another static one, the lease's default route", async (t) => {
  if (skipUnlessRoot(t)) return;
  await withLabInProcess(natWith("[10.0.2.30/24, 10.0.2.31/24, dhcp]"), async (r, line, file) => {
    // 10.0.2.30 came first, so Linux made the others its secondaries.
    assert.deepEqual((await h1Ipv4(r)).addrs, ["10.0.2.30/24", "10.0.2.31/24", "10.0.2.15/24"]);
    const text = await Deno.readTextFile(file);
    await Deno.writeTextFile(
      file,
      text.replace("[10.0.2.30/24, 10.0.2.31/24, dhcp]", "[10.0.2.31/24, dhcp]"),
    );
    assert.equal(
      await line("apply"),
      "0 link h1:eth0-sw1:2: h1 address 10.0.2.30/24,10.0.2.31/24,dhcp -> 10.0.2.31/24,dhcp\n",
    );
    const after = await h1Ipv4(r);
    assert.deepEqual(after.addrs, ["10.0.2.31/24", "10.0.2.15/24"]);
    assert.match(after.routes, /^default via 10\.0\.2\.2 dev eth0/m);
    assert.equal(await pingCount(r.lab.name, "h1", "10.0.2.2", 2), 2, "h1 reaches the slirp's gateway");
  });
});

Deno.test("a DHCP lease that moves to another address on the subnet stays on the host's interface, the old one gone", async (t) => {
  if (skipUnlessRoot(t)) return;
  await withLabInProcess(natWith("dhcp"), async (r) => {
    const h1 = r.hosts.get("h1")!;
    assert.deepEqual((await h1Ipv4(r)).addrs, ["10.0.2.15/24"]);
    // The slirp takes 10.0.2.15 back (reserved for a static host), and h1's client asks again with its
    // lease still on the interface: the new one is added as its secondary, then the old one deleted.
    r.slirps.get("nat")!.stack.dhcp.reserve([0x0a00020f]);
    await r.setDhcp(h1, "eth0", true);
    assert.equal(h1.leases.get("eth0"), "10.0.2.16/24");
    const after = await h1Ipv4(r);
    assert.deepEqual(after.addrs, ["10.0.2.16/24"]);
    assert.match(after.routes, /^default via 10\.0\.2\.2 dev eth0/m);
  });
});

Deno.test("a static address given live on the host's own DHCP lease stays on its interface, and the lease moves to another", async (t) => {
  if (skipUnlessRoot(t)) return;
  await withLabInProcess(natWith("dhcp"), async (r, line, file) => {
    assert.deepEqual((await h1Ipv4(r)).addrs, ["10.0.2.15/24"]);
    const text = await Deno.readTextFile(file);
    await Deno.writeTextFile(file, text.replace("address: dhcp", "address: [dhcp, 10.0.2.15/24]"));
    assert.equal(await line("apply"), "0 link h1:eth0-sw1:2: h1 address dhcp -> dhcp,10.0.2.15/24\n");
    // As `vde up` of that file gives it: the static address, and the slirp's next lease beside it.
    assert.deepEqual((await h1Ipv4(r)).addrs, ["10.0.2.15/24", "10.0.2.16/24"]);
    assert.equal(r.hosts.get("h1")!.leases.get("eth0"), "10.0.2.16/24");
  });
});
