/**
 * seqpacket://FD adopts an inherited SOCK_SEQPACKET socket: one message is
 * one frame both ways, the peer closing its end ends the link (not a
 * stream of empty frames), and a descriptor that is not open, not a socket
 * or a stream socket is refused in one line.
 */
import assert from "node:assert/strict";
import { C, libc } from "../../ffi/libc.ts";
import { openLink } from "../../src/link/registry.ts";
import { parseSeqpacketFd } from "../../src/link/seqpacket_link.ts";
import { DgramLink } from "../../src/link/dgram_link.ts";
import { UnixDgramSocket } from "../../src/io/unix_dgram.ts";
import { run, skipWithout, waitFor } from "../helpers/processes.ts";
import { inTempDir } from "../helpers/temp_dir.ts";
import { VDE_CLI } from "../helpers/switches.ts";

const PEER = new URL("./seqpacket_peer.py", import.meta.url).pathname;

function pair(type: number): [number, number] {
  const sv = new Int32Array(2);
  assert.equal(libc().socketpair(C.AF_UNIX, type | C.SOCK_CLOEXEC, 0, new Uint8Array(sv.buffer)), 0);
  return [sv[0]!, sv[1]!];
}

function frame(tag: number): Uint8Array {
  const f = new Uint8Array(60).fill(tag);
  f[0] = 2;
  return f;
}

Deno.test("seqpacket://FD carries one frame per message both ways, and ends when the peer closes its end", async () => {
  const [ours, theirs] = pair(C.SOCK_SEQPACKET);
  const link = await openLink(`seqpacket://${ours}`);
  const peer = new DgramLink(UnixDgramSocket.adopt(theirs), "peer");
  const gotLink: number[] = [];
  const gotPeer: number[] = [];
  link.onFrame = (f) => gotLink.push(f.length * 1000 + f[1]!);
  peer.onFrame = (f) => gotPeer.push(f.length * 1000 + f[1]!);
  try {
    peer.send(frame(7));
    peer.send(frame(8).subarray(0, 20));
    link.send(frame(9));
    await waitFor(() => gotLink.length === 2 && gotPeer.length === 1, {
      timeoutMs: 5000,
      what: "the frames",
    });
    assert.deepEqual([gotLink, gotPeer], [[60_007, 20_008], [60_009]]);
    peer.close();
    assert.equal(await link.closed, "peer closed its end");
    assert.equal(link.stats.dropsIn, 0, "no empty frame counted");
  } finally {
    link.close();
    peer.close();
  }
});

Deno.test("seqpacket:// refuses a descriptor that is not open, not a socket, or a stream socket, in one line", async () => {
  await assert.rejects(openLink("seqpacket://987"), /^Error: descriptor 987 is not open/);
  await assert.rejects(openLink("seqpacket://3x"), /takes the number of an inherited socket/);
  const path = await Deno.makeTempFile({ prefix: "nn1-seqpacket-" });
  const file = Deno.openSync(path);
  try {
    // Its descriptor, found by name: Deno does not say it.
    const fd = [...Deno.readDirSync("/proc/self/fd")].map((e) => Number(e.name)).find((n) => {
      try {
        return Deno.readLinkSync(`/proc/self/fd/${n}`) === path;
      } catch {
        return false;
      }
    });
    assert.ok(fd !== undefined);
    await assert.rejects(
      openLink(`seqpacket://${fd}`),
      new RegExp(`^Error: descriptor ${fd} is not a socket$`),
    );
  } finally {
    file.close();
    await Deno.remove(path);
  }
  const [a, b] = pair(1 /* SOCK_STREAM */);
  try {
    await assert.rejects(openLink(`seqpacket://${a}`), /is a stream socket, which keeps no frame boundaries/);
  } finally {
    libc().close(a);
    libc().close(b);
  }
  assert.equal(parseSeqpacketFd("0x10"), 16);
  assert.equal(parseSeqpacketFd("010"), 8);
  assert.throws(() => parseSeqpacketFd("-1"), /takes the number/);
});

Deno.test("vde plug seqpacket://FD, given a socketpair's end by its parent, carries frames both ways and ends with the pair, as Debian's vde_plug does", async (t) => {
  if (await skipWithout(t, { vde_plug: "vdeplug", python3: "python3" })) return;
  await inTempDir("nn1-seqpacket-", async (tmp) => {
    for (const plug of [[...VDE_CLI, "plug"], ["vde_plug"]]) {
      const r = await run(["python3", PEER, tmp, ...plug], { timeoutMs: 40_000 });
      assert.match(
        r.stdout,
        /^to ptp: True\nfrom ptp: True\nended: 0 in /,
        `${plug.at(-1)}:\n${r.stdout}${r.stderr}`,
      );
      await Deno.remove(`${tmp}/p`).catch(() => {});
    }
  });
});
