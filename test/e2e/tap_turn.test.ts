/**
 * The order of system calls for a lone frame from a tap, seen with strace,
 * on the plug thread (`vde plug vde://... tap://`) and on the switch thread
 * (`vde switch --tap`): the frame is sent before the tap is read again, so
 * the read that finds the tap empty (EAGAIN), which ends the switch
 * thread's turn, is not on a ping's path; the plug thread does not make
 * that read at all for a lone frame, but waits again (as Debian's
 * vde_plug polls again). The lone frame is an ARP request (42 bytes, a size the
 * threads' warm-ups never use) in a namespace without IPv6, so nothing else
 * shares its wake-up. Root only; in CI it must run.
 */
import assert from "node:assert/strict";
import { type Lab, labMissing, type Netns, withNetns } from "../helpers/netns.ts";
import { skipUnless, waitFor } from "../helpers/processes.ts";
import { startCSwitch, VDE_CLI } from "../helpers/switches.ts";
import { within } from "../helpers/vde_clients.ts";

const VDE = VDE_CLI;
/** An ARP request's length on the wire (no padding: the kernel pads only on real NICs). */
const ARP_LENGTH = 42;

/** A namespace whose interfaces, made from now on, have no IPv6 (no router solicitation or MLD report). */
async function quietNamespace(lab: Lab, short: string): Promise<Netns> {
  const ns = await lab.namespace(short);
  await ns.run(["sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1"]);
  return ns;
}

/**
 * Runs `cmd` (a vde command that makes tap t0) under strace in `ns` (the
 * system calls `calls` traced), makes t0 send an ARP request, and returns
 * the line of the read that took it and the next two traced system calls of
 * that thread (the last frame it sent on by the system call `send`: `before`,
 * run once t0 exists, sets up where frames go); stops the traced command (not
 * strace: a traced process outlives a strace that is killed).
 */
async function callAfterTapRead(
  ns: Netns,
  cmd: string[],
  trace: string,
  before: () => Promise<void> = () => Promise.resolve(),
  calls = "read,sendmmsg",
  send = "sendmmsg",
): Promise<{ frame: string; next: string; then: string }> {
  const traced = ns.spawn(
    ["strace", "-f", "-qq", "--seccomp-bpf", "-e", `trace=${calls}`, "-o", trace, ...cmd],
    { name: `${cmd[3]} under strace` },
  );
  try {
    await waitFor(async () => {
      if (traced.exitStatus !== null) throw new Error(`exited early: ${traced.stderr}`);
      return (await ns.run(["ip", "link", "show", "t0"], { check: false })).success;
    }, { timeoutMs: 60_000, what: "t0" });
    await before();
    await ns.addr("t0", "10.199.77.1/24");
    // Each ping that finds no neighbour makes the kernel send an ARP request, once a second at most.
    return await waitFor(async () => {
      await ns.run(["ping", "-c", "1", "-W", "1", "10.199.77.2"], { check: false, timeoutMs: 5000 });
      const all = (await Deno.readTextFile(trace).catch(() => "")).split("\n");
      const read = new RegExp(`^\\d+ +read\\(\\d+, .*\\) = ${ARP_LENGTH}$`);
      // A read whose frame was sent on (a frame that found no client yet is not): the call after it.
      for (let at = all.length - 1; at >= 0; at--) {
        if (!read.test(all[at]!)) continue;
        const tid = all[at]!.split(" ", 1)[0];
        // Not a lone frame but the second of a drain, behind a frame the same read loop took from the tap
        // just before (two ARP requests a second apart, queued while a loaded machine held the thread off
        // its core): its share leaves with the drain's end, after the read that finds the tap empty.
        const fd = all[at]!.match(/read\((\d+),/)![1];
        const previous = all.slice(0, at).findLast((l) => l.startsWith(`${tid} `) && !l.includes("resumed>"));
        if (previous !== undefined && new RegExp(`^\\d+ +read\\(${fd}, .*\\) = \\d+$`).test(previous)) {
          continue;
        }
        const after = all.slice(at + 1).filter((l) => l.startsWith(`${tid} `) && !l.includes("resumed>"));
        const end = after.findIndex((l) => read.test(l));
        // The call after the send as well: strace writes a call that blocks (the wait) only once it
        // returns, or when another thread's call comes first.
        if (after.slice(0, end < 0 ? after.length : end).some((l) => l.includes(` ${send}(`)) && after[1]) {
          return { frame: all[at]!, next: after[0]!, then: after[1] };
        }
      }
      return null;
    }, {
      timeoutMs: 60_000,
      intervalMs: 500,
      what: "the ARP request read from the tap and the call after it",
    });
  } finally {
    const pid = Number((await Deno.readTextFile(trace).catch(() => "")).split(" ", 1)[0]);
    if (pid > 0) {
      Deno.kill(pid, "SIGTERM");
      const status = await within(`${cmd[3]} under strace to exit`, 30_000, traced.status);
      assert.equal(status.code, 0, traced.stderr);
    }
  }
}

Deno.test("a plug thread sends a lone frame from its tap, then waits without reading the tap again", async (t) => {
  if (skipUnless(t, await labMissing(["vde_switch", "strace"]))) return;
  const dir = await Deno.makeTempDir({ prefix: "vde-tapturn-" });
  const sw = await startCSwitch(`${dir}/sw`);
  try {
    await withNetns(async (lab) => {
      const ns = await quietNamespace(lab, "p");
      const cmd = [...VDE, "plug", `vde://${sw.dir}`, "tap://t0"];
      const { frame, next, then } = await callAfterTapRead(
        ns,
        cmd,
        `${dir}/plug.strace`,
        undefined,
        "read,sendto,sendmmsg,epoll_pwait",
        "sendto",
      );
      // A lone frame leaves by send (the sendto system call), not sendmmsg.
      assert.match(next, /^\d+ +sendto\(/, `the call after reading the frame:\n${frame}\n${next}`);
      // Its wait is epoll_pwait without a mask (ffi/libc.ts's `direct`, which aarch64 also has).
      assert.match(then, /^\d+ +epoll_pwait\(/, `the call after sending it:\n${frame}\n${next}\n${then}`);
    });
  } finally {
    await sw.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

Deno.test("a switch thread sends a lone frame from its tap to a client before it reads the tap again", async (t) => {
  if (skipUnless(t, await labMissing(["vde_plug", "strace"]))) return;
  const dir = await Deno.makeTempDir({ prefix: "vde-tapturn-" });
  try {
    await withNetns(async (lab) => {
      const ns = await quietNamespace(lab, "s");
      // A client for the broadcast to go to: Debian's plug on a tap of another namespace.
      const other = await quietNamespace(lab, "c");
      const client = async () => {
        const plug = other.spawn(["vde_plug", `vde://${dir}/sw`, "tap://t1"], { name: "vde_plug" });
        await waitFor(async () => {
          if (plug.exitStatus !== null) throw new Error(`vde_plug exited: ${plug.stderr}`);
          return (await other.run(["ip", "link", "show", "t1"], { check: false })).success;
        }, { timeoutMs: 20_000, what: "t1" });
      };
      const cmd = [...VDE, "switch", "--sock", `${dir}/sw`, "--tap", "t0"];
      const { frame, next } = await callAfterTapRead(ns, cmd, `${dir}/switch.strace`, client);
      assert.match(next, /^\d+ +sendmmsg\(/, `the call after reading the frame:\n${frame}\n${next}`);
    });
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
