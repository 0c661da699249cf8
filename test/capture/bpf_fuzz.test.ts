/**
 * Fuzz: `vde capture --filter` hands the switch a BPF listing that it
 * checks (parseBpf) and then runs on every frame of the capture. 20,000
 * mutated listings and random instruction lists must each be refused with
 * an Error of one line or be taken; every program taken must run on random
 * frames without throwing, return a whole number of bytes to keep, and
 * finish (its jumps only go forward). Seeded.
 */
import assert from "node:assert/strict";
import { compileBpf, parseBpf, runBpf } from "../../src/capture/bpf.ts";
import { junk, mutate, prng } from "../helpers/random.ts";

// tcpdump -ddd of `icmp` and of `vlan and ip and udp`, and a hand-written one: scratch memory, the index
// register, a load through it, a division by X.
const LISTINGS = [
  "6\n40 0 0 12\n21 0 3 2048\n48 0 0 23\n21 0 1 1\n6 0 0 262144\n6 0 0 0",
  "9\n40 0 0 12\n21 0 6 33024\n40 0 0 16\n21 0 4 2048\n48 0 0 27\n21 0 2 17\n177 0 0 18\n6 0 0 262144\n6 0 0 0",
  "7\n0 0 0 3\n2 0 0 4\n97 0 0 4\n7 0 0 0\n80 0 0 14\n60 0 0 0\n22 0 0 0",
];

Deno.test("bpf fuzz: 20,000 mutated listings and random programs are refused in one line or run safely on random frames", () => {
  const rnd = prng(0xb9f);
  const frames = Array.from({ length: 64 }, () => junk(rnd, 1600));
  let taken = 0, refused = 0;
  const other: string[] = [];
  for (let i = 0; i < 20_000; i++) {
    let program;
    try {
      if (rnd() < 0.7) {
        const text = new TextEncoder().encode(LISTINGS[Math.floor(rnd() * LISTINGS.length)]!);
        // Mostly digits changed into other digits, so the lines still read as numbers.
        const m = mutate(text, rnd, { maxFlips: 4 });
        for (let k = 0; k < m.length; k++) if (m[k]! > 0x39 && rnd() < 0.9) m[k] = 0x30 + (m[k]! % 10);
        program = parseBpf(new TextDecoder().decode(m));
      } else {
        const n = 1 + Math.floor(rnd() * 12);
        const codes = [
          0x00,
          0x01,
          0x02,
          0x03,
          0x04,
          0x05,
          0x06,
          0x07,
          0x15,
          0x25,
          0x28,
          0x30,
          0x34,
          0x3c,
          0x45,
          0x48,
          0x50,
          0x54,
          0x61,
          0x74,
          0x84,
          0x87,
          0x94,
          0x9c,
          0xa4,
          0xb1,
          0x16,
        ];
        program = compileBpf(Array.from({ length: n }, () => ({
          code: rnd() < 0.9 ? codes[Math.floor(rnd() * codes.length)]! : Math.floor(rnd() * 0x10000),
          jt: Math.floor(rnd() * (rnd() < 0.9 ? n : 300)),
          jf: Math.floor(rnd() * (rnd() < 0.9 ? n : 300)),
          k: rnd() < 0.5 ? Math.floor(rnd() * 20) : Math.floor(rnd() * 2 ** 32),
        })));
      }
    } catch (err) {
      if (err instanceof Error && err.constructor === Error && !err.message.includes("\n")) refused++;
      else other.push(String(err));
      continue;
    }
    taken++;
    for (let k = 0; k < 4; k++) {
      const f = frames[Math.floor(rnd() * frames.length)]!;
      const keep = runBpf(program, f, f.length + Math.floor(rnd() * 100));
      if (!Number.isInteger(keep) || keep < 0 || keep > 2 ** 32) other.push(`kept ${keep}`);
    }
  }
  console.log(`bpf fuzz: 20000 programs: ${taken} taken, ${refused} refused`);
  assert.deepEqual(other.slice(0, 5), []);
  assert.ok(taken > 1000 && refused > 1000);
  // A clean program still does its job: ICMP kept, the rest dropped.
  const icmp = new Uint8Array(60);
  icmp.set([8, 0], 12);
  icmp[23] = 1;
  assert.equal(runBpf(parseBpf(LISTINGS[0]!), icmp), 262144);
  icmp[23] = 17;
  assert.equal(runBpf(parseBpf(LISTINGS[0]!), icmp), 0);
});
