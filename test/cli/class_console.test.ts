/**
 * A teacher's switch shared with a class (`vde switch --mode 660 --group G --mgmtmode 660`), and a
 * student (a real second user, in G) who tries what they should not: stop it from its console (which
 * would have stopped every other student's plugs with it), take a port another's client is on, flood the
 * console with sessions until the teacher is shut out; and a student's own captures, which a classmate
 * must not read.
 */
import assert from "node:assert/strict";
import { run, skipUnlessRoot, spawnManaged, waitFor, waitForPath } from "../helpers/processes.ts";
import { startOurSwitch, type SwitchHandle, VDE_CLI } from "../helpers/switches.ts";
import { type Student, withStudent } from "../helpers/student.ts";

/**
 * Runs `fn` with a student and root's switch at `dir` shared with the student's group (`--mode 660`, and its
 * console with `shareConsole`: `--mgmtmode 660`), stopped after.
 */
async function withClassSwitch(
  shareConsole: boolean,
  fn: (s: Student, user: string, dir: string, sw: SwitchHandle) => Promise<void>,
): Promise<void> {
  await withStudent([], async (s) => {
    const user = (await run(["id", "-un", String(s.uid)])).stdout.trim();
    const dir = `${s.tmp}/class`;
    const shared = ["--mode", "660", "--group", user, ...(shareConsole ? ["--mgmtmode", "660"] : [])];
    const sw = await startOurSwitch(dir, { extraArgs: shared });
    try {
      await fn(s, user, dir, sw);
    } finally {
      await sw.stop();
    }
  });
}

Deno.test("a student at a shared console cannot shut the teacher's switch down: told who may, the switch serves on; the teacher can", async (t) => {
  if (skipUnlessRoot(t)) return;
  await withClassSwitch(true, async (s, user, dir, sw) => {
    const stop = await s.as(["vde", "term", dir, "-c", "shutdown"]);
    assert.equal(stop.code, 1, stop.stderr);
    assert.equal(
      stop.stderr,
      `vde: shutdown: this console's client is ${user}, and only root may shut this program down: ` +
        "a shared console lets others run its commands, not stop it\n",
    );
    // What the console is shared for still works, for them, and the switch is there.
    const ports = await s.as(["vde", "term", dir, "-c", "port/print"]);
    assert.equal(ports.code, 0, ports.stderr);
    assert.equal(sw.process.exitStatus, null, "the switch was stopped");
    const teacher = await run([...VDE_CLI, "term", dir, "-c", "shutdown"], {
      check: false,
      timeoutMs: 30_000,
    });
    assert.equal(teacher.code, 0, teacher.stderr);
    assert.equal((await sw.process.status).code, 0);
  });
});

Deno.test("a student who asks for a port another user's client is on is told to ask for none, and is then given a free one", async (t) => {
  if (skipUnlessRoot(t)) return;
  await withClassSwitch(false, async (s, user, dir, sw) => {
    const teachers = spawnManaged([...VDE_CLI, "plug", "--port", "5", dir, "null://"], {
      name: "root's plug",
    });
    try {
      await waitFor(async () => (await ports(dir)).includes("   5  active"), {
        timeoutMs: 20_000,
        what: "root's plug on port 5",
      });
      const taken = await s.as(["vde", "plug", "--port", "5", dir, "null://"]);
      assert.equal(taken.code, 1, taken.stderr);
      assert.equal(
        taken.stderr,
        `vde: the switch at ${dir} refused the connection for port 5: port 5 is busy: another user's client is ` +
          "on it; ask for no port number and a free one is given\n",
      );
      const free = await s.as(["vde", "plug", "-d", dir, "null://"]);
      assert.equal(free.code, 0, free.stderr);
      assert.match(await ports(dir), new RegExp(`^ +1 +active +0 +${user} `, "m"));
    } finally {
      await teachers.stop();
      await sw.stop();
      await s.noneLeft("the switch's end, which ends the student's plug");
    }
  });
});

/** The switch's port listing, as its console gives it to root. */
async function ports(dir: string): Promise<string> {
  return (await run([...VDE_CLI, "term", dir, "-c", "ports"], { timeoutMs: 30_000 })).stdout;
}

Deno.test("a student who floods the shared console with sessions is told why the next is turned away, and the teacher still gets in", async (t) => {
  if (skipUnlessRoot(t)) return;
  await withClassSwitch(true, async (s, _user, dir) => {
    // Sessions held open, each past its prompt, until its stdin ends.
    const code = `import socket, sys
held = []
for i in range(300):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); s.connect(sys.argv[1]); text = b""
    while not text.endswith(b"$ "):
        b = s.recv(4096)
        if not b: break
        text += b
    held.append(s)
print("held", flush=True)
sys.stdin.read()`;
    const flood = spawnManaged(s.argv(["/usr/bin/python3", "-c", code, `${dir}/mgmt`]), {
      name: "the student's sessions",
      stdin: "piped",
    });
    try {
      await flood.waitForOutput(/^held$/m, 60_000);
      const theirs = await s.as(["vde", "term", dir, "-c", "showinfo"]);
      assert.equal(theirs.code, 1);
      assert.equal(
        theirs.stderr,
        `vde: cannot open the management socket ${dir}/mgmt: ${dir}/mgmt turned this session away: Device or ` +
          `resource busy: you have 16 sessions open here, the most one user may: close one\n`,
      );
      const teacher = await run([...VDE_CLI, "term", dir, "-c", "showinfo"], {
        check: false,
        timeoutMs: 30_000,
      });
      assert.equal(teacher.code, 0, teacher.stderr);
    } finally {
      await flood.stop();
    }
  });
});

Deno.test("a student's captures of their own switch, vde capture -w and --pcap, are made theirs alone: a classmate read one made 644", async (t) => {
  if (skipUnlessRoot(t)) return;
  await withStudent([], async (s) => {
    const home = `${s.tmp}/home`;
    const made = await s.as([
      "sh",
      "-c",
      "umask 022 && vde switch --sock ~/sw --daemon --pcap ~/all.pcapng >/dev/null && " +
      "{ vde capture ~/sw -w ~/one.pcapng -c 1 & } && " +
      "for i in $(seq 100); do [ -s ~/one.pcapng ] && break; sleep 0.1; done; vde term ~/sw -c shutdown; wait",
    ]);
    assert.equal(made.code, 0, made.stderr);
    for (const f of ["all.pcapng", "one.pcapng"]) {
      const st = await Deno.stat(`${home}/${f}`);
      assert.equal(st.uid, s.uid, f);
      assert.equal(st.mode! & 0o777, 0o600, f);
    }
    await s.noneLeft("the switch's shutdown, which ends the capture");
  });
});

Deno.test("a student refused the teacher's wirefilter console is told the option a wirefilter takes, not a switch's --mgmtgroup it refuses", async (t) => {
  if (skipUnlessRoot(t)) return;
  await withStudent([], async (s) => {
    const wf = `${s.tmp}/wf`;
    const filter = spawnManaged([...VDE_CLI, "wirefilter", "null://", "null://", "-M", wf], {
      name: "root's wirefilter",
    });
    try {
      await waitForPath(wf, 20_000, true);
      const r = await s.as(["vde", "term", wf, "-c", "showinfo"]);
      assert.equal(r.code, 1);
      assert.equal(
        r.stderr,
        `vde: cannot open the management socket ${wf}: permission denied (owner root, mode 700): run vde term as ` +
          "that user (or root), or start the switch or wirefilter with --mgmtmode 666 (a switch also takes " +
          "--mgmtgroup GROUP --mgmtmode 660, as vde_switch does)\n",
      );
    } finally {
      await filter.stop();
    }
  });
});
