/**
 * The slirp thread's body (a Deno Worker): the whole data path of `vde
 * slirp` (the switch's datagram socket, the stack, the TCP engine and every
 * host socket) on one thread that blocks in one `epoll_wait`, as libslirp's
 * single loop does.
 *
 * Theory of operation. The thread's poller is a driven one
 * (io/poller.ts): the loop below calls `turn`, a synchronous `epoll_wait`
 * whose timeout is the stack's next timer, and the round that follows
 * drains the switch's socket (`recvmmsg`), takes host sockets' data, accepts
 * forward clients and sends the frames of the round in one `sendmmsg`. The
 * TCP engine's host sockets are libc fds in the same set
 * (slirp/tcp/libc_host.ts), so a client's connect, its data and the guest's
 * answer each cost one wake-up of this thread and no other. The links are
 * the ordinary ones (a DgramLink on the switch's socket, a SlirpLink on
 * the stack), plugged together as on the main thread.
 *
 * Promises: the engine's host sockets settle promises, whose reactions are
 * microtasks. After each round the loop awaits until no more settle
 * (`settledCount` stops moving), so every reaction the round started runs
 * before the next wait. Deno's own event loop (timers, Deno's sockets) does
 * not turn while the thread blocks; it gets a turn when the thread has been
 * idle for `IDLE_TURN_MS` and after every round while a DNS query over TCP
 * (Deno's sockets) is under way.
 *
 * Draining: Debian's vde_switch sends to our socket without waiting and
 * drops what its socket buffer (about 90 frames) cannot hold, and a round
 * of this thread (a batch through the TCP engine, host socket writes, the
 * promise reactions after it) can take several milliseconds on a loaded
 * machine. Measured behind the C switch (50 MB each way, two loaded cores,
 * alternating runs): 280 frames lost per run on average (8 runs in 13 lost
 * some) when this thread read the socket itself between rounds, 96 with a
 * receive thread (rx_thread.ts) copying frames into a ring of thousands as
 * they arrive (7 in 17); iperf3's retransmits guest->host fell from
 * 500-1,050 to 100-300. But that thread cost a second wake-up for every
 * frame: a connection through a forward took 249 µs of CPU against 175
 * with this thread reading, and 885 connections a second against 1,447. So
 * the switch link is "on-demand" (dgram_link.ts, read_handover.ts): this
 * thread reads the socket in its own epoll set, and the receive thread
 * reads it while a stream comes in (64 KiB within 10 ms, or a read that
 * finds 6 KiB or 80 frames waiting), until 250 ms after it, but only once a
 * segment out of order said the sender lost frames: until then the TCP
 * window (below) keeps what one flow has in flight within the switch's
 * queue, however late this thread reads, and a stream read here between
 * naps (see "Batching") cost far less than relayed (behind Debian's
 * switch, iperf3 guest->host at MTU 1500: the receive thread woke 350-690
 * times per MB and took 1.6-3.1 ms of CPU per MB, the slirp process
 * 7.5-10.4 ms per MB in all; read here, 3.0-4.2 ms, and the switch's count of frames
 * sent to our port matched ours). A download's acknowledgements this
 * thread reads itself even then: relayed, they cost the receive thread a
 * wake-up per batch (40% of the slirp's CPU), and read here none were lost
 * to Debian's switch (50 MB down, 4 runs), now that a download is not
 * paused (below).
 * The receive thread, a Worker started from this one, starts only when
 * this thread's event loop turns, so the thread waits for it before it
 * says it is ready.
 *
 * What the switch queues for us: before the stack starts, the thread reads
 * the send buffer of the switch's end of the socket (io/unix_peer_queue.ts)
 * and gives the TCP engine the full-size frames it holds, which bounds the
 * window offered to a guest on this host (tcp/tcb.ts, `switchQueueFrames`):
 * 93 behind Debian's vde_switch, which drops the rest; about 900 behind
 * ours, which holds them.
 *
 * Batching: a stream (iperf3 through the slirp, behind Debian's switch)
 * brings a frame every 10-20 µs. Woken for each one, the thread paid a
 * wake-up, two `epoll_wait`s, the settle below, a `sendmmsg` and an ACK per
 * frame or two: behind Debian's switch at MTU 1500 it took 7.7-13 ms of CPU
 * per MB going up and 6-15 going down, against 5.6-8.6 and 2.8-4.5 for
 * libslirp's `vde_plug`, and woke 6-10,000 times a second. So after a round
 * that received data frames (`DATA_FRAME_BYTES` on average, not
 * acknowledgements), `STREAM_FRAMES` or more of them, or any while bulk
 * comes in (the demand governor's word: a stream read here comes a frame
 * or two per round), the thread sleeps `NAP_MS` before
 * it looks again (interrupt moderation, as a NIC's rx-usecs): the next
 * round finds a batch (the switch's queue holds it: the TCP window keeps
 * one flow within it; a relayed stream waits in the receive thread's
 * ring), its segments are acknowledged and its host writes made
 * together. Measured there (two loaded cores, 7 alternating rounds):
 * 4.3-8.7 ms per MB up and 3.0-5.6 down; guest->host a median 1.55x
 * libslirp's rate (0.98x before). Jumbo frames (an MTU above 1500; a VDE
 * frame carries at most 9 KB) come fewer a round than `STREAM_FRAMES`, so
 * a round that brings `STREAM_BYTES` is a stream's too: without that, at
 * MTU 65520 guest->host, the thread slept in `epoll_wait` after every
 * frame or two (29-65 context switches per MB, a quarter of its CPU in
 * the scheduler's switch); with it, 3 alternating pairs behind our
 * switch: 0.97-1.15 ms of CPU per MB against 1.35-1.84, 7 context switches
 * per MB, 3,389-4,133 Mbit/s against 3,088-3,564. A download is not
 * paused: its rounds are clocked by the guest's acknowledgements, which
 * wait in the socket during a pause (a round of 4 acknowledgements or
 * more was paused until this stop: behind Debian's switch at MTU 1500, 8
 * alternating pairs on a shared machine, 830 Mbit/s median without
 * against 588 with, 6 pairs of 8 faster, the slirp's CPU per MB 3.19 ms
 * against 3.37). Behind Debian's switch, alternating rounds on two cores loaded
 * by other work (load 8-14): with our sender capped at 64 segments in
 * flight (tried, not kept: a third slower behind our own switch),
 * 747-919 Mbit/s without the pause against 298-804 with it (3 rounds);
 * without the cap, 536-753 against 445-672 (3 rounds,
 * CPU per MB 3.8-4.8 ms either way).
 * A request and its answer (ping, a connection through a forward) move
 * fewer frames per round and are not delayed.
 *
 * Priority: the process's own nice value while little flows, and nice
 * -20 with SCHED_RR only while bulk flows through it (a `DemandGovernor`
 * fed with the bytes the switch sends us, and the jumbo frames we send
 * it), back to its own 200 ms after. Once the switch was seen to drop,
 * while a stream comes the receive thread reads the switch's socket, in
 * real time, so frames wait in the ring, not in the kernel queue, while
 * this thread is late; but a real-time thread's wake-ups cost far more on
 * this kind of machine (the scheduler balances real-time tasks between
 * cores at every wake-up and sleep). Measured, alternating: connections
 * through a forward took 372 µs of CPU each in SCHED_RR, 210 at nice -20;
 * iperf3 at MTU 65520 ran at 716-798 Mbit/s up and 737-1,596 down at nice
 * -20, 1,603-2,571 and 2,633-2,916 with SCHED_RR. Between streams the
 * thread kept nice -20 too, as it once did, it weighs as 88 nice-0 tasks,
 * and the scheduler's load balancing tends to give it a core of its own
 * (a trace of a connection found it alone on one vCPU), so each of a
 * connection's 4-6 hops between this thread and the switch woke a halted
 * vCPU (12-16 µs in the waker's system call here); at nice 0 it is
 * balanced like the switch and the guest's plug. Measured through a
 * forward, one connection at a time, 21 alternating pairs on a shared
 * machine: 17 faster, a median 1.14x (0.68-2.23x), the slirp's CPU per
 * connection a median 86 µs against 101. A download of MTU 1500 frames
 * runs at nice 0, not real-time, even when the thread's own value is lower
 * (`DownloadYield`): the guest side (a C switch, the guest's plug and
 * kernel) is its bottleneck, and a thread that preempts it at every batch
 * of acknowledgements slows everyone down.
 *
 * No keep-warm window (the switch and plug threads' 1 ms waits after a
 * frame): tried here, it made connections through a forward no faster and
 * each one cost more CPU (README, "Not yet here").
 *
 * Ownership: the socket is the main thread's; this thread works on a
 * duplicate it closes itself, before it says "stopped". Stop is a flag in
 * shared memory plus a write to the wake eventfd (the loop takes no
 * messages while it runs). Log lines go to the main thread as messages.
 */
import { direct, libc } from "../../ffi/libc.ts";
import { useDrivenPoller } from "../io/poller.ts";
import { UnixDgramSocket } from "../io/unix_dgram.ts";
import { framesQueued, peerSendBuffer } from "../io/unix_peer_queue.ts";
import { DgramLink } from "../link/dgram_link.ts";
import { newLinkStats } from "../link/link.ts";
import { plug } from "../link/plug.ts";
import { SlirpLink } from "../link/slirp_link.ts";
import { setLogWriter } from "../log.ts";
import { dnsTcpInFlight } from "../slirp/dns_forwarder.ts";
import { startSlirpStack } from "../slirp/start.ts";
import { libcHostNet, settledCount } from "../slirp/tcp/libc_host.ts";
import { warmSlirp } from "../slirp/warmup.ts";
import { currentNice, DemandGovernor, DownloadYield, smallFrames } from "./priority.ts";
import { renderSlirpMetrics } from "../web/slirp_metrics.ts";
import { announceLoaded } from "./worker_loaded.ts";
import { SLIRP_METRICS, SLIRP_STOP, type SlirpReport, type SlirpStart } from "./slirp_layout.ts";
import { ETH_HLEN, VDE_MAX_FRAME } from "../wire/ethernet.ts";

/** Longest wait for the receive thread to start before the slirp says it is ready. */
const RX_START_MS = 10_000;
/** Longest wait before Deno's event loop gets a turn while the thread is idle. */
const IDLE_TURN_MS = 50;
/** How long the thread pauses after a round of a stream before it looks again (see "Batching" above). */
const NAP_MS = 0.15;
/** Data frames from the switch in one round that make it a stream's: a request and its answer are fewer. */
const STREAM_FRAMES = 4;
/**
 * Mean size of the frames of a round from which they are data, not acknowledgements (54-100 bytes):
 * STREAM_FRAMES of them make the round a stream's, and so do STREAM_BYTES of them, and one while bulk
 * comes in (the demand governor says so): a stream read by this thread itself, not relayed, comes a
 * frame or two per round when the thread keeps up, and a round of fewer than STREAM_FRAMES was not
 * followed by the nap: the thread woke for every frame (650 times per MB, 8.8 ms of CPU per MB). A
 * download's acknowledgements are not data frames (see "Batching").
 */
const DATA_FRAME_BYTES = 1000;
/**
 * Bytes from the switch in one round that make it a stream's too: jumbo
 * frames (an MTU above 1500; at most 9 KB through VDE) come a few a round,
 * fewer than `STREAM_FRAMES` (see "Batching" above). Two such rounds in a
 * row, so that one jumbo request and its answer (a big RPC, `ping -s 8000`)
 * do not wait out a nap: a stream naps from its second round on.
 */
const STREAM_BYTES = 8192;
/** A word no one notifies: `Atomics.wait` on it is a sleep of the thread. */
const napWord = new Int32Array(new SharedArrayBuffer(4));
/** fcntl: duplicate an fd, close-on-exec. */
const F_DUPFD_CLOEXEC = 1030;

const scope = self as unknown as {
  onmessage: ((e: MessageEvent<SlirpStart>) => void) | null;
  postMessage(message: SlirpReport): void;
};

/** Awaits in a row without a settlement after which the microtasks of a round are taken to have run. */
const QUIET_AWAITS = 4;

/**
 * Runs the reactions of promises settled so far, and theirs, until none is
 * left: each await lets the microtasks queued before it run; a settlement
 * starts the count again, and a few quiet awaits cover reactions that queue
 * a microtask of their own (the slirp link's end-of-batch flush).
 */
async function settle(): Promise<void> {
  let seen = settledCount();
  for (let quiet = 0, i = 0; quiet < QUIET_AWAITS && i < 10_000; i++) {
    await null;
    const now = settledCount();
    if (now === seen) quiet++;
    else {
      seen = now;
      quiet = 0;
    }
  }
}

/**
 * Full-size frames the switch's socket queues for us, 0 when unknown: how
 * large a window the TCP engine may offer a guest on this host (tcp/tcb.ts,
 * `switchQueueFrames`).
 */
function switchQueueFrames(fd: number, mtu: number): number {
  const sndbuf = peerSendBuffer(fd);
  return sndbuf === null ? 0 : framesQueued(sndbuf, Math.min(mtu + ETH_HLEN, VDE_MAX_FRAME));
}

/** One turn of Deno's event loop (its timers and its own sockets). */
function eventLoopTurn(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/**
 * The stack's clock: read once after each wait, not at every use (a
 * `performance.now()` costs about 0.8 µs here, and a connection's segments
 * asked for it dozens of times); a round takes well under a millisecond.
 */
let clock = performance.now();
const tick = () => {
  clock = performance.now();
};

async function run(start: SlirpStart): Promise<void> {
  const poller = useDrivenPoller();
  setLogWriter((line, severity) => scope.postMessage({ type: "log", line: line.trimEnd(), severity }));
  // No nice -20 of its own between streams (see "Priority" above): the governor raises it for bulk and
  // gives back the nice value it finds.
  tick(); // the governor's clock starts now, not when the module loaded
  const priority = new DemandGovernor(() => clock);
  const yielder = new DownloadYield(() => clock, currentNice());
  const stop = new Int32Array(start.shared);
  let link: SlirpLink;
  try {
    const stack = await startSlirpStack(start.config, {
      tcpHostNet: libcHostNet,
      resolvConf: start.resolvConf,
      now: () => clock,
      switchQueueFrames: switchQueueFrames(start.fd, start.config.mtu),
    });
    // The connection path compiled on this thread before the first real frame (slirp/warmup.ts), after
    // the module's loaded word, the thread's first message, which would otherwise throw it away (worker_loaded.ts).
    warmSlirp(start.config);
    tick();
    link = new SlirpLink(stack, { drivenTimers: true });
  } catch (err) {
    scope.postMessage({ type: "failed", message: (err as Error).message });
    return;
  }
  const fd = libc().fcntl(start.fd, F_DUPFD_CLOEXEC, 0);
  if (fd < 0) {
    link.close("no socket");
    scope.postMessage({ type: "failed", message: "cannot take the switch's socket" });
    return;
  }
  // Read here, or by a receive thread while a stream comes (see "Draining" above).
  const sw = new DgramLink(UnixDgramSocket.adopt(fd), "switch", "on-demand", () => clock);
  let ended: string | null = null;
  // Before plugging in, which probes for the gateway anew: a --daemon start waits for the answer.
  link.stack.onProbed = () => scope.postMessage({ type: "probed" });
  const plugged = plug(sw, link, { thread: false }).then((reason) => (ended = reason));
  const sink = new Uint8Array(8);
  poller.add(start.wakeFd, { onReadable: () => direct.read(start.wakeFd, sink, 8) });
  // A Worker started from this one runs only once this thread's event loop turns, which the loop below
  // does not do while traffic flows: the receive thread must run before a stream can be handed to it.
  for (
    const until = performance.now() + RX_START_MS;
    !sw.receiveThreadRunning && performance.now() < until;
  ) {
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  scope.postMessage({ type: "ready", describe: link.stack.describe()[0] ?? "" });

  // A segment out of order means frames were lost on their way in: relay streams from then on
  // (read_handover.ts, HandoverGovernor).
  const tcpStats = link.stack.tcp.stats;
  let outOfOrder = tcpStats.outOfOrder;
  let idleSince = performance.now();
  let answered = 0;
  /** Frames the switch link had received when the last round ended (see "Batching" above). */
  let moved = 0;
  /** Bytes the switch link had received when the last round ended. */
  let movedBytes = 0;
  /** Whether the last round brought STREAM_BYTES: one jumbo request alone is no stream (see STREAM_BYTES). */
  let bytesLast = false;
  while (ended === null && !sw.isClosed && !link.isClosed && Atomics.load(stop, SLIRP_STOP) === 0) {
    clock = performance.now();
    const due = link.runTimers();
    const dns = dnsTcpInFlight() > 0;
    // Whole milliseconds (epoll's unit), rounded up so a timer not quite due does not spin the loop.
    const timeout = Math.max(0, Math.min(dns ? 1 : IDLE_TURN_MS, Math.ceil(due)));
    const st = sw.stats;
    const bytesIn = st.bytesIn;
    const framesIn = st.framesIn;
    const bytesOut = st.bytesOut;
    const framesOut = st.framesOut;
    // Only data frames coming in: a download's rounds are clocked by its acknowledgements (see "Batching").
    const inFrames = st.framesIn - moved;
    const inBytes = st.bytesIn - movedBytes;
    const bytesNow = inBytes >= STREAM_BYTES;
    if (
      inFrames > 0 && inBytes >= DATA_FRAME_BYTES * inFrames &&
      (inFrames >= STREAM_FRAMES || (bytesNow && bytesLast) || priority.realtime)
    ) {
      // A stream: let the next batch gather (see "Batching" above); the pause ends a busy stretch.
      priority.idle();
      Atomics.wait(napWord, 0, 0, NAP_MS);
      clock = performance.now();
      priority.woke();
    }
    moved = st.framesIn;
    movedBytes = st.bytesIn;
    bytesLast = bytesNow;
    // Real-time: look without blocking first; only a pause (the nap, a wait that finds nothing) resets
    // the saturation clock, and the governor tells a flood from a burst. An ordinary thread keeps no such
    // clock: its one wait returns at once when something is ready (a system call less per wake-up).
    let n = priority.realtime || timeout === 0 ? poller.turn(0) : 0;
    if (n === 0 && timeout > 0) {
      priority.idle();
      n = poller.turn(timeout, tick);
      priority.woke();
    } else priority.busy();
    await settle();
    if (tcpStats.outOfOrder !== outOfOrder) {
      outOfOrder = tcpStats.outOfOrder;
      sw.upstreamLoss();
    }
    // Bulk coming in makes the thread real-time, and so do jumbo frames going out; a download of
    // MTU 1500 frames makes it yield instead (see "Priority" above).
    const sent = st.bytesOut - bytesOut;
    const sentFrames = st.framesOut - framesOut;
    // What we stream to the switch tells a download's acknowledgements, piled up while the thread waited
    // for a core, from a late backlog (DemandGovernor.sent) before they are counted.
    priority.sent(sent);
    priority.drained(
      st.bytesIn - bytesIn + (smallFrames(sent, sentFrames) ? 0 : sent),
      st.framesIn - framesIn,
    );
    yielder.round(sent, sentFrames, st.bytesIn - bytesIn, priority.realtime);
    const asked = Atomics.load(stop, SLIRP_METRICS);
    if (asked !== answered) {
      answered = asked;
      scope.postMessage({ type: "metrics", text: renderSlirpMetrics(start.metricsName ?? "", link.stack) });
    }
    const now = clock;
    if (n > 0) idleSince = now;
    if (dns || now - idleSince >= IDLE_TURN_MS || !sw.receiveThreadRunning) {
      idleSince = now;
      await eventLoopTurn();
    }
  }
  const st = sw.stats;
  link.close("stopped");
  sw.close("stopped");
  await plugged;
  // The receive thread is stopped and the duplicate closed before the main thread may close its fd.
  await sw.released;
  // The cable ended by itself (the switch went away) unless the main thread asked.
  const reason = Atomics.load(stop, SLIRP_STOP) === 0 ? ended : null;
  poller.remove(start.wakeFd);
  await poller.stop();
  scope.postMessage({ type: "stopped", reason, link: st });
}

scope.onmessage = (e) => {
  scope.onmessage = null;
  run(e.data).catch((err) => {
    scope.postMessage({ type: "stopped", reason: `slirp thread failed: ${err}`, link: newLinkStats() });
  });
};

// Deno has loaded this thread: a prompt its load erased can be drawn again (worker_loaded.ts).
announceLoaded();
