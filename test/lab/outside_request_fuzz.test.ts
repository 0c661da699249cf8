/**
 * Fuzz: the process outside a rootless lab reads node requests from files
 * in the lab's directory (outside.ts), JSON it checks with checkedRequest
 * before it opens anything. 5,000 random JSON values and mutated valid
 * requests (keys dropped, added, retyped; values of every JSON type, huge
 * numbers, long and odd strings, nesting) must each come back as a slirp
 * or cable node or be refused with an Error of one printable line (the
 * validator quoted a value's newlines and escapes as they were, before);
 * nothing else may be thrown. A valid request is still taken afterwards.
 * Seeded.
 */
import assert from "node:assert/strict";
import { checkedRequest } from "../../src/lab/outside_request.ts";
import { prng } from "../helpers/random.ts";

const N = 5000;

Deno.test("outside request fuzz: 5,000 random and mutated requests are taken as a node or refused in one line, never thrown otherwise", () => {
  const rnd = prng(0x0a751de);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const str = () => {
    const r = rnd();
    if (r < 0.3) {
      return pick([
        "",
        "0",
        "nat",
        "wan",
        "slirp",
        "cable",
        "tcp:8080:10.0.2.15:80",
        "udp:53:10.0.2.3:53",
        "h:1",
        "[::1]:7",
        "/nonexistent/k",
        "../k",
        "yes",
        "~",
        "${HOME}",
        "*a",
        "&a x",
        "- a",
        "a: b",
        "{}",
        "!!js/function",
      ]);
    }
    let s = "";
    const n = r < 0.99 ? Math.floor(rnd() * 30) : 20_000;
    for (let i = 0; i < n; i++) s += String.fromCharCode(Math.floor(rnd() * (rnd() < 0.9 ? 128 : 0x3000)));
    return s;
  };
  const value = (depth: number): unknown => {
    const r = rnd();
    if (r < 0.15) return null;
    if (r < 0.25) return rnd() < 0.5;
    if (r < 0.45) return pick([0, -1, 1, 1280, 65520, 65521, 1e21, 2 ** 53 + 1, 1.5, -0, 1e308]);
    if (r < 0.75 || depth > 3) return str();
    if (r < 0.88) return Array.from({ length: Math.floor(rnd() * 5) }, () => value(depth + 1));
    const o: Record<string, unknown> = {};
    for (let i = Math.floor(rnd() * 4); i > 0; i--) o[str()] = value(depth + 1);
    return o;
  };
  const templates: Record<string, unknown>[] = [
    { kind: "slirp", name: "nat", forwards: ["tcp:8080:10.0.2.15:80"] },
    { kind: "slirp", name: "nat", forwards: [], options: "/restricted", mtu: 1500 },
    { kind: "cable", name: "nat", listen: "0", insecure: true },
    { kind: "cable", name: "nat", connect: "h:1", insecure: true },
  ];
  const keys = [
    "kind",
    "name",
    "forwards",
    "options",
    "mtu",
    "connect",
    "listen",
    "key",
    "insecure",
    "command",
  ];
  let taken = 0, refused = 0;
  const other: string[] = [];
  const started = performance.now();
  for (let i = 0; i < N; i++) {
    let asked: unknown;
    if (rnd() < 0.2) asked = value(0);
    else {
      const o: Record<string, unknown> = { ...pick(templates) };
      for (let k = 1 + Math.floor(rnd() * 3); k > 0; k--) {
        const r = rnd();
        const key = pick(keys);
        if (r < 0.2) delete o[key];
        else if (r < 0.9) o[key] = value(1);
        else o[str()] = value(1);
      }
      asked = o;
    }
    // As the process outside has it: what JSON.parse of the file gives.
    const text = JSON.stringify(asked);
    asked = text === undefined ? undefined : JSON.parse(text);
    try {
      const node = checkedRequest("lab", "nat", asked, "/nonexistent");
      assert.ok(node.kind === "slirp" || node.kind === "cable");
      taken++;
    } catch (err) {
      // One line of printable text: the lab shows it to its user as it is.
      // deno-lint-ignore no-control-regex
      if (err instanceof Error && err.constructor === Error && /^[^\x00-\x1f\x7f-\x9f]+$/.test(err.message)) {
        refused++;
      } else other.push(`${JSON.stringify(asked)?.slice(0, 200)}: ${err instanceof Error ? err.stack : err}`);
    }
  }
  const seconds = (performance.now() - started) / 1000;
  console.log(
    `outside request fuzz: ${N} requests in ${seconds.toFixed(1)} s: ${taken} taken, ${refused} refused`,
  );
  assert.deepEqual(other.slice(0, 5), []);
  assert.ok(refused > 0 && taken > 0);
  // Afterwards a valid request is taken as before.
  const node = checkedRequest("lab", "nat", {
    kind: "slirp",
    name: "nat",
    forwards: ["tcp:8080:10.0.2.15:80"],
  }, "/");
  assert.equal(node.kind, "slirp");
});
