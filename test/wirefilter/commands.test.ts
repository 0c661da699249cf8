/**
 * wirefilter's console commands through the shared registry: listings
 * compared line for line with what Debian's wirefilter 2.3.2 printed for
 * the same commands (spec 7.4 and our own captures), errors, Markov mode
 * with its debug lines under a fake clock, `load`, `shutdown`, `logout`.
 */
import assert from "node:assert/strict";
import { formatReply } from "../../src/console/reply_format.ts";
import { FakeSession } from "../helpers/fake_session.ts";
import { FakeClock } from "../../src/wirefilter/clock.ts";
import { delayOfShowinfo, wirefilterCommands, WirefilterContext } from "../../src/wirefilter/commands.ts";
import { WireFilter } from "../../src/wirefilter/filter.ts";
import { isValueError, LR, parseWireValue } from "../../src/wirefilter/value.ts";

function setup(bidirectional = true, options: { shutdown?: (r: string) => void } = {}) {
  const clock = new FakeClock();
  const filter = new WireFilter({ clock, seed: 1, slackMs: 0 });
  const ctx = new WirefilterContext(filter, { bidirectional, ...options });
  const commands = wirefilterCommands(ctx);
  const session = new FakeSession(commands);
  const run = async (line: string) => {
    const reply = await commands.execute(line, session);
    if (reply === null) throw new Error(`no reply to ${line}`);
    return reply;
  };
  const text = async (line: string) => formatReply(await run(line));
  return { clock, filter, ctx, commands, session, run, text };
}

function setValue(filter: WireFilter, param: "loss" | "delay", v: string): void {
  const s = parseWireValue(v);
  if (isValueError(s)) throw new Error(s.error);
  filter.set(param, s);
}

Deno.test("wirefilter showinfo matches Debian's listing after the spec's sequence of changes", async () => {
  const { filter, text, run } = setup(true);
  setValue(filter, "loss", "10");
  setValue(filter, "delay", "100+50N");
  for (const cmd of ["loss LR5", "delay 20+10U", "bandwidth 100K", "mtu 1000"]) {
    assert.equal((await run(cmd)).code, 0, cmd);
  }
  assert.equal(
    await text("showinfo"),
    [
      "0000 DATA END WITH '.'",
      "WireFilter: bidirectional",
      "Loss   L->R 5+0U   R->L 10+0U",
      "Lburst L->R 0+0U   R->L 0+0U",
      "Delay  L->R 20+10U   R->L 20+10U",
      "Dup    L->R 0+0U   R->L 0+0U",
      "Bandw  L->R 102400+0U   R->L 102400+0U",
      "Speed  L->R 0+0U   R->L 0+0U",
      "Noise  L->R 0+0U   R->L 0+0U",
      "MTU    L->R 1000     R->L 1000   ",
      "Cap.   L->R 0+0U   R->L 0+0U",
      "Current Delay Queue size:   L->R 0      R->L 0   ",
      "Fifoness TRUE",
      "Waiting packets in delay queues 0",
      ".",
      "1000 Success",
      "",
    ].join("\n"),
  );
});

Deno.test("wirefilter showinfo of a one-way filter with frames queued, as Debian prints it", async () => {
  const { filter, text, run } = setup(false);
  await run("delay 2000");
  for (let i = 0; i < 5; i++) filter.input(LR, new Uint8Array(98));
  assert.deepEqual((await text("showinfo")).split("\n").slice(1, 15), [
    "WireFilter: monodirectional",
    "Loss   0+0U",
    "Lburst 0+0U",
    "Delay  2000+0U",
    "Dup    0+0U",
    "Bandw  0+0U",
    "Speed  0+0U",
    "Noise  0+0U",
    "MTU    0",
    "Cap.   0+0U",
    "Current Delay Queue size:   500",
    "Fifoness TRUE",
    "Waiting packets in delay queues 5",
    ".",
  ]);
  filter.close();
});

Deno.test("wirefilter help lists wirefilter's rows in its order, then ours", async () => {
  const { run } = setup();
  const reply = await run("help");
  assert.deepEqual(reply.lines, [
    "COMMAND      HELP",
    "------------ ------------",
    "help         print a summary of mgmt commands",
    "load         load a configuration file",
    "showinfo     show status and parameter values",
    "loss         set loss percentage",
    "lostburst    mean length of lost packet bursts",
    "delay        set delay ms",
    "dup          set dup packet percentage",
    "bandwidth    set channel bandwidth bytes/sec",
    "speed        set interface speed bytes/sec",
    "noise        set noise factor bits/Mbyte",
    "mtu          set channel MTU (bytes)",
    "chanbufsize  set channel buffer size (bytes)",
    "fifo         set channel fifoness",
    "shutdown     shut the channel down",
    "logout       log out from this mgmt session",
    "markov-numnodes n  markov mode: set number of states",
    "markov-setnode n   markov mode: set current state",
    "markov-name n,name markov mode: set state's name",
    "markov-time ms     markov mode: transition period",
    "setedge n1,n2,w    markov mode: set edge weight",
    "showinfo n         markov mode: show parameter values",
    "showedges n        markov mode: show edge weights",
    "showcurrent        markov mode: show current state",
    "markov-debug n     markov mode: set debug level",
    "counters     show what each impairment did, per direction",
  ]);
});

Deno.test("wirefilter value commands set one direction, both, or a node; bad input is EINVAL", async () => {
  const { filter, run, text } = setup();
  assert.equal((await run("delay RL20+10U")).code, 0);
  assert.equal(filter.get("delay", LR).value, 0);
  assert.equal(filter.get("delay", 1).value, 20);
  for (
    const cmd of ["loss xyz", "loss", "loss 3[5]", "fifo", "fifo x", "markov-numnodes 0", "markov-setnode 9"]
  ) {
    assert.match(await text(cmd), /^(.+\n)?1022 Invalid argument\n$/, cmd);
  }
  assert.equal(await text("loss xyz"), 'expected a number, found "xyz"\n1022 Invalid argument\n');
  assert.equal(await text("bogus"), "1038 Function not implemented\n");
  assert.equal(await text("showinfo 1"), "0000 DATA END WITH '.'\n.\n1022 Invalid argument\n");
  assert.equal((await run("fifo 0")).code, 0);
  assert.equal(filter.fifo, false);
  assert.equal((await run("fifo 2")).code, 0);
  assert.equal(filter.fifo, true);
  assert.equal((await run("capacity 8K")).code, 0);
  assert.equal(filter.get("capacity", LR).value, 8192);
  assert.equal((await run("chanbufsize 12345")).code, 0);
  assert.equal(filter.get("capacity", LR).value, 12345);
  assert.equal((await run("band 1.5K")).code, 0);
  assert.equal(filter.get("band", LR).value, 1536);
});

Deno.test("wirefilter value commands refuse a value out of its range with the range in words, and keep the old one", async () => {
  const { filter, run, text } = setup();
  assert.equal((await run("loss 20")).code, 0);
  assert.equal(await text("loss 150"), "a percentage, 0 to 100: got 150\n1022 Invalid argument\n");
  assert.equal(filter.get("loss", LR).value, 20);
  assert.equal(await text("dup -3"), "a percentage, 0 to 100: got -3\n1022 Invalid argument\n");
  assert.match(await text("mtu 70000"), /^an MTU in bytes \(0: none\), 0 to 65535: got 70000\n1022 /);
  assert.match(await text("delay -1"), /^a delay in ms \(at most a day\), 0 to 86400000: got -1\n/);
  assert.match(await text("noise 9M"), /^bits damaged per Mbyte, 0 to 8388608: got 9437184\n/);
  assert.match(
    await text("bandwidth -1K"),
    /^bytes\/second \(0: no limit\), 0 or more: got -1024\n/,
  );
  assert.equal(
    await text("delay 100ms 20ms"),
    "tc netem's delay 100ms 20ms (20 ms of jitter) is delay 100+20 here\n1022 Invalid argument\n",
  );
  for (const edge of ["loss 100", "loss 0", "dup 100", "mtu 65535", "loss 50+60", "delay 1000+5000"]) {
    assert.equal((await run(edge)).code, 0, edge);
  }
});

Deno.test("wirefilter Markov commands: nodes, names, edges, showinfo n, and debug lines on transitions", async () => {
  const { clock, run, text, session } = setup();
  assert.equal((await run("markov-numnodes 3")).code, 0);
  assert.equal((await run("markov-name 2,x y")).code, 0);
  assert.equal((await run("setedge 0,1,30")).code, 0);
  assert.equal((await run("setedge 0,2,30")).code, 0);
  assert.equal((await run("setedge 0,5,1")).code, 22);
  assert.equal(
    await text("showedges 0"),
    "0000 DATA END WITH '.'\n" +
      'Edge 0 ->0  ""->"" weigth 40\nEdge 0 ->1  ""->"" weigth 30\nEdge 0 ->2  ""->"x y" weigth 30\n' +
      ".\n1000 Success\n",
  );
  assert.equal(
    await text("showcurrent"),
    `0000 DATA END WITH '.'\nCurrent Markov Node 0 "" (0,..,2)\n.\n1000 Success\n`,
  );
  assert.equal((await run("loss 3[2]")).code, 0);
  const info = (await run("showinfo 2")).lines!;
  assert.equal(info[1], 'Node 2 "x y" (0,..,2) Markov-time 100');
  assert.equal(info[2], "Loss   L->R 3+0U   R->L 3+0U");

  assert.equal((await run("markov-numnodes 2")).code, 0);
  assert.equal((await run("setedge 0,1,100")).code, 0);
  assert.equal((await run("setedge 1,0,100")).code, 0);
  assert.equal((await run("markov-name 1,bad")).code, 0);
  assert.equal((await run("markov-time 50")).code, 0);
  assert.equal((await run("markov-debug 1")).code, 0);
  clock.advance(100);
  assert.deepEqual(session.notes, ['3801 Node 0 "" -> 1 "bad"\n', '3800 Node 1 "bad" -> 0 ""\n']);
  assert.equal((await run("markov-debug 0")).code, 0);
  clock.advance(100);
  assert.equal(session.notes.length, 2);
  assert.equal((await run("markov-setnode 1")).code, 0);
  assert.equal(
    await text("showedges"),
    `0000 DATA END WITH '.'\nEdge 1 ->0  "bad"->"" weigth 100\n.\n1000 Success\n`,
  );
});

Deno.test("wirefilter load runs a script and lists each line with its result", async () => {
  const { filter, run } = setup();
  const dir = await Deno.makeTempDir({ prefix: "vde-wf-load-" });
  try {
    await Deno.writeTextFile(`${dir}/rc`, "loss 5\n\nbogus\ndelay 7\n");
    const reply = await run(`load ${dir}/rc`);
    assert.equal(reply.code, 0);
    assert.deepEqual(reply.lines, [
      `(${dir}/rc) loss 5`,
      "1000 Success",
      `(${dir}/rc) bogus`,
      "1038 Function not implemented",
      `(${dir}/rc) delay 7`,
      "1000 Success",
    ]);
    assert.equal(filter.get("delay", LR).value, 7);
    const missing = await run(`load ${dir}/none`);
    assert.equal(formatReply(missing), "0000 DATA END WITH '.'\n.\n1002 No such file or directory\n");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("wirefilter shutdown stops after its reply; logout ends only a management session", async () => {
  let stopped = "";
  const { run, commands } = setup(true, { shutdown: (r) => (stopped = r) });
  const bye = await run("shutdown");
  assert.ok(bye.endSession);
  assert.equal(stopped, "");
  bye.afterSend?.();
  assert.match(stopped, /management socket/);
  assert.ok((await run("logout")).endSession);
  const stdin = new FakeSession(commands, "stdin");
  assert.equal((await commands.execute("logout", stdin))!.endSession, undefined);
});

Deno.test("wirefilter counters list what each impairment did and the seed", async () => {
  const { filter, run } = setup(true);
  await run("mtu 100");
  filter.input(LR, new Uint8Array(200));
  filter.input(LR, new Uint8Array(60));
  const lines = (await run("counters")).lines!;
  assert.ok(lines.includes(`${"Frames in".padEnd(15)} L->R ${"2".padEnd(12)} R->L 0`), lines.join("\n"));
  assert.ok(lines.includes(`${"MTU drops".padEnd(15)} L->R ${"1".padEnd(12)} R->L 0`));
  assert.equal(lines.at(-1), "Seed 1");
});

Deno.test("showinfo's delay row gives the delay both ways share, as the console's jitter hint takes it", async () => {
  for (const bidirectional of [true, false]) {
    const { filter, ctx, run } = setup(bidirectional);
    const delay = async () => delayOfShowinfo((await run("showinfo")).lines ?? []);
    assert.equal(await delay(), undefined, "no delay set");
    setValue(filter, "delay", "100");
    assert.equal(await delay(), "100");
    setValue(filter, "delay", "250+5N");
    assert.equal(await delay(), "250");
    assert.equal(ctx.currentDelay(), "250");
  }
  const { filter, run } = setup(true);
  setValue(filter, "delay", "LR40");
  assert.equal(delayOfShowinfo((await run("showinfo")).lines ?? []), undefined, "the two ways differ");
  setValue(filter, "delay", "2000000");
  assert.equal(delayOfShowinfo((await run("showinfo")).lines ?? []), "2e+06", "formatG's exponent form");
  // A console that is not a wirefilter's may send anything: a long run of `+` is no delay, said at once (a
  // pattern that tried every split of it took 23 s for 4,000 and would hang this test for hours).
  assert.equal(delayOfShowinfo([`Delay  L->R ${"+".repeat(100_000)}`]), undefined);
});
