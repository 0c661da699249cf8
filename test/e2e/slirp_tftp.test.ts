/**
 * End to end: our slirp's TFTP server. A namespace guest behind our switch
 * fetches a 5 MB file with busybox tftp, with and without blksize, and is
 * refused a `../` escape; then QEMU (`-netdev vde`, `-boot n`) PXE-boots
 * Debian's iPXE ROM, which takes DHCP's boot file from our TFTP server and
 * runs it: the script chains a second file, so our TFTP log shows both.
 * The boot file is named as QEMU's documentation names its own
 * (`bootfile=/pxelinux.0`): a leading `/` is the TFTP root's, as libslirp
 * takes it.
 * Root only; in CI it must run.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { withNetns } from "../helpers/netns.ts";
import { skipUnless, waitFor } from "../helpers/processes.ts";
import { ipxeVm, ipxeVmMissing } from "../helpers/qemu.ts";
import type { SwitchHandle } from "../helpers/switches.ts";
import { dhcp, missing, setUp } from "./slirp_lab.ts";

const SIZE = 5 * 1024 * 1024;

function sha256(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

Deno.test("slirp TFTP: busybox tftp fetches 5 MB intact with and without blksize, ../ is refused; QEMU's iPXE boots from it", async (t) => {
  if (skipUnless(t, await missing(["qemu-system-x86_64"]))) return;
  if (skipUnless(t, await ipxeVmMissing())) return;
  const sw: { handle: SwitchHandle | null } = { handle: null };
  await withNetns(async (lab) => {
    lab.defer(async () => void (await sw.handle?.stop()));
    const root = await lab.tempDir();
    const blob = new Uint8Array(SIZE);
    for (let i = 0; i < SIZE; i += 65536) crypto.getRandomValues(blob.subarray(i, i + 65536));
    // One name for each fetch: a name sent again within a minute is counted, not logged (tftp_server.ts).
    await Deno.writeFile(`${root}/big.bin`, blob);
    await Deno.writeFile(`${root}/big1428.bin`, blob);
    await Deno.writeTextFile(`${root}/boot.ipxe`, "#!ipxe\nchain tftp://10.0.2.2/second.ipxe\n");
    await Deno.writeTextFile(`${root}/second.ipxe`, "#!ipxe\necho vde tftp second stage\nsleep 300\n");
    const s = await setUp(lab, sw, ["--tftp", root, "--bootfile", "/boot.ipxe"]);
    const { guest } = s;
    await dhcp(s);

    for (const blksize of [null, "1428"]) {
      await t.step(
        `busybox tftp -g, ${blksize === null ? "512-byte blocks" : `blksize ${blksize}`}`,
        async () => {
          const out = `${s.tmp}/got-${blksize ?? "512"}`;
          const name = blksize === null ? "big.bin" : `big${blksize}.bin`;
          const b = blksize === null ? [] : ["-b", blksize];
          const r = await guest.run(["busybox", "tftp", "-g", ...b, "-r", name, "-l", out, "10.0.2.2"], {
            check: false,
            timeoutMs: 120_000,
          });
          assert.ok(r.success, r.stderr);
          assert.equal(sha256(await Deno.readFile(out)), sha256(blob));
          // The server says the block size it used: busybox falls back to 512 if blksize is not answered.
          const line = new RegExp(
            `tftp: sent ${name.replace(".", "\\.")} \\(${SIZE} bytes\\) .*, ${blksize ?? "512"}-byte blocks`,
          );
          await waitFor(() => line.test(s.slirp.stderr), {
            timeoutMs: 5000,
            what: `${line} in the slirp's log`,
          })
            .catch((err) => {
              throw new Error(`${err.message}\n${s.slirp.stderr}`);
            });
        },
      );
    }

    await t.step(
      "../ is refused with an access violation; /etc/passwd is looked for in the root",
      async () => {
        for (
          const [name, why] of [["../etc/passwd", /access violation/], [
            "/etc/passwd",
            /file not found/,
          ]] as const
        ) {
          const r = await guest.run(["busybox", "tftp", "-g", "-r", name, "-l", `${s.tmp}/x`, "10.0.2.2"], {
            check: false,
            timeoutMs: 20_000,
          });
          assert.equal(r.success, false);
          assert.match(r.stderr, why, r.stderr);
        }
        // The slirp logs before it answers, but its stderr reaches us by another path than the answer reaches
        // the guest: waited for, not read at once.
        for (
          const line of [
            /tftp: refused "\.\.\/etc\/passwd"/,
            /tftp: "\/etc\/passwd" asked by 10\.0\.2\.\d+: not found in /,
          ]
        ) {
          await waitFor(() => line.test(s.slirp.stderr), {
            timeoutMs: 10_000,
            what: `${line} in the slirp's log`,
          })
            .catch((err) => {
              throw new Error(`${err.message}\n${s.slirp.stderr}`);
            });
        }
      },
    );

    await t.step(
      "QEMU PXE-boots iPXE from our DHCP and TFTP; the boot script chains a second file",
      async () => {
        const qemu = ipxeVm(s.dir);
        try {
          await waitFor(() => {
            if (qemu.exitStatus !== null) throw new Error(`qemu exited: ${qemu.stderr}`);
            return /tftp: sent second\.ipxe/.test(s.slirp.stderr);
          }, { timeoutMs: 120_000, what: "iPXE fetching boot.ipxe, then second.ipxe" }).catch((err) => {
            throw new Error(`${err.message}\nslirp log:\n${s.slirp.stderr}`);
          });
          assert.match(s.slirp.stderr, /tftp: sent \/boot\.ipxe \(\d+ bytes\) to 10\.0\.2\.\d+/);
          // The start line found the boot file in the root, leading / and all.
          assert.doesNotMatch(s.slirp.stderr, /cannot be served/);
        } finally {
          await qemu.stop({ timeoutMs: 3000 });
        }
      },
    );
  });
});
