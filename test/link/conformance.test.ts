/**
 * The shared Link conformance suite (test/helpers/link_conformance.ts) run
 * over the tests' MemoryLink pair, an in-memory stream pair, vde:// through
 * our switch, wire:// over it, cmd:// running our plug, and null:// as a
 * sink; the cable transports (tcp, udp, vxlan, vxvde) run it in their own
 * test files.
 */
import { conformance, type Pair, sinkConformance } from "../helpers/link_conformance.ts";
import { MemoryLink } from "../helpers/memory_link.ts";
import { openLink } from "../../src/link/registry.ts";
import { StreamLink } from "../../src/link/stream_link.ts";
import { Switch } from "../../src/switch/switch.ts";
import { VdeSwitchServer } from "../../src/vde/switch_server.ts";
import { VDE_CLI } from "../helpers/switches.ts";

conformance("MemoryLink.pair()", () => {
  const [a, b] = MemoryLink.pair();
  return Promise.resolve({
    a,
    b,
    closePropagates: true,
    cleanup: async () => {
      a.close();
      await Promise.all([a.closed, b.closed]);
    },
  });
});

conformance("in-memory stream", () => {
  const ab = new TransformStream<Uint8Array, Uint8Array>();
  const ba = new TransformStream<Uint8Array, Uint8Array>();
  const a = new StreamLink("a", ba.readable, ab.writable);
  const b = new StreamLink("b", ab.readable, ba.writable);
  return Promise.resolve({
    a,
    b,
    closePropagates: true,
    cleanup: async () => {
      a.close();
      b.close();
      await Promise.all([a.closed, b.closed]);
    },
  });
});

/** Two links opened by VNL (`SW` stands for our switch's directory) through one switch of ours. */
async function throughOurSwitch(vnlA: string, vnlB: string): Promise<Pair> {
  const dir = await Deno.makeTempDir({ prefix: "vde-conf-" });
  const sw = new Switch({ numPorts: 8 });
  const server = await VdeSwitchServer.start(sw, { dir: `${dir}/sw`, log: () => {} });
  const a = await openLink(vnlA.replace("SW", `${dir}/sw`));
  const b = await openLink(vnlB.replace("SW", `${dir}/sw`));
  return {
    a,
    b,
    closePropagates: false,
    cleanup: async () => {
      a.close();
      b.close();
      server.close();
      sw.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

conformance("vde:// through our switch", () => throughOurSwitch("vde://SW", "vde://SW"));

conformance("cmd:// running vde plug on our switch", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-conf-" });
  const sw = new Switch({ numPorts: 8 });
  const server = await VdeSwitchServer.start(sw, { dir: `${dir}/sw`, log: () => {} });
  const a = await openLink(`cmd://${VDE_CLI.join(" ")} plug ${dir}/sw`);
  const b = await openLink(`vde://${dir}/sw`);
  const cleanup = async () => {
    a.close();
    b.close();
    await a.closed;
    server.close();
    sw.close();
    await Deno.remove(dir, { recursive: true });
  };
  // The child plugs in asynchronously: wait until it holds a port. Its start-up is a `deno run`
  // of the whole CLI: seconds on a loaded machine, more when changed modules are compiled again
  // (10 s was missed so). The bound is generous; a child that exits ends the wait at once.
  let exited: string | null = null;
  a.closed.then((reason) => (exited = reason));
  const deadline = Date.now() + 60_000;
  try {
    while (server.endpointCount < 2) {
      if (exited !== null) throw new Error(`the child ended before it held a port: ${exited}`);
      if (Date.now() > deadline) throw new Error("timed out after 60 s waiting for the child's port");
      await new Promise((r) => setTimeout(r, 5));
    }
  } catch (err) {
    await cleanup();
    throw err;
  }
  return { a, b, closePropagates: false, cleanup };
});

conformance(
  "wire:// over vde:// through our switch",
  () => throughOurSwitch("wire://{vde://SW}", "wire://{vde://SW}[loss=0]"),
);

sinkConformance("null://", () => openLink("null://"));
