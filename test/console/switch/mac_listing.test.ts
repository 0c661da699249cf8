import assert from "node:assert/strict";
import { makeConsole, type TestConsole } from "../_helpers.ts";
import { prng } from "../../helpers/random.ts";
import { formatHashLine } from "../../../src/console/switch/listings.ts";
import { macViews } from "../../../src/console/switch/views.ts";
import { formatReply } from "../../../src/console/reply_format.ts";
import { hashPrintChunks } from "../../../src/console/switch/mac_listing.ts";

const NOW = 100_000;

/** Fills the table with `count` seeded entries: any MAC, VLANs up to 4095, ports past 999, old and new. */
function fill(tc: TestConsole, count: number, seed: number): void {
  const r = prng(seed);
  const table = tc.sw.engine.macTable;
  while (table.size < count) {
    const hi = Math.floor(r() * 0x10000), lo = Math.floor(r() * 0x1_0000_0000);
    const vlan = r() < 0.5 ? 0 : Math.floor(r() * 4096);
    const port = Math.floor(r() * 1500);
    table.learn(hi, lo, vlan, port, NOW - r() * 200_000);
  }
}

/** What `hash/print` printed before it wrote bytes: the views, formatted line by line. */
async function referenceListing(tc: TestConsole): Promise<string> {
  return formatReply({ code: 0, lines: (await macViews(tc.ctx)).map(formatHashLine) });
}

for (const buckets of [1, 128, 1 << 20]) {
  Deno.test(`hash/print of 5000 entries in ${buckets} buckets is byte for byte the line-by-line listing`, async () => {
    const tc = makeConsole();
    try {
      tc.ctx.nowSeconds = () => NOW;
      tc.ctx.hashBuckets = buckets;
      fill(tc, 5000, buckets);
      const got = await tc.run("hash/print");
      assert.equal(got.split("\n").length, 5000 + 4);
      assert.equal(got, await referenceListing(tc));
    } finally {
      tc.close();
    }
  });
}

Deno.test("hash/print of an empty table is an empty listing", async () => {
  const tc = makeConsole();
  try {
    assert.equal(await tc.run("hash/print"), "0000 DATA END WITH '.'\n.\n1000 Success\n");
  } finally {
    tc.close();
  }
});

Deno.test("hash/print of a full table leaves the event loop served while it formats", async () => {
  const tc = makeConsole();
  try {
    tc.ctx.nowSeconds = () => NOW;
    fill(tc, 65536, 7);
    let ticks = 0;
    const timer = setInterval(() => ticks++, 0);
    const reply = await tc.commands.execute("hash/print", tc.session);
    clearInterval(timer);
    const bytes = (reply?.body ?? []).reduce((n, c) => n + c.length, 0);
    assert.ok(bytes > 65536 * 60, `${bytes} bytes`);
    assert.ok(ticks >= 4, `timers ran ${ticks} times during the listing`);
  } finally {
    tc.close();
  }
});

Deno.test("hash/print of a full table offers its core at least every half millisecond of work", async () => {
  const tc = makeConsole();
  try {
    tc.ctx.nowSeconds = () => NOW;
    fill(tc, 65536, 11);
    let offers = 0;
    const cpu0 = threadCpuMs();
    const body = await Array.fromAsync(hashPrintChunks(tc.ctx, () => offers++));
    const cpu = threadCpuMs() - cpu0;
    assert.ok(body.length > 60, "a full listing");
    // Bursts are timed on the clock: a preempted burst only ends sooner.
    assert.ok(offers >= Math.floor(cpu / 0.5), `${offers} offers in ${cpu.toFixed(1)} ms of CPU`);
  } finally {
    tc.close();
  }
});

Deno.test("hash/print of a full table gives its first chunk long before it makes its last", async () => {
  const tc = makeConsole();
  try {
    tc.ctx.nowSeconds = () => NOW;
    fill(tc, 65536, 12);
    // A slow pacer: each offer of the core gives it away for a while, as a busy machine does.
    let offers = 0;
    const slowOffer = () => {
      offers++;
      const until = performance.now() + 0.2;
      while (performance.now() < until) { /* the core is someone else's */ }
    };
    let offersAtFirst = -1;
    let chunks = 0;
    for await (const _ of hashPrintChunks(tc.ctx, slowOffer)) {
      if (chunks++ === 0) offersAtFirst = offers;
    }
    assert.ok(chunks > 60, `${chunks} chunks`);
    // The sort is the listing's first part (about a tenth of its work); the lines, chunk by chunk, the rest.
    assert.ok(offersAtFirst < offers / 2, `first chunk after ${offersAtFirst} of ${offers} offers`);
  } finally {
    tc.close();
  }
});

/** This thread's CPU time so far, in ms (the first field of schedstat, in ns). */
function threadCpuMs(): number {
  return Number(Deno.readTextFileSync("/proc/thread-self/schedstat").split(" ")[0]) / 1e6;
}
