/**
 * The slirp thread (`vde slirp`'s default): the whole stack on a Worker
 * on a lent datagram socket. It answers on the socket while the main
 * thread only waits, accepts a forward's host clients on its own epoll
 * set, refuses a taken forward port in one line before it runs, and stops
 * (saying so) before the socket it borrowed is closed.
 */
import { fieldsOfStat } from "../../src/os/processes.ts";
import assert from "node:assert/strict";
import type { UnixDgramSocket } from "../../src/io/unix_dgram.ts";
import { SlirpThread, slirpThreadRefusal, switchLinkSummary } from "../../src/dataplane/slirp_thread.ts";
import {
  parseForward,
  parseGuestForward,
  parseSlirpOptions,
  type SlirpConfig,
} from "../../src/slirp/config.ts";
import { ARP_REPLY, ARP_REQUEST, type ArpPacket, parseArp, writeArp } from "../../src/wire/arp.ts";
import { buildFrame, ETH_HLEN } from "../../src/wire/ethernet.ts";
import { waitFor } from "../helpers/processes.ts";
import { setLogWriter } from "../../src/log.ts";
import { dgramPair } from "../helpers/dgram_pair.ts";

const GUEST_MAC = new Uint8Array([2, 0, 0, 0, 0, 0x15]);
const GUEST_IP = 0x0a00020f;
const GATEWAY_IP = 0x0a000202;

/** A thread on one end of a connected socket pair; the test holds the other end (the switch's side). */
async function withThread(
  config: SlirpConfig,
  fn: (thread: SlirpThread, theirs: UnixDgramSocket) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: `vde-slirp-thread-${Deno.pid}-` });
  const { ours, theirs } = dgramPair(dir);
  const thread = new SlirpThread(config, ours.fd, { resolvConf: "/nonexistent" });
  try {
    await fn(thread, theirs);
  } finally {
    await thread.stop();
    ours.close();
    theirs.close();
    await Deno.remove(dir, { recursive: true });
  }
}

/** Frames the thread sent, collected by polling our end. */
/** The next ARP frame of operation `op` (and for `target`, when given) the slirp thread sends. */
async function nextArp(
  theirs: UnixDgramSocket,
  op: number,
  target?: number,
): Promise<{ frame: Uint8Array; arp: ArpPacket }> {
  const arp: ArpPacket = { op: 0, senderMacOffset: 0, senderIp: 0, targetMacOffset: 0, targetIp: 0 };
  let found: Uint8Array | null = null;
  await waitFor(() => {
    theirs.recvBatch((f) => {
      if (found !== null || f.length < ETH_HLEN + 28 || f[12] !== 0x08 || f[13] !== 0x06) return;
      if (parseArp(f, ETH_HLEN, f.length - ETH_HLEN, arp) !== null || arp.op !== op) return;
      if (target === undefined || arp.targetIp === target) found = f.slice();
    }, { oversize: 0 });
    return found !== null;
  }, { timeoutMs: 10_000, what: `an ARP ${op === ARP_REPLY ? "reply" : "request"} from the slirp thread` });
  return { frame: found!, arp };
}

function arpRequest(targetIp: number): Uint8Array {
  const payload = new Uint8Array(28);
  writeArp(payload, 0, ARP_REQUEST, GUEST_MAC, GUEST_IP, new Uint8Array(6), targetIp);
  return buildFrame({ src: "02:00:00:00:00:15", type: 0x0806, payload });
}

Deno.test("the slirp thread answers the guest's ARP for the gateway on its socket, and stops before the socket is closed", async () => {
  await withThread(parseSlirpOptions(""), async (thread, theirs) => {
    const described = await thread.ready;
    assert.match(described, /gateway 10\.0\.2\.2\/24/);
    assert.equal(theirs.send(arpRequest(GATEWAY_IP)), 0);
    const { frame, arp } = await nextArp(theirs, ARP_REPLY);
    assert.equal(arp.senderIp, GATEWAY_IP);
    // libslirp's gateway MAC: 52:55 and the gateway's IPv4 address.
    assert.deepEqual([...frame.subarray(arp.senderMacOffset, arp.senderMacOffset + 6)], [
      0x52,
      0x55,
      10,
      0,
      2,
      2,
    ]);
    const end = await thread.stop();
    // Stopped on request: no reason of its own; it saw our frame.
    assert.equal(end.reason, null);
    assert.ok(end.link.framesIn >= 1);
    assert.equal(end.link.dropsIn, 0);
  });
});

Deno.test("a TCP forward on the slirp thread from host port 0 logs the port it got, takes a host client there and asks for the guest's address", async () => {
  const config = parseSlirpOptions("");
  config.forwards.push(parseForward("tcp:127.0.0.1:0:10.0.2.15:80", config));
  const lines: string[] = [];
  setLogWriter((line) => lines.push(line));
  try {
    await withThread(config, async (thread, theirs) => {
      await thread.ready;
      // The thread's log lines come before its "ready".
      const port = forwardPort(lines, /^vde slirp: forward tcp:127\.0\.0\.1:(\d+):10\.0\.2\.15:80$/);
      const client = await Deno.connect({ hostname: "127.0.0.1", port });
      try {
        // The accepted client becomes a SYN to the guest, whose MAC the stack asks for first (after the
        // probe for its own gateway address that a slirp sends when plugged).
        const { arp } = await nextArp(theirs, ARP_REQUEST, GUEST_IP);
        assert.equal(arp.targetIp, GUEST_IP);
      } finally {
        client.close();
      }
    });
  } finally {
    setLogWriter(null);
  }
});

/** Each thread of this process: id, nice value and scheduling policy (0: ordinary, 2: SCHED_RR). */
function threadsNow(): Map<number, { nice: number; policy: number }> {
  const threads = new Map<number, { nice: number; policy: number }>();
  for (const e of Deno.readDirSync("/proc/self/task")) {
    // Fields after the command's closing parenthesis: state is field 3, nice 19, policy 41.
    const f = fieldsOfStat(Deno.readTextFileSync(`/proc/self/task/${e.name}/stat`));
    threads.set(Number(e.name), { nice: Number(f[16]), policy: Number(f[38]) });
  }
  return threads;
}

Deno.test("the slirp thread runs at the process's own nice value while no bulk flows, so that it shares a core with the switch", async () => {
  const before = threadsNow();
  const own = before.get(Deno.pid)!.nice;
  await withThread(parseSlirpOptions(""), async (thread) => {
    await thread.ready;
    // The thread's new threads: the slirp thread and its receive thread (real-time from its start, as root).
    const ordinary = [...threadsNow()].filter(([tid, t]) => !before.has(tid) && t.policy === 0);
    assert.ok(ordinary.length >= 1, "the slirp thread is in the ordinary class");
    for (const [tid, t] of ordinary) assert.equal(t.nice, own, `thread ${tid}'s nice value`);
  });
});

/** The port (group 1 of `line`, not 0) in the one log line that matches `line`. */
function forwardPort(lines: string[], line: RegExp): number {
  const found = lines.map((l) => line.exec(l.trimEnd())?.[1]).filter((p) => p !== undefined);
  assert.equal(found.length, 1, `one line like ${line} in:\n${lines.join("")}`);
  assert.notEqual(Number(found[0]), 0);
  return Number(found[0]);
}

Deno.test("a forward whose host port is taken fails the slirp thread's start with one line", async () => {
  const busy = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (busy.addr as Deno.NetAddr).port;
  const config = parseSlirpOptions("");
  config.forwards.push(parseForward(`tcp:127.0.0.1:${port}:10.0.2.15:80`, config));
  try {
    await withThread(config, async (thread) => {
      await assert.rejects(
        thread.ready,
        new Error(
          `Host port ${port} on 127.0.0.1 is already in use (TCP forward to 10.0.2.15:80): ` +
            "forward another host port (0 takes any free one)",
        ),
      );
      const end = await thread.ended;
      assert.match(end.reason ?? "", /already in use/);
    });
  } finally {
    busy.close();
  }
});

Deno.test("a slirp stays on the main thread with --no-thread or guest forwards, for vde slirp and vde plug alike", () => {
  const plain = parseSlirpOptions("");
  assert.equal(slirpThreadRefusal(plain), null);
  assert.equal(slirpThreadRefusal(plain, true), null);
  assert.equal(slirpThreadRefusal(plain, false), "--no-thread");
  const guest = parseSlirpOptions("");
  guest.guestForwards.push(parseGuestForward("cmd", "1234:cat", guest));
  assert.equal(slirpThreadRefusal(guest), "guest forwards");
});

Deno.test("the switch link's summary line names frames in and out and drops both ways", () => {
  assert.equal(
    switchLinkSummary({ framesIn: 5, bytesIn: 500, framesOut: 4, bytesOut: 400, dropsIn: 2, dropsOut: 1 }),
    "switch link: 5 frames in, 4 out, dropped 2 in, 1 out",
  );
});
