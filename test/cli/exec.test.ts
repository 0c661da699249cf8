import assert from "node:assert/strict";
import {
  execArgv,
  execTarget,
  hostEnv,
  labHostWords,
  notAHost,
  orderedRelay,
  RELAYED_SIGNALS,
  relays,
  rootsHostOf,
  shellBanner,
  usersHostOf,
} from "../../src/cli/exec.ts";
import { UsageError } from "../../src/cli/main.ts";
import { hostSideVouched } from "../../src/os/host_vouched.ts";
import { VOUCHED_VARIABLE } from "../../src/os/user_namespace.ts";
import { TWO_HOSTS, vde, vdeCommand, withLabUp } from "../lab/_helpers.ts";
import { run, skipUnless, skipUnlessRoot, skipWithout } from "../helpers/processes.ts";
import { tmuxMissing, TmuxSession } from "../console/_tmux.ts";

const demo = { name: "demo", namespaces: ["vde-demo-h1", "vde-demo-h2"] };
const other = { name: "other", namespaces: ["vde-other-h1"] };

Deno.test("vde exec HOST finds the one running lab with that host; LAB HOST where several have it", () => {
  assert.deepEqual(execTarget(["h2", "ip", "-br", "a"], [demo, other]), {
    lab: "demo",
    host: "h2",
    command: ["ip", "-br", "a"],
  });
  assert.deepEqual(execTarget(["h1"], [demo]), { lab: "demo", host: "h1", command: [] });
  assert.deepEqual(execTarget(["other", "h1", "true"], [demo, other]), {
    lab: "other",
    host: "h1",
    command: ["true"],
  });
  assert.throws(
    () => execTarget(["h1"], [demo, other]),
    { message: "labs demo, other each have a host h1: name one, demo/h1 or other/h1 (`vde exec demo/h1`)" },
  );
  // LAB/HOST, as vde capture and vde term name a lab's host.
  assert.deepEqual(execTarget(["other/h1", "true"], [demo, other]), {
    lab: "other",
    host: "h1",
    command: ["true"],
  });
});

Deno.test("vde exec of a host no running lab has names the hosts there are, the nearest said", () => {
  const refused = (words: string[], labs = [demo]) => {
    try {
      execTarget(words, labs);
    } catch (err) {
      assert.ok(err instanceof UsageError);
      return err.message;
    }
    assert.fail("not refused");
  };
  assert.equal(refused(["h3"]), "no running lab has a host h3 (did you mean h1?); the hosts: h1, h2");
  assert.equal(refused(["demo", "h9"]), "lab demo: it has no host h9 (did you mean h1?); its hosts: h1, h2");
  assert.equal(refused(["demo"]), "lab demo: give one of its hosts; its hosts: h1, h2");
  assert.match(refused(["h1"], []), /^no labs are up: `vde up lab\.yaml`/);
  assert.equal(refused(["gone", "h1", "ip", "a"], [demo, other]), "no lab gone is up (up: demo, other)");
  assert.match(refused([], [demo]), /vde exec \[LAB\] HOST \[COMMAND\.\.\.\]/);
});

Deno.test("vde exec of a user who is not root names root's labs where none of the user's has the host", () => {
  const root = "; root's labs are up (class): run vde as root for those";
  assert.throws(() => execTarget(["h1"], [], root), {
    message: `no labs are up: \`vde up lab.yaml\` brings one up${root}`,
  });
  assert.throws(() => execTarget(["h3"], [demo], root), {
    message: `no running lab has a host h3 (did you mean h1?); the hosts: h1, h2${root}`,
  });
  assert.equal(execTarget(["h1"], [demo], root).lab, "demo");
});

Deno.test("vde exec runs in the host's namespace, a rootless lab's entered by its pid first; no command is the shell", () => {
  const target = { lab: "demo", host: "h1", command: [] };
  assert.deepEqual(execArgv(target, undefined, "/bin/bash"), [
    "ip",
    "netns",
    "exec",
    "vde-demo-h1",
    "/bin/bash",
  ]);
  assert.deepEqual(execArgv({ ...target, command: ["ip", "a"] }, 42, "/bin/sh"), [
    ...["nsenter", "-t", "42", "-U", "-m", "--preserve-credentials"],
    ...["ip", "netns", "exec", "vde-demo-h1", "ip", "a"],
  ]);
});

Deno.test("vde exec into a rootless lab hands its command what this process vouches for (entered by nsenter, it inherits the lab's none), into a lab with root none", () => {
  const target = { lab: "demo", host: "h1", command: [] };
  assert.deepEqual(hostEnv(target), { VDE_LAB: "demo", VDE_HOST: "h1" });
  const rootless = hostEnv(target, true);
  assert.equal(rootless[VOUCHED_VARIABLE], hostSideVouched([]));
  assert.deepEqual(Object.keys(rootless).sort(), ["VDE_HOST", "VDE_LAB", VOUCHED_VARIABLE]);
});

Deno.test("vde exec HOST COMMAND runs it in the lab's host, its options its own, and exits with its status (128 + N after signal N)", async (t) => {
  if (skipUnlessRoot(t)) return;
  await withLabUp({ text: TWO_HOSTS }, async (name) => {
    // The lab named: labs of other tests beside this one have an h1 too.
    const addr = await vde(["exec", name, "h1", "ip", "-br", "addr", "show", "eth0"]);
    assert.equal(addr.code, 0, addr.stderr);
    assert.match(addr.stdout, /^eth0 .* 10\.9\.0\.1\/24/);
    const ping = await vde(["exec", name, "h2", "ping", "-c", "1", "-W", "5", "10.9.0.1"]);
    assert.equal(ping.code, 0, ping.stdout + ping.stderr);
    assert.equal((await vde(["exec", name, "h1", "sh", "-c", "exit 3"])).code, 3);
    // Killed by signal N: 128 + N, as a shell says, for every signal (SIGSEGV, SIGPIPE were 128).
    assert.equal((await vde(["exec", name, "h1", "sh", "-c", "kill -SEGV $$"])).code, 139);
    assert.equal((await vde(["exec", name, "h1", "sh", "-c", "kill -PIPE $$"])).code, 141);
    // docker exec -it's flags are taken; the command's own options stay its own.
    const it = await vde(["exec", "-it", name, "h1", "ip", "-o", "link", "show", "eth0"]);
    assert.equal(it.code, 0, it.stderr);
    assert.match(it.stdout, /^\d+: eth0@?/);
    // No command: the shell, reading this input.
    const shell = await run([...vdeCommand(), "exec", name, "h2"], {
      input: "ip -br addr show eth0\n",
      env: { SHELL: "/bin/sh" },
      check: false,
    });
    assert.equal(shell.code, 0, shell.stderr);
    assert.match(shell.stdout, /10\.9\.0\.2\/24/);
    const missing = await vde(["exec", name, "h7"]);
    assert.equal(missing.code, 1);
    assert.equal(
      missing.stderr,
      `vde: lab ${name}: it has no host h7 (did you mean h1?); its hosts: h1, h2\n`,
    );
  });
});

Deno.test("vde exec passes on INT and QUIT unless they were sent to its whole group (its command's too); TERM, HUP, USR1, USR2, WINCH always", () => {
  for (const signal of RELAYED_SIGNALS) assert.equal(relays(signal, false), true, signal);
  assert.deepEqual(RELAYED_SIGNALS.filter((s) => !relays(s, true)), ["SIGINT", "SIGQUIT"]);
});

/**
 * Runs `vde exec` of `words` in a session of its own (no terminal, as a script's), with INT and QUIT
 * ignored where `ignored` (as a script's `&` leaves them); resolves once it printed `ready`.
 */
async function execReady(
  words: string[],
  ignored = false,
): Promise<
  {
    child: Deno.ChildProcess;
    output: () => Promise<string>;
    upTo: (n: number, line: string) => Promise<void>;
  }
> {
  // setsid execs in place (the child leads no group), and sh too: its pid is vde exec's, and its group's id.
  const vdeExec = [...vdeCommand(), "exec", ...words];
  const args = ignored ? ["sh", "-c", `trap '' INT QUIT; exec "$@"`, "sh", ...vdeExec] : vdeExec;
  const child = new Deno.Command("setsid", { args, stdout: "piped" }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  // Whole lines only: a command may write a line and its end apart (python's print with PYTHONUNBUFFERED, as
  // this machine's environment has: "ready", then "\n"), and a signal sent on "ready" alone had its handler
  // say "got INT" between the two ("readygot INT\n\n", no line of either).
  const upTo = async (n: number, line: string) => {
    while (seen.split("\n").slice(0, -1).filter((l) => l === line).length < n) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`vde exec ended before ${n} x ${line}: ${seen}`);
      seen += value;
    }
  };
  await upTo(1, "ready");
  const output = async () => {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return seen;
      seen += value;
    }
  };
  return { child, output, upTo };
}

Deno.test("vde exec passes signals on in the order they came while an INT's answer waits for a dead witness's exit status", async () => {
  // The first INT's witness died (its answer comes with its exit status); the second's and QUIT's are
  // read at once. Sent to us alone, each is passed on, and in the order it came.
  const answers: ReturnType<typeof Promise.withResolvers<boolean | undefined>>[] = [];
  const witness = {
    sentToGroup(signal: "SIGINT" | "SIGQUIT"): Promise<boolean | undefined> {
      if (answers.length > 0 || signal !== "SIGINT") return Promise.resolve(false);
      answers.push(Promise.withResolvers<boolean | undefined>());
      return answers[0]!.promise;
    },
  };
  const passed: Deno.Signal[] = [];
  const relay = orderedRelay(witness, (s) => passed.push(s));
  for (const s of ["SIGINT", "SIGTERM", "SIGINT", "SIGQUIT", "SIGHUP"] as const) relay(s);
  await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(passed, [], "nothing overtakes the INT whose answer is awaited");
  answers[0]!.resolve(false);
  await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(passed, ["SIGINT", "SIGTERM", "SIGINT", "SIGQUIT", "SIGHUP"]);
  // One sent to the whole group is not passed on again; those after it still are, in turn.
  const after: Deno.Signal[] = [];
  const group = orderedRelay({ sentToGroup: () => Promise.resolve(true) }, (s) => after.push(s));
  group("SIGINT");
  group("SIGTERM");
  await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(after, ["SIGTERM"]);
});

Deno.test("vde exec passes a signal sent to it alone on to its command (INT, QUIT, TERM, HUP, USR1, USR2, WINCH), as sudo and docker exec do", async (t) => {
  if (skipUnlessRoot(t)) return;
  await withLabUp({ text: TWO_HOSTS }, async (name) => {
    for (const signal of RELAYED_SIGNALS) {
      // Not passed on, the command ends by itself after 5 s, saying nothing.
      const wait = "i=0; while [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done; exit 9";
      const trap = `trap 'echo got ${signal}; exit 5' ${signal.slice(3)}; echo ready; ${wait}`;
      const { child, output } = await execReady([name, "h1", "sh", "-c", trap]);
      child.kill(signal);
      const status = await child.status;
      assert.equal(await output(), `ready\ngot ${signal}\n`, signal);
      assert.equal(status.code, 5, signal);
    }
  });
});

Deno.test("vde exec with INT and QUIT come ignored and no terminal (a script's background job): one sent to its whole group reaches its command once, one sent to it alone is passed on", async (t) => {
  if (skipUnlessRoot(t) || await skipWithout(t, { python3: "python3" })) return;
  await withLabUp({ text: TWO_HOSTS }, async (name) => {
    // Python runs its handler for each signal the kernel delivers (a shell's trap waits for its sleep to end,
    // and two signals in one sleep say one line): a group's signal passed on as well shows as a line of its own.
    const program = "import os, signal, time\n" +
      "def said(n, _):\n  os.write(1, f'got {signal.Signals(n).name[3:]}\\n'.encode())\n" +
      "for s in (signal.SIGINT, signal.SIGQUIT): signal.signal(s, said)\n" +
      "print('ready', flush=True)\ntime.sleep(30)\n";
    const { child, output, upTo } = await execReady([name, "h1", "python3", "-c", program], true);
    const kill = (signal: string, target: string) => run(["kill", signal, "--", target]);
    for (const what of ["INT", "QUIT"]) {
      await kill(`-${what}`, `-${child.pid}`);
      await upTo(1, `got ${what}`);
      // Not passed on as well: a second would show by now.
      await new Promise((r) => setTimeout(r, 500));
      await kill(`-${what}`, String(child.pid));
      await upTo(2, `got ${what}`);
    }
    child.kill("SIGTERM");
    assert.equal((await child.status).code, 143);
    assert.equal(await output(), "ready\ngot INT\ngot INT\ngot QUIT\ngot QUIT\n");
  });
});

Deno.test("vde exec of a command not there exits 127, and of one not executable 126, with one line, as nsenter and docker exec", async (t) => {
  if (skipUnlessRoot(t)) return;
  await withLabUp({ text: TWO_HOSTS }, async (name) => {
    const missing = await vde(["exec", name, "h1", "nosuchcommand", "-x"]);
    assert.equal(missing.code, 127);
    assert.equal(missing.stderr, "vde: h1: nosuchcommand: command not found\n");
    const file = await Deno.makeTempFile();
    try {
      const notExecutable = await vde(["exec", name, "h2", file]);
      assert.equal(notExecutable.code, 126);
      assert.equal(notExecutable.stderr, `vde: h2: ${file}: permission denied (not executable)\n`);
    } finally {
      await Deno.remove(file);
    }
    const shell = await run([...vdeCommand(), "exec", name, "h1"], {
      env: { SHELL: "/nonexistent/sh" },
      check: false,
    });
    assert.equal(shell.code, 127);
    assert.equal(shell.stderr, "vde: h1: /nonexistent/sh: no such file or directory\n");
  });
});

Deno.test("vde exec as its terminal's foreground: Ctrl-C and Ctrl-\\ reach the command once (the terminal's own), and a kill -INT or -QUIT from another shell reaches it too", async (t) => {
  if (skipUnlessRoot(t) || skipUnless(t, await tmuxMissing())) return;
  await withLabUp({ text: TWO_HOSTS }, async (name, file) => {
    const dir = file.slice(0, file.lastIndexOf("/"));
    // The command says each INT and QUIT it gets; the shell around vde exec says vde exec's pid (exec keeps it).
    await Deno.writeTextFile(
      `${dir}/trap.sh`,
      "trap 'echo got INT' INT; trap 'echo got QUIT' QUIT; echo ready; while :; do sleep 0.1; done\n",
    );
    const tmux = await TmuxSession.start(
      `${dir}/tmux.sock`,
      `sh -c 'echo "pid $$"; exec ${vdeCommand().join(" ")} exec ${name} h1 sh ${dir}/trap.sh'`,
    );
    try {
      const screen = await tmux.waitFor((s) => /^ready$/m.test(s), "the command's ready", 30_000);
      const pid = /^pid (\d+)$/m.exec(screen)![1]!;
      const count = async (what: string) =>
        ((await tmux.screen()).match(new RegExp(`got ${what}$`, "gm")) ?? []).length;
      const says = (what: string, n: number) =>
        tmux.waitFor(
          (s) => (s.match(new RegExp(`got ${what}$`, "gm")) ?? []).length >= n,
          `got ${what} x${n}`,
        );
      for (const [what, key] of [["INT", "C-c"], ["QUIT", "C-\\"]] as const) {
        await tmux.keys(key);
        await says(what, 1);
        // Not passed on as well: a second would show by now.
        await new Promise((r) => setTimeout(r, 700));
        assert.equal(await count(what), 1, `the terminal's ${key} reached the command once`);
        await run(["kill", `-${what}`, pid]);
        await says(what, 2);
      }
      await run(["kill", "-TERM", pid]);
      await tmux.waitFor((s) => s.includes("[exit 143]"), "vde exec's exit after its command's TERM");
    } finally {
      await tmux.kill();
    }
  });
});

Deno.test("a shell in a host at a terminal is announced with its lab, host and namespace, its prompt being the machine's", () => {
  const shell = { lab: "demo", host: "h1", command: [] };
  assert.equal(
    shellBanner(shell, true),
    "vde exec: a shell in host h1 of lab demo, namespace vde-demo-h1: its network, this machine's files and " +
      "hostname ($VDE_HOST names it for a prompt); exit leaves it",
  );
  assert.equal(shellBanner(shell, false), undefined, "no terminal: a script's input, nothing said");
  assert.equal(
    shellBanner({ ...shell, command: ["ip", "a"] }, true),
    undefined,
    "a command is not announced",
  );
  assert.deepEqual(hostEnv(shell), { VDE_LAB: "demo", VDE_HOST: "h1" });
});

Deno.test("vde exec's command has VDE_LAB and VDE_HOST, and a shell without a terminal starts unannounced", async (t) => {
  if (skipUnlessRoot(t)) return;
  await withLabUp({ text: TWO_HOSTS }, async (name) => {
    const r = await vde(["exec", name, "h2", "sh", "-c", 'echo "$VDE_LAB $VDE_HOST"']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `${name} h2\n`);
    const shell = await run([...vdeCommand(), "exec", name, "h1"], {
      input: 'echo "[$VDE_HOST]"\n',
      env: { SHELL: "/bin/sh" },
      check: false,
    });
    assert.deepEqual([shell.code, shell.stdout, shell.stderr], [0, "[h1]\n", ""]);
  });
});

Deno.test("vde exec of a lab's switch, as if a host, names its console, vde term LAB/SWITCH", () => {
  const labs = [{ ...demo, switches: ["sw1", "sw2"] }, other];
  const sw1 =
    "sw1 is a switch of lab demo, not a host: its console is `vde term demo/sw1`; the lab's hosts: h1, h2";
  assert.throws(() => execTarget(["sw1"], labs), { message: sw1 });
  assert.throws(() => execTarget(["sw1", "ip", "a"], labs), { message: sw1 });
  assert.throws(
    () => execTarget(["demo", "sw2"], labs),
    /sw2 is a switch of lab demo, not a host: .*vde term demo\/sw2/,
  );
  // A name that is no switch either keeps its answer.
  assert.throws(() => execTarget(["h9"], labs), /no running lab has a host h9/);
  // Named alone, a switch two labs have: each lab's console, not the first lab's alone.
  const both = [{ ...demo, switches: ["sw1"] }, { ...other, switches: ["sw1"] }];
  assert.throws(() => execTarget(["sw1"], both), {
    message: "sw1 is a switch of labs demo, other, not a host: its console is `vde term demo/sw1` or " +
      "`vde term other/sw1`",
  });
  assert.throws(
    () => execTarget(["other/sw1"], both),
    /sw1 is a switch of lab other, not a host: its console is `vde term other\/sw1`/,
  );
});

Deno.test("vde exec of a host of root's lab by a user who is not root, named alone, as LAB HOST or LAB/HOST, says it is root's and root's line", async () => {
  const base = await Deno.makeTempDir({ prefix: "vde-exec-roots-" });
  const netns = await Deno.makeTempDir({ prefix: "vde-exec-netns-" });
  try {
    for (const lab of ["class", "exam"]) Deno.mkdirSync(`${base}/${lab}`);
    for (const ns of ["vde-class-h1", "vde-exam-h1", "vde-class-h2"]) {
      Deno.writeTextFileSync(`${netns}/${ns}`, "");
    }
    const asked = (words: string[], labs = [demo]) =>
      rootsHostOf(labHostWords(words), labs, 1000, base, netns);
    const classH1 = "h1 is a host of root's lab class, not this user's: run vde as root for it, " +
      "`sudo vde exec class/h1`";
    // Before, LAB HOST and LAB/HOST of root's lab were "no lab class is up (up: demo)", while it is.
    assert.equal(asked(["class", "h1", "ip", "a"]), classH1);
    assert.equal(asked(["class/h1", "ip", "a"]), classH1);
    assert.equal(
      asked(["h1"], []),
      "h1 is a host of root's labs class, exam, not this user's: run vde as root for it, " +
        "`sudo vde exec class/h1` or `sudo vde exec exam/h1`",
    );
    assert.equal(asked(["exam", "h2"]), undefined, "exam has no h2");
    assert.equal(asked(["demo", "h1"]), undefined, "a lab of the user's own is theirs to answer for");
    assert.equal(rootsHostOf(["class", "h1"], [], 0, base, netns), undefined, "root's own labs are its own");
  } finally {
    await Deno.remove(base, { recursive: true });
    await Deno.remove(netns, { recursive: true });
  }
});

Deno.test("vde exec HOST -- COMMAND runs COMMAND, the -- after the host dropped as docker exec and kubectl exec take it", () => {
  assert.deepEqual(execTarget(["h1", "--", "ip", "-br", "a"], [demo]), {
    lab: "demo",
    host: "h1",
    command: ["ip", "-br", "a"],
  });
  assert.deepEqual(execTarget(["other", "h1", "--", "true"], [demo, other]), {
    lab: "other",
    host: "h1",
    command: ["true"],
  });
  // Only right after the host: the command's own -- is its own.
  assert.deepEqual(execTarget(["h1", "grep", "--", "-x"], [demo]).command, ["grep", "--", "-x"]);
  assert.deepEqual(execTarget(["h1", "--"], [demo]).command, []);
});

Deno.test("vde exec with no host says how to name one, not commander's argument name", async () => {
  const bare = await vde(["exec"]);
  assert.equal(bare.code, 1);
  assert.match(bare.stderr, /^vde: give a lab's host: vde exec \[LAB\] HOST \[COMMAND\.\.\.\]\n/);
  assert.doesNotMatch(bare.stderr, /words/);
});

Deno.test("vde exec of a lab's slirp, as if a host, says what it is and that it has no namespace to enter", async (t) => {
  assert.equal(
    notAHost(demo, "nat", "slirp"),
    "nat is a slirp of lab demo, not a host: it runs in the lab's process, with no namespace to enter " +
      "(`vde term demo -c nodes` shows it); the lab's hosts: h1, h2",
  );
  if (skipUnlessRoot(t)) return;
  const withSlirp = TWO_HOSTS.replace(
    "  links:\n",
    "    nat: { kind: slirp }\n  links:\n    - endpoints: [nat, sw1]\n",
  );
  await withLabUp({ text: withSlirp }, async (name) => {
    // As LAB HOST, and as LAB/HOST (before, `lab LAB: it has no host nat`).
    for (const words of [[name, "nat"], [`${name}/nat`]]) {
      const r = await vde(["exec", ...words, "ip", "a"]);
      assert.equal(r.code, 1);
      assert.equal(
        r.stderr,
        `vde: ${notAHost({ name, namespaces: [`vde-${name}-h1`, `vde-${name}-h2`] }, "nat", "slirp")}\n`,
        words.join(" "),
      );
    }
  });
});

Deno.test("root naming a host that none of its labs has and a user's rootless lab has is told whose, and the line that runs it as that user", () => {
  const lab = (user: string, name: string, hosts: string[], runtimeDir?: string) => ({
    user,
    uid: 1000,
    name,
    runtimeDir,
    state: { name, pid: 1, file: "", namespaces: hosts.map((h) => `vde-${name}-${h}`), started: "" },
  });
  const users = () => [
    lab("ann", "net", ["h1", "h2"], "/run/user/1000"),
    lab("bob", "net", ["h2"]),
    lab("bob", "a", ["b-h3"], "/tmp/it's"),
  ];
  const asked = (words: string[], root: { name: string; namespaces: string[] }[] = []) =>
    usersHostOf(labHostWords(words), root, users);
  assert.equal(
    asked(["h1", "ip", "-br", "link"]),
    "h1 is a host of user ann's rootless lab net, whose namespaces are the user's own: reach it as that " +
      "user, `runuser -u ann -- env XDG_RUNTIME_DIR=/run/user/1000 vde exec net/h1 ip -br link`",
  );
  assert.equal(
    asked(["h2"]),
    "h2 is a host of user ann's rootless lab net, user bob's rootless lab net, whose namespaces are the " +
      "user's own: reach it as that user, `runuser -u ann -- env XDG_RUNTIME_DIR=/run/user/1000 vde exec " +
      "net/h2` or `runuser -u bob -- env -u XDG_RUNTIME_DIR vde exec net/h2`",
  );
  // bob's lab has no runtime directory (/tmp/vde-UID): root's own (/run/user/0), which runuser keeps, is
  // taken away, or bob's vde would look for the lab there.
  // Its own record says b-h3 is lab a's: not a host h3 of a lab a-b.
  assert.match(
    asked(["b-h3", "echo", "a b"])!,
    /`runuser -u bob -- env XDG_RUNTIME_DIR='\/tmp\/it'\\''s' vde exec a\/b-h3 echo 'a b'`$/,
  );
  assert.match(asked(["a", "b-h3"])!, /vde exec a\/b-h3`$/);
  assert.match(asked(["a/b-h3", "--", "id"])!, /vde exec a\/b-h3 id`$/);
  assert.equal(asked(["h3"]), undefined);
  assert.equal(asked(["h9"]), undefined);
  // Root's own lab with the host is root's answer, not a user's.
  assert.equal(asked(["h1"], [{ name: "class", namespaces: ["vde-class-h1"] }]), undefined);
  assert.equal(asked(["class", "h1"], [{ name: "class", namespaces: [] }]), undefined);
});
