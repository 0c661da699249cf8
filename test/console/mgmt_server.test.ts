/**
 * A management socket that cannot be made says why in the user's terms, not the kernel's `bind: ...`;
 * a long command learns its client left, or that it interrupts it (ETX, Ctrl-C's byte).
 */
import assert from "node:assert/strict";
import { MgmtServer, OWNERS_RESERVE } from "../../src/console/mgmt_server.ts";
import { MgmtClient } from "../../src/console/client.ts";
import { listenedUnderUmask000, widerThan } from "../helpers/listen_modes.ts";
import { makeConsole } from "./_helpers.ts";
import { CommandRegistry, listing, ok } from "../../src/console/registry.ts";
import { DATA_START, Errno, resultLine } from "../../src/console/reply_format.ts";
import {
  AS_NOBODY,
  AS_NOGROUP_MEMBER,
  hasCommand,
  run,
  RUN_PREFIX,
  RUN_STUDENT,
  skipUnless,
  skipUnlessRoot,
  spawnManaged,
  waitFor,
} from "../helpers/processes.ts";
import { withStudent } from "../helpers/student.ts";
import { PinnedDirectory } from "../../src/os/held_dir.ts";
import { closeAndReuse } from "../helpers/closed_hold.ts";

Deno.test("a management socket in a directory that does not exist says so", async () => {
  const tc = makeConsole(4);
  try {
    const path = `/nonexistent-vde-${Deno.pid}/dir/mgmt`;
    await assert.rejects(
      () => MgmtServer.start(tc.commands, tc.ctx, { path, log: () => {} }),
      new Error(`the directory /nonexistent-vde-${Deno.pid}/dir does not exist`),
    );
  } finally {
    tc.close();
  }
});

Deno.test("a management socket refused in a directory that exists does not call it missing", async () => {
  const tc = makeConsole(4);
  try {
    // /proc takes no new files: bind says ENOENT, though /proc is there.
    const err = await MgmtServer.start(tc.commands, tc.ctx, { path: "/proc/vde-mgmt", log: () => {} }).then(
      () => undefined,
      (e: Error) => e,
    );
    assert.ok(err !== undefined, "served a socket in /proc");
    assert.doesNotMatch(err.message, /does not exist/);
  } finally {
    tc.close();
  }
});

Deno.test("a command that asks is told when its client hangs up while it runs, and who the client is", async () => {
  let peer: number | undefined;
  let sawHangup!: () => void;
  const hungUp = new Promise<void>((r) => sawHangup = r);
  const commands = new CommandRegistry().add({
    path: "wait",
    syntax: "",
    help: "",
    listing: false,
    run: async (_args, session) => {
      peer = session.peerPid;
      const signal = session.stopSignal!();
      await new Promise((r) => signal.addEventListener("abort", r));
      sawHangup();
      return ok();
    },
  });
  await withGreetedConn(commands, "vde-mgmt-hangup-", async (conn) => {
    await conn.write(new TextEncoder().encode("wait\n"));
    await waitFor(() => peer, { timeoutMs: 10_000, what: "the command running" });
    conn.close();
    await hungUp;
    assert.equal(peer, Deno.pid);
  });
});

/** `fn` given a raw socket to a server of `commands`, its greeting read. */
async function withGreetedConn(
  commands: CommandRegistry,
  prefix: string,
  fn: (conn: Deno.UnixConn) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix });
  const server = await MgmtServer.start(commands, { debug: { detach: () => {} } }, {
    path: `${dir}/mgmt`,
    log: () => {},
  });
  try {
    const conn = await Deno.connect({ transport: "unix", path: `${dir}/mgmt` });
    await conn.read(new Uint8Array(4096));
    await fn(conn);
  } finally {
    server.close();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("ETX on a console with interrupts stops the command that asked, is no part of a line, and stops only that command", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-mgmt-etx-" });
  const abortedAtStart: boolean[] = [];
  const commands = stoppableCommands(abortedAtStart);
  const server = await MgmtServer.start(commands, { debug: { detach: () => {} } }, {
    path: `${dir}/mgmt`,
    interrupts: true,
    log: () => {},
  });
  try {
    const client = await MgmtClient.connect(`${dir}/mgmt`, { timeoutMs: 10_000 });
    const waiting = client.command("wait");
    await waitFor(() => abortedAtStart.length === 1, { timeoutMs: 10_000, what: "the command running" });
    await client.interrupt();
    assert.deepEqual((await waiting).lines, ["stopped"]);
    // An interrupt with no command asking (in a line, here) interrupts nothing and is not read as text.
    const said = await client.command("say a\u0003b");
    assert.deepEqual(said.lines, ['"ab"']);
    // The next command's stop is its own: not already aborted by the interrupt before it.
    const again = client.command("wait");
    await waitFor(() => abortedAtStart.length === 2, { timeoutMs: 10_000, what: "the second command" });
    await client.interrupt();
    assert.deepEqual((await again).lines, ["stopped"]);
    assert.deepEqual(abortedAtStart, [false, false]);
    client.close();
  } finally {
    server.close();
    await Deno.remove(dir, { recursive: true });
  }
});

/** A command that waits for its stop (saying whether it was stopped before it began), and `say TEXT`. */
function stoppableCommands(abortedAtStart: boolean[]): CommandRegistry {
  return new CommandRegistry().add({
    path: "wait",
    syntax: "",
    help: "",
    listing: true,
    run: async (_args, session) => {
      const signal = session.stopSignal!();
      abortedAtStart.push(signal.aborted);
      if (!signal.aborted) await new Promise((r) => signal.addEventListener("abort", r));
      return listing(["stopped"]);
    },
  }).add({
    path: "say",
    syntax: "text",
    help: "",
    listing: true,
    run: (args) => listing([JSON.stringify(args)]),
  });
}

/** `fn` given a raw client socket of a server of `commands` (with `interrupts` as given), and its replies so far. */
async function withRawClient(
  commands: CommandRegistry,
  interrupts: boolean,
  fn: (send: (bytes: string) => Promise<void>, replies: () => string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "vde-mgmt-etx-" });
  const server = await MgmtServer.start(commands, { debug: { detach: () => {} } }, {
    path: `${dir}/mgmt`,
    interrupts,
    log: () => {},
  });
  const conn = await Deno.connect({ transport: "unix", path: `${dir}/mgmt` });
  let text = "";
  const reading = (async () => {
    for await (const chunk of conn.readable.pipeThrough(new TextDecoderStream())) text += chunk;
  })().catch(() => {});
  const writer = conn.writable.getWriter();
  try {
    await fn((bytes) => writer.write(new TextEncoder().encode(bytes)), () => text);
  } finally {
    await writer.close().catch(() => {});
    server.close();
    await reading;
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("a console without interrupts (a switch's) keeps 0x03 in a line, as vde_switch reads it", async () => {
  await withRawClient(stoppableCommands([]), false, async (send, replies) => {
    await send("say a\u0003b\n");
    await waitFor(() => replies().includes('"a\\u0003b"'), { timeoutMs: 10_000, what: "the line as sent" });
  });
});

Deno.test("ETX sent with the line it follows, before its command starts, still stops that command", async () => {
  const abortedAtStart: boolean[] = [];
  await withRawClient(stoppableCommands(abortedAtStart), true, async (send, replies) => {
    // Ctrl-C typed as soon as the line went: both in one read, before the command asks for its stop.
    await send("wait\n\u0003");
    await waitFor(() => replies().includes("stopped"), { timeoutMs: 10_000, what: "the wait stopped" });
    // An ETX before a line in one read is a late one for a command gone: the line's own runs untouched.
    await send("\u0003say x\n");
    await waitFor(() => replies().includes('"x"'), { timeoutMs: 10_000, what: "say" });
    await send("wait\n");
    await waitFor(() => abortedAtStart.length === 2, { timeoutMs: 10_000, what: "the second wait" });
    assert.deepEqual(abortedAtStart, [true, false]);
    await send("\u0003");
    await waitFor(() => replies().split("stopped").length === 3, {
      timeoutMs: 10_000,
      what: "the second stop",
    });
  });
});

Deno.test("the management socket is never wider than --mgmtmode, not even as it begins to listen under umask 000", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-mgmt-umask-" });
  await Deno.chmod(dir, 0o755);
  const tc = makeConsole();
  try {
    for (const mode of [0o600, 0o660]) {
      const [server, files] = await listenedUnderUmask000(() =>
        MgmtServer.start(tc.commands, tc.ctx, { path: `${dir}/mgmt`, mode, log: () => {} })
      );
      server.close();
      assert.equal(files.length, 1, JSON.stringify(files));
      assert.deepEqual(widerThan(files, mode), [], `--mgmtmode ${mode.toString(8)}`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a management socket in a held directory closed before it is not removed through the number another open took: said in one line", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "vde-mgmt-held-" });
  const tc = makeConsole(4);
  let other: PinnedDirectory | undefined;
  try {
    Deno.mkdirSync(`${tmp}/sw`);
    const pin = PinnedDirectory.pin(`${tmp}/sw`, undefined);
    const lines: string[] = [];
    const server = await MgmtServer.start(tc.commands, tc.ctx, {
      path: `${tmp}/sw/mgmt`,
      at: pin.held("mgmt"),
      log: (m) => lines.push(m),
    });
    assert.ok(Deno.lstatSync(`${tmp}/sw/mgmt`).isSocket);
    // The hold closed first (a shutdown out of order), and its number taken by another directory's open.
    other = closeAndReuse(pin, tmp, "mgmt");
    server.close();
    assert.equal(Deno.readTextFileSync(`${tmp}/other/mgmt`), "theirs");
    assert.deepEqual(lines, [`${tmp}/sw is no longer held: no mgmt in it is reached: its socket is left`]);
    // A start through a hold already closed is refused in one line, nothing made.
    await assert.rejects(
      () => MgmtServer.start(tc.commands, tc.ctx, { path: `${tmp}/sw/mgmt2`, at: pin.held("mgmt2") }),
      { message: `${tmp}/sw is no longer held: no mgmt2 in it is reached` },
    );
    assert.deepEqual([...Deno.readDirSync(`${tmp}/other`)].map((e) => e.name), ["mgmt"]);
  } finally {
    other?.close();
    tc.close();
    await Deno.remove(tmp, { recursive: true });
  }
});

/** A listing command (`slow`) whose chunks `listing` makes, over time, as the server asks for them. */
function streamedCommands(listing: () => AsyncGenerator<Uint8Array>): CommandRegistry {
  return new CommandRegistry().add({
    path: "slow",
    syntax: "",
    help: "",
    listing: true,
    run: () => ({ code: 0, chunks: listing() }),
  });
}

Deno.test("a listing made over time is framed at once: its header and first chunk reach the client before its last chunk is made", async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => release = r);
  let lastMade = false;
  const commands = streamedCommands(async function* () {
    yield new TextEncoder().encode("first\n");
    await gate;
    lastMade = true;
    yield new TextEncoder().encode("last\n");
  });
  await withRawClient(commands, false, async (send, replies) => {
    await send("slow\n");
    await waitFor(() => replies().includes(`${DATA_START}\nfirst\n`), {
      timeoutMs: 10_000,
      what: "the header",
    });
    assert.equal(lastMade, false, "the last chunk is not made yet");
    assert.ok(!replies().includes(resultLine(0)), "no result line before the listing ends");
    release();
    await waitFor(() => replies().includes(`${resultLine(0)}\n`), { timeoutMs: 10_000, what: "the result" });
    assert.ok(replies().includes(`${DATA_START}\nfirst\nlast\n.\n${resultLine(0)}\n`), replies());
  });
});

Deno.test("a listing whose client has gone stops at its next chunk instead of being made whole", async () => {
  const total = 10_000;
  let made = 0;
  let stopped = false;
  const commands = streamedCommands(async function* () {
    try {
      for (; made < total; made++) {
        // A turn of the event loop per chunk, as the paced hash/print takes.
        await new Promise((r) => setTimeout(r, 0));
        yield new Uint8Array(64 * 1024).fill(0x61);
      }
    } finally {
      stopped = true;
    }
  });
  await withGreetedConn(commands, "vde-mgmt-gone-", async (conn) => {
    await conn.write(new TextEncoder().encode("slow\n"));
    const buf = new Uint8Array(4096);
    let text = "";
    while (!text.includes(DATA_START)) {
      const n = await conn.read(buf);
      if (n === null) break;
      text += new TextDecoder().decode(buf.subarray(0, n));
    }
    assert.ok(text.includes(DATA_START), "the header came first");
    conn.close();
    await waitFor(() => stopped, { timeoutMs: 10_000, what: "the listing to stop" });
    // What the socket's buffers and the queue's high-water mark hold, no more: not the whole 640 MiB.
    assert.ok(made < 200, `${made} of ${total} chunks made`);
  });
});

/** Runs a command as a uid that passwd (and NSS) gives no name. */
const UNNAMED = ["setpriv", "--reuid=12346", "--regid=12346", "--clear-groups"];

/**
 * Runs, as the user `prefix` makes, a client that opens `n` sessions on `path`, prints each one's
 * greeting's end (`ok`) or what it was told before the close, then `held`, and keeps them until its stdin ends.
 */
function holder(prefix: string[], path: string, n: number) {
  const code = `import socket, sys
held = []
for i in range(${n}):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); s.connect(sys.argv[1]); text = b""
    while not text.endswith(b"$ "):
        b = s.recv(4096)
        if not b: break
        text += b
    print("ok" if text.endswith(b"$ ") else text.decode().strip()); held.append(s)
print("held", flush=True)
sys.stdin.read()`;
  return spawnManaged([...prefix, "/usr/bin/python3", "-c", code, path], {
    name: `holder ${prefix.join(" ")}`,
    stdin: "piped",
  });
}

/** A console at `dir`/mgmt every user may open (0666), of `maxClients` sessions, 6 a user. */
async function sharedConsole(dir: string, maxClients: number, subuid?: string) {
  const tc = makeConsole(4);
  const server = await MgmtServer.start(tc.commands, tc.ctx, {
    path: `${dir}/mgmt`,
    mode: 0o666,
    maxClients,
    maxPerUser: 6,
    log: () => {},
    subuid,
  });
  return { tc, server };
}

Deno.test("another user holds at most maxPerUser console sessions, and others together leave the reserve to the program's user and root: a student's 300 sessions shut the teacher out", async (t) => {
  if (skipUnlessRoot(t)) return;
  const dir = await Deno.makeTempDir({ prefix: "vde-nu17-busy-" });
  await Deno.chmod(dir, 0o755);
  const { tc, server } = await sharedConsole(dir, OWNERS_RESERVE + 12);
  const holders: ReturnType<typeof holder>[] = [];
  try {
    // A uid without a name (a subordinate id of a user's, a container's) is told in words that need no
    // lookup: asking NSS for its name ran getent on the console's thread for each connection turned away.
    const unnamed = holder(UNNAMED, `${dir}/mgmt`, 7);
    holders.push(unnamed);
    await unnamed.waitForOutput(/^held$/m, 20_000);
    assert.deepEqual(unnamed.stdout.trim().split("\n"), [
      ...Array(6).fill("ok"),
      `${resultLine(Errno.EBUSY)}: you have 6 sessions open here, the most one user may: close one`,
      "held",
    ]);
    const member = holder(AS_NOGROUP_MEMBER, `${dir}/mgmt`, 6);
    holders.push(member);
    await member.waitForOutput(/^held$/m, 20_000);
    assert.deepEqual(member.stdout.trim().split("\n"), [...Array(6).fill("ok"), "held"]);
    const third = holder(AS_NOBODY, `${dir}/mgmt`, 1);
    holders.push(third);
    await third.waitForOutput(/^held$/m, 20_000);
    assert.equal(
      third.stdout.trim().split("\n")[0],
      `${resultLine(Errno.EBUSY)}: the console has its most sessions of other users open (12)`,
    );
    // The program's user (root here) still gets in, up to the reserve, and is told why past it.
    const own: MgmtClient[] = [];
    try {
      for (let i = 0; i < OWNERS_RESERVE; i++) own.push(await MgmtClient.connect(`${dir}/mgmt`));
      assert.equal((await own[0]!.command("showinfo")).code, 0);
      await assert.rejects(
        MgmtClient.connect(`${dir}/mgmt`),
        new Error(
          `${dir}/mgmt turned this session away: Device or resource busy: the console has its most ` +
            `sessions open (${OWNERS_RESERVE + 12})`,
        ),
      );
    } finally {
      for (const c of own) c.close();
    }
  } finally {
    for (const h of holders) await h.stop();
    server.close();
    tc.close();
    await Deno.remove(dir, { recursive: true });
  }
});

/** `setpriv` as `uid` (its own group, no others): a uid passwd may give no name. */
const asUid = (uid: number) => ["setpriv", `--reuid=${uid}`, `--regid=${uid}`, "--clear-groups"];

Deno.test("a user's subordinate uids (/etc/subuid) share that user's maxPerUser console sessions; a uid outside every range keeps its own; the program's user's are one other user", async (t) => {
  if (skipUnlessRoot(t)) return;
  await withStudent([], async (student) => {
    const dir = await Deno.makeTempDir({ prefix: `${RUN_PREFIX}subuid-mgmt-` });
    await Deno.chmod(dir, 0o755);
    const subuid = `${dir}/subuid`;
    const [first, count] = [600_000, 65_536];
    // And a range of root's, the program's user here.
    await Deno.writeTextFile(subuid, `${RUN_STUDENT}:${first}:${count}\nroot:700000:10\n`, { mode: 0o644 });
    const { tc, server } = await sharedConsole(dir, OWNERS_RESERVE + 40, subuid);
    const holders: ReturnType<typeof holder>[] = [];
    /** The lines of a holder of `n` sessions as `uid`, once it holds them. */
    const held = async (uid: number, n: number) => {
      const h = holder(asUid(uid), `${dir}/mgmt`, n);
      holders.push(h);
      await h.waitForOutput(/^held$/m, 20_000);
      return h.stdout.trim().split("\n");
    };
    try {
      assert.deepEqual(await held(student.uid, 3), ["ok", "ok", "ok", "held"]);
      assert.deepEqual(await held(first, 2), ["ok", "ok", "held"]);
      // The range's last uid is the same user, whose sixth session this is; the seventh is refused.
      const busy = `${
        resultLine(Errno.EBUSY)
      }: you have 6 sessions open here, the most one user may: close one`;
      assert.deepEqual(await held(first + count - 1, 2), ["ok", busy, "held"]);
      // One past the range: a uid of no one, counted as itself, as before.
      assert.deepEqual(await held(first + count, 6), [...Array(6).fill("ok"), "held"]);
      // The program's user's subordinate uids (their containers') are not trusted as that user is: one other user.
      assert.deepEqual(await held(700_000, 4), [...Array(4).fill("ok"), "held"]);
      assert.deepEqual(await held(700_009, 3), ["ok", "ok", busy, "held"]);
      assert.equal(server.refusedBusy, 2);
    } finally {
      for (const h of holders) await h.stop();
      server.close();
      tc.close();
      await Deno.remove(dir, { recursive: true });
    }
  }, { bundle: false });
});

Deno.test("Debian's unixterm turned away by a console at its limit shows why: it quit on the hang-up before reading the line", async (t) => {
  if (skipUnless(t, (await hasCommand("unixterm")) ? null : "needs unixterm (Debian package vde2)")) return;
  const dir = await Deno.makeTempDir({ prefix: "vde-busy-unixterm-" });
  const tc = makeConsole(4);
  const server = await MgmtServer.start(tc.commands, tc.ctx, {
    path: `${dir}/mgmt`,
    maxClients: 1,
    log: () => {},
  });
  const held = await MgmtClient.connect(`${dir}/mgmt`);
  try {
    // Its stdin stays open meanwhile: unixterm quits when that closes too.
    for (let i = 0; i < 2; i++) {
      const term = await run(["sh", "-c", 'sleep 2 | unixterm "$0"', `${dir}/mgmt`], { timeoutMs: 15_000 });
      assert.equal(
        term.stdout,
        `${resultLine(Errno.EBUSY)}: the console has its most sessions open (1)\n`,
        `try ${i}`,
      );
    }
    assert.equal(server.refusedBusy, 2);
    assert.equal((await held.command("showinfo")).code, 0, "the session held is served on");
  } finally {
    held.close();
    server.close();
    tc.close();
    await Deno.remove(dir, { recursive: true });
  }
});
