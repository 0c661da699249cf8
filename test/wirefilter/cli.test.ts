/**
 * `vde wirefilter` as a command: usage errors, `-v LEFT:RIGHT`, the
 * console on stdin in the two-VNL mode, `--rcfile`, `--pidfile`,
 * `--blink` datagrams, and a clean exit on SIGTERM with its summary line.
 */
import assert from "node:assert/strict";
import { splitVdePlug } from "../../src/cli/wirefilter.ts";
import { UnixDgramSocket } from "../../src/io/unix_dgram.ts";
import { FilterProcess, sleep, testFrame, until, VDE } from "./_helpers.ts";
import { assertPromtoolClean, metricValue, skipWithoutPromtool } from "../helpers/promtool.ts";
import { run, RUN_PREFIX, RUN_STUDENT, skipUnlessRoot } from "../helpers/processes.ts";
import { withStudent } from "../helpers/student.ts";

const OURS = [...VDE, "wirefilter"];

async function runToEnd(args: string[]): Promise<{ code: number; stderr: string }> {
  const out = await new Deno.Command(OURS[0]!, {
    args: [...OURS.slice(1), ...args],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).output();
  return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
}

Deno.test("splitVdePlug splits at the colon between two VNLs, not the one in scheme://", () => {
  assert.deepEqual(splitVdePlug("/tmp/a:/tmp/b"), ["/tmp/a", "/tmp/b"]);
  assert.deepEqual(splitVdePlug("vde:///tmp/a:vde:///tmp/b"), ["vde:///tmp/a", "vde:///tmp/b"]);
  assert.deepEqual(splitVdePlug("null://:-"), ["null://", "-"]);
  assert.throws(() => splitVdePlug("/tmp/a"), /LEFT:RIGHT/);
});

Deno.test("vde wirefilter refuses bad usage with one line and status 1", async () => {
  const cases: [string[], RegExp][] = [
    [["null://"], /expected two VNLs/],
    [["null://", "null://", "null://"], /expected two VNLs/],
    [["--delay", "abc"], /--delay: expected a number/],
    [["--loss", "150"], /^vde: --loss: a percentage, 0 to 100: got 150\n$/],
    [["--dup", "-1"], /^vde: --dup: a percentage, 0 to 100: got -1\n$/],
    [["--delay", "-5"], /--delay: a delay in ms \(at most a day\), 0 to 86400000: got -5/],
    [
      ["--delay", "1s"],
      /^vde: --delay: wirefilter reads "1s" as 1, not as written: give the delay in ms, e\.g\. .*\n$/,
    ],
    [
      ["-b", "10Mbit"],
      /^vde: --band: wirefilter reads "10Mbit" as 10, not as written: give bytes\/second, .*\n$/,
    ],
    [["--seed", "x"], /--seed must be a whole number/],
    [["--daemon"], /--daemon needs two VNLs/],
    // vde2's -d is the delay here, where other vde commands' -d is --daemon: said when it looks meant so.
    [
      ["null://", "null://", "-d"],
      /^vde: option '-d, --delay <value>' argument missing \(wirefilter's -d is its delay, /,
    ],
    [
      ["null://", "null://", "-d", "--mgmt", "/tmp/wf"],
      /^vde: --delay wants a delay such as 50, got "--mgmt" \(.*; in the background: --daemon --mgmt PATH\)\n$/,
    ],
    [["null://", "null://", "--daemon"], /--daemon needs --mgmt/],
    [["null://", "nosuch://x"], /cannot open nosuch:\/\/x: unknown VNL scheme/],
    [["-v", "null://:null://", "null://", "null://"], /either as arguments or with --vde-plug/],
    // tc netem's habits: its option names, its jitter as a second word, its keywords without dashes.
    [["null://", "null://", "--rate", "1mbit"], /^vde: unknown option '--rate' \(.*: --band 125000\)\n/],
    [["null://", "null://", "--duplicate", "1%"], /^vde: unknown option '--duplicate' \(.*: --dup 1\)\n/],
    [["null://", "null://", "-d", "100", "--jitter", "20ms"], /: --delay 100\+20, or 100\+20N /],
    [
      ["null://", "null://", "--delay", "100ms", "20ms"],
      /^vde: tc netem's delay 100ms 20ms .* --delay 100\+20 here\n$/,
    ],
    [["null://", "null://", "loss", "5%"], /^vde: tc netem's "loss 5%" is an option here: --loss 5%\n$/],
    [["rate", "1mbit"], /^vde: tc netem's rate is --band here, in bytes\/s: --band 125000\n$/],
  ];
  for (const [args, re] of cases) {
    const r = await runToEnd(args);
    assert.equal(r.code, 1, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, re, args.join(" "));
  }
});

Deno.test("vde wirefilter A B reads console commands on stdin, runs --rcfile, writes and removes --pidfile", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-wf-cli-" });
  await Deno.writeTextFile(`${dir}/rc`, "delay 25\nmtu RL1500\n");
  const p = new FilterProcess([
    ...OURS,
    "-v",
    "null://:null://",
    "--rcfile",
    `${dir}/rc`,
    "--pidfile",
    `${dir}/pid`,
    "--seed",
    "9",
  ]);
  try {
    await p.waitStderr(/bidirectional filter L=null R=null, seed 9/, 20_000);
    assert.equal((await Deno.readTextFile(`${dir}/pid`)).trim(), String(p.child.pid));
    const enc = new TextEncoder();
    await p.writeRaw(enc.encode("loss LR5\n"));
    await p.writeRaw(enc.encode("showinfo\n"));
    // The console answers on stdout in the protocol's format (no prompt on a pipe).
    await until("the showinfo listing", () => p.stdoutText.includes("Waiting packets"), 20_000);
    assert.ok(p.stdoutText.startsWith("1000 Success\n0000 DATA END WITH '.'\n"), p.stdoutText);
    assert.ok(p.stdoutText.includes("Loss   L->R 5+0U   R->L 0+0U\n"), p.stdoutText);
    assert.ok(p.stdoutText.includes("Delay  L->R 25+0U   R->L 25+0U\n"));
    assert.ok(p.stdoutText.includes("MTU    L->R 0     R->L 1500   \n"));
  } finally {
    await p.stop();
  }
  assert.match(p.stderr, /wirefilter stopped|SIGTERM/);
  await assert.rejects(() => Deno.lstat(`${dir}/pid`), "the pid file is removed at exit");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("vde wirefilter -p FILE writes and removes the pid file, as -p does for every other vde daemon", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-wf-p-" });
  const p = new FilterProcess([...OURS, "-v", "null://:null://", "-p", `${dir}/pid`]);
  try {
    await p.waitStderr(/bidirectional filter L=null R=null/, 20_000);
    assert.equal((await Deno.readTextFile(`${dir}/pid`)).trim(), String(p.child.pid));
  } finally {
    await p.stop();
  }
  await assert.rejects(() => Deno.lstat(`${dir}/pid`), "the pid file is removed at exit");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("vde wirefilter --blink sends `ID DIR SIZE` for every frame out", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-wf-blink-" });
  const sock = UnixDgramSocket.create();
  sock.bind(`${dir}/blink`);
  const p = new FilterProcess([...OURS, "--blink", `${dir}/blink`, "--blinkid", "wire7"]);
  try {
    await p.send([testFrame(1, 100), testFrame(2, 60)]);
    await p.waitFrames(2, 20_000);
    const got: string[] = [];
    const counters = { oversize: 0 };
    await until("two blink datagrams", () => {
      sock.recvBatch((f) => got.push(new TextDecoder().decode(f)), counters as never);
      return got.length >= 2;
    }, 20_000);
    assert.deepEqual(got, ["wire7 -- 102\n", "wire7 -- 62\n"]);
  } finally {
    await p.stop();
    sock.close();
    await Deno.remove(dir, { recursive: true });
  }
  await sleep(0);
});

Deno.test("root's vde wirefilter sends no blink datagram to a socket in a directory a member may write without the sticky bit", async (t) => {
  if (skipUnlessRoot(t)) return;
  await withStudent([], async () => {
    const dir = await Deno.makeTempDir({ prefix: `${RUN_PREFIX}sec8-blink-` });
    const shared = `${dir}/shared`;
    const sock = UnixDgramSocket.create();
    try {
      await Deno.chmod(dir, 0o755);
      await Deno.mkdir(shared);
      // Root's directory, its group the student's: a member could put a socket of theirs at the name.
      await run(["chgrp", RUN_STUDENT, shared]);
      await Deno.chmod(shared, 0o775);
      sock.bind(`${shared}/blink`);
      // Bounded: a filter that took the socket would run on.
      const r = await run([...OURS, "null://", "null://", "--blink", `${shared}/blink`], {
        check: false,
        timeoutMs: 30_000,
      });
      assert.equal(r.code, 1);
      assert.equal(
        r.stderr,
        `vde: cannot send to the blink socket ${shared}/blink: ${shared}/blink is reached through ${shared}, ` +
          `a directory group ${RUN_STUDENT} may write (mode 0775): root does not send frame sizes to a blink ` +
          `socket another user may have put at its name (chmod g-w ${shared} (or +t), or give a path ` +
          "through directories of yours or root's alone); not connected\n",
      );
    } finally {
      sock.close();
      await Deno.remove(dir, { recursive: true });
    }
  }, { bundle: false });
});

Deno.test("vde wirefilter --http: /metrics counts frames in and out and drops by reason; promtool agrees", async (t) => {
  // MTU 102 in wirefilter's units: a 100-byte frame passes, a 200-byte one is dropped.
  // Port 0: the kernel picks a port when the filter listens and the filter logs it. A port
  // picked by the test and freed before the filter starts may be taken meanwhile by another
  // process of a parallel run (a listener or a connection's local port).
  const p = new FilterProcess([...OURS, "--mtu", "102", "--http", "0"]);
  try {
    await p.waitStderr(/metrics on http:\/\/127\.0\.0\.1:\d+\/metrics/, 20_000);
    const url = p.stderr.match(/metrics on (http:\/\/\S+\/metrics)/)![1]!;
    await p.send([testFrame(1, 100), testFrame(2, 200), testFrame(3, 60)]);
    await p.waitFrames(2, 20_000);
    let text = "";
    await until("the filter's /metrics", async () => {
      text = await fetch(url).then((r) => r.text(), () => "");
      return text.includes("vde_wirefilter_drop_total");
    }, 20_000);
    const v = (series: string) => metricValue(text, series);
    const lr = 'link="dpipe",direction="LR"';
    assert.equal(v(`vde_wirefilter_receive_packets_total{${lr}}`), 3);
    assert.equal(v(`vde_wirefilter_receive_bytes_total{${lr}}`), 360);
    assert.equal(v(`vde_wirefilter_transmit_packets_total{${lr}}`), 2);
    assert.equal(v(`vde_wirefilter_drop_total{${lr},reason="mtu"}`), 1);
    assert.equal(v(`vde_wirefilter_drop_total{${lr},reason="loss"}`), 0);
    if (await skipWithoutPromtool(t)) return;
    await assertPromtoolClean(text);
  } finally {
    await p.stop();
  }
});

Deno.test("vde wirefilter --http with a bad address is refused in one line", async () => {
  const r = await runToEnd(["--http", "nope"]);
  assert.equal(r.code, 1);
  assert.match(r.stderr.trim(), /^[^\n]*--http wants \[ADDR:\]PORT[^\n]*$/);
});

Deno.test("vde wirefilter with no VNLs at a terminal refuses in one line instead of reading frames from the keyboard", async () => {
  const cases: [string[], RegExp][] = [
    [[], /^vde: refusing to filter this terminal: with no VNLs the filter sits in a dpipe \(`vde dpipe /],
    [["null://", "-"], /^vde: refusing to join - to this terminal /],
  ];
  for (const [args, said] of cases) {
    // script(1) gives the command a pseudo-terminal as stdin and stdout.
    const out = await new Deno.Command("script", {
      args: ["-qec", [...OURS, ...args].join(" "), "/dev/null"],
      stdin: "null",
    }).output();
    const text = new TextDecoder().decode(out.stdout);
    assert.equal(out.code, 1, text);
    assert.match(text, said);
    assert.equal(text.trim().split("\n").length, 1, text);
  }
});
