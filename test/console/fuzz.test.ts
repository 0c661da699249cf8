/**
 * Fuzz: the switch console's commands (as the management socket, unixterm
 * and `vde term` run them) take random lines: every command's path with
 * random arguments (numbers at and past every bound, words, MACs, binary
 * junk, an endless one), junk in place of a command, while frames cross
 * the switch between commands. No handler may throw (the registry would
 * turn that into EIO: bad input deserves a reason), hang, or stop the
 * switch forwarding; afterwards the console answers as before. Seeded.
 */
import assert from "node:assert/strict";
import { macFrame, makeConsole } from "./_helpers.ts";
import { MemoryLink } from "../helpers/memory_link.ts";
import { formatReply } from "../../src/console/reply_format.ts";
import { prng } from "../helpers/random.ts";

const LINES = 20_000;
/** Commands that end the session or the process, or read files: not for random arguments. */
const SKIP = new Set(["shutdown", "logout", "load"]);

Deno.test("console fuzz: 20,000 random command lines; no handler throws or hangs, the switch forwards and the console answers after", async () => {
  const c = makeConsole(8);
  const rnd = prng(0xc0501e);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const junk = (n: number) => {
    let s = "";
    for (let i = 0; i < n; i++) s += String.fromCharCode(Math.floor(rnd() * 256));
    return s;
  };
  const words = [
    "-1",
    "0",
    "1",
    "2",
    "3",
    "7",
    "8",
    "9",
    "4094",
    "4095",
    "4096",
    "65535",
    "65536",
    "2147483648",
    "9007199254740993",
    "1e309",
    "0x10",
    "1e3",
    "NaN",
    "Infinity",
    "-0",
    "007",
    "1.5",
    "yes",
    "no",
    "auto",
    "on",
    "off",
    "all",
    "port",
    "vlan",
    "root",
    "nobody",
    "ff:ff:ff:ff:ff:ff",
    "02:00:00:00:00:0a",
    "02:00:00:00:00:0a:0b",
    "zz:zz:zz:zz:zz:zz",
    "",
    "\u00e9",
    "\u{1f600}",
    "%s%n",
  ];
  const arg = () => {
    const r = rnd();
    if (r < 0.7) return pick(words);
    if (r < 0.8) return String(Math.floor(rnd() * 70000) - 100);
    if (r < 0.995) return junk(1 + Math.floor(rnd() * 20));
    return "A".repeat(100_000); // an endless argument
  };
  const paths = c.commands.commandPaths().filter((p) => !SKIP.has(p));
  // Two clients, on ports 1 and 2, exchanging frames between commands.
  const a = new MemoryLink("a"), b = new MemoryLink("b");
  c.sw.attach(a, { port: 1 });
  c.sw.attach(b, { port: 2 });
  const threw: string[] = [];
  const hung: string[] = [];
  const codes = new Map<number, number>();
  const started = performance.now();
  for (let i = 0; i < LINES; i++) {
    let line: string;
    const r = rnd();
    if (r < 0.1) line = junk(Math.floor(rnd() * 80));
    else {
      const n = Math.floor(rnd() * 5);
      line = pick(paths) + Array.from({ length: n }, () => (rnd() < 0.9 ? " " : "\t") + arg()).join("");
    }
    const spec = c.commands.lookup(line.trim().split(/[ \t]/)[0] ?? "");
    // Through the handler directly first, so a throw is seen with its line (execute would say EIO).
    const run = spec === undefined || SKIP.has(spec.path) ? null : spec;
    if (run !== null) {
      const args = line.trim().slice(run.path.length).replace(/^[ \t]+/, "").replace(/[ \t]+$/, "");
      try {
        let timer: ReturnType<typeof setTimeout> | undefined;
        const late = new Promise<"late">((res) => (timer = setTimeout(() => res("late"), 2000)));
        const reply = await Promise.race([Promise.resolve(run.run(args, c.session)), late]);
        clearTimeout(timer);
        if (reply === "late") hung.push(JSON.stringify(line.slice(0, 80)));
        else {
          formatReply(reply);
          codes.set(reply.code, (codes.get(reply.code) ?? 0) + 1);
        }
      } catch (err) {
        threw.push(`${JSON.stringify(line.slice(0, 80))}: ${err}`);
      }
    } else if (spec === undefined) {
      const reply = await c.commands.execute(line, c.session);
      if (reply !== null) formatReply(reply);
    }
    if (i % 50 === 0) {
      a.receive(macFrame("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:0a", i));
      b.receive(macFrame("02:00:00:00:00:0a", "02:00:00:00:00:0b", i));
    }
  }
  const seconds = (performance.now() - started) / 1000;
  console.log(
    `console fuzz: ${LINES} lines in ${seconds.toFixed(1)} s; reply codes ${
      JSON.stringify(Object.fromEntries([...codes].sort((x, y) => x[0] - y[0])))
    }; ${a.sent.length + b.sent.length} frames out`,
  );
  assert.deepEqual(threw.slice(0, 10), [], "no handler throws on bad input");
  assert.deepEqual(hung.slice(0, 10), [], "no handler hangs");

  // Afterwards: a known configuration set through the console, then frames cross and the console answers.
  for (
    const line of [
      "port/setnumports 8",
      "port/sethub 0",
      "fstp/setfstp 0",
      "mcast/snooping 0",
      "port/setvlan 5 0",
      "port/setvlan 6 0",
    ]
  ) {
    const reply = await c.commands.execute(line, c.session);
    assert.ok(reply !== null, line);
  }
  for (let p = 0; p < 8; p++) await c.commands.execute(`mirror/del ${p}`, c.session);
  // Two new clients (as root, whom port/setuser and setgroup never keep out) on ports 5 and 6.
  const x = new MemoryLink("x"), y = new MemoryLink("y");
  c.sw.attach(x, { port: 5, uid: 0, gid: 0 });
  c.sw.attach(y, { port: 6, uid: 0, gid: 0 });
  x.receive(macFrame("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:1a", 1));
  y.receive(macFrame("02:00:00:00:00:1a", "02:00:00:00:00:1b", 2));
  assert.equal(y.sent.length, 1, "the broadcast crossed");
  assert.equal(x.sent.length, 1, "the unicast answer crossed");
  const reply = await c.commands.execute("showinfo", c.session);
  assert.equal(reply?.code, 0);
  assert.match(formatReply(reply!), /VDE switch/i);
  const help = await c.commands.execute("help", c.session);
  assert.equal(help?.code, 0);
  c.close();
});
