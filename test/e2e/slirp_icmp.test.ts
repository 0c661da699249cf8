/**
 * End to end: ICMP errors from our slirp as a Linux guest sees them. The
 * guest (a namespace behind our switch) pings, sends UDP with `nc -u`
 * (OpenBSD's) and from a connected socket, and connects with curl to
 * destinations the slirp's host namespace cannot reach (no default route: network unreachable; an `unreachable` route:
 * host unreachable) and to closed ports on the host's loopback through the
 * gateway; tcpdump on the guest's tap shows the type and code that came
 * back. Root only; in CI it must run.
 */
import assert from "node:assert/strict";
import { type Netns, withNetns } from "../helpers/netns.ts";
import { skipUnless, waitFor } from "../helpers/processes.ts";
import type { SwitchHandle } from "../helpers/switches.ts";
import { dhcp, HELPER, missing, setUp } from "./slirp_lab.ts";

/** Runs `cmd` in the guest, bounded; answers its output and how long it took. */
async function timed(ns: Netns, cmd: string[]): Promise<{ out: string; ms: number; ok: boolean }> {
  const t0 = performance.now();
  const r = await ns.run(cmd, { check: false, timeoutMs: 20_000 });
  return { out: r.stdout + r.stderr, ms: performance.now() - t0, ok: r.success };
}

Deno.test("slirp ICMP errors: unreachable nets and hosts, closed UDP ports, fragmentation needed, IPv6 too; curl to a closed port fails at once", async (t) => {
  if (skipUnless(t, await missing(["tcpdump", "curl", "nc"]))) return;
  const sw: { handle: SwitchHandle | null } = { handle: null };
  await withNetns(async (lab) => {
    lab.defer(async () => void (await sw.handle?.stop()));
    const s = await setUp(lab, sw, []);
    const { host, guest } = s;
    // Host unreachable for one documentation prefix; everything else outside has no route at all.
    await host.run(["ip", "route", "add", "unreachable", "198.51.100.0/24"]);
    await dhcp(s);
    await waitFor(async () => {
      const r = await guest.run(["ip", "-6", "addr", "show", "dev", "t0", "scope", "global"], {
        check: false,
      });
      return /inet6 fd00::/.test(r.stdout) && !/tentative/.test(r.stdout);
    }, { timeoutMs: 15_000, what: "a SLAAC address in fd00::/64" });
    await guest.run(["ip", "-6", "route", "replace", "default", "via", "fd00::2", "dev", "t0"]);
    const dump = guest.spawn(["tcpdump", "-i", "t0", "-nn", "-l", "icmp or icmp6"], { name: "tcpdump" });
    await dump.waitForOutput(/listening on/, 15_000, "stderr");
    const seen = async (re: RegExp, what: string) => {
      await waitFor(() => re.test(dump.stdout), { timeoutMs: 10_000, what: `${what} in tcpdump` })
        .catch((err) => {
          throw new Error(`${err.message}\n${dump.stdout}\n${s.slirp.stderr}`);
        });
    };

    await t.step("ping to a network the host has no route to: ICMP net unreachable", async () => {
      const r = await timed(guest, ["ping", "-n", "-c", "1", "-W", "3", "192.0.2.9"]);
      assert.equal(r.ok, false);
      assert.match(r.out, /Destination Net Unreachable/, r.out);
      await seen(/10\.0\.2\.2 > 10\.0\.2\.15: ICMP net 192\.0\.2\.9 unreachable/, "net unreachable");
    });

    await t.step("ping to a host the host cannot reach: ICMP host unreachable", async () => {
      const r = await timed(guest, ["ping", "-n", "-c", "1", "-W", "3", "198.51.100.9"]);
      assert.match(r.out, /Destination Host Unreachable/, r.out);
      await seen(/ICMP host 198\.51\.100\.9 unreachable/, "host unreachable");
    });

    await t.step(
      "UDP to a closed port on the host: ICMP port unreachable, the socket reports refused",
      async () => {
        const r = await timed(guest, [...HELPER, "udp-probe", "10.0.2.2", "7999"]);
        assert.equal(r.out.trim(), "error Connection refused");
        await seen(/ICMP 10\.0\.2\.2 udp port 7999 unreachable/, "UDP port unreachable");
        // Linux treats "net unreachable" as a soft error for UDP sockets (not reported), so tcpdump tells.
        await timed(guest, [...HELPER, "udp-probe", "192.0.2.10", "53"]);
        await seen(/ICMP net 192\.0\.2\.10 unreachable/, "net unreachable for UDP");
      },
    );

    await t.step(
      "nc -u to a closed port and to an unreachable network, IPv4 and IPv6: port and net unreachable",
      async () => {
        // OpenBSD nc (Debian's netcat-openbsd; busybox's nc has no -u): one datagram, then a second's wait.
        const nc = (args: string[]) =>
          timed(guest, ["sh", "-c", `echo probe | nc -u -w 1 ${args.join(" ")}`]);
        await nc(["10.0.2.2", "7996"]);
        await seen(/ICMP 10\.0\.2\.2 udp port 7996 unreachable/, "port unreachable for nc -u");
        await nc(["192.0.2.11", "53"]);
        await seen(/ICMP net 192\.0\.2\.11 unreachable/, "net unreachable for nc -u");
        await nc(["-6", "fd00::2", "7995"]);
        await seen(
          /ICMP6, destination unreachable, unreachable port, fd00::2 udp port 7995/,
          "ICMPv6 port for nc -u",
        );
        await nc(["-6", "2001:db8::11", "53"]);
        await seen(
          /ICMP6, destination unreachable, unreachable route 2001:db8::11/,
          "ICMPv6 no route for nc -u",
        );
      },
    );

    await t.step(
      "curl to a closed port fails at once; to an unreachable network with 'no route'",
      async () => {
        const closed = await timed(guest, ["curl", "-sS", "--max-time", "10", "http://10.0.2.2:7998/"]);
        assert.match(closed.out, /Couldn't connect|refused/i, closed.out);
        assert.ok(closed.ms < 3000, `curl took ${closed.ms.toFixed(0)} ms`);
        const far = await timed(guest, ["curl", "-sS", "--max-time", "10", "http://198.51.100.20:80/"]);
        assert.match(far.out, /No route to host|unreachable|Couldn't connect/i, far.out);
        assert.ok(far.ms < 3000, `curl took ${far.ms.toFixed(0)} ms`);
        await seen(
          /ICMP host 198\.51\.100\.20 tcp port 80 unreachable|ICMP host 198\.51\.100\.20 unreachable/,
          "TCP host unreachable",
        );
      },
    );

    await t.step("a DF packet over the MTU: fragmentation needed with mtu 1500", async () => {
      await guest.run(["ip", "link", "set", "t0", "mtu", "4000"]);
      const r = await timed(guest, [
        "ping",
        "-n",
        "-c",
        "1",
        "-W",
        "3",
        "-M",
        "do",
        "-s",
        "2000",
        "10.0.2.2",
      ]);
      assert.equal(r.ok, false, r.out);
      await seen(/ICMP 10\.0\.2\.2 unreachable - need to frag \(mtu 1500\)/, "fragmentation needed");
      await guest.run(["ip", "link", "set", "t0", "mtu", "1500"]);
    });

    await t.step("IPv6: no route, a closed UDP port, and packet too big", async () => {
      const p = await timed(guest, ["ping", "-n", "-6", "-c", "1", "-W", "3", "2001:db8::9"]);
      assert.equal(p.ok, false, p.out);
      await seen(/ICMP6, destination unreachable, unreachable route 2001:db8::9/, "ICMPv6 no route");
      const u = await timed(guest, [...HELPER, "udp-probe", "fd00::2", "7997"]);
      assert.equal(u.out.trim(), "error Connection refused");
      await seen(/ICMP6, destination unreachable, unreachable port, fd00::2 udp port 7997/, "ICMPv6 port");
      await guest.run(["ip", "link", "set", "t0", "mtu", "4000"]);
      await timed(guest, ["ping", "-n", "-6", "-c", "1", "-W", "3", "-M", "do", "-s", "2000", "fd00::2"]);
      await seen(/ICMP6, packet too big, mtu 1500/, "ICMPv6 packet too big");
      await guest.run(["ip", "link", "set", "t0", "mtu", "1500"]);
    });

    await t.step(
      "a neighbour the host cannot find, IPv4 and IPv6: host (address) unreachable for ping, nc -u and curl",
      async () => {
        // On the host's veth nothing answers for .9/.10 or fd99::9/::a: ARP and neighbour discovery fail
        // after about 3 s, and the host's socket hears of it later, from its error queue.
        await host.run(["ip", "-6", "addr", "add", "fd99::1/64", "dev", "v0", "nodad"]);
        const probes: [string[], RegExp][] = [
          [["ping", "-n", "-c", "1", "-W", "8", "10.199.7.9"], /ICMP host 10\.199\.7\.9 unreachable/],
          [["sh", "-c", "echo probe | nc -u -w 5 10.199.7.10 53"], /ICMP host 10\.199\.7\.10 unreachable/],
          [
            ["ping", "-n", "-6", "-c", "1", "-W", "8", "fd99::9"],
            /ICMP6, destination unreachable, unreachable address fd99::9/,
          ],
          [
            ["sh", "-c", "echo probe | nc -6 -u -w 5 fd99::a 53"],
            /ICMP6, destination unreachable, unreachable address fd99::a/,
          ],
          [
            ["curl", "-sS", "--max-time", "15", "http://10.199.7.11/"],
            /ICMP host 10\.199\.7\.11 (tcp port 80 )?unreachable/,
          ],
          [
            ["curl", "-sS", "--max-time", "15", "http://[fd99::b]/"],
            /ICMP6, destination unreachable, unreachable address fd99::b/,
          ],
        ];
        // All at once: each waits for its own neighbour's failure.
        const results = await Promise.all(probes.map(([cmd]) => timed(guest, cmd)));
        for (const [cmd, re] of probes) await seen(re, cmd.join(" "));
        // curl is told "no route" when the neighbour fails, not left to its 15 s timeout.
        for (const r of results.slice(4)) {
          assert.match(r.out, /No route to host|Couldn't connect/i, r.out);
          assert.ok(r.ms < 12_000, `curl took ${r.ms.toFixed(0)} ms`);
        }
      },
    );
  });
});
