/**
 * The Switch around the engine: its clock on the main thread, and a port switched off or on (the web
 * view's toggle, a lab cable pulled) against clients joining and fds lent to the data-plane thread.
 * Frames and the rest of the ports are tested through the console, the links and the data-plane
 * thread's tests.
 */
import assert from "node:assert/strict";
import { Switch } from "../../src/switch/switch.ts";
import { BaseLink, ONCE_LINES_PER_WINDOW, setOnceLineWindow } from "../../src/link/link.ts";
import { setLogWriter } from "../../src/log.ts";
import type { PlugEnd } from "../../src/dataplane/plug_layout.ts";
import { datagramPair, libc } from "../../ffi/libc.ts";
import { MemoryLink } from "../helpers/memory_link.ts";
import { BROADCAST, ethFrame, mac, until } from "../helpers/vde_clients.ts";
import { DYING_WORDS } from "../dataplane/_dying_words.ts";
import { dyingSwitch, killThread } from "../dataplane/_dying_thread_switch.ts";

/** A vde client's link whose datagram fd reaches the switch thread only when the test says `lend()`. */
class LendingLink extends BaseLink {
  readonly kind = "vde" as const;
  readonly #lent = Promise.withResolvers<void>();

  constructor(readonly fd: number) {
    super("lending client");
  }

  lendFd(_returned: Promise<unknown>): Promise<PlugEnd> {
    return this.#lent.promise.then(() => ({ fd: this.fd, kind: "dgram", name: this.description }));
  }

  lend(): void {
    this.#lent.resolve();
  }

  send(): void {}

  protected teardown(): void {}
}

Deno.test("a switch on the main thread ticks again within milliseconds while an aging pass is in progress, else once a second", async () => {
  const sw = new Switch({ numPorts: 4 });
  try {
    const link = new MemoryLink("hosts");
    sw.attach(link, { port: 1 });
    sw.engine.gcIntervalSeconds = 1;
    sw.engine.expireSeconds = 1;
    // 20,000 MACs: a table of 65,536 slots, 4 ticks a pass.
    for (let i = 0; i < 20000; i++) link.receive(ethFrame(BROADCAST, mac(0x1000 + i), 0));
    assert.equal(sw.engine.macTable.size, 20000);
    const ticks: { at: number; aging: boolean }[] = [];
    const t0 = performance.now();
    const tick = sw.engine.tick.bind(sw.engine);
    sw.engine.tick = (nowMs) => {
      const removed = tick(nowMs);
      ticks.push({ at: performance.now(), aging: sw.engine.aging });
      return removed;
    };
    await until("every MAC aged out", () => sw.engine.macTable.size === 0, 30_000);
    const slices = ticks.filter((t) => t.aging).length;
    assert.ok(slices >= 3, `${slices} ticks left a pass in progress`);
    const seconds = (performance.now() - t0) / 1000;
    assert.ok(
      ticks.length - slices <= seconds + 1,
      `${ticks.length - slices} ticks that did not age in ${seconds} s`,
    );
    for (let i = 0; i + 1 < ticks.length; i++) {
      // A slice is due a millisecond later: far less than the second between idle ticks, even on a loaded machine.
      if (ticks[i]!.aging) {
        assert.ok(ticks[i + 1]!.at - ticks[i]!.at < 500, `tick ${i} was followed only a second later`);
      }
    }
  } finally {
    await sw.close();
  }
});

Deno.test("a port switched off stays down while clients join and leave; switched on it switches again, and a freed port forgets", async () => {
  const sw = new Switch({ numPorts: 4 });
  try {
    const a = new MemoryLink("a");
    sw.attach(a, { port: 1 });
    assert.equal(sw.setPortEnabled(1, false), false);
    sw.attach(new MemoryLink("b"), { port: 1 });
    assert.equal(sw.engine.isActive(1), false, "a second client does not turn it on");
    for (const ep of [...sw.port(1)!.endpoints]) ep.link.close();
    await until("port 1 empty", () => sw.port(1)!.endpoints.length === 0);
    const c = new MemoryLink("c");
    sw.attach(c, { port: 1 });
    assert.equal(sw.engine.isActive(1), false, "nor a client that joins an empty port");
    assert.equal(sw.setPortEnabled(1, true), true);
    const d = new MemoryLink("d");
    sw.attach(d, { port: 2 });
    c.receive(ethFrame(BROADCAST, mac(1), 1));
    assert.equal(d.sent.length, 1, "switched on, port 1 forwards");
    d.close();
    await until("port 2 empty", () => sw.port(2)!.endpoints.length === 0);
    assert.equal(sw.setPortEnabled(2, true), false, "a port with no client stays down");
    assert.equal(sw.setPortEnabled(2, false), false);
    assert.equal(sw.removePort(2), true);
    sw.attach(new MemoryLink("e"), { port: 2 });
    assert.equal(sw.engine.isActive(2), true, "a freed port forgets it was switched off");
  } finally {
    await sw.close();
  }
});

/** A threaded switch with a LendingLink on port 1, over a datagram pair whose far end ([1]) is the client's. */
function lendingClient() {
  const sw = new Switch({ numPorts: 4, dataplane: "thread" });
  const pair = datagramPair();
  assert.ok(pair !== null);
  const link = new LendingLink(pair[0]);
  return { sw, pair, link, ep: sw.attach(link, { port: 1 }) };
}

Deno.test("a threaded switch's port whose fd is on its way to the thread goes active only once the thread has it, and not while switched off", async () => {
  const { sw, pair, link, ep } = lendingClient();
  try {
    assert.equal(sw.setPortEnabled(1, true), false, "not before the thread has the fd");
    sw.setPortEnabled(1, false);
    link.lend();
    await sw.forwarding(ep);
    assert.equal(sw.engine.isActive(1), false, "switched off, the fd's arrival leaves it down");
    assert.equal(sw.setPortEnabled(1, true), true);
    const m = new MemoryLink("m");
    sw.attach(m, { port: 2 });
    // Port 1's enabling and port 2 reach the thread as posted changes: a frame read before them is
    // dropped (port 1 still down, port 2 unknown), as one a client sends before the console answers.
    await sw.settled();
    const frame = ethFrame(BROADCAST, mac(1), 1);
    assert.equal(libc().send(pair[1], frame, frame.length, 0), frame.length);
    await until("the client's broadcast on port 2", () => m.sent.length === 1);
  } finally {
    await sw.close();
    libc().close(pair[0]);
    libc().close(pair[1]);
  }
});

Deno.test("a threaded switch says a client's first runt once, as a link on the main thread says one it drops", async () => {
  const lines: string[] = [];
  setLogWriter((line) => lines.push(line));
  setOnceLineWindow(60_000);
  const { sw, pair, link, ep } = lendingClient();
  try {
    link.lend();
    await sw.forwarding(ep);
    const m = new MemoryLink("m");
    sw.attach(m, { port: 2 });
    await sw.settled();
    // Two runts, then a frame that passes: by the time it arrives, the runts' word was posted first.
    for (const length of [10, 3]) {
      assert.equal(libc().send(pair[1], new Uint8Array(length), length, 0), length);
    }
    const frame = ethFrame(BROADCAST, mac(1), 1);
    assert.equal(libc().send(pair[1], frame, frame.length, 0), frame.length);
    await until("the client's broadcast on port 2", () => m.sent.length === 1);
    await until("the runt's line", () => lines.some((l) => l.includes("shorter than an Ethernet header")));
    assert.deepEqual(lines.filter((l) => l.includes("shorter than")).map((l) => l.trimEnd()), [
      "vde: port 1 (lending client): dropped a 10-byte frame (shorter than an Ethernet header)",
    ]);
    assert.equal(sw.engine.counters.short, 2);
  } finally {
    setLogWriter(null);
    await sw.close();
    libc().close(pair[0]);
    libc().close(pair[1]);
  }
});

Deno.test("a switch whose data-plane thread died refuses a new client in one line saying why, not plugging it into nothing", async () => {
  const sw = await dyingSwitch();
  try {
    sw.attach(new MemoryLink("before"), { port: 1 });
    await killThread(sw);
    assert.throws(() => sw.attach(new MemoryLink("after")), {
      name: "PortRefused",
      message: `the switch forwards nothing: its data-plane thread failed (${DYING_WORDS})`,
    });
  } finally {
    await sw.close();
  }
});

Deno.test("a switch tells a re-plugged port's oversize frame again, once per activation, and a reconnecting flood stays bounded", async () => {
  const sw = new Switch({ numPorts: 4, maxFrame: 1518 });
  const lines: string[] = [];
  setLogWriter((line) => lines.push(line));
  setOnceLineWindow(60_000);
  const big = new Uint8Array(2000);
  big.set(ethFrame(BROADCAST, mac(1), 0).subarray(0, 14));
  const said = () => lines.filter((l) => l.includes("port 1 (tap vde-small6)"));
  try {
    for (let plug = 1; plug <= 2; plug++) {
      const link = new MemoryLink("tap vde-small6");
      sw.attach(link, { port: 1 });
      link.receive(big);
      link.receive(big);
      assert.equal(
        said().length,
        plug,
        `plug ${plug}: told once, and again after a re-plug\n${lines.join("")}`,
      );
      link.close();
      await until("port 1 empty", () => sw.port(1)!.endpoints.length === 0);
    }
    // A client reconnecting with an oversize frame each time: the kind's limit a minute, not a line each.
    for (let i = 0; i < 3 * ONCE_LINES_PER_WINDOW; i++) {
      const link = new MemoryLink("tap vde-small6");
      sw.attach(link, { port: 1 });
      link.receive(big);
      link.close();
      await until("port 1 empty", () => sw.port(1)!.endpoints.length === 0);
    }
    assert.equal(said().length, ONCE_LINES_PER_WINDOW, lines.join(""));
  } finally {
    setOnceLineWindow(60_000);
    setLogWriter(null);
    await sw.close();
  }
});
