/**
 * The real-time governor of the plug and slirp threads and the slirp
 * thread's download yield, on a virtual clock
 * with the scheduler calls recorded (the real ones would change the test
 * runner's own thread).
 */
import assert from "node:assert/strict";
import {
  DemandGovernor,
  DownloadYield,
  mayRaise,
  NOT_ENDED,
  RateWindow,
  RealtimeGovernor,
  smallFrames,
} from "../../src/dataplane/priority.ts";
import { fieldsOfStat, statFields } from "../../src/os/processes.ts";
import { startCSwitch } from "../helpers/switches.ts";
import { ourCli } from "../helpers/vde_clients.ts";
import { skipUnlessRoot, waitFor } from "../helpers/processes.ts";

function rig(realtime = true) {
  const clock = { now: 1000 };
  const calls: boolean[] = [];
  const governor = new RealtimeGovernor(() => clock.now, {
    raise: () => realtime,
    setRealtime: (on) => {
      calls.push(on);
      return true;
    },
  });
  return { clock, calls, governor };
}

Deno.test("the governor leaves real-time after more than 20 ms busy from its start, and takes it back before the next blocking wait", () => {
  const { clock, calls, governor } = rig();
  clock.now += 20;
  governor.busy();
  assert.deepEqual(calls, [], "20 ms busy is still a burst");
  clock.now += 1;
  governor.busy();
  governor.busy();
  assert.deepEqual(calls, [false], "demoted once");
  governor.idle();
  assert.deepEqual(calls, [false, true], "real-time again before it blocks");
  governor.idle();
  assert.deepEqual(calls, [false, true], "nothing to undo");
});

Deno.test("the governor's busy clock restarts after each blocking wait", () => {
  const { clock, calls, governor } = rig();
  clock.now += 15;
  governor.busy();
  governor.idle();
  clock.now += 100; // blocked
  governor.woke();
  clock.now += 15;
  governor.busy();
  assert.deepEqual(calls, []);
});

Deno.test("a thread that did not get real-time is never moved", () => {
  const { clock, calls, governor } = rig(false);
  clock.now += 100;
  governor.busy();
  governor.idle();
  assert.deepEqual(calls, []);
});

function demandRig() {
  const clock = { now: 1000 };
  const calls: string[] = [];
  const governor = new DemandGovernor(() => clock.now, {
    raise: () => {
      calls.push("raise");
      return true;
    },
    setRealtime: (on) => {
      calls.push(on ? "rt" : "ordinary");
      return true;
    },
    lower: () => void calls.push("lower"),
  });
  return { clock, calls, governor };
}

Deno.test("the demand governor leaves a thread ordinary while its datagram peer sends only acknowledgements", () => {
  const { clock, calls, governor } = demandRig();
  // 1 Gbit/s of TCP the other way: about 45 acknowledgements of 66 bytes per ms.
  for (let ms = 0; ms < 1000; ms++) {
    clock.now += 1;
    governor.busy();
    governor.drained(45 * 66, 45);
    governor.idle();
  }
  assert.deepEqual(calls, []);
  assert.equal(governor.realtime, false);
});

Deno.test("the demand governor goes real-time when its datagram peer streams 100 Mbit/s, and back 200 ms after it stops", () => {
  const { clock, calls, governor } = demandRig();
  for (let ms = 0; ms < 20; ms++) {
    clock.now += 1;
    governor.drained(9 * 1514, 9); // ~110 Mbit/s
    governor.idle();
  }
  assert.deepEqual(calls, ["raise"], "real-time after the first window");
  assert.equal(governor.realtime, true);
  for (let ms = 0; ms < 190; ms++) {
    clock.now += 1;
    governor.idle();
  }
  assert.equal(governor.realtime, true, "kept while the hold lasts");
  clock.now += 20;
  governor.idle();
  assert.deepEqual(calls, ["raise", "lower"]);
  assert.equal(governor.realtime, false);
});

Deno.test("the demand governor goes real-time at once when one wake-up finds a late-sized backlog", () => {
  const { calls, governor } = demandRig();
  governor.drained(50 * 1514, 50);
  assert.deepEqual(calls, ["raise"]);
  const small = demandRig();
  small.governor.drained(128 * 64, 128);
  assert.deepEqual(small.calls, ["raise"], "128 small frames are late too");
});

Deno.test("the demand governor takes a backlog of small frames for acknowledgements while the thread streams out", () => {
  const { clock, calls, governor } = demandRig();
  // 1 Gbit/s from the tap to the lossy peer: about 85 full-size frames per ms.
  for (let ms = 0; ms < 20; ms++) {
    clock.now += 1;
    governor.sent(85 * 1514);
    governor.idle();
  }
  // The thread waited 5 ms for a core: the stream's acknowledgements piled up.
  clock.now += 5;
  governor.drained(200 * 66, 200);
  governor.idle();
  assert.deepEqual(calls, [], "acknowledgements of our own stream are not late");
  governor.drained(50 * 1514, 50);
  assert.deepEqual(calls, ["raise"], "full-size frames are late all the same");
  // The stream out ended 200 ms ago: 128 small frames are late again.
  const after = demandRig();
  after.governor.sent(85 * 1514 * 10);
  after.clock.now += 10;
  after.governor.idle();
  after.clock.now += 201;
  after.governor.idle();
  after.governor.drained(128 * 64, 128);
  assert.deepEqual(after.calls, ["raise"]);
});

Deno.test("the demand governor still demotes a saturated real-time thread and restores it when idle", () => {
  const { clock, calls, governor } = demandRig();
  governor.drained(64 * 1024, 43);
  clock.now += 21;
  governor.drained(1514, 1);
  governor.busy();
  assert.deepEqual(calls, ["raise", "ordinary"]);
  governor.idle();
  assert.deepEqual(calls, ["raise", "ordinary", "rt"]);
});

function yieldRig(base = -20) {
  const clock = { now: 1000 };
  const nices: number[] = [];
  const y = new DownloadYield(() => clock.now, base, (n) => void nices.push(n));
  /** `ms` milliseconds of rounds, 1 ms apart, each with the given traffic. */
  const run = (ms: number, out: number, frames: number, inBytes: number, realtime = false) => {
    for (let i = 0; i < ms; i++) {
      clock.now += 1;
      y.round(out, frames, inBytes, realtime);
    }
  };
  return { clock, nices, y, run };
}

Deno.test("a download of MTU 1500 frames makes the slirp thread nice 0, and its own nice again 200 ms after it ends", () => {
  const { nices, y, run } = yieldRig();
  // 1 Gbit/s out in 1514-byte frames, 45 acknowledgements of 66 bytes a ms in.
  run(20, 83 * 1514, 83, 45 * 66);
  assert.deepEqual(nices, [0], "yields once");
  assert.equal(y.yielded, true);
  run(190, 0, 0, 0);
  assert.deepEqual(nices, [0], "kept while the hold lasts");
  run(30, 0, 0, 0);
  assert.deepEqual(nices, [0, -20]);
  assert.equal(y.yielded, false);
});

Deno.test("an upload, jumbo frames going out and a trickle do not make the slirp thread yield", () => {
  for (
    const [what, out, frames, inBytes] of [
      ["upload", 45 * 66, 45, 83 * 1514],
      ["jumbo download", 5 * 65_534, 5, 10 * 66],
      ["trickle", 2 * 1514, 2, 66],
    ] as const
  ) {
    const { nices, run } = yieldRig();
    run(100, out, frames, inBytes);
    assert.deepEqual(nices, [], what);
  }
  assert.equal(smallFrames(83 * 1514, 83), true);
  assert.equal(smallFrames(5 * 65_534, 5), false);
});

Deno.test("a turn of 9 KB frames with a guest's ACKs among them is jumbo, an MTU 1500 stream with its ACKs is not (the switch thread's poll)", () => {
  assert.equal(smallFrames(8 * 9230 + 66, 9), false, "a slirp's download at MTU 65520");
  assert.equal(smallFrames(2 * 9230 + 8 * 66, 10), false, "two jumbo frames among eight ACKs");
  assert.equal(smallFrames(40 * 1514 + 20 * 66, 60), true, "an MTU 1500 stream");
  assert.equal(smallFrames(64 * 64, 64), true, "64 B frames");
  assert.equal(smallFrames(64 * 1518, 64), true, "tagged MTU 1500 frames");
});

Deno.test("the slirp thread leaves its priority to the real-time governor, and yields again once that lets go", () => {
  const { nices, y, run } = yieldRig();
  run(20, 83 * 1514, 83, 0);
  assert.deepEqual(nices, [0]);
  // Real-time (the demand governor set nice -20 and SCHED_RR itself): the yield is forgotten, nothing set.
  run(20, 83 * 1514, 83, 0, true);
  assert.equal(y.yielded, false);
  assert.deepEqual(nices, [0]);
  run(20, 83 * 1514, 83, 0);
  assert.deepEqual(nices, [0, 0], "yields again");
});

Deno.test("a slirp thread that could not raise its nice value never changes it", () => {
  const { nices, run } = yieldRig(0);
  run(300, 83 * 1514, 83, 0);
  run(300, 0, 0, 0);
  assert.deepEqual(nices, []);
});

Deno.test("a rate window judges each counter over 10 ms against 100 Mbit/s and holds a sign of bulk 200 ms", () => {
  const w = new RateWindow(2, 1000);
  w.add(0, 200_000);
  w.add(1, 1_000);
  assert.equal(w.roll(1009.9), NOT_ENDED, "the window runs 10 ms");
  w.add(0, 1);
  assert.equal(w.roll(1012), 0b01, "the mask has the counters that passed");
  assert.equal(w.sum(0), 200_001);
  assert.equal(w.bulk(0), true, "200 KB in 12 ms: bulk");
  assert.equal(w.bulk(1), false, "1 KB in 12 ms: not bulk");
  // The next window starts empty, from the roll.
  w.add(0, 124_999);
  assert.equal(w.roll(1022), 0, "ended, none passed");
  assert.equal(w.bulk(0), false, "just under 12,500 bytes a ms");
  assert.equal(w.sum(1), 0);
  assert.equal(w.held(1022), false, "no sign yet");
  w.sign(1022);
  assert.equal(w.held(1222), true, "held 200 ms");
  assert.equal(w.held(1222.1), false, "then let go");
});

Deno.test("a thread raises itself only in a process not started niced", () => {
  assert.equal(mayRaise(0), true);
  assert.equal(mayRaise(-5), true, "already raised by its starter");
  assert.equal(mayRaise(10), false, "nice -n 10 vde ...: the user's choice");
});

/** The receive thread (`worker-N`) of process `pid`: its nice value and policy (0: ordinary, 2: SCHED_RR). */
function workerSched(pid: number): { nice: number; policy: number } | undefined {
  for (const e of Deno.readDirSync(`/proc/${pid}/task`)) {
    try {
      if (!Deno.readTextFileSync(`/proc/${pid}/task/${e.name}/comm`).startsWith("worker-")) continue;
      // Fields after the command's closing parenthesis: nice is field 19, policy 41.
      const f = fieldsOfStat(Deno.readTextFileSync(`/proc/${pid}/task/${e.name}/stat`));
      return { nice: Number(f[16]), policy: Number(f[38]) };
    } catch { /* the thread ended meanwhile */ }
  }
  return undefined;
}

Deno.test("vde plug started with nice -n 10 keeps its receive thread at nice 10 in the ordinary class; not niced, as root, the thread is SCHED_RR at nice -20", async (t) => {
  if (skipUnlessRoot(t)) return;
  const dir = await Deno.makeTempDir({ prefix: "vde-nice-" });
  const sw = await startCSwitch(`${dir}/sw`);
  try {
    for (const niced of [false, true]) {
      // Nice values relative to this process's own (a test run may itself be niced): 0, then 10.
      const own = Number(statFields("self")![16]);
      const argv = [
        "nice",
        "-n",
        String((niced ? 10 : 0) - own),
        ...ourCli(),
        "plug",
        `vde://${dir}/sw`,
        "-",
      ];
      const child = new Deno.Command(argv[0]!, {
        args: argv.slice(1),
        stdin: "piped",
        stdout: "null",
        stderr: "null",
      }).spawn();
      try {
        let sched: { nice: number; policy: number } | undefined;
        await waitFor(() => (sched = workerSched(child.pid)) !== undefined && (niced || sched.policy === 2), {
          timeoutMs: 30_000,
          what: "the plug's receive thread",
        });
        // The thread raises itself first thing: a niced one that would have done so has by now.
        if (niced) await new Promise((r) => setTimeout(r, 500));
        assert.deepEqual(workerSched(child.pid), niced ? { nice: 10, policy: 0 } : { nice: -20, policy: 2 });
      } finally {
        await child.stdin.close();
        await child.status;
      }
    }
  } finally {
    await sw.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
