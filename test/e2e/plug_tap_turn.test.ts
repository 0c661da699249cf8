/**
 * The plug thread's order of system calls for a lone frame from its tap,
 * seen with strace: the frame is sent before the tap is read again, so the
 * read that finds the tap empty (EAGAIN), which ends every turn, is not on
 * a ping's path. The lone frame is an ARP request (42 bytes, a size the
 * plug's warm-up never uses) in a namespace without IPv6, so nothing else
 * shares its wake-up. Root only; in CI it must run.
 */
import assert from "node:assert/strict";
import { labMissing, withNetns } from "../helpers/netns.ts";
import { skipUnless, waitFor } from "../helpers/processes.ts";
import { REPO_ROOT, startCSwitch } from "../helpers/switches.ts";
import { within } from "../helpers/vde_clients.ts";

const VDE = [Deno.execPath(), "run", "-A", `${REPO_ROOT}/mod.ts`];
/** An ARP request's length on the wire (no padding: the kernel pads only on real NICs). */
const ARP_LENGTH = 42;

Deno.test("a plug thread sends a lone frame from its tap before it reads the tap again", async (t) => {
  if (skipUnless(t, await labMissing(["vde_switch", "strace"]))) return;
  const dir = await Deno.makeTempDir({ prefix: "vde-tapturn-" });
  const sw = await startCSwitch(`${dir}/sw`);
  try {
    await withNetns(async (lab) => {
      const ns = await lab.namespace("p");
      // Interfaces made from now on have no IPv6: no router solicitation or MLD report joins the ARP request.
      await ns.run(["sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1"]);
      const trace = `${dir}/plug.strace`;
      const plug = ns.spawn([
        "strace",
        "-f",
        "-qq",
        "--seccomp-bpf",
        "-e",
        "trace=read,sendmmsg",
        "-o",
        trace,
        ...VDE,
        "plug",
        `vde://${sw.dir}`,
        "tap://t0",
      ], { name: "vde plug under strace" });
      await waitFor(async () => {
        if (plug.exitStatus !== null) throw new Error(`plug exited early: ${plug.stderr}`);
        return (await ns.run(["ip", "link", "show", "t0"], { check: false })).success;
      }, { timeoutMs: 60_000, what: "t0" });
      await ns.addr("t0", "10.199.77.1/24");
      try {
        // Each ping that finds no neighbour makes the kernel send an ARP request, once a second at most.
        const { frame, next } = await waitFor(async () => {
          await ns.run(["ping", "-c", "1", "-W", "1", "10.199.77.2"], { check: false, timeoutMs: 5000 });
          const all = (await Deno.readTextFile(trace).catch(() => "")).split("\n");
          const at = all.findIndex((l) => new RegExp(`^\\d+ +read\\(\\d+, .*\\) = ${ARP_LENGTH}$`).test(l));
          if (at < 0) return null;
          const tid = all[at]!.split(" ", 1)[0];
          const next = all.slice(at + 1).find((l) => l.startsWith(`${tid} `) && !l.includes("resumed>"));
          return next === undefined ? null : { frame: all[at]!, next };
        }, {
          timeoutMs: 60_000,
          intervalMs: 500,
          what: "the ARP request read from the tap and the call after it",
        });
        assert.match(next, /^\d+ +sendmmsg\(/, `the call after reading the frame:\n${frame}\n${next}`);
      } finally {
        // The plug itself is stopped, not strace: a traced process outlives a strace that is killed.
        const pid = Number((await Deno.readTextFile(trace).catch(() => "")).split(" ", 1)[0]);
        if (pid > 0) {
          Deno.kill(pid, "SIGTERM");
          const status = await within("the plug under strace to exit", 30_000, plug.status);
          assert.equal(status.code, 0, plug.stderr);
        }
      }
    });
  } finally {
    await sw.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
