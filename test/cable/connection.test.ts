/**
 * A cable connection's output path with a transport that counts its writes:
 * a lone frame (a ping's) leaves in a write of its own as soon as it is
 * sent, plain or sealed, never held back for company.
 */
import assert from "node:assert/strict";
import { CableConnection } from "../../src/cable/connection.ts";
import { createOpener, createSealer } from "../../src/cable/crypto.ts";
import type { CableTransport } from "../../src/cable/handshake.ts";
import { RECORD_HEADER_SIZE, TAG_SIZE } from "../../src/wire/cable_record.ts";
import { frame, until } from "./_helpers.ts";

/** A transport that never delivers input and records every write. */
function countingTransport(): { t: CableTransport; writes: Uint8Array[] } {
  const writes: Uint8Array[] = [];
  const t: CableTransport = {
    read: () => new Promise(() => {}),
    write: (p) => {
      writes.push(p.slice());
      return Promise.resolve(p.length);
    },
    close: () => {},
  };
  return { t, writes };
}

/** Lets every queued microtask run, and nothing else: no timer, no I/O turn of the event loop. */
async function microtasksOnly(rounds = 10): Promise<void> {
  for (let i = 0; i < rounds; i++) await Promise.resolve();
}

Deno.test("plain cable: a lone frame is written at once, in the turn it was sent, in a write of its own", async () => {
  const { t, writes } = countingTransport();
  const conn = new CableConnection("plain", t, null);
  try {
    conn.send(frame(1, 2, 1, 60));
    await microtasksOnly();
    assert.equal(writes.length, 1);
    assert.equal(writes[0]!.length, 2 + 60);
    conn.send(frame(1, 2, 2, 98));
    await microtasksOnly();
    assert.equal(writes.length, 2);
    assert.equal(writes[1]!.length, 2 + 98);
    assert.equal(conn.stats.framesOut, 2);
  } finally {
    conn.close("test over");
  }
});

Deno.test("sealed cable: a lone frame leaves as one record of its own, not held for a batch", async () => {
  const { t, writes } = countingTransport();
  const key = new Uint8Array(32).fill(7);
  const conn = new CableConnection("sealed", t, {
    sealer: await createSealer(key),
    opener: await createOpener(key),
  });
  try {
    conn.send(frame(1, 2, 1, 60));
    await until("the record", () => conn.stats.framesOut === 1);
    assert.equal(writes.length, 1);
    assert.equal(writes[0]!.length, RECORD_HEADER_SIZE + 2 + 60 + TAG_SIZE);
    conn.send(frame(1, 2, 2, 60));
    await until("the second record", () => conn.stats.framesOut === 2);
    assert.equal(writes.length, 2);
  } finally {
    conn.close("test over");
  }
});
