/**
 * End to end, `vde slirp --mtu 65520` with a guest behind Debian's
 * `vde_plug tap://` (the bench's MTU 65520 rows): the slirp cuts its packets
 * to 9,216 bytes of IP (a 9,230-byte frame), the most Debian's plug reads
 * whole (it receives into a buffer of 9,234 bytes, vdeplug4's
 * VDE_ETHBUFSIZE, and a longer datagram arrives truncated). The guest's tap
 * has MTU 65520 as in the bench: a DF ping of exactly 9,216 bytes is
 * answered, one byte more gets "fragmentation needed, mtu 9216" from the
 * slirp, and a download's data frames, seen on the guest's tap, are 9,230
 * bytes at most and at the full size, with the blob intact both ways.
 * Raising the slirp's largest frame without the plugs and switches in
 * between would break this. Root only; in CI it must run.
 */
import assert from "node:assert/strict";
import { withNetns } from "../helpers/netns.ts";
import { skipUnless, waitFor } from "../helpers/processes.ts";
import type { SwitchHandle } from "../helpers/switches.ts";
import { httpBothWays } from "./_slirp_e2e.ts";
import { dhcp, missing, setUp } from "./slirp_lab.ts";

/** The largest IP packet through a VDE frame that Debian's vde_plug reads whole. */
const MAX_IP = 9216;
/** Its frame: the IP packet and the 14-byte Ethernet header. */
const MAX_FRAME = MAX_IP + 14;

Deno.test("slirp at MTU 65520 behind Debian's vde_plug: 9,216-byte packets both ways, frag needed beyond, downloads in full 9,230-byte frames", async (t) => {
  if (skipUnless(t, await missing(["tcpdump"]))) return;
  const sw: { handle: SwitchHandle | null } = { handle: null };
  await withNetns(async (lab) => {
    lab.defer(async () => void (await sw.handle?.stop()));
    const s = await setUp(lab, sw, ["--mtu", "65520"]);
    const { host, guest } = s;
    await dhcp(s);
    await guest.run(["ip", "link", "set", "t0", "mtu", "65520"]);
    const dump = guest.spawn(["tcpdump", "-i", "t0", "-nn", "-e", "-l", "icmp or tcp src port 8099"], {
      name: "tcpdump",
    });
    await dump.waitForOutput(/listening on/, 15_000, "stderr");
    const ping = (bytes: number) =>
      guest.run(["ping", "-n", "-c", "1", "-W", "3", "-M", "do", "-s", String(bytes - 28), "10.0.2.2"], {
        check: false,
        timeoutMs: 20_000,
      });

    await t.step("a DF ping of 9,216 bytes of IP is answered at its full size", async () => {
      const r = await ping(MAX_IP);
      assert.equal(r.success, true, r.stdout + r.stderr);
      assert.match(r.stdout, new RegExp(`${MAX_IP - 20} bytes from 10\\.0\\.2\\.2`), r.stdout);
    });

    await t.step("one byte more: fragmentation needed, mtu 9216, from the slirp", async () => {
      const r = await ping(MAX_IP + 1);
      assert.equal(r.success, false, r.stdout);
      await waitFor(() => /need to frag \(mtu 9216\)/.test(dump.stdout), {
        timeoutMs: 10_000,
        what: "fragmentation needed in tcpdump",
      }).catch((err) => {
        throw new Error(`${err.message}\n${dump.stdout}`);
      });
    });

    await t.step(
      "a 4 MB download arrives intact in frames of 9,230 bytes at most, full ones among them",
      async () => {
        await httpBothWays(host, guest, s.tmp, 4 * 1024 * 1024);
        // tcpdump -e: "... ethertype IPv4 (0x0800), length 9230: 10.0.2.2.8099 > ...".
        const lengths = [...dump.stdout.matchAll(/length (\d+): 10\.0\.2\.2\.8099 >/g)].map((m) =>
          Number(m[1])
        );
        assert.ok(
          lengths.length > 100,
          `only ${lengths.length} frames of the download seen:\n${dump.stderr}`,
        );
        const largest = Math.max(...lengths);
        assert.equal(largest, MAX_FRAME, `largest frame ${largest}`);
        const full = lengths.filter((n) => n === MAX_FRAME).length;
        assert.ok(full * 2 > lengths.length, `${full} of ${lengths.length} frames at full size`);
      },
    );
  });
});
