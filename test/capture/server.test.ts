import assert from "node:assert/strict";
import { CaptureHub } from "../../src/capture/hub.ts";
import { CaptureServer } from "../../src/capture/server.ts";
import { Switch } from "../../src/switch/switch.ts";
import { buildFrame } from "../../src/wire/ethernet.ts";
import {
  CaptureDecoder,
  RECORD_DROPS,
  RECORD_ERROR,
  RECORD_FRAME,
  RECORD_NOTICE,
  RECORD_PORT,
} from "../../src/wire/capture_stream.ts";
import { MemoryLink } from "../helpers/memory_link.ts";
import { listenedUnderUmask000, widerThan } from "../helpers/listen_modes.ts";
import { PinnedDirectory } from "../../src/os/held_dir.ts";
import { closeAndReuse } from "../helpers/closed_hold.ts";
import { listenPrivate } from "../../src/os/private_socket.ts";

async function rig(maxPendingBytes: number) {
  const dir = await Deno.makeTempDir({ prefix: "vde-capture-" });
  const sw = new Switch({ numPorts: 8 });
  const hub = new CaptureHub(sw.engine);
  const server = CaptureServer.start(sw, hub, { path: `${dir}/capture`, maxPendingBytes });
  const one = new MemoryLink("link one");
  const two = new MemoryLink("link two");
  sw.attach(one);
  sw.attach(two);
  const connect = async (request: object) => {
    const conn = await Deno.connect({ transport: "unix", path: `${dir}/capture` });
    await conn.write(new TextEncoder().encode(JSON.stringify(request) + "\n"));
    return conn;
  };
  const close = async () => {
    server.close();
    sw.close();
    await Deno.remove(dir, { recursive: true });
  };
  return { sw, hub, one, two, connect, close };
}

/** Reads records until `done` says so (or 20 s pass); returns frames, drops and the ports described. */
async function readUntil(
  conn: Deno.Conn,
  done: (frames: number, drops: number, ports: number) => boolean,
) {
  const decoder = new CaptureDecoder();
  const buf = new Uint8Array(65536);
  let frames = 0;
  const notices: string[] = [];
  const dropsByPort = new Map<number, number>();
  const drops = () => [...dropsByPort.values()].reduce((a, b) => a + b, 0);
  const ports: string[] = [];
  const deadline = Date.now() + 20_000;
  while (!done(frames, drops(), ports.length) && Date.now() < deadline) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const n = await Promise.race([
      conn.read(buf),
      new Promise<"late">((r) => timer = setTimeout(() => r("late"), deadline - Date.now())),
    ]);
    clearTimeout(timer);
    if (n === null || n === "late") break;
    for (const r of decoder.push(buf.subarray(0, n))) {
      if (r.type === RECORD_FRAME) frames++;
      if (r.type === RECORD_DROPS) dropsByPort.set(r.port, r.value);
      if (r.type === RECORD_PORT) ports.push(`${r.port}=${new TextDecoder().decode(r.payload)}`);
      if (r.type === RECORD_NOTICE) notices.push(new TextDecoder().decode(r.payload));
      if (r.type === RECORD_ERROR) throw new Error(new TextDecoder().decode(r.payload));
    }
  }
  return { frames, drops: drops(), ports, notices };
}

Deno.test("a capture that never reads loses its own frames (counted), never the switch's", async () => {
  const { hub, one, two, connect, close } = await rig(64 * 1024);
  try {
    const stalled = await connect({ ports: [1], vlan: null, snaplen: 262144, filter: null });
    const reader = await connect({ ports: [], vlan: null, snaplen: 64, filter: null });
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(hub.size, 2);
    const reading = readUntil(reader, (f, d) => f + d >= 20_000);
    const frame = buildFrame({ src: "02:00:00:00:00:01", payload: 1000 });
    for (let i = 0; i < 20_000; i++) {
      one.receive(frame);
      if (i % 500 === 0) await new Promise((r) => setTimeout(r, 0));
    }
    // Every frame was forwarded, whatever the captures did.
    assert.equal(two.sent.length, 20_000);
    const late = await readUntil(stalled, (f, d) => f + d >= 20_000);
    assert.equal(late.frames + late.drops, 20_000);
    assert.ok(late.drops > 0 && late.frames < 2000, `${late.frames} frames, ${late.drops} dropped`);
    assert.deepEqual(late.ports, ["1=link one"]);
    const seen = await reading;
    // Each frame once, though it entered port 1 and left port 2.
    assert.equal(seen.frames + seen.drops, 20_000);
    assert.ok(seen.frames > 0);
    stalled.close();
    reader.close();
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(hub.size, 0);
  } finally {
    await close();
  }
});

Deno.test("the capture socket refuses a port out of range with a one-line reason", async () => {
  const { connect, close } = await rig(1 << 20);
  try {
    const conn = await connect({ ports: [99], vlan: null, snaplen: 262144, filter: null });
    await assert.rejects(readUntil(conn, () => false), /port 99 is out of range \(0-7\)/);
    conn.close();
  } finally {
    await close();
  }
});

Deno.test("the ports a capture names are announced at once, before any frame crosses them; one without a client says so", async () => {
  const { connect, close } = await rig(1 << 20);
  try {
    const conn = await connect({ ports: [1, 5], vlan: null, snaplen: 262144, filter: null });
    const { frames, ports } = await readUntil(conn, (_f, _d, announced) => announced === 2);
    conn.close();
    assert.equal(frames, 0);
    // Never a description-less interface: a port nothing is plugged into yet is described as such.
    assert.deepEqual(ports, ["1=link one", "5=port 5, no client"]);
  } finally {
    await close();
  }
});

Deno.test("a capture of a VLAN that does not exist yet is taken, with a notice saying so; an existing one has none", async () => {
  const { sw, connect, close } = await rig(1 << 20);
  try {
    sw.engine.createVlan(30);
    const said: Record<number, string[]> = {};
    for (const vlan of [20, 30, 0]) {
      const conn = await connect({ ports: [1], vlan, snaplen: 262144, filter: null });
      // The port's announcement follows the notice: once it is read, everything before it has been.
      said[vlan] = (await readUntil(conn, (_f, _d, ports) => ports === 1)).notices;
      conn.close();
    }
    assert.deepEqual(said, {
      20: ["VLAN 20 does not exist yet on this switch; capturing its frames once it does (vlan/create 20)"],
      30: [],
      0: [],
    });
  } finally {
    await close();
  }
});

Deno.test("the capture socket is its owner's alone", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-e7-capture-" });
  const sw = new Switch({ numPorts: 2 });
  try {
    const server = CaptureServer.start(sw, new CaptureHub(sw.engine), { path: `${dir}/capture` });
    assert.equal(Deno.lstatSync(`${dir}/capture`).mode! & 0o777, 0o600);
    server.close();
  } finally {
    sw.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the capture socket is never wider than its mode, not even as it begins to listen under umask 000", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-capture-umask-" });
  // A directory others may enter, as a switch's shared with --mode 666.
  await Deno.chmod(dir, 0o755);
  const sw = new Switch({ numPorts: 2 });
  try {
    const [server, files] = await listenedUnderUmask000(() =>
      CaptureServer.start(sw, new CaptureHub(sw.engine), { path: `${dir}/capture` })
    );
    server.close();
    assert.equal(files.length, 1, JSON.stringify(files));
    assert.deepEqual(widerThan(files, 0o600), []);
    assert.deepEqual([...Deno.readDirSync(dir)], [], "the capture socket and its staging directory removed");
  } finally {
    sw.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a capture socket in a held directory closed before it is not removed through the number another open took: said in one line", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "vde-capture-held-" });
  const sw = new Switch({ numPorts: 2 });
  let other: PinnedDirectory | undefined;
  try {
    Deno.mkdirSync(`${tmp}/sw`);
    const pin = PinnedDirectory.pin(`${tmp}/sw`, undefined);
    const lines: string[] = [];
    const server = CaptureServer.start(sw, new CaptureHub(sw.engine), {
      path: `${tmp}/sw/capture`,
      at: pin.held("capture"),
      log: (m) => lines.push(m),
    });
    assert.ok(Deno.lstatSync(`${tmp}/sw/capture`).isSocket);
    // The hold closed first (a shutdown out of order), and its number taken by another directory's open.
    other = closeAndReuse(pin, tmp, "capture");
    server.close();
    assert.equal(Deno.readTextFileSync(`${tmp}/other/capture`), "theirs");
    assert.deepEqual(lines, [`${tmp}/sw is no longer held: no capture in it is reached: its socket is left`]);
  } finally {
    other?.close();
    sw.close();
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("a capture socket whose accept fails (out of descriptors) says so once and serves the next vde capture, where it answered no one again", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-capture-emfile-" });
  const sw = new Switch({ numPorts: 4 });
  const lines: string[] = [];
  // The accept fails as it does out of descriptors (EMFILE) for its first tries, then works: a process
  // that really runs out of them has Deno itself panic now and then (dc7d91f).
  let failures = 3;
  const server = CaptureServer.start(sw, new CaptureHub(sw.engine), {
    path: `${dir}/capture`,
    log: (m) => lines.push(m),
    listen: (path, mode) => {
      const real = listenPrivate(path, mode, false);
      return {
        accept: () =>
          failures-- > 0 ? Promise.reject(new Error("Too many open files (os error 24)")) : real.accept(),
        close: () => real.close(),
      };
    },
  });
  try {
    const conn = await Deno.connect({ transport: "unix", path: `${dir}/capture` });
    try {
      await conn.write(new TextEncoder().encode(JSON.stringify({ ports: [], vlan: null }) + "\n"));
      const decoder = new CaptureDecoder();
      const buf = new Uint8Array(4096);
      const n = await conn.read(buf);
      assert.ok(n !== null && decoder.push(buf.subarray(0, n)).length > 0, "the capture is answered");
    } finally {
      conn.close();
    }
    assert.equal(lines.length, 1, lines.join("\n"));
    assert.match(
      lines[0]!,
      /^capture socket: cannot accept \(Too many open files \(os error 24\): the switch's open-file limit \(\d+, 2 a port\) is spent: start it under a higher one \(ulimit -n \d+\)\); trying again$/,
    );
  } finally {
    server.close();
    sw.close();
    await Deno.remove(dir, { recursive: true });
  }
});
