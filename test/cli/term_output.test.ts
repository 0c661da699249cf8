/**
 * A scripted vde term's stdout keeps replies and event lines whole and in
 * order, and while its reader stalls drops event lines past its bound
 * (never a reply), saying on stderr how many once it catches up.
 */
import assert from "node:assert/strict";
import { TermOutput } from "../../src/cli/term_output.ts";

/** A writer that takes at most `step` bytes a call and holds every call until `release`. */
class StalledWriter {
  text = "";
  #held: (() => void)[] = [];
  #open = false;
  constructor(private readonly step: number) {}
  write(p: Uint8Array): Promise<number> {
    const n = Math.min(p.length, this.step);
    const take = () => {
      this.text += new TextDecoder().decode(p.subarray(0, n));
      return n;
    };
    if (this.#open) return Promise.resolve(take());
    return new Promise((resolve) => this.#held.push(() => resolve(take())));
  }
  /** Lets the held writes through, and every later one at once. */
  release(): void {
    this.#open = true;
    for (const w of this.#held.splice(0)) w();
  }
}

Deno.test("replies and event lines come out whole and in order, a reply written in pieces not split by an event", async () => {
  const out = new StalledWriter(7);
  const warned: string[] = [];
  const term = new TermOutput(out, (l) => warned.push(l));
  const reply = "0000 DATA END WITH '.'\n00:00:00:00:00:01 VLAN 0 port 1\n.\n1000 Success\n";
  const replied = term.write(reply);
  term.event("3031 port/ep/+ Port 01 FD  7");
  const second = term.write("1000 Success\n");
  out.release();
  await Promise.all([replied, second, term.flush()]);
  assert.equal(out.text, `${reply}3031 port/ep/+ Port 01 FD  7\n1000 Success\n`);
  assert.deepEqual(warned, []);
});

Deno.test("while stdout stalls, event lines past the bound are dropped and counted, replies never", async () => {
  const out = new StalledWriter(1 << 20);
  const warned: string[] = [];
  const term = new TermOutput(out, (l) => warned.push(l), 64);
  const line = (i: number) => `3033 hash/+ MAC 00:00:00:00:00:${String(i).padStart(2, "0")} VLAN 0 Port 01`;
  for (let i = 0; i < 10; i++) term.event(line(i)); // 55 bytes each: the second one is past 64
  const replied = term.write("1000 Success\n");
  out.release();
  await replied;
  assert.deepEqual(warned, [], "said once stdout caught up, not while it stalls");
  term.event(line(10));
  await term.flush();
  assert.equal(out.text, `${line(0)}\n${line(1)}\n1000 Success\n${line(10)}\n`);
  assert.deepEqual(warned, ["8 event lines dropped: stdout did not keep up"]);
});
