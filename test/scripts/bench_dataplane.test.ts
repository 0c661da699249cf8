/**
 * scripts/bench_dataplane.ts: the list-ping row's MAC table filler, against Debian's vde_switch and ours. Both
 * tables must end up holding 65,536 entries, those already there (a row's taps) counted in: Debian's
 * hash/print cannot tell (it sends only the part of its reply that fits the socket), hash/find can.
 */
import assert from "node:assert/strict";
import { fillMacTable } from "../../scripts/bench_dataplane.ts";
import { skipWithout } from "../helpers/processes.ts";
import { framed, reap, spawn, testFrame, writeTo } from "../helpers/framed_peers.ts";
import { startSwitchOf, type SwitchKind } from "../helpers/switches.ts";

for (const kind of ["c", "ours"] as const satisfies readonly SwitchKind[]) {
  Deno.test(`the list-ping filler fills ${kind}'s MAC table to 65,536 with two hosts there, and counts it by hash/find where Debian's hash/print lists a part`, async (t) => {
    const debian = { vde_switch: "vde-switch", vde_plug: "vdeplug", unixcmd: "vde2" };
    if (await skipWithout(t, debian)) return;
    const dir = await Deno.makeTempDir({ prefix: "vde-list-ping-fill-" });
    const mgmt = `${dir}/mgmt`;
    // Debian's is told its size as the bench does (it prints a warning for a size that is not a power of two).
    const extraArgs = kind === "c" ? ["-M", mgmt, "--hashsize", "65536"] : ["-M", mgmt];
    const sw = await startSwitchOf(kind, `${dir}/sw`, { extraArgs });
    // Two hosts already learnt, as the row's two taps are: the filler adds the rest up to 65,536.
    const hosts = spawn("vde_plug", [`vde://${dir}/sw`], { stdout: "null", stderr: "null" });
    let close = async () => {};
    try {
      await writeTo(hosts, framed(testFrame(1), testFrame(2)));
      for (let i = 0; i < 100; i++) {
        const r = await new Deno.Command("unixcmd", {
          args: ["-f", "/etc/vde2/vdecmd", "-s", mgmt, "hash/find", "02:00:00:00:00:02"],
          stdout: "piped",
          stderr: "null",
        }).output();
        if (new TextDecoder().decode(r.stdout).includes("Addr: 02:00:00:00:00:02")) break;
        await new Promise((res) => setTimeout(res, 50));
      }
      const filler = await fillMacTable(`${dir}/sw`, mgmt);
      close = filler.close;
      const { held, probes, found, listed } = filler.table;
      assert.deepEqual({ held, found }, { held: 65_536, found: probes });
      assert.ok(probes >= 64, `${probes} probes`);
      if (kind === "ours") assert.equal(listed, 65_536);
      else assert.ok(listed > 0 && listed < 10_000, `Debian's hash/print lists ${listed}`);
    } finally {
      await close();
      await reap(hosts);
      await sw.stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  });
}
