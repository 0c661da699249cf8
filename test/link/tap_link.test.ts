/**
 * The tap link's flow control: while the link it feeds is backed up, the
 * tap is not read (frames wait in the tap's own kernel queue); when that
 * link drains, reading resumes and nothing was lost.
 */
import assert from "node:assert/strict";
import { createSocket, type Socket } from "node:dgram";
import { labMissing, withNetns } from "../helpers/netns.ts";
import { run, skipUnless, waitFor } from "../helpers/processes.ts";
import { openTapLink } from "../../src/link/tap_link.ts";
import { MemoryLink } from "../helpers/memory_link.ts";

const PORT = 47913;

function isOurUdp(f: Uint8Array): boolean {
  // Ethernet + IPv4 (IHL 5) + UDP destination port.
  return f.length >= 42 && f[12] === 0x08 && f[13] === 0x00 && f[23] === 17 &&
    ((f[36]! << 8) | f[37]!) === PORT;
}

Deno.test("a tap is not read while the link it feeds is congested, and every frame arrives after the drain", async (t) => {
  if (skipUnless(t, await labMissing([]))) return;
  await withNetns(async (lab) => {
    const name = lab.rootInterfaceName();
    const tap = openTapLink(name);
    const peer = new MemoryLink("flow peer");
    peer.congested = true;
    let ours = 0;
    tap.onFrame = (f) => {
      if (isOurUdp(f)) ours++;
    };
    tap.feeds(peer);
    let sock: Socket | null = null;
    try {
      await run(["ip", "addr", "add", "10.199.91.1/24", "dev", name]);
      await run(["ip", "link", "set", name, "up"]);
      await run(["ip", "neigh", "replace", "10.199.91.2", "lladdr", "02:00:00:00:91:02", "dev", name]);
      const s = sock = createSocket("udp4");
      await new Promise<void>((resolve) => s.bind(0, "10.199.91.1", resolve));
      for (let i = 0; i < 20; i++) {
        await new Promise<void>((resolve, reject) =>
          s.send(new Uint8Array([i]), PORT, "10.199.91.2", (err) => err ? reject(err) : resolve())
        );
      }
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(ours, 0, "nothing is read from the tap while its peer is congested");
      assert.ok(peer.onDrain !== null, "the tap waits for the peer's drain");
      peer.drain();
      await waitFor(() => ours === 20, { timeoutMs: 3000, what: "the queued frames" });
      assert.equal(tap.stats.dropsIn, 0);
    } finally {
      sock?.close();
      tap.close();
    }
    assert.equal(peer.onDrain, null, "closing the tap unhooks it from its peer");
  });
});

Deno.test("a busy tap's error names the process that holds it", async (t) => {
  if (skipUnless(t, await labMissing([]))) return;
  await withNetns(async (lab) => {
    const name = lab.rootInterfaceName();
    const tap = openTapLink(name);
    try {
      assert.throws(
        () => openTapLink(name),
        (err: Error) => {
          assert.equal(err.message, `tap ${name} is busy: held by ${Deno.pid} (deno)`);
          return true;
        },
      );
    } finally {
      tap.close();
      await tap.closed;
    }
  });
});
