import assert from "node:assert/strict";
import { skipWithout } from "../helpers/processes.ts";
import { chainNames, parseChain } from "../../src/cli/dpipe.ts";
import {
  DebianSwitch,
  framed,
  FrameTap,
  reap,
  spawn,
  spawnVde,
  TEST_CLI,
  testFrame,
  within,
  writeTo,
} from "../helpers/framed_peers.ts";
import { until } from "../helpers/vde_clients.ts";
import { listFdsScript, pipeFdsListed, pipesHeldHere } from "../helpers/pipe_fds.ts";

/**
 * Debian's dpipe as run here: by a shell that first closes every descriptor above 2 it inherited. Given an
 * open fd 3 (flock's lock in a CI run under `flock LOCK bash .ci/run`: Deno passes inherited descriptors
 * on), Debian's dpipe wires a middle command's fd 3 to that file, not to its right side's pipe, and a case
 * pinned against it reads 4 where it reads 3 (`exec 3<FILE; dpipe cat = sh -c 'exec 5<&3; ...'`). Ours is
 * run as it is: it wires them right either way.
 */
const DEBIAN_DPIPE = [
  "bash",
  "-c",
  'for f in /proc/$$/fd/*; do n=${f##*/}; [ "$n" -gt 2 ] && eval "exec $n>&-" 2>/dev/null; done; exec dpipe "$@"',
  "dpipe",
];

/** Runs Debian's dpipe or ours (`vde dpipe`) on `args` to completion (bounded): its status and stderr. */
async function dpipeOf(
  tool: "dpipe" | "vde dpipe",
  args: string[],
): Promise<{ code: number; stderr: string }> {
  const options = { stdin: "null", stdout: "null", stderr: "piped" } as const;
  const [shell, ...debian] = DEBIAN_DPIPE;
  const child = tool === "dpipe"
    ? spawn(shell!, [...debian, ...args], options)
    : spawnVde(["dpipe", ...args], options);
  try {
    const out = await within(tool, 20_000, child.output());
    return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
  } finally {
    await reap(child);
  }
}

/** Runs `vde dpipe ARGS` to completion (bounded): its status and stderr. */
function dpipe(args: string[]): Promise<{ code: number; stderr: string }> {
  return dpipeOf("vde dpipe", args);
}

/** `sh -c SCRIPT`. */
const sh = (script: string) => ["sh", "-c", script];

/** Runs each case's arguments with Debian's dpipe and ours at once: both exit with its status. */
async function exitAsDebian(cases: [string[], number][]): Promise<void> {
  for (const [args, expected] of cases) {
    const [theirs, ours] = (await Promise.all([dpipeOf("dpipe", args), dpipeOf("vde dpipe", args)]))
      .map((r) => r.code);
    assert.deepEqual({ theirs, ours }, { theirs: expected, ours: expected }, args.join(" "));
  }
}

/**
 * Runs each chain with Debian's dpipe and ours: both exit 0 and leave what came back to the first command in
 * a file. `chains` gets the first command (it says hi and keeps what comes back) and a filter that tags a
 * line with its name and passes it on.
 */
async function carriedAsByDebian(
  t: Deno.TestContext,
  chains: (first: string[], tag: (name: string) => string[]) => [string[], string][],
): Promise<void> {
  if (await skipWithout(t, { dpipe: "vdeplug" })) return;
  const dir = await Deno.makeTempDir({ prefix: "vde-dpipe-test-" });
  try {
    const out = `${dir}/out`;
    const first = ["sh", "-c", `echo hi; read r; echo "$r" > ${out}`];
    const tag = (name: string) => ["sh", "-c", `read x; echo "$x-${name}"`];
    for (const [args, expected] of chains(first, tag)) {
      for (const tool of ["dpipe", "vde dpipe"] as const) {
        await Deno.remove(out).catch(() => {});
        const r = await dpipeOf(tool, args);
        assert.equal(r.code, 0, `${tool}: ${r.stderr}`);
        assert.equal(await Deno.readTextFile(out), `${expected}\n`, `${tool} ${args.join(" ")}`);
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Runs `body` with Debian's dpipe and with ours in turn, each given a file of its own to write. */
async function forEachDpipe(
  t: Deno.TestContext,
  body: (tool: "dpipe" | "vde dpipe", file: string) => Promise<void>,
): Promise<void> {
  if (await skipWithout(t, { dpipe: "vdeplug" })) return;
  const dir = await Deno.makeTempDir({ prefix: "vde-dpipe-test-" });
  try {
    for (const tool of ["dpipe", "vde dpipe"] as const) await body(tool, `${dir}/${tool.replace(" ", "-")}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("parseChain splits at = and rejects empty commands", () => {
  const argvs = (args: string[]) => parseChain(args).map((c) => c.argv);
  assert.deepEqual(argvs(["a", "-x", "=", "b", "c"]), [["a", "-x"], ["b", "c"]]);
  assert.deepEqual(argvs(["a", "=", "b", "=", "c"]), [["a"], ["b"], ["c"]]);
  assert.throws(() => parseChain(["a"]), /at least two commands/);
  assert.throws(() => parseChain(["a", "=", "=", "b"]), /empty command/);
  assert.throws(() => parseChain(["=", "b"]), /empty command/);
});

Deno.test("parseChain reads dpipe's one-way joints as vde2's dpipe does, and refuses a bracket left open or closing none", () => {
  const ways = (args: string[]) => parseChain(args).map((c) => `${c.argv[0]}:${c.way}`).join(" ");
  assert.equal(ways(["a", "={", "f", "{=", "b"]), "a:both f:left b:both");
  assert.equal(ways(["a", "=}", "b", "}=", "c"]), "a:both b:right c:both");
  // The man page's "a -> b -> d -> c and back to a; alternate ports of d are connected to e".
  assert.equal(
    ways(["a", "=}", "b", "}={", "c", "{=", "d", "=", "e"]),
    "a:both b:right c:left d:both e:both",
  );
  assert.equal(
    chainNames(parseChain(["a", "=}", "b", "}={", "c", "{=", "d", "=", "e"])),
    "a =} b }={ c {= d = e",
    "a -d start's line names the joints",
  );
  // A plain = inside the brackets chains another filter the same way, as vde2's dpipe; it closes nothing.
  assert.equal(ways(["a", "=}", "f", "=", "g", "}=", "c"]), "a:both f:right g:right c:both");
  assert.equal(ways(["a", "={", "f", "=", "g", "{=", "c"]), "a:both f:left g:left c:both");
  assert.throws(
    () => parseChain(["a", "=}", "b", "=", "c"]),
    /^Error: dpipe: the last command is joined one way/,
  );
  assert.throws(() => parseChain(["a", "=}", "b"]), /^Error: dpipe: the last command is joined one way/);
  assert.throws(
    () => parseChain(["a", "=", "b", "}=", "c"]),
    /^Error: dpipe: "}=" closes a one-way command no joint opened/,
  );
  assert.throws(
    () => parseChain(["a", "={", "b", "}=", "c"]),
    /^Error: dpipe: "}=" closes a one-way command "={" did not open \(CMD =} FILTER }= CMD\)$/,
  );
  assert.throws(
    () => parseChain(["a", "=", "b", "}={", "c"]),
    /"}={" closes a one-way command no joint opened/,
  );
});

Deno.test("a -d start's line names a vde command with its command (vde wirefilter), not vde alone", () => {
  assert.equal(
    chainNames(
      parseChain(["vde_plug", "/tmp/a", "=", "vde", "wirefilter", "-d", "50", "=", "vde", "plug", "/tmp/b"]),
    ),
    "vde_plug = vde wirefilter = vde plug",
  );
  assert.equal(
    chainNames(parseChain(["/usr/local/bin/vde", "plug", "=", "ssh", "h", "vde"])),
    "/usr/local/bin/vde plug = ssh",
  );
});

Deno.test("parseChain reads every word starting with = as a joint, as vde2's dpipe, and a }=WORD closing nothing as an argument", () => {
  const ways = (args: string[]) => parseChain(args).map((c) => `${c.argv.join(" ")}:${c.way}`).join(" | ");
  assert.equal(ways(["a", "==", "b"]), "a:both | b:both");
  assert.equal(ways(["a", "=x", "b", "=", "c"]), "a:both | b:both | c:both");
  assert.equal(ways(["a", "=}x", "f", "}==", "b"]), "a:both | f:right | b:both");
  assert.equal(ways(["a", "={", "f", "{=}", "g", "}=", "b"]), "a:both | f:left | g:right | b:both");
  assert.equal(ways(["a", "=", "b", "}=x", "{=="]), "a:both | b }=x {==:both");
});

Deno.test("vde dpipe passes bytes both ways", async () => {
  // Left says ping and complains unless it hears pong back; right answers pong, then exits 7 at its end of input.
  const left = `echo ping; read r; [ "$r" = pong ] && exit 0; echo "left got $r" >&2; exit 1`;
  const right = `read x; [ "$x" = ping ] && echo pong; read y; exit 7`;
  const { code, stderr } = await dpipe(["sh", "-c", left, "=", "sh", "-c", right]);
  assert.deepEqual({ code, stderr }, { code: 7, stderr: "" });
});

Deno.test("vde dpipe waits for every command and exits with the last one's status, 0 if a signal ended it, as Debian's dpipe", async (t) => {
  if (await skipWithout(t, { dpipe: "vdeplug" })) return;
  const cases: [string[], number][] = [
    [[...sh("exit 3"), "=", ...sh("exit 5")], 5],
    [[...sh("sleep 0.5; exit 3"), "=", ...sh("exit 5")], 5],
    // The last outlives the first by more than the 2 s our dpipe gave the others before stopping them.
    [[...sh("exit 3"), "=", ...sh("sleep 2.5; exit 5")], 5],
    [[...sh("exit 3"), "=", ...sh("kill -KILL $$")], 0],
    // A write to a neighbour that has exited fails (SIGPIPE ignored) and the command exits as it chooses.
    [[...sh("exit 0"), "=", ...sh("sleep 0.5; echo x; sleep 0.3; echo y; exit 3")], 3],
    // The first write after the neighbour exited fails already, as the pipe's reader is gone (the middle
    // command's fd 3 in the test below).
    [[...sh("exit 0"), "=", ...sh("sleep 0.5; echo x || exit 4; exit 3")], 4],
    // Unless a child of it still reads what it read: that write reaches the child, the pipe has a reader.
    [[...sh("exec 5<&0; cat <&5 >/dev/null & exit 0"), "=", ...sh("sleep 0.5; echo x || exit 4; exit 3")], 3],
    [[
      "cat",
      "=",
      ...sh("exec 5<&3; cat <&5 >/dev/null & exit 0"),
      "=",
      ...sh("sleep 0.5; echo x || exit 4; exit 3"),
    ], 3],
    [[...sh("kill -TERM $$"), "=", ...sh("sleep 0.5; exit 5")], 5],
    // "Last" is the command line's, not the last to exit: a middle one (fds 3 and 4) ending after it.
    [[...sh("exit 3"), "=", ...sh("sleep 0.5; exit 4"), "=", ...sh("exit 5")], 5],
    [[...sh("exit 3"), "=}", ...sh("sleep 0.5; exit 4"), "}=", ...sh("exit 6")], 6],
  ];
  await exitAsDebian(cases);
});

Deno.test("a write to a middle command that has exited fails at once, however loaded the machine, ours and Debian's alike", async (t) => {
  if (await skipWithout(t, { dpipe: "vdeplug" })) return;
  // Ours copied between the commands and this write landed in its pipe to the last command, failing only
  // once vde dpipe had seen the middle one exit: under load that took over 0.5 s and the status was 3.
  await exitAsDebian([[["cat", "=", ...sh("exit 0"), "=", ...sh("sleep 0.5; echo x || exit 4; exit 3")], 4]]);
});

Deno.test("the commands' stderr is dpipe's, every line of each, ours and Debian's alike", async (t) => {
  if (await skipWithout(t, { dpipe: "vdeplug" })) return;
  const args = [
    ...sh("echo left said >&2; read x; echo left read $x >&2"),
    "=",
    ...sh("echo middle said >&2; echo to-left; read y <&3; echo middle read $y >&2"),
    "=",
    ...sh("echo to-middle; echo right said >&2; exit 5"),
  ];
  const [theirs, ours] = await Promise.all([dpipeOf("dpipe", args), dpipeOf("vde dpipe", args)]);
  // The commands run at once: each one's lines are in its order, the others' between them as it fell.
  const lines = (stderr: string) => stderr.trim().split("\n").sort();
  assert.deepEqual([ours.code, lines(ours.stderr)], [theirs.code, lines(theirs.stderr)]);
  assert.deepEqual(lines(ours.stderr), [
    "left read to-left",
    "left said",
    "middle read to-middle",
    "middle said",
    "right said",
  ]);
});

Deno.test("dpipe -n and -N give a last command's signal as 128 + N, ours and Debian's alike (its last command is dpipe there)", async (t) => {
  if (await skipWithout(t, { dpipe: "vdeplug" })) return;
  const cases: [string[], number][] = [
    [["-n", ...sh("exit 3"), "=", ...sh("kill -KILL $$")], 137],
    [["-N", ...sh("exit 3"), "=", ...sh("kill -TERM $$")], 143],
    [["--nowrapproc", ...sh("exit 3"), "=", ...sh("exit 5")], 5],
    // Without -n, WEXITSTATUS of a signalled status: 0.
    [[...sh("exit 3"), "=", ...sh("kill -TERM $$")], 0],
  ];
  await exitAsDebian(cases);
});

Deno.test("dpipe -n returns when the last command ends, the others left running: a script's next line runs before they end, ours and Debian's alike", async (t) => {
  if (await skipWithout(t, { dpipe: "vdeplug" })) return;
  const dir = await Deno.makeTempDir({ prefix: "vde-dpipe-test-" });
  try {
    // Each command and the caller write a line to the run's log when they end: the order is what a script
    // relying on dpipe -n sees (the first ends seconds after the last, whatever the load).
    const order = async (tool: "dpipe" | "vde dpipe", flags: string[]) => {
      const log = `${dir}/${tool.replace(" ", "-")}${flags.join("")}.log`;
      const first = sh(`sleep 3; echo first ended >> ${log}`);
      const last = sh(`sleep 0.2; echo last ended >> ${log}; exit 4`);
      const [program, ...args] = tool === "dpipe" ? DEBIAN_DPIPE : [...TEST_CLI, "dpipe"];
      const child = new Deno.Command(program!, {
        args: [...args, ...flags, ...first, "=", ...last],
        stdin: "null",
        stdout: "null",
        stderr: "null",
      }).spawn();
      try {
        const { code } = await within(tool, 20_000, child.status);
        await Deno.writeTextFile(log, `dpipe returned ${code}\n`, { append: true });
      } finally {
        await reap(child);
      }
      // The first runs on past an -n dpipe: its line comes later.
      await until(
        "the first command's end",
        async () => (await Deno.readTextFile(log)).includes("first ended"),
        10_000,
      );
      return (await Deno.readTextFile(log)).trim().split("\n");
    };
    const runs = await Promise.all([
      order("dpipe", ["-n"]),
      order("vde dpipe", ["-n"]),
      order("dpipe", ["-N"]),
      order("vde dpipe", ["-N"]),
      order("dpipe", []),
      order("vde dpipe", []),
    ]);
    const returnsFirst = ["last ended", "dpipe returned 4", "first ended"];
    const waitsForAll = ["last ended", "first ended", "dpipe returned 4"];
    assert.deepEqual(runs, [
      returnsFirst,
      returnsFirst,
      returnsFirst,
      returnsFirst,
      waitsForAll,
      waitsForAll,
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a command under vde dpipe ignores the signals it ignores under Debian's dpipe (SIGUSR1 ends it in neither)", async (t) => {
  if (await skipWithout(t, { dpipe: "vdeplug" })) return;
  const dir = await Deno.makeTempDir({ prefix: "vde-dpipe-test-" });
  try {
    // The last command is grep itself (exec'd): the mask it reads is the one it was started with. Only the
    // standard signals (1-31) are dpipe's to set: 32 and 33 are glibc's own (its threads' cancellation and
    // set-id calls), and whether they are ignored tells who started the test, whose children inherit that.
    const ignored = async (tool: "dpipe" | "vde dpipe") => {
      const r = await dpipeOf(tool, [
        "cat",
        "=",
        "sh",
        "-c",
        `exec grep SigIgn /proc/self/status > ${dir}/mask`,
      ]);
      assert.equal(r.code, 0, `${tool}: ${r.stderr}`);
      const mask = /^SigIgn:\s+([0-9a-f]+)\n$/.exec(await Deno.readTextFile(`${dir}/mask`))?.[1];
      assert.ok(mask !== undefined, `${tool}: a SigIgn line`);
      return (BigInt(`0x${mask}`) & 0x7fffffffn).toString(16);
    };
    const theirs = await ignored("dpipe");
    assert.equal(await ignored("vde dpipe"), theirs);
    await exitAsDebian([[[...sh("exit 3"), "=", ...sh("kill -USR1 $$; kill -ALRM $$; exit 4")], 4]]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Starts Debian's dpipe or ours on `args`, `env` added to this environment; its stderr is piped. */
function startDpipe(
  tool: "dpipe" | "vde dpipe",
  args: string[],
  env?: Record<string, string>,
): Deno.ChildProcess {
  const [program, ...rest] = tool === "dpipe" ? [...DEBIAN_DPIPE, ...args] : [...TEST_CLI, "dpipe", ...args];
  return new Deno.Command(program!, { args: rest, env, stdin: "null", stdout: "null", stderr: "piped" })
    .spawn();
}

/** Waits (bounded) until `path` exists. */
async function waitForFile(path: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await Deno.stat(path).then(() => true, () => false)) return;
    await new Promise((res) => setTimeout(res, 25));
  }
  throw new Error(`${path} never appeared`);
}

Deno.test("a stop signal ends dpipe with Debian's status: 0 after SIGTERM, 128 + N after SIGINT or SIGHUP; with -n the last command's", async (t) => {
  if (await skipWithout(t, { dpipe: "vdeplug" })) return;
  const dir = await Deno.makeTempDir({ prefix: "vde-dpipe-test-" });
  try {
    // The last command leaves a mark once it runs (dpipe's handlers are set by then); the first is cat,
    // which ends at its end of input where Debian's dpipe leaves it running (on SIGTERM, or with -n).
    const last = (mark: string) => sh(`touch ${mark}; exec sleep 30`);
    const trapping = (mark: string) => sh(`trap 'exit 7' TERM; touch ${mark}; while :; do sleep 0.1; done`);
    const cases: [string[], typeof last, Deno.Signal, number][] = [
      [[], last, "SIGTERM", 0],
      [[], last, "SIGINT", 130],
      [[], last, "SIGHUP", 129],
      // With -n the last command is dpipe itself: the signal is its, and so is the status.
      [["-n"], last, "SIGTERM", 143],
      [["-n"], last, "SIGINT", 130],
      [["-n"], trapping, "SIGTERM", 7],
    ];
    for (const [n, [flags, command, signal, expected]] of cases.entries()) {
      const codes: number[] = [];
      for (const tool of ["dpipe", "vde dpipe"] as const) {
        const mark = `${dir}/${n}-${tool.replace(" ", "-")}`;
        const child = startDpipe(tool, [...flags, "cat", "=", ...command(mark)]);
        try {
          await waitForFile(mark);
          child.kill(signal);
          codes.push((await within(tool, 10_000, child.status)).code);
        } finally {
          await reap(child);
        }
      }
      const what = `${flags.join(" ")} ${signal}`;
      assert.deepEqual(codes, [expected, expected], `${what}: Debian's, ours`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("vde dpipe that cannot make its pipes says so in one line and starts no command", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-dpipe-test-" });
  try {
    // 300 commands take 598 pipes, 1196 descriptors, where 256 may be open: every pipe is made before any
    // command starts, so none runs (each would leave a mark).
    const args = Array.from({ length: 300 }, (_, i) => [...(i > 0 ? ["="] : []), ...sh(`touch ${dir}/ran`)]);
    const [program, ...rest] = TEST_CLI;
    const child = new Deno.Command("sh", {
      args: ["-c", 'ulimit -n 256 && exec "$@"', "sh", program!, ...rest, "dpipe", ...args.flat()],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const out = await within("vde dpipe's end", 20_000, child.output());
    assert.deepEqual([out.code, new TextDecoder().decode(out.stderr)], [
      1,
      "vde: dpipe: cannot make the 598 pipes between 300 commands: Too many open files\n",
    ]);
    assert.equal(await Deno.stat(`${dir}/ran`).then(() => true, () => false), false, "no command ran");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("vde dpipe delivers what a command wrote just before exiting", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-dpipe-test-" });
  try {
    const out = `${dir}/out`;
    const { code } = await dpipe(["printf", "last words", "=", "sh", "-c", `cat > ${out}`]);
    assert.equal(code, 0);
    assert.equal(await Deno.readTextFile(out), "last words");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a child still reading what an exited command read gets what the neighbour writes after, ours and Debian's alike", (t) =>
  forEachDpipe(t, async (tool, out) => {
    // The child keeps the pipe's read end (its stdin saved: an & command's own is /dev/null).
    const first = sh(`exec 5<&0; cat <&5 > ${out} & exit 0`);
    const r = await dpipeOf(tool, [...first, "=", ...sh("sleep 0.5; echo late || exit 4; exit 3")]);
    assert.equal(r.code, 3, `${tool}: ${r.stderr}`);
    // The child ends at its end of input, once the writer exited: wait for its last bytes.
    await until(`${tool}'s child got the line`, async () => await Deno.readTextFile(out) === "late\n");
  }));

Deno.test("each command holds only its own ends of the chain's pipes, ours and Debian's alike", async (t) => {
  if (await skipWithout(t, { dpipe: "vdeplug" })) return;
  const dir = await Deno.makeTempDir({ prefix: "vde-dpipe-test-" });
  try {
    const list = (name: string) => sh(`${listFdsScript(`${dir}/${name}`)}; exit 0`);
    const inherited = pipesHeldHere();
    // fd 2 is the stderr this test reads.
    const pipeFds = (name: string) => pipeFdsListed(`${dir}/${name}`, inherited, [2]);
    for (const tool of ["dpipe", "vde dpipe"] as const) {
      const r = await dpipeOf(tool, [...list("a"), "=", ...list("m"), "=", ...list("z")]);
      assert.equal(r.code, 0, `${tool}: ${r.stderr}`);
      assert.deepEqual(
        { a: await pipeFds("a"), m: await pipeFds("m"), z: await pipeFds("z") },
        { a: [0, 1], m: [0, 1, 3, 4], z: [0, 1] },
        tool,
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a command that closes its stdout gives its neighbour end of input while it runs on, ours and Debian's alike", (t) =>
  forEachDpipe(t, async (tool, log) => {
    // A second copy of the first's stdout anywhere (in it, in dpipe) would hold the second's cat for 1.5 s.
    const r = await dpipeOf(tool, [
      ...sh(`exec >&-; sleep 1.5; echo first ended >> ${log}`),
      "=",
      ...sh(`cat; echo end of input >> ${log}`),
    ]);
    assert.equal(r.code, 0, `${tool}: ${r.stderr}`);
    assert.deepEqual(
      (await Deno.readTextFile(log)).trim().split("\n"),
      ["end of input", "first ended"],
      tool,
    );
  }));

Deno.test("dpipe -n leaves the other commands joined: what one writes after dpipe returned reaches its neighbour, ours and Debian's alike", (t) =>
  forEachDpipe(t, async (tool, got) => {
    // The last ends at once, so dpipe returns; the first writes to the middle a second later.
    const r = await dpipeOf(tool, [
      "-n",
      ...sh("sleep 1; echo late"),
      "=",
      ...sh(`read x; echo "$x" > ${got}`),
      "=",
      ...sh("exit 4"),
    ]);
    assert.equal(r.code, 4, `${tool}: ${r.stderr}`);
    // Before, the joint between them ended with vde dpipe and the middle read end of input: an empty line.
    await until(
      `${tool}'s middle command got the line`,
      async () => await Deno.readTextFile(got).catch(() => "") === "late\n",
    );
  }));

Deno.test("vde dpipe lets the other command finish the input it was given", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-dpipe-test-" });
  try {
    const out = `${dir}/out`;
    // The reader is slow to start: it must still get the bytes and its end of input.
    const { code } = await dpipe(["printf", "late reader", "=", "sh", "-c", `sleep 0.3; cat > ${out}`]);
    assert.equal(code, 0);
    assert.equal(await Deno.readTextFile(out), "late reader");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("vde dpipe gives a middle command its right side on ALTERNATE_STDIN/ALTERNATE_STDOUT", async () => {
  const left = `echo hello; read r; [ "$r" = hello-mid-right-mid ] || echo "left got $r" >&2`;
  const middle = `[ "$ALTERNATE_STDIN" = 3 ] && [ "$ALTERNATE_STDOUT" = 4 ] || exit 9
    read a; echo "$a-mid" >&"$ALTERNATE_STDOUT"
    read b <&"$ALTERNATE_STDIN"; echo "$b-mid"; read c`;
  const right = `read x; echo "$x-right"; read y; exit 6`;
  const { code, stderr } = await dpipe(["sh", "-c", left, "=", "sh", "-c", middle, "=", "sh", "-c", right]);
  assert.deepEqual({ code, stderr }, { code: 6, stderr: "" });
});

Deno.test("dpipe's one-way joints carry each direction through the filters Debian's dpipe does, ours and its alike", async (t) => {
  await carriedAsByDebian(t, (first, tag) => [
    // A cycle: a -> b -> c -> a.
    [[...first, "=}", ...tag("b"), "}=", ...tag("c")], "hi-b-c"],
    // A filter of what flows right to left: a -> c, c -> f -> a.
    [[...first, "={", ...tag("f"), "{=", ...tag("c")], "hi-c-f"],
    // Two filters chained by a plain = inside the brackets: a -> f -> g -> c -> a.
    [[...first, "=}", ...tag("f"), "=", ...tag("g"), "}=", ...tag("c")], "hi-f-g-c"],
    // The man page's: a -> b -> d -> c and back to a, d's fds 3 and 4 joined with e.
    [[
      ...first,
      "=}",
      ...tag("b"),
      "}={",
      ...tag("c"),
      "{=",
      "sh",
      "-c",
      `read x; echo "$x-d" >&"$ALTERNATE_STDOUT"; read z <&"$ALTERNATE_STDIN"; echo "$z-d"`,
      "=",
      ...tag("e"),
    ], "hi-b-d-e-d-c"],
  ]);
});

Deno.test("dpipe reads every word starting with = as a joint and passes on a }=WORD that closes nothing, ours and Debian's alike", async (t) => {
  await carriedAsByDebian(t, (first, tag) => [
    [[...first, "==", ...tag("c")], "hi-c"],
    [[...first, "=x", ...tag("c")], "hi-c"],
    // After the bracket that opened it, }=WORD closes the one-way command as }= does.
    [[...first, "=}x", ...tag("f"), "}=x", ...tag("c")], "hi-f-c"],
    // With none open it is an argument: here the tagging shell's $0.
    [[...first, "=", "sh", "-c", 'read x; echo "$x-$0"', "}=x"], "hi-}=x"],
  ]);
});

Deno.test("a }= that closes nothing: Debian's dpipe runs the command with it as a word, ours refuses it in one line and runs nothing", async (t) => {
  if (await skipWithout(t, { dpipe: "vdeplug" })) return;
  const dir = await Deno.makeTempDir({ prefix: "vde-dpipe-test-" });
  try {
    // A typo for = (or a }= whose =} was forgotten): the first command gets it as its $0 there.
    const args = ["sh", "-c", `echo "$0" > ${dir}/ran`, "}=", "=", "cat"];
    const theirs = await dpipeOf("dpipe", args);
    assert.equal(theirs.code, 0, theirs.stderr);
    assert.equal(await Deno.readTextFile(`${dir}/ran`), "}=\n");
    await Deno.remove(`${dir}/ran`);
    const ours = await dpipeOf("vde dpipe", args);
    assert.deepEqual([ours.code, ours.stderr], [
      1,
      'vde: dpipe: "}=" closes a one-way command no joint opened (CMD =} FILTER }= CMD)\n(run with --help for usage)\n',
    ]);
    assert.equal(await Deno.stat(`${dir}/ran`).then(() => true, () => false), false, "nothing ran");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("vde dpipe reports a chain written wrong in one line with status 1, then --help's pointer as every command line mistake", async () => {
  for (
    const [args, line] of [
      [["cat"], "dpipe: expected at least two commands separated by ="],
      [["cat", "="], "dpipe: expected commands separated by =, found an empty command"],
      [["cat", "}=", "cat"], 'dpipe: "}=" closes a one-way command no joint opened (CMD =} FILTER }= CMD)'],
    ] as const
  ) {
    const { code, stderr } = await dpipe([...args]);
    assert.equal(code, 1);
    assert.equal(stderr, `vde: ${line}\n(run with --help for usage)\n`);
  }
});

Deno.test("vde dpipe reports a command it cannot run, before running any", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-dpipe-test-" });
  try {
    // The first would leave a mark if it ran; the missing one is the middle (its sh opens fds 3 and 4).
    const mark = ["sh", "-c", `touch ${dir}/ran`];
    const { code, stderr } = await dpipe([...mark, "=", "no-such-command-vde-test", "=", "cat"]);
    assert.equal(code, 1);
    assert.equal(
      stderr,
      'vde: dpipe: cannot run "no-such-command-vde-test": no such command (not on the PATH)\n',
    );
    assert.equal(await Deno.stat(`${dir}/ran`).then(() => true, () => false), false, "no command ran");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("vde dpipe joins two Debian switches through Debian's wirefilter", async (t) => {
  const debian = { vde_switch: "vde-switch", vde_plug: "vdeplug", wirefilter: "vde-wirefilter" };
  if (await skipWithout(t, debian)) return;
  const dir = await Deno.makeTempDir({ prefix: "vde-dpipe-wf-" });
  const switches: DebianSwitch[] = [];
  const children: Deno.ChildProcess[] = [];
  try {
    switches.push(await DebianSwitch.start(`${dir}/s1`), await DebianSwitch.start(`${dir}/s2`));
    const cable = spawnVde([
      "dpipe",
      "vde_plug",
      `${dir}/s1`,
      "=",
      "wirefilter",
      "=",
      "vde_plug",
      `${dir}/s2`,
    ], {
      stdin: "null",
      stdout: "null",
    });
    children.push(cable);
    const a = spawn("vde_plug", [`${dir}/s1`]);
    const b = spawn("vde_plug", [`${dir}/s2`]);
    children.push(a, b);
    const tapA = new FrameTap(a.stdout);
    const tapB = new FrameTap(b.stdout);
    // Resend until the cable and both plugs are attached: the switches just flood broadcasts.
    let got: Uint8Array | undefined;
    for (let i = 0; i < 100 && got === undefined; i++) {
      await writeTo(a, framed(testFrame(1)));
      got = await tapB.waitTag(1, 100).catch(() => undefined);
    }
    assert.deepEqual(got, testFrame(1));
    await writeTo(b, framed(testFrame(2, 1514)));
    assert.deepEqual(await tapA.waitTag(2, 5000), testFrame(2, 1514));
  } finally {
    for (const c of children) await reap(c);
    for (const s of switches) await s.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

Deno.test("dpipe's -d -p PIDFILE run it in the background, and a kill of that pid stops every command", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-dpipe-daemon-" });
  try {
    // Each command leaves a mark while it runs: its pid, in a file of its own.
    const cmd = (n: number) => ["sh", "-c", `echo $$ > ${dir}/${n}; exec sleep 60`];
    const r = await dpipe(["-d", "-p", `${dir}/dpipe.pid`, ...cmd(1), "=", ...cmd(2)]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stderr,
      /^vde dpipe: sh = sh; in the background as pid \d+ \(pid file .*\); stop: kill \d+\n$/,
    );
    const pid = Number((await Deno.readTextFile(`${dir}/dpipe.pid`)).trim());
    const children: number[] = [];
    for (const n of [1, 2]) {
      for (let i = 0; i < 100 && children.length < n; i++) {
        const text = await Deno.readTextFile(`${dir}/${n}`).catch(() => "");
        if (text.endsWith("\n")) children.push(Number(text.trim()));
        else await new Promise((res) => setTimeout(res, 50));
      }
    }
    assert.equal(children.length, 2, "both commands run");
    Deno.kill(pid, "SIGTERM");
    const alive = (p: number) => {
      try {
        Deno.kill(p, "SIGCONT");
        return true;
      } catch {
        return false;
      }
    };
    for (let i = 0; i < 100 && [pid, ...children].some(alive); i++) {
      await new Promise((res) => setTimeout(res, 50));
    }
    assert.deepEqual([pid, ...children].filter(alive), [], "dpipe and its commands are gone");
    assert.equal(
      await Deno.stat(`${dir}/dpipe.pid`).then(() => true, () => false),
      false,
      "pid file removed",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("dpipe's -n and -N are taken (the last command's status); its -P PGRPFILE is refused saying what to use", async () => {
  for (const flag of ["-n", "-N", "--nowrapproc"]) {
    const r = await dpipe([flag, "sh", "-c", "exit 3", "=", "sh", "-c", "cat; exit 4"]);
    assert.deepEqual([r.code, r.stderr], [4, ""], flag);
  }
  const r = await dpipe(["-P", "/tmp/x.pgrp", "echo", "a", "=", "cat"]);
  assert.equal(r.code, 1);
  assert.equal(
    r.stderr,
    "vde: dpipe's -P PGRPFILE is not taken: vde dpipe's commands are in its caller's process group; " +
      "-p /tmp/x.pgrp names vde dpipe, and kill $(cat /tmp/x.pgrp) stops every command\n",
  );
});

Deno.test("dpipe -d: a command that writes to stderr once the start returned keeps running, its line in the --logfile", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-dpipe-daemon-stderr-" });
  try {
    // It writes to stderr after the start returned, then leaves a mark: a write to the caller's closed
    // pipe killed it (SIGPIPE) before the mark, and the whole chain with it.
    const writer = ["sh", "-c", `sleep 0.5; echo said >&2; echo $$ > ${dir}/mark; exec sleep 60`];
    const args = [
      "-d",
      "-p",
      `${dir}/dpipe.pid`,
      "--logfile",
      `${dir}/dpipe.log`,
      ...writer,
      "=",
      "sleep",
      "60",
    ];
    const r = await dpipe(args);
    assert.equal(r.code, 0, r.stderr);
    let mark = "";
    for (let i = 0; i < 100 && !mark.endsWith("\n"); i++) {
      await new Promise((res) => setTimeout(res, 50));
      mark = await Deno.readTextFile(`${dir}/mark`).catch(() => "");
    }
    assert.match(mark, /^\d+\n$/, "the command lived past its write to stderr");
    // The line reaches the log once vde dpipe has read it, maybe after the mark.
    let log = "";
    for (let i = 0; i < 100 && !/Z vde dpipe: sh: said\n/.test(log); i++) {
      await new Promise((res) => setTimeout(res, 50));
      log = await Deno.readTextFile(`${dir}/dpipe.log`).catch(() => "");
    }
    assert.match(log, /Z vde dpipe: sh: said\n/);
    Deno.kill(Number((await Deno.readTextFile(`${dir}/dpipe.pid`)).trim()), "SIGTERM");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
