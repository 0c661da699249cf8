/**
 * A rootless lab's slirp and cable nodes run outside its namespaces: the
 * lab waits on a socket in its directory for each, the process outside
 * plugs the node it opened into it, frames cross, and the end of the lab's
 * side ends the node outside. The page relay passes a connection on the
 * machine's address to the page's unix socket.
 */
import { slirpCountersSocket } from "../../src/lab/outside_slirp_counters.ts";
import assert from "node:assert/strict";
import type { Link } from "../../src/link/link.ts";
import { OutsideNodes, pluggedFromOutside, RELAY_LIMITS, relayPage } from "../../src/lab/outside.ts";
import {
  forwardsDoneFile,
  forwardsFile,
  MAX_REQUEST_BYTES,
  outsideSocket,
  readIfThere,
  refusalFile,
  removeIfThere,
  requestFile,
  reservedAddresses,
  takeReserved,
} from "../../src/lab/outside_files.ts";
import { writeNew, writeWhole } from "../../src/lab/state.ts";
import { forwardsFromOutside } from "../../src/lab/outside_forwards.ts";
import type { Lab, SlirpNode } from "../../src/lab/spec.ts";
import { applyLab } from "../../src/lab/apply.ts";
import { ARP_REPLY, ETH_P_ARP, writeArpRequestFrame } from "../../src/wire/arp.ts";
import { ipv4ToU32, parseIpv4Text } from "../../src/wire/ip_address.ts";
import { macEquals } from "../../src/wire/ethernet.ts";
import { exists, isSocket } from "../../src/os/paths.ts";
import { labDir } from "../../src/lab/names.ts";
import { waitFor } from "../helpers/processes.ts";
import { evalUnderUmask000 } from "../helpers/umask.ts";
import { MemoryLink } from "../helpers/memory_link.ts";
import { uniqueLab, withTempDir } from "./_helpers.ts";
import { LabRunner, type RunnerOptions } from "../../src/lab/runner.ts";
import { validateLab } from "../../src/lab/validate.ts";
import { nodesTable } from "../../src/lab/commands.ts";
import { labStatusJson } from "../../src/lab/status_json.ts";

const NAT: SlirpNode = { kind: "slirp", name: "nat", forwards: [] };
const LAB: Lab = { name: "t", nodes: [NAT], links: [] };

function ip(text: string): number {
  const a = parseIpv4Text(text);
  assert.ok(a.ok);
  return ipv4ToU32(a.value);
}

/**
 * The next frame out of `link` to `mac`. The slirp's own gateway probes
 * (broadcast, 100 ms after it is plugged in, then each second) go by: on a
 * loaded machine the first can come out after a guest's request is sent.
 */
function nextFrameTo(link: Link, mac: Uint8Array): Promise<Uint8Array> {
  return new Promise((resolve) => (link.onFrame = (f) => {
    if (f.length >= 6 && macEquals(f, 0, mac)) resolve(f.slice());
  }));
}

/** What lab directory `dir` holds besides the socket the process outside answers its slirps' counters on. */
function leftIn(dir: string): string[] {
  return [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) =>
    `${dir}/${n}` !== slirpCountersSocket(dir)
  );
}

function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  return withTempDir("vde-outside-", fn);
}

Deno.test("a slirp node opened outside is the link the lab waits for: the gateway answers ARP through it", async () => {
  await withDir(async (dir) => {
    const outside = await OutsideNodes.open(LAB, dir, () => {});
    let labEnded!: () => void;
    const plugged = outside.plug(dir, new Promise<void>((r) => (labEnded = r)));
    const link = (await pluggedFromOutside(dir, ["nat"])(NAT))?.link;
    assert.ok(link !== undefined);
    await plugged;
    // The lab removes its socket once plugged: nothing else can take the node.
    assert.equal(exists(outsideSocket(dir, "nat")), false);
    const frame = new Uint8Array(64);
    const mac = new Uint8Array([0x52, 0x54, 0, 0x12, 0x34, 0x56]);
    const len = writeArpRequestFrame(frame, mac, ip("10.0.2.15"), ip("10.0.2.2"));
    const reply = nextFrameTo(link, mac);
    link.send(frame.subarray(0, len));
    const got = await reply;
    assert.equal((got[12]! << 8) | got[13]!, ETH_P_ARP);
    assert.equal(got[14 + 7], ARP_REPLY);
    assert.deepEqual([...got.subarray(0, 6)], [...mac]);
    link.close("lab down");
    labEnded();
    outside.close();
  });
});

Deno.test("a node the lab did not start with is asked for by its settings, opened outside and plugged in", async () => {
  await withDir(async (dir) => {
    const outside = await OutsideNodes.open(LAB, dir, () => {});
    const hook = pluggedFromOutside(dir, ["nat"]);
    const plugged = outside.plug(dir, new Promise(() => {}));
    const link = (await hook(NAT))?.link;
    await plugged;
    assert.ok(link !== undefined);
    const added = (await hook({ ...NAT, name: "nat2" }))?.link;
    assert.ok(added !== undefined);
    assert.deepEqual(outside.names, ["nat", "nat2"]);
    // The request and the socket are gone once it is plugged in.
    assert.deepEqual(leftIn(dir), []);
    // Its removal from the lab closes it outside.
    added.close("lab node removed");
    await waitFor(() => outside.names.length === 1, { timeoutMs: 5000, what: "nat2 to close outside" });
    link.close();
    outside.close();
  });
});

/**
 * Asks lab directory `dir`'s process outside, `outside` (no node of its start), for nat2 (or takes the
 * answer to `asking`, that question asked before); closes both.
 */
async function asksForNat2(
  dir: string,
  outside: OutsideNodes,
  asking = pluggedFromOutside(dir, [], 10_000)({ ...NAT, name: "nat2" }),
): Promise<void> {
  const added = await asking;
  assert.ok(added !== null);
  assert.deepEqual(outside.names, ["nat2"]);
  await added.release(true);
  outside.close();
}

Deno.test("a lab with no slirp or cable at its start gets one asked for once its directory is made", async () => {
  await withDir(async (parent) => {
    const dir = `${parent}/lab`;
    const outside = await OutsideNodes.open({ ...LAB, nodes: [] }, parent, () => {});
    await outside.plug(dir, new Promise(() => {}));
    await new Promise((r) => setTimeout(r, 100));
    Deno.mkdirSync(dir);
    await asksForNat2(dir, outside);
  });
});

Deno.test("a request the lab gave up on (its socket gone), or one without its generation, opens nothing for good and blocks no later one", async () => {
  await withDir(async (dir) => {
    const outside = await OutsideNodes.open({ ...LAB, nodes: [] }, dir, () => {});
    await outside.plug(dir, new Promise(() => {}));
    Deno.writeTextFileSync(
      requestFile(dir, "stale"),
      JSON.stringify({ generation: 1, node: { ...NAT, name: "stale" } }),
    );
    Deno.writeTextFileSync(requestFile(dir, "bare"), JSON.stringify({ node: { ...NAT, name: "bare" } }));
    for (const name of ["stale", "bare"]) {
      await waitFor(() => !exists(requestFile(dir, name)), { timeoutMs: 5000, what: "the request taken" });
    }
    await asksForNat2(dir, outside);
  });
});

Deno.test("a node asked for that cannot open outside is refused with the reason from outside, and leaves no file", async () => {
  using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  await withDir(async (dir) => {
    const outside = await OutsideNodes.open({ ...LAB, nodes: [] }, dir, () => {});
    await outside.plug(dir, new Promise(() => {}));
    await assert.rejects(
      pluggedFromOutside(dir, [])({
        ...NAT,
        name: "nat3",
        forwards: [`tcp:127.0.0.1:${taken.addr.port}:10.0.2.15:80`],
      }),
      /^Error: nat3: Host port \d+ on 127\.0\.0\.1 is already in use/,
    );
    assert.deepEqual(leftIn(dir), []);
    assert.deepEqual(outside.names, []);
    outside.close();
  });
});

Deno.test("a node asked for once the process outside is gone is refused at once, saying so", async () => {
  await withDir(async (dir) => {
    await assert.rejects(
      pluggedFromOutside(dir, [], 60_000, () => false)({ ...NAT, name: "nat2" }),
      /^Error: nat2: the vde up --rootless that runs this lab's slirps and cables outside its namespaces is gone; /,
    );
    assert.deepEqual(leftIn(dir), []);
  });
});

Deno.test("a node asked for whose socket path would pass the 107 bytes is refused at once in one line, nothing asked", async () => {
  await withDir(async (dir) => {
    const name = "n".repeat(107 - `${dir}/`.length - ".1.outside".length + 1);
    const path = outsideSocket(dir, name, 1);
    await assert.rejects(
      pluggedFromOutside(dir, [], 60_000)({ ...NAT, name }),
      new Error(
        `${name}: its socket path would be 108 bytes (${path}), the limit is 107: give it a shorter name`,
      ),
    );
    assert.deepEqual(leftIn(dir), []);
  });
});

Deno.test("a node asked for whose process outside dies while the lab waits is refused once it is gone, not at the timeout", async () => {
  await withDir(async (dir) => {
    let runs = true;
    const asked = pluggedFromOutside(dir, [], 30_000, () => runs)({ ...NAT, name: "nat2" });
    await waitFor(() => exists(requestFile(dir, "nat2")), { timeoutMs: 5000, what: "the request" });
    runs = false;
    await assert.rejects(
      asked,
      /^Error: nat2: the vde up --rootless that runs this lab's slirps and cables outside its namespaces is gone; /,
    );
    assert.deepEqual(leftIn(dir), []);
  });
});

Deno.test("a forwards change whose process outside dies while the lab waits is refused once it is gone, not at the timeout", async () => {
  await withDir(async (dir) => {
    let runs = true;
    const change = forwardsFromOutside(dir, 30_000, () => runs)("nat", [], ["tcp:8080:10.0.2.15:80"]);
    await waitFor(() => exists(forwardsFile(dir, "nat")), { timeoutMs: 5000, what: "the request" });
    runs = false;
    await assert.rejects(
      change,
      /^Error: nat: the vde up --rootless that runs this lab's slirps and cables /,
    );
    assert.deepEqual(leftIn(dir), []);
  });
});

Deno.test("a node asked for with settings the lab file's checks refuse is refused outside in one line, and nothing opens", async () => {
  await withDir(async (dir) => {
    const outside = await OutsideNodes.open({ ...LAB, nodes: [] }, dir, () => {});
    await outside.plug(dir, new Promise(() => {}));
    Deno.writeTextFileSync(
      requestFile(dir, "bad"),
      JSON.stringify({
        generation: 1,
        node: { kind: "slirp", name: "bad", forwards: ["tcp:nonsense"], mtu: 5 },
      }),
    );
    await waitFor(() => exists(refusalFile(dir, "bad", 1)), { timeoutMs: 5000, what: "the refusal" });
    assert.match(
      Deno.readTextFileSync(refusalFile(dir, "bad", 1)),
      /^bad: forwards: [^\n]*; bad: mtu must be a whole number from 1280 to 65520, got 5\n$/,
    );
    assert.deepEqual(outside.names, []);
    outside.close();
  });
});

Deno.test("a node of the lab's start whose process outside is gone is refused in a poll, not after the plug timeout", async () => {
  await withDir(async (dir) => {
    const started = Date.now();
    await assert.rejects(
      pluggedFromOutside(dir, ["nat"], 30_000, () => false)(NAT),
      /^Error: nat: the vde up --rootless that runs this lab's slirps and cables outside its namespaces is gone; /,
    );
    assert.ok(Date.now() - started < 5_000, `${Date.now() - started} ms`);
    assert.deepEqual(leftIn(dir), []);
  });
});

Deno.test("a refusal of an add the lab gave up on, come late, is not the answer to the next add of that node", async () => {
  await withDir(async (dir) => {
    const ask = pluggedFromOutside(dir, [], 200);
    await assert.rejects(ask({ ...NAT, name: "nat2" }), /did not plug it in/);
    // The answer to that first request comes after the lab gave up on it, while it asks again.
    const again = ask({ ...NAT, name: "nat2" });
    Deno.writeTextFileSync(refusalFile(dir, "nat2", 1), "nat2: an answer that came after the lab gave up\n");
    const outside = await OutsideNodes.open({ ...LAB, nodes: [] }, dir, () => {});
    // The process outside takes the request a while after the lab looks for a refusal.
    await new Promise((r) => setTimeout(r, 150));
    await outside.plug(dir, new Promise(() => {}));
    await asksForNat2(dir, outside, again);
  });
});

Deno.test("a node whose add the lab gave up on, plugged in late outside, is not taken as the next add of that node", async () => {
  await withDir(async (dir) => {
    const outside = await OutsideNodes.open({ ...LAB, nodes: [] }, dir, () => {});
    await outside.plug(dir, new Promise(() => {}));
    // The process outside slow to plug in the first node asked for: it connects once the lab asks again.
    const connect = Deno.connect;
    const slow = Promise.withResolvers<void>();
    let first = true;
    (Deno as { connect: unknown }).connect = async (o: Deno.UnixConnectOptions) => {
      if (first) {
        first = false;
        await slow.promise;
      }
      return await connect(o);
    };
    try {
      const ask = pluggedFromOutside(dir, [], 300);
      await assert.rejects(ask({ ...NAT, name: "nat2" }), /did not plug it in/);
      const port = freePort();
      const again = ask({ ...NAT, name: "nat2", forwards: [`tcp:127.0.0.1:${port}:10.0.2.15:80`] });
      await waitFor(() => exists(requestFile(dir, "nat2")), { timeoutMs: 5000, what: "the second request" });
      slow.resolve();
      const plug = await again;
      assert.ok(plug !== null);
      // The node plugged in is the second request's, and stays: its forward listens.
      let ended = false;
      plug.link.closed.then(() => (ended = true));
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(ended, false);
      assert.deepEqual(outside.names, ["nat2"]);
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      await plug.release(true);
    } finally {
      (Deno as { connect: unknown }).connect = connect;
      outside.close();
    }
  });
});

Deno.test("the lab gives up on a node nobody plugs in, naming it, and leaves no socket", async () => {
  await withDir(async (dir) => {
    await assert.rejects(
      pluggedFromOutside(dir, ["nat"], 50)(NAT),
      /^Error: nat: vde up --rootless did not plug it in from outside the lab's namespaces within 0.05 s$/,
    );
    assert.equal(exists(outsideSocket(dir, "nat")), false);
  });
});

Deno.test("the lab's bring-up aborted while it waits for a node stops waiting", async () => {
  await withDir(async (dir) => {
    const abort = new AbortController();
    const waiting = pluggedFromOutside(dir, ["nat"])(NAT, abort.signal);
    abort.abort(new Error("SIGINT"));
    await assert.rejects(waiting, /SIGINT/);
  });
});

Deno.test("a forward's port taken outside fails the open, naming the node", async () => {
  using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const lab: Lab = {
    ...LAB,
    nodes: [{ ...NAT, forwards: [`tcp:127.0.0.1:${taken.addr.port}:10.0.2.15:80`] }],
  };
  await assert.rejects(OutsideNodes.open(lab, "/", () => {}), /^Error: nat: /);
});

Deno.test("the page relay passes a connection on the machine's address to the lab's page socket", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/http`;
    const page = Deno.serve({ path, onListen: () => {} }, () => new Response("the lab page\n"));
    const relay = relayPage({ hostname: "127.0.0.1", port: 0 }, path);
    try {
      assert.match(relay.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
      const res = await fetch(relay.url);
      assert.equal(await res.text(), "the lab page\n");
    } finally {
      relay.close();
      await page.shutdown();
    }
  });
});

/** A page on unix socket `path` that takes each connection and closes it at once, having said nothing. */
function closingPage(path: string): Deno.Listener {
  const l = Deno.listen({ transport: "unix", path });
  (async () => {
    for await (const c of l) c.close();
  })().catch(() => {});
  return l;
}

Deno.test("the page relay lets go of a connection the page closed, though the browser keeps its side open", async () => {
  await withDir(async (dir) => {
    using _page = closingPage(`${dir}/http`);
    const relay = relayPage({ hostname: "127.0.0.1", port: 0 }, `${dir}/http`);
    try {
      using browser = await Deno.connect({ hostname: "127.0.0.1", port: Number(new URL(relay.url).port) });
      assert.equal(await browser.read(new Uint8Array(16)), null);
      await waitFor(() => relay.connections === 0, {
        timeoutMs: 5_000,
        what: "the relay to close both ends",
      });
    } finally {
      relay.close();
    }
  });
});

Deno.test("the page relay passes on at most its bound of connections at once and closes the ones over it", async () => {
  await withDir(async (dir) => {
    using _page = Deno.listen({ transport: "unix", path: `${dir}/http` });
    const relay = relayPage({ hostname: "127.0.0.1", port: 0 }, `${dir}/http`, {
      ...RELAY_LIMITS,
      maxConnections: 2,
      maxPerPeer: 2,
    });
    const port = Number(new URL(relay.url).port);
    const held: Deno.Conn[] = [];
    try {
      for (let i = 0; i < 2; i++) {
        held.push(await Deno.connect({ hostname: "127.0.0.1", port }));
        await waitFor(() => relay.connections === i + 1, {
          timeoutMs: 5_000,
          what: `relayed connection ${i + 1}`,
        });
      }
      using over = await Deno.connect({ hostname: "127.0.0.1", port });
      assert.equal(await over.read(new Uint8Array(16)), null);
      assert.equal(relay.connections, 2);
    } finally {
      for (const c of held) c.close();
      relay.close();
    }
  });
});

Deno.test("the page relay closes a connection whose request head does not arrive within the bound (slowloris)", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/http`;
    const page = Deno.serve({ path, onListen: () => {} }, () => new Response("the lab page\n"));
    const relay = relayPage({ hostname: "127.0.0.1", port: 0 }, path, { ...RELAY_LIMITS, headerMs: 300 });
    try {
      using slow = await Deno.connect({ hostname: "127.0.0.1", port: Number(new URL(relay.url).port) });
      await slow.write(new TextEncoder().encode("GET / HTTP/1.1\r\n"));
      const start = Date.now();
      assert.equal(await slow.read(new Uint8Array(16)), null);
      assert.ok(Date.now() - start < 3000);
      await waitFor(() => relay.connections === 0, { timeoutMs: 5_000, what: "the relay to let go of it" });
    } finally {
      relay.close();
      await page.shutdown();
    }
  });
});

/**
 * Runs `fn` on lab `name` (switch sw1, slirp nat on it) brought up in this process, with `outside` as its
 * RunnerOptions.outside and its log lines in `said`; takes it down after.
 */
async function withNatLab(
  outside: RunnerOptions["outside"],
  fn: (r: LabRunner, said: string[]) => Promise<void> | void,
  options: Partial<RunnerOptions> = {},
): Promise<void> {
  const { lab } = validateLab(
    `name: ${uniqueLab()}\ntopology:\n  nodes:\n    sw1: { kind: switch }\n    nat: { kind: slirp }\n` +
      "  links:\n    - endpoints: [nat, sw1]\n",
  );
  assert.ok(lab !== undefined);
  const said: string[] = [];
  const r = await LabRunner.up(lab, {
    file: "",
    baseDir: "/",
    log: (m) => said.push(m),
    outside,
    ...options,
  });
  try {
    await fn(r, said);
  } finally {
    await r.down();
  }
}

Deno.test("a lab whose outside process ends first says once that its node is gone, in its log and its status", async () => {
  const [inside, outside] = MemoryLink.pair("nat, outside the lab's namespaces", "the vde up outside");
  let log: string[] = [];
  const plug = { link: inside, release: () => Promise.resolve(inside.close()) };
  await withNatLab((node) => Promise.resolve(node.name === "nat" ? plug : null), async (r, said) => {
    log = said;
    assert.match(
      nodesTable(r).join("\n"),
      /^nat +slirp +gateway 10\.0\.2\.2\/24 dns 10\.0\.2\.3 first lease 10\.0\.2\.15, run outside the lab's namespaces/m,
    );
    outside.close("the vde up outside was killed");
    await inside.closed;
    await Promise.resolve();
    assert.deepEqual(said.filter((m) => m.includes("nat")), [
      "nat: the vde up --rootless that ran it outside the lab's namespaces is gone (peer closed): " +
      "the node no longer reaches the machine's network; `vde up -c --rootless` brings the lab up again with it",
    ]);
    assert.match(
      nodesTable(r).join("\n"),
      /^nat +slirp +gateway [^,]*, gone: the vde up --rootless that ran it outside /m,
    );
    const nodes = labStatusJson(r, undefined).nodes as { name: string; state: string }[];
    assert.equal(nodes.find((n) => n.name === "nat")?.state, "gone");
  });
  assert.equal(log.filter((m) => m.includes("is gone")).length, 1, "its own down says nothing of it");
});

/** The lab file of withNatLab's lab `name` with `nodes` (its nat among them). */
function natLabFile(name: string, nodes: string): Lab {
  const { lab } = validateLab(
    `name: ${name}\ntopology:\n  nodes:\n    sw1: { kind: switch }\n${nodes}` +
      "  links:\n    - endpoints: [nat, sw1]\n",
  );
  assert.ok(lab !== undefined);
  return lab;
}

/**
 * Runs `fn` on a rootless lab brought up in this process (switch sw1, slirp nat on it, both of withNatLab's
 * file, and `nodes` for nat's line), whose slirps and cables an OutsideNodes here runs, as the vde up
 * outside would.
 */
async function withOutsideLab(
  fn: (r: LabRunner, outside: OutsideNodes) => Promise<void>,
  nodes = "    nat: { kind: slirp }\n",
): Promise<void> {
  const name = uniqueLab();
  const lab = natLabFile(name, nodes);
  const dir = labDir(name);
  const outside = await OutsideNodes.open(lab, "/", () => {});
  let labEnded!: () => void;
  const plugged = outside.plug(dir, new Promise<void>((r) => (labEnded = r)));
  const r = await LabRunner.up(lab, {
    file: "",
    baseDir: "/",
    outside: pluggedFromOutside(dir, outside.names),
    outsideForwards: forwardsFromOutside(dir),
  });
  try {
    await plugged;
    await fn(r, outside);
  } finally {
    await r.down();
    labEnded();
    outside.close();
  }
}

Deno.test("a slirp added to a running rootless lab runs outside, as one of its start: status says so", async () => {
  await withOutsideLab(async (r, outside) => {
    await r.addNode({ kind: "slirp", name: "nat2", forwards: [] });
    assert.deepEqual(outside.names, ["nat", "nat2"]);
    assert.match(
      nodesTable(r).join("\n"),
      /^nat2 +slirp +gateway 10\.0\.2\.2\/24 dns 10\.0\.2\.3 first lease 10\.0\.2\.15, run outside the lab's namespaces/m,
    );
    await r.removeNode("nat2");
    await waitFor(() => outside.names.length === 1, { timeoutMs: 5000, what: "nat2 to close outside" });
  });
});

Deno.test("apply changes a rootless lab's slirp forwards in the process outside, or says why not from there", async () => {
  const port = freePort();
  using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const forwards = (...ports: number[]) => ports.map((p) => `tcp:127.0.0.1:${p}:10.0.2.15:80`);
  await withOutsideLab(async (r) => {
    const file = (...ports: number[]) =>
      natLabFile(r.lab.name, `    nat: { kind: slirp, forwards: [${forwards(...ports).join(", ")}] }\n`);
    const nat = () => (r.lab.nodes.find((n) => n.name === "nat") as SlirpNode).forwards;
    const refused = await applyLab(r, file(taken.addr.port), "/lab.yaml", () => {});
    assert.equal(refused.ok, false);
    assert.match(
      refused.lines.at(-1)!,
      /^changing slirp nat failed: nat: forward tcp:127\.0\.0\.1:\d+:.*in use.*; nothing was changed$/,
    );
    assert.deepEqual(nat(), []);
    const applied = await applyLab(r, file(port), "/lab.yaml", () => {});
    assert.equal(applied.ok, true, applied.lines.join("\n"));
    assert.deepEqual(nat(), forwards(port));
    // The forward listens (the guest behind it is not there: the slirp closes the connection).
    (await Deno.connect({ hostname: "127.0.0.1", port })).close();
    assert.equal((await applyLab(r, file(), "/lab.yaml", () => {})).ok, true);
    assert.deepEqual(nat(), []);
    await assert.rejects(Deno.connect({ hostname: "127.0.0.1", port }));
  });
});

Deno.test("a cable added by apply to a rootless lab opens outside with its relative key read from the applied file's directory", async () => {
  await withDir(async (tmp) => {
    // The process outside resolves relative keys from "/" (withOutsideLab): only the lab's resolving finds it.
    Deno.mkdirSync(`${tmp}/sub`);
    Deno.writeTextFileSync(`${tmp}/sub/wan.key`, "07".repeat(32) + "\n", { mode: 0o600 });
    await withOutsideLab(async (r, outside) => {
      const lab = natLabFile(
        r.lab.name,
        '    nat: { kind: slirp }\n    wan: { kind: cable, listen: "127.0.0.1:0", key: wan.key }\n',
      );
      const applied = await applyLab(r, lab, `${tmp}/sub/lab.yaml`, () => {});
      assert.equal(applied.ok, true, applied.lines.join("\n"));
      assert.deepEqual(outside.names, ["nat", "wan"]);
      assert.match(nodesTable(r).join("\n"), /^wan +cable +.*run outside the lab's namespaces/m);
    });
  });
});

Deno.test("a slirp removed and at once added again on its forward's host port, under its name or another (an apply's rename), listens there: in a root lab and in a rootless one", async () => {
  for (const rootless of [false, true]) {
    for (const again of ["nat", "nat2"]) {
      const port = freePort();
      // The port a turn to be free (freePort's listener too lets go of it a turn later).
      await new Promise((r) => setTimeout(r, 20));
      const name = uniqueLab();
      const lab = natLabFile(
        name,
        `    nat: { kind: slirp, forwards: ["tcp:127.0.0.1:${port}:10.0.2.15:80"] }\n`,
      );
      const nat = lab.nodes.find((n) => n.name === "nat") as SlirpNode;
      const dir = labDir(name);
      const outside = await OutsideNodes.open(rootless ? lab : { ...lab, nodes: [] }, "/", () => {});
      const plugged = outside.plug(dir, new Promise(() => {}));
      const r = await LabRunner.up(lab, {
        file: "",
        baseDir: "/",
        ...(rootless ? { outside: pluggedFromOutside(dir, ["nat"]) } : {}),
      });
      try {
        if (rootless) await plugged;
        await r.removeNode("nat");
        await r.addNode({ ...nat, name: again });
        (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      } finally {
        await r.down();
        outside.close();
      }
    }
  }
});

Deno.test("a rootless cable listening on port 0 shows the port it got outside, in the nodes table and status.json", async () => {
  await withOutsideLab(async (r) => {
    const table = nodesTable(r).join("\n");
    const port = /^wan +cable +listening on 127\.0\.0\.1:(\d+), run outside/m.exec(table)?.[1];
    assert.ok(port !== undefined && port !== "0", table);
    const nodes = labStatusJson(r, undefined).nodes as { name: string; listen?: string }[];
    assert.equal(nodes.find((n) => n.name === "wan")?.listen, `127.0.0.1:${port}`);
    // It is the cable's: a peer connects there.
    (await Deno.connect({ hostname: "127.0.0.1", port: Number(port) })).close();
  }, '    nat: { kind: slirp }\n    wan: { kind: cable, listen: "127.0.0.1:0", insecure: true }\n');
});

Deno.test("a rootless lab's host is shown as vde exec enters it, not by a namespace name ip netns cannot find", async () => {
  await withOutsideLab((r) => {
    const table = nodesTable(r).join("\n");
    assert.match(
      table,
      new RegExp(`^h1 +host +netns of the lab's own \\(vde exec ${r.lab.name} h1\\)`, "m"),
      table,
    );
    assert.doesNotMatch(table, /netns vde-/, table);
    return Promise.resolve();
  }, "    nat: { kind: slirp }\n    h1: { kind: host }\n");
});

Deno.test("a rootless lab's node removal is over once the process outside has closed it: its forward's port is free at once", async () => {
  const port = freePort();
  await new Promise((r) => setTimeout(r, 20));
  await withOutsideLab(async (r, outside) => {
    await r.removeNode("nat");
    assert.deepEqual(outside.names, []);
    Deno.listen({ hostname: "127.0.0.1", port }).close();
  }, `    nat: { kind: slirp, forwards: ["tcp:127.0.0.1:${port}:10.0.2.15:80"] }\n`);
});

/** A TCP port of the machine's loopback that was free a moment ago. */
function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  l.close();
  return l.addr.port;
}

Deno.test("a rootless lab goes down at once though its process outside closes no node (stopped, Ctrl-Z): only a removal waits for that", async () => {
  const name = uniqueLab();
  const lab = natLabFile(name, "    nat: { kind: slirp }\n");
  const path = outsideSocket(labDir(name), "nat");
  // The process outside, stopped once it plugged the node in: it neither reads nor closes its end.
  const stopped = (async () => {
    await waitFor(() => isSocket(path), { timeoutMs: 10_000, what: "the lab to wait for nat" });
    return await Deno.connect({ transport: "unix", path });
  })();
  const r = await LabRunner.up(lab, {
    file: "",
    baseDir: "/",
    outside: pluggedFromOutside(labDir(name), ["nat"]),
  });
  const conn = await stopped;
  try {
    const start = performance.now();
    await r.down();
    const took = performance.now() - start;
    assert.ok(took < 2000, `down took ${Math.round(took)} ms`);
  } finally {
    await r.down();
    conn.close();
  }
});

Deno.test("a rootless listening cable with no peer yet, sent frames by the lab, is closed outside on its removal: its port is free at once", async () => {
  const port = freePort();
  await new Promise((r) => setTimeout(r, 20));
  await withOutsideLab(async (r, outside) => {
    // A broadcast from the lab (a host's ARP, flooded by the switch) reaches the cable before any peer.
    const frame = new Uint8Array(64).fill(0xff, 0, 6);
    r.outside.get("wan")!.send(frame);
    await new Promise((res) => setTimeout(res, 100));
    const start = performance.now();
    await r.removeNode("wan");
    const took = performance.now() - start;
    assert.deepEqual(outside.names, ["nat"]);
    Deno.listen({ hostname: "127.0.0.1", port }).close();
    assert.ok(took < 2000, `the removal took ${Math.round(took)} ms`);
  }, `    nat: { kind: slirp }\n    wan: { kind: cable, listen: "127.0.0.1:${port}", insecure: true }\n`);
});

Deno.test("apply of a forwards change the process outside never answers fails in one line: not made, nor later, and nothing was changed, said once", async () => {
  const [inside, outside] = MemoryLink.pair("nat, outside the lab's namespaces", "the vde up outside");
  const plug = { link: inside, release: () => Promise.resolve(inside.close()) };
  await withDir(async (dir) => {
    await withNatLab((node) => Promise.resolve(node.name === "nat" ? plug : null), async (r) => {
      const file = natLabFile(
        r.lab.name,
        '    nat: { kind: slirp, forwards: ["tcp:127.0.0.1:1:10.0.2.15:80"] }\n',
      );
      const refused = await applyLab(r, file, "/lab.yaml", () => {});
      assert.equal(refused.ok, false);
      assert.deepEqual(refused.lines, [
        "changing slirp nat failed: nat: vde up --rootless, which runs it outside the lab's namespaces, did not " +
        "change its forwards within 0.2 s, nor will it later; nothing was changed",
      ]);
    }, { outsideForwards: forwardsFromOutside(dir, 200) });
  });
  outside.close();
});

Deno.test("a forwards request the lab takes back as the process outside reads it is not made, and the lab's next one is answered", async () => {
  await withDir(async (dir) => {
    const outside = await OutsideNodes.open(LAB, dir, () => {});
    const plugged = outside.plug(dir, new Promise(() => {}));
    const link = (await pluggedFromOutside(dir, ["nat"])(NAT))?.link;
    await plugged;
    const ports = [freePort(), freePort()];
    const [first, second] = ports.map((p) => `tcp:127.0.0.1:${p}:10.0.2.15:80`) as [string, string];
    const request = forwardsFile(dir, "nat");
    const ask = (generation: number, now: string[]) =>
      writeWhole(request, JSON.stringify({ generation, was: [], now }));
    // The lab's side of the race, run the moment the process outside reads the request: it gives up on it
    // (takes it back, or says so in its answer's place where it cannot) and asks for the next change.
    // (The moment it has taken the file, renamed aside, before reading it: its read is bounded, no Deno call.)
    const rename = Deno.renameSync;
    let raced = false;
    Deno.renameSync = (from: string | URL, to: string | URL) => {
      rename(from, to);
      if (!raced && String(from) === request) {
        raced = true;
        if (!removeIfThere(request)) {
          writeNew(forwardsDoneFile(dir, "nat", 1), "the lab gave up on this change");
        }
        ask(2, [second]);
      }
    };
    try {
      ask(1, [first]);
      const answer = await waitFor(() => readIfThere(forwardsDoneFile(dir, "nat", 2)), {
        timeoutMs: 5000,
        what: "the answer to the second request",
      });
      assert.equal(answer, "");
      await assert.rejects(Deno.connect({ hostname: "127.0.0.1", port: ports[0]! }));
      (await Deno.connect({ hostname: "127.0.0.1", port: ports[1]! })).close();
    } finally {
      Deno.renameSync = rename;
      link?.close();
      outside.close();
    }
  });
});

Deno.test("a node outside linked to nothing, whose process outside sent a frame and then ended, is seen gone", async () => {
  await withDir(async (dir) => {
    const asked = pluggedFromOutside(dir, ["nat"])(NAT);
    await waitFor(() => isSocket(outsideSocket(dir, "nat")), { timeoutMs: 5000, what: "the node's socket" });
    const conn = await Deno.connect({ transport: "unix", path: outsideSocket(dir, "nat") });
    const plug = await asked;
    assert.ok(plug !== null);
    // A slirp's gateway probe, say, in VDE's stream framing: 2 length bytes, then a 60-byte frame.
    const framed = new Uint8Array(62);
    framed[1] = 60;
    await conn.write(framed);
    conn.close();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const reason = await Promise.race([
      plug.link.closed,
      new Promise((r) => (timer = setTimeout(() => r("still up after 5 s"), 5000))),
    ]);
    clearTimeout(timer);
    assert.match(String(reason), /peer closed/);
  });
});

Deno.test("the socket a node outside is plugged into is 0600 under umask 000, and only it is left in the lab's directory", async () => {
  await withDir(async (dir) => {
    const outside = new URL("../../src/lab/outside.ts", import.meta.url).href;
    const files = new URL("../../src/lab/outside_files.ts", import.meta.url).href;
    await evalUnderUmask000(
      `import { pluggedFromOutside } from "${outside}"; import { outsideSocket } from "${files}";
      const asked = pluggedFromOutside("${dir}", ["nat"], 10_000)({ kind: "slirp", name: "nat", forwards: [] });
      const path = outsideSocket("${dir}", "nat");
      while (true) { try { Deno.statSync(path); break; } catch { await new Promise((r) => setTimeout(r, 20)); } }
      const st = Deno.statSync(path);
      const names = [...Deno.readDirSync("${dir}")].map((e) => e.name);
      Deno.writeTextFileSync("${dir}/seen", JSON.stringify({ mode: st.mode & 0o777, socket: st.isSocket, names }));
      (await Deno.connect({ transport: "unix", path })).close();
      (await asked)?.link.close();`,
    );
    const seen = JSON.parse(Deno.readTextFileSync(`${dir}/seen`));
    assert.deepEqual(seen, { mode: 0o600, socket: true, names: ["nat.outside"] });
  });
});

Deno.test("a rootless lab's nodes outside linked to nothing, from the start or once their link is removed, are seen gone with their process outside", async () => {
  await withOutsideLab(async (r, outside) => {
    const { lab, errors } = validateLab(
      `name: ${r.lab.name}\ntopology:\n  nodes:\n    sw1: { kind: switch }\n    nat: { kind: slirp }\n` +
        "    nat2: { kind: slirp }\n",
    );
    assert.ok(lab !== undefined, JSON.stringify(errors));
    const applied = await applyLab(r, lab, "/lab.yaml", () => {});
    assert.equal(applied.ok, true, applied.lines.join("\n"));
    // Each slirp's gateway probe (100 ms after its plug, then each second) has come to the lab's end of it.
    await new Promise((res) => setTimeout(res, 1300));
    outside.close();
    await waitFor(() => r.outsideLost.size === 2, {
      timeoutMs: 5000,
      what: `nat and nat2 seen gone (${[...r.outsideLost.keys()]})`,
    });
  }, "    nat: { kind: slirp }\n    nat2: { kind: slirp }\n");
});

Deno.test("a process outside closed while it waits for the lab's directory watches nothing once it appears", async () => {
  await withDir(async (base) => {
    const dir = `${base}/lab`;
    const watchFs = Deno.watchFs;
    let watchers = 0;
    Deno.watchFs = (...args: Parameters<typeof Deno.watchFs>) => (watchers++, watchFs(...args));
    try {
      const outside = await OutsideNodes.open({ ...LAB, nodes: [] }, base, () => {});
      await outside.plug(dir, new Promise(() => {}));
      outside.close();
      // The directory made while it sleeps between looks: it is closed, and watches nothing there.
      await Deno.mkdir(dir);
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(watchers, 0);
    } finally {
      Deno.watchFs = watchFs;
    }
  });
});

Deno.test("a slirp's reserved file is taken only as a list of IPv4 addresses as numbers, else ignored", () => {
  assert.deepEqual(reservedAddresses([0x0a00020f, 0]), [0x0a00020f, 0]);
  assert.deepEqual(reservedAddresses([]), []);
  for (const bad of [null, {}, "10.0.2.15", [1.5], [-1], [2 ** 32], ["10.0.2.15"], [[1]]]) {
    assert.equal(reservedAddresses(bad), undefined, JSON.stringify(bad));
  }
});

Deno.test("a slirp's reserved file too long, not JSON or no address list is said in one line and the reservations kept; a good one is taken", async () => {
  await withTempDir("vde-reserved-", async (dir) => {
    const file = `${dir}/nat.reserved.json`;
    const kept = "slirp nat's DHCP keeps the addresses it had reserved";
    const take = async (text: string) => {
      await Deno.writeTextFile(file, text);
      const reserved: number[][] = [];
      const said: string[] = [];
      takeReserved(file, "nat", (addrs) => reserved.push(addrs), (m) => said.push(m));
      return { reserved, said };
    };
    assert.deepEqual(await take(`[${0x0a00020f}]`), { reserved: [[0x0a00020f]], said: [] });
    // Read no further than the bound: a file that never ends (a FIFO, /dev/zero in its place) is not waited on.
    const long = `[${"1,".repeat(MAX_REQUEST_BYTES / 2)}1]`;
    assert.deepEqual(await take(long), {
      reserved: [],
      said: [`nat.reserved.json ignored (longer than ${MAX_REQUEST_BYTES} bytes): ${kept}`],
    });
    assert.deepEqual(await take(`[${0x0a00020f}`), {
      reserved: [],
      said: [`nat.reserved.json ignored (not JSON): ${kept}`],
    });
    assert.deepEqual(await take('["10.0.2.15"]'), {
      reserved: [],
      said: [`nat.reserved.json ignored (not a list of IPv4 addresses as numbers): ${kept}`],
    });
    // A symbolic link in its place (the directory is the user's) is not followed.
    Deno.removeSync(file);
    Deno.symlinkSync("/dev/zero", file);
    const said: string[] = [];
    takeReserved(file, "nat", () => assert.fail("reserved"), (m) => said.push(m));
    assert.equal(said.length, 1);
    assert.match(said[0]!, /^nat\.reserved\.json ignored \(.+\): slirp nat's DHCP keeps/);
  });
});
