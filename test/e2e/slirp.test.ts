/**
 * End to end: a namespace ("guest") plugged into our switch by Debian's
 * vde_plug tap://, and our slirp on the switch, running inside a second
 * namespace ("host") whose loopback stands for the host's: the test's
 * servers (DNS, UDP echo, HTTP) listen there. A third namespace ("client")
 * reaches the host namespace over a veth, to use the inbound forwards from
 * a real, non-loopback address. Only addresses inside these namespaces are
 * used. Root only; in CI it must run.
 */
import assert from "node:assert/strict";
import { ping, withNetns } from "../helpers/netns.ts";
import { run, skipUnless, waitFor } from "../helpers/processes.ts";
import { startOurSwitch, type SwitchHandle } from "../helpers/switches.ts";
import { httpBothWays } from "./_slirp_e2e.ts";
import { dhcp, HELPER, missing, setUp, VDE, waitListening } from "./slirp_lab.ts";

const SIZE = 50 * 1024 * 1024;

Deno.test("slirp end to end: DHCP, ping, DNS, UDP, IPv6, forwards with real client addresses, 50 MB HTTP both ways", async (t) => {
  if (skipUnless(t, await missing())) return;
  const sw: { handle: SwitchHandle | null } = { handle: null };
  await withNetns(async (lab) => {
    lab.defer(async () => void (await sw.handle?.stop()));
    const s = await setUp(lab, sw, [
      "--forward",
      "udp:5353:10.0.2.15:5300",
      "--forward",
      "tcp:8080:10.0.2.15:8000",
    ]);
    const { host, guest, client } = s;

    await t.step("udhcpc gets 10.0.2.15 with router and DNS", async () => {
      const lease = await dhcp(s);
      assert.equal(lease.ip, "10.0.2.15");
      assert.equal(lease.router, "10.0.2.2");
      assert.equal(lease.dns, "10.0.2.3");
      assert.equal(lease.mask, "24");
    });

    await t.step("the guest pings the gateway", async () => {
      const r = await ping(guest, "10.0.2.2", 3, 0.2);
      assert.equal(r.received, 3, r.output);
    });

    await t.step(
      "a name served by the test's DNS server resolves, over UDP and through the TCP fallback",
      async () => {
        let r = await guest.run(["busybox", "nslookup", "-type=A", "host.test.vde", "10.0.2.3"], {
          check: false,
          timeoutMs: 15_000,
        });
        assert.match(r.stdout, /192\.0\.2\.7/, r.stdout + r.stderr);
        r = await guest.run(["busybox", "nslookup", "-type=A", "big.test.vde", "10.0.2.3"], {
          check: false,
          timeoutMs: 15_000,
        });
        assert.match(r.stdout, /192\.0\.2\.8/, r.stdout + r.stderr);
      },
    );

    await t.step("UDP to the gateway reaches the host's loopback and comes back", async () => {
      const echo = host.spawn([...HELPER, "udp-echo", "127.0.0.1", "7777"], { name: "udp echo" });
      await waitListening(host, "u", 7777, echo);
      const r = await guest.run([...HELPER, "udp-ask", "10.0.2.2", "7777", "hello"], {
        check: false,
        timeoutMs: 15_000,
      });
      assert.equal(r.stdout.trim(), "hello from 127.0.0.1", r.stderr);
    });

    await t.step("IPv6: SLAAC from the router advertisement, ping6 and UDP to the host's ::1", async () => {
      await waitFor(async () => {
        const r = await guest.run(["ip", "-6", "addr", "show", "dev", "t0", "scope", "global"], {
          check: false,
        });
        return /inet6 fd00::/.test(r.stdout) && !/tentative/.test(r.stdout);
      }, { timeoutMs: 15_000, what: "a SLAAC address in fd00::/64" });
      const p = await ping(guest, "fd00::2", 2, 0.2);
      assert.equal(p.received, 2, p.output);
      const echo = host.spawn([...HELPER, "udp-echo", "::1", "7778"], { name: "udp echo6" });
      await waitListening(host, "u", 7778, echo);
      const r = await guest.run([...HELPER, "udp-ask", "fd00::2", "7778", "six"], {
        check: false,
        timeoutMs: 15_000,
      });
      assert.equal(r.stdout.trim(), "six from ::1", r.stderr);
      const d = await guest.run(["busybox", "nslookup", "-type=AAAA", "host.test.vde", "fd00::3"], {
        check: false,
        timeoutMs: 15_000,
      });
      assert.match(d.stdout, /2001:db8::7/, d.stdout + d.stderr);
    });

    await t.step("an inbound UDP forward shows the guest the client's real address", async () => {
      const who = guest.spawn([...HELPER, "udp-whoami", "5300"], { name: "udp whoami" });
      await waitListening(guest, "u", 5300, who);
      const r = await client.run([...HELPER, "udp-ask", "10.199.7.1", "5353", "who"], {
        check: false,
        timeoutMs: 15_000,
      });
      assert.equal(r.stdout.trim(), "you are 10.199.7.2", r.stderr);
    });

    await t.step("ICMP echo to the outside goes through the host's ping socket", async () => {
      const r = await ping(guest, "10.199.7.2", 3, 0.2);
      assert.equal(r.received, 3, r.output);
    });

    await t.step("50 MB down and up over HTTP with matching SHA-256", async () => {
      await httpBothWays(host, guest, s.tmp, SIZE);
    });

    await t.step("an inbound TCP forward shows the guest the client's real address", async () => {
      const who = guest.spawn([...HELPER, "tcp-whoami", "8000"], { name: "tcp whoami" });
      await waitListening(guest, "t", 8000, who);
      const r = await client.run([...HELPER, "tcp-ask", "10.199.7.1", "8080"], {
        check: false,
        timeoutMs: 15_000,
      });
      assert.equal(r.stdout.trim(), "you are 10.199.7.2", r.stderr);
    });
  });
});

Deno.test("slirp errors: a taken forward port, an address outside the network, a bad option", async (t) => {
  if (skipUnless(t, await missing())) return;
  const sw: { handle: SwitchHandle | null } = { handle: null };
  await withNetns(async (lab) => {
    lab.defer(async () => void (await sw.handle?.stop()));
    const tmp = await lab.tempDir();
    const dir = `${tmp}/sw`;
    sw.handle = await startOurSwitch(dir);
    const host = await lab.namespace("host");
    const holder = host.spawn([...HELPER, "udp-echo", "0.0.0.0", "6000"], { name: "port holder" });
    await waitListening(host, "u", 6000, holder);
    const cases: [string[], RegExp][] = [
      [
        ["--forward", "udp:6000:53"],
        /Host port 6000 on 0\.0\.0\.0 is already in use \(UDP forward to 10\.0\.2\.15:53\)/,
      ],
      [["--forward", "udp:5353:192.168.1.9:53"], /outside the network 10\.0\.2\.0\/24/],
      [["--options", "nosuch=1"], /unknown slirp option "nosuch"/],
      [["--mtu", "100"], /mtu must be between/],
    ];
    for (const [args, re] of cases) {
      const r = await host.run([...VDE, "slirp", "--sock", dir, ...args], {
        check: false,
        timeoutMs: 20_000,
      });
      assert.equal(r.code, 1, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, re);
      assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    }
    const bad = await run([...VDE, "plug", "slirp:///bogus", "null://"], { check: false, timeoutMs: 20_000 });
    assert.match(bad.stderr, /unknown slirp option "bogus"/);
  });
});
