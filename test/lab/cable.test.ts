/**
 * Two labs on one machine joined by a keyed cable: one lab's cable node
 * listens on loopback (on a port the kernel picks, which `vde status`
 * shows), the other's connects, and hosts ping across.
 */
import assert from "node:assert/strict";
import { skipUnlessRoot, waitFor } from "../helpers/processes.ts";
import { leftovers, pingCount, vde, withLabFile, withLabInProcess } from "./_helpers.ts";
import { CableListener } from "../../src/cable/listener.ts";
import { keyFromBytes } from "../../src/cable/key.ts";
import { labDir, labsBaseDir } from "../../src/lab/names.ts";

/** One side: a switch with a host and a cable node (`cable`: its settings, e.g. `listen: 7000, insecure: true`). */
function cableSide(address: string, cable: string): string {
  return `name: x
topology:
  nodes:
    sw: { kind: switch, ports: 4 }
    h: { kind: host, address: ${address} }
    wan: { kind: cable, ${cable} }
  links:
    - endpoints: [h, sw]
    - endpoints: [wan, sw]
`;
}

Deno.test("cable nodes join two labs: hosts on either side ping each other over a keyed cable", async (t) => {
  if (skipUnlessRoot(t)) return;
  const dir = await Deno.makeTempDir({ prefix: "vde-labcable-" });
  const key = `${dir}/lab.key`;
  try {
    assert.equal((await vde(["cable", "keygen", key])).code, 0);
    const side = (address: string, cable: string) => cableSide(address, `${cable}, key: ${key}`);
    // Port 0: the kernel picks one, and `vde status` says which.
    await withLabFile({ text: side("10.66.0.1/24", `listen: "127.0.0.1:0"`) }, async (a, fileA) => {
      assert.equal((await vde(["up", "-d", fileA])).code, 0);
      const status = await vde(["status", a]);
      const port = Number(
        /^wan +cable +listening on 127\.0\.0\.1:(\d+), no cable yet$/m.exec(status.stdout)?.[1],
      );
      assert.ok(port > 0, status.stdout);
      await withLabFile({ text: side("10.66.0.2/24", `connect: "127.0.0.1:${port}"`) }, async (b, fileB) => {
        const up = await vde(["up", "-d", fileB]);
        assert.equal(up.code, 0, up.stderr);
        let received = 0;
        for (let i = 0; i < 10 && received === 0; i++) received = await pingCount(b, "h", "10.66.0.1", 2);
        assert.ok(received > 0, "no ping crossed the cable");
        assert.match((await vde(["status", a])).stdout, /^wan +cable +listening on \S+, connected$/m);
        assert.match((await vde(["status", b])).stdout, /^wan +cable +to 127\.0\.0\.1:\d+, connected$/m);
        // Each lab's log names the cable node its lines are of, as a lab may have several.
        for (
          const [lab, first] of [[a, /^\S+ vde up: wan: listening on 127\.0\.0\.1:\d+ \(key /m], [
            b,
            null,
          ]] as const
        ) {
          const text = await Deno.readTextFile(`${labsBaseDir()}/${lab}.log`);
          if (first !== null) assert.match(text, first);
          assert.match(text, /^\S+ vde up: wan: cable open \S+ remote 127\.0\.0\.1:\d+ key /m);
          assert.doesNotMatch(text, /vde cable:/);
        }
        assert.equal((await vde(["down", b])).code, 0);
        assert.equal((await vde(["down", a])).code, 0);
        assert.deepEqual([...await leftovers(a), ...await leftovers(b)], []);
      });
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a lab taken down and brought up again behind a cable is reached again at once, and vde status shows the cable's state", async (t) => {
  if (skipUnlessRoot(t)) return;
  // A port free now, for a listener that must come back on the same one.
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (probe.addr as Deno.NetAddr).port;
  probe.close();
  const side = (address: string, cable: string) => cableSide(address, `${cable}, insecure: true`);
  await withLabFile({ text: side("10.67.0.1/24", `listen: "127.0.0.1:${port}"`) }, async (a, fileA) => {
    assert.equal((await vde(["up", "-d", fileA])).code, 0);
    await withLabFile({ text: side("10.67.0.2/24", `connect: "127.0.0.1:${port}"`) }, async (b, fileB) => {
      assert.equal((await vde(["up", "-d", fileB])).code, 0);
      const reached = async () => {
        for (let i = 0; i < 20; i++) if (await pingCount(b, "h", "10.67.0.1", 1) > 0) return true;
        return false;
      };
      assert.ok(await reached(), "no ping crossed the cable");
      assert.equal((await vde(["down", a])).code, 0);
      await waitFor(
        async () =>
          /^wan +cable +to \S+, not connected \(retrying\)$/m.test((await vde(["status", b])).stdout) ||
          undefined,
        { timeoutMs: 20_000, what: "the cable shown as not connected" },
      );
      assert.equal((await vde(["up", "-d", fileA])).code, 0);
      // The far host has its MAC of before: the near host's ARP entry is still right.
      const started = Date.now();
      assert.ok(await reached(), "no ping crossed the cable after the far lab came back");
      assert.ok(Date.now() - started < 15_000, `reached after ${Date.now() - started} ms`);
    });
  });
});

Deno.test("a cable node refused for a wrong key says so in the lab's log and its status, not 'retrying'", async (t) => {
  if (skipUnlessRoot(t)) return;
  const dir = await Deno.makeTempDir({ prefix: "vde-labcable-key-" });
  const listener = CableListener.start({
    hostname: "127.0.0.1",
    port: 0,
    key: await keyFromBytes(new Uint8Array(32).fill(7)),
    log: () => {},
    onSession: () => 0,
  });
  try {
    const key = `${dir}/other.key`;
    assert.equal((await vde(["cable", "keygen", key])).code, 0);
    const text = `name: x
topology:
  nodes:
    sw: { kind: switch, ports: 4 }
    wan: { kind: cable, connect: "127.0.0.1:${listener.addr.port}", key: ${key} }
  links:
    - endpoints: [wan, sw]
`;
    await withLabFile({ text }, async (name, file) => {
      const up = await vde(["up", "-d", file]);
      assert.equal(up.code, 0, up.stderr);
      const status = await waitFor(
        async () =>
          /^wan +cable +to \S+, not connected, not retrying: .*$/m.exec((await vde(["status", name])).stdout)
            ?.[0],
        { timeoutMs: 20_000, intervalMs: 250, what: "the cable shown as refused" },
      );
      assert.match(status, /the listener refused the cable: wrong key \(ours is [0-9a-f]{16};/);
      const said =
        /wan: cannot connect to 127\.0\.0\.1:\d+: the listener refused the cable: wrong key .*; not retrying\n/;
      await waitFor(async () => said.test(await Deno.readTextFile(`${labsBaseDir()}/${name}.log`)), {
        timeoutMs: 10_000,
        intervalMs: 100,
        what: "the refusal in the lab's log",
      });
      assert.equal((await vde(["down", name])).code, 0);
    });
  } finally {
    listener.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a cable node whose listen port another program holds is named in one line, with the port and what to do", async (t) => {
  if (skipUnlessRoot(t)) return;
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const port = (taken.addr as Deno.NetAddr).port;
    await withLabFile(
      { text: cableSide("10.67.0.1/24", `listen: "127.0.0.1:${port}", insecure: true`) },
      async (lab, file) => {
        const up = await vde(["up", "-d", file]);
        assert.equal(up.code, 1);
        assert.equal(
          up.stderr.trim().split("\n").at(-1),
          `vde: lab ${lab}: cable wan: cannot listen on 127.0.0.1:${port}: Address already in use (os error 98); ` +
            `listen: 0 takes a free port (everything made was taken down); its log: ${labDir(lab)}.log`,
        );
        assert.deepEqual(await leftovers(lab), []);
      },
    );
  } finally {
    taken.close();
  }
});

Deno.test("a listening cable node removed and added again on its port, 20 times over, binds it every time (its close waits for the port's release)", async () => {
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (probe.addr as Deno.NetAddr).port;
  probe.close();
  const text = `name: x
topology:
  nodes:
    sw: { kind: switch, ports: 4, dataplane: main }
    wan: { kind: cable, listen: "127.0.0.1:${port}", insecure: true }
  links:
    - endpoints: [wan, sw]
`;
  await withLabInProcess(text, async (_r, line) => {
    for (let i = 0; i < 20; i++) {
      assert.equal(await line("del wan"), "0 removed cable wan and 1 link wan-sw:1\n", `cycle ${i}`);
      assert.equal(
        await line(`add cable wan listen 127.0.0.1:${port} insecure`),
        "0 added cable wan\n",
        `cycle ${i}`,
      );
      assert.equal(await line("add link wan sw"), "0 added link wan-sw:1\n", `cycle ${i}`);
    }
  });
});
