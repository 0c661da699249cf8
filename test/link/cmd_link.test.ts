import assert from "node:assert/strict";
import { CmdLink, splitCommand } from "../../src/link/cmd_link.ts";
import { openLink } from "../../src/link/registry.ts";

function numbered(seq: number, length = 64): Uint8Array {
  const f = new Uint8Array(length);
  new DataView(f.buffer).setUint32(0, seq);
  return f;
}

async function waitFor(what: string, cond: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function isGone(pid: number): Promise<boolean> {
  try {
    const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
    return stat.split(") ")[1]?.startsWith("Z") ?? false;
  } catch {
    return true;
  }
}

Deno.test("splitCommand splits words like a shell, without expansions", () => {
  const cases: [string, string[]][] = [
    ["cat", ["cat"]],
    ["  ssh   host\tvde plug  ", ["ssh", "host", "vde", "plug"]],
    [`sh -c 'exit 3'`, ["sh", "-c", "exit 3"]],
    [`echo "a \\"b\\" \\$x \\n" c`, ["echo", 'a "b" $x \\n', "c"]],
    [`a\\ b c\\'d`, ["a b", "c'd"]],
    [`x"y"'z' ""`, ["xyz", ""]],
    [`"ssh host vde plug /tmp/b"`, ["ssh", "host", "vde", "plug", "/tmp/b"]],
    [`'ssh host "vde plug" /tmp/b'`, ["ssh", "host", "vde plug", "/tmp/b"]],
    [`"/opt/my tools/plug" /tmp/b`, ["/opt/my tools/plug", "/tmp/b"]],
    ["", []],
  ];
  for (const [line, words] of cases) assert.deepEqual(splitCommand(line), words, line);
});

Deno.test("splitCommand rejects unterminated quotes and a trailing backslash", () => {
  assert.throws(() => splitCommand(`echo 'abc`), /unterminated ' quote/);
  assert.throws(() => splitCommand(`echo "abc`), /unterminated " quote/);
  assert.throws(() => splitCommand(`echo abc\\`), /lone backslash/);
});

Deno.test("cmd link to cat echoes frames back in order", async () => {
  const link = await openLink("cmd://cat");
  assert.ok(link instanceof CmdLink);
  const got: number[] = [];
  link.onFrame = (f) => got.push(new DataView(f.buffer, f.byteOffset).getUint32(0));
  try {
    for (let i = 0; i < 2000; i++) {
      link.send(numbered(i, 14 + (i % 1500)));
      if (i % 100 === 99) await new Promise((r) => setTimeout(r, 0));
    }
    await waitFor("echoed frames", () => got.length === 2000);
    assert.deepEqual(got, Array.from({ length: 2000 }, (_, i) => i));
  } finally {
    link.close();
  }
  assert.equal(await link.closed, "closed");
});

Deno.test("cmd link accepts a quoted command line, as a VNL often carries it", async () => {
  const link = await openLink(`cmd://"sh -c 'exec cat'"`);
  let got = 0;
  link.onFrame = () => got++;
  try {
    link.send(numbered(1));
    await waitFor("the echo", () => got === 1);
  } finally {
    link.close();
  }
});

Deno.test("cmd link closes with the command's exit status", async () => {
  const link = await openLink(`cmd://sh -c "exit 3"`);
  assert.equal(await link.closed, "command exited with status 3");
});

Deno.test("cmd link carries the signal that killed its command as a field, null for an exit", async () => {
  const killed = await openLink(`cmd://sh -c "kill -TERM $$"`);
  assert.equal(await killed.closed, "command killed by SIGTERM");
  assert.equal(killed.killedBy, "SIGTERM");
  const exited = await openLink(`cmd://sh -c "exit 0"`);
  assert.equal(await exited.closed, "command exited with status 0");
  assert.equal(exited.killedBy, null);
});

Deno.test("cmd link says as a field whether it ended of its command's failure: not for status 0 nor for its owner's close", async () => {
  const failedExit = await openLink(`cmd://sh -c "exit 3"`);
  assert.equal(await failedExit.closed, "command exited with status 3");
  assert.equal(failedExit.failed, true);
  const killed = await openLink(`cmd://sh -c "kill -TERM $$"`);
  await killed.closed;
  assert.equal(killed.failed, true);
  const exited = await openLink(`cmd://sh -c "exit 0"`);
  await exited.closed;
  assert.equal(exited.failed, false);
  // Closed by its owner, the command then dies of the SIGTERM the close sends: not the link's failure.
  const stopped = await openLink("cmd://sleep 30") as CmdLink;
  stopped.close("the other end closed");
  assert.equal(await stopped.closed, "the other end closed");
  await waitFor("the command's end", () => stopped.killedBy !== null);
  assert.equal(stopped.failed, false);
});

Deno.test("cmd link delivers what the command wrote before exiting", async () => {
  const link = await openLink(`cmd://sh -c "printf '\\000\\016abcdefghijklmn\\000\\017opqrstuvwxyz012'"`);
  const frames: string[] = [];
  link.onFrame = (f) => frames.push(new TextDecoder().decode(f));
  assert.equal(await link.closed, "command exited with status 0");
  assert.deepEqual(frames, ["abcdefghijklmn", "opqrstuvwxyz012"]);
});

Deno.test("cmd link to a command that only reads stays up after the command closes its stdout", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-cmd-test-" });
  const link = await openLink(`cmd://sh -c "exec cat > ${dir}/out"`);
  try {
    link.send(numbered(1, 20));
    await new Promise((r) => setTimeout(r, 700));
    assert.equal((link as CmdLink).isClosed, false);
    link.send(numbered(2, 30));
    await waitFor("both frames written", () => Deno.statSync(`${dir}/out`).size === 22 + 32);
  } finally {
    link.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("closing a cmd link terminates the command", async () => {
  const link = await openLink("cmd://sleep 30");
  assert.ok(link instanceof CmdLink);
  const pid = link.pid;
  assert.equal(await isGone(pid), false);
  link.close("bye");
  assert.equal(await link.closed, "bye");
  const deadline = Date.now() + 5000;
  while (!(await isGone(pid))) {
    if (Date.now() > deadline) throw new Error(`pid ${pid} still running`);
    await new Promise((r) => setTimeout(r, 10));
  }
});

Deno.test("cmd link that cannot start its command fails to open with a reason", async () => {
  await assert.rejects(
    openLink("cmd://no-such-command-vde-test"),
    /^Error: cannot run "no-such-command-vde-test": no such command \(not on the PATH\)$/,
  );
  await assert.rejects(openLink("cmd:///tmp"), /cannot run "\/tmp": permission denied \(not executable\?\)$/);
  await assert.rejects(openLink("cmd://"), /needs a command/);
  await assert.rejects(openLink("cmd://echo 'oops"), /unterminated/);
});
