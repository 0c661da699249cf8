/**
 * Fuzz: the process outside a rootless lab changes a slirp's forwards as a
 * request file asks (`NODE.forwards.json`: was, now, generation). 500
 * random and mutated requests (forwards of every shape, ports past their
 * range, junk strings, fields of the wrong type) must each be answered
 * with nothing (made) or one printable line (why not: the forward is
 * quoted as written, which put its newlines and escapes in the answer the
 * lab shows its user, before); afterwards a valid change is still made and
 * leaves exactly the forward it asks for. Seeded.
 */
import assert from "node:assert/strict";
import { answerForwards } from "../../src/lab/outside_forwards.ts";
import { forwardsDoneFile } from "../../src/lab/outside_files.ts";
import { openSlirpNode } from "../../src/lab/slirp_node.ts";
import { formatForward } from "../../src/slirp/config.ts";
import { junk, mutate, prng } from "../helpers/random.ts";
import { withTempDir } from "./_helpers.ts";

const N = 500;

Deno.test("outside forwards fuzz: 500 random and mutated forwards requests are made or refused in one printable line; a valid change is made after", async () => {
  const slirp = await openSlirpNode({ kind: "slirp", name: "nat", forwards: [] });
  const rnd = prng(0xf0a4d);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  // On loopback, ports the kernel picks: nothing listens beyond this machine.
  const valid = [
    "tcp:127.0.0.1:0:10.0.2.15:80",
    "udp:127.0.0.1:0:10.0.2.15:53",
    "tcp:127.0.0.1:0:10.0.2.15:22",
  ];
  const forward = (): unknown => {
    const r = rnd();
    if (r < 0.4) return pick(valid);
    if (r < 0.8) {
      return new TextDecoder().decode(mutate(new TextEncoder().encode(pick(valid)), rnd, { maxFlips: 3 }));
    }
    if (r < 0.9) return new TextDecoder().decode(junk(rnd, 40));
    return pick([null, 5, [], {}, "tcp:70000:10.0.2.15:80", "tcp:0:10.0.2.15:0", "tcp:0:1.2.3.4:80"]);
  };
  const running = () => slirp.stack.forwards().map((f) => formatForward(f, slirp.stack.config)).sort();
  const bad: string[] = [];
  let made = 0, refused = 0;
  try {
    await withTempDir("vde-forwards-fuzz-", async (dir) => {
      for (let g = 1; g <= N; g++) {
        const now = running();
        const was = rnd() < 0.8 ? now : Array.from({ length: Math.floor(rnd() * 3) }, forward);
        const next = rnd() < 0.3 ? was : [...(Array.isArray(was) ? was : []), forward()];
        const asked = rnd() < 0.05 ? pick([null, 7, "x", { generation: g, was: 1, now: "x" }]) : {
          generation: g,
          was,
          now: rnd() < 0.2 ? next.slice(1) : next,
        };
        await answerForwards(dir, "nat", asked, slirp, () => {});
        const done = forwardsDoneFile(dir, "nat", g);
        let said: string;
        try {
          said = Deno.readTextFileSync(done);
          Deno.removeSync(done);
        } catch {
          continue; // no generation, no answer: not the lab's request
        }
        if (said === "") made++;
        // deno-lint-ignore no-control-regex
        else if (/^[^\x00-\x1f\x7f-\x9f]+\n$/.test(said)) refused++;
        else bad.push(JSON.stringify(said));
      }
      console.log(
        `outside forwards fuzz: ${N} requests: ${made} made, ${refused} refused; ${running().length} forwards`,
      );
      assert.deepEqual(bad.slice(0, 5), []);
      assert.ok(made > 0 && refused > 0);
      // A valid change after all that: every forward removed, one added.
      const g = N + 1;
      await answerForwards(
        dir,
        "nat",
        { generation: g, was: running(), now: ["udp:127.0.0.1:0:10.0.2.15:53"] },
        slirp,
        () => {},
      );
      assert.equal(Deno.readTextFileSync(forwardsDoneFile(dir, "nat", g)), "");
      assert.deepEqual(running().map((f) => f.replace(/:\d+:10/, ":P:10")), ["udp:127.0.0.1:P:10.0.2.15:53"]);
    });
  } finally {
    slirp.close();
    await slirp.released;
  }
});
