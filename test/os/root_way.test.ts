/**
 * What root's clients say of a socket they could not hold (notHeld in
 * src/os/root_way.ts): nothing there, a refusal, or the errno's own words,
 * each in the class Deno.connect gives a user for the same; and root's
 * datagram connect goes through the descriptor it judged, as its streams do.
 */
import assert from "node:assert/strict";
import { C } from "../../ffi/libc.ts";
import { connectJudgedDatagram, notHeld, UntrustedWay } from "../../src/os/root_way.ts";
import { UnixDgramSocket } from "../../src/io/unix_dgram.ts";
import { RUN_PREFIX, skipUnlessRoot } from "../helpers/processes.ts";

const PATH = "/tmp/lab/sw.mgmt";

Deno.test("a socket root could not hold is 'no socket' only when nothing is at its name", () => {
  const none = notHeld(PATH, C.ENOENT);
  assert.ok(none instanceof Deno.errors.NotFound);
  assert.equal(none.message, `no socket at ${PATH}`);
  const denied = notHeld(PATH, C.EACCES);
  assert.ok(denied instanceof Deno.errors.PermissionDenied);
  assert.equal(denied.message, `permission denied: ${PATH}`);
});

Deno.test("a socket root could not hold for another reason is told in the errno's own words", () => {
  const file = notHeld(PATH, C.ENOTDIR);
  assert.ok(file instanceof Deno.errors.NotADirectory);
  assert.equal(file.message, `not a directory: ${PATH}`);
  const loop = notHeld(PATH, C.ELOOP);
  assert.ok(loop instanceof Deno.errors.FilesystemLoop);
  assert.equal(loop.message, `too many levels of symbolic links: ${PATH}`);
  // EMFILE and ENAMETOOLONG (Linux's 24 and 36): not "nothing there" either.
  for (const [code, words] of [[24, "too many open files"], [36, "file name too long"]] as const) {
    const err = notHeld(PATH, code);
    assert.ok(!(err instanceof Deno.errors.NotFound), words);
    assert.equal(err.message, `${words}: ${PATH}`);
  }
});

Deno.test("root connects a datagram socket to a socket of its own through the descriptor it judged, and refuses one in a directory anyone may write", async (t) => {
  if (skipUnlessRoot(t)) return;
  const dir = await Deno.makeTempDir({ prefix: `${RUN_PREFIX}root-way-dgram-` });
  const peer = UnixDgramSocket.create();
  try {
    await Deno.chmod(dir, 0o755);
    peer.bind(`${dir}/blink`);
    const named: string[] = [];
    const words = { what: "send frame sizes to a blink socket", doing: "connecting to it" };
    connectJudgedDatagram({ connect: (path: string) => void named.push(path) }, `${dir}/blink`, words);
    assert.equal(named.length, 1);
    assert.match(named[0]!, /^\/proc\/self\/fd\/\d+$/);
    await Deno.chmod(dir, 0o777);
    assert.throws(
      () =>
        connectJudgedDatagram({ connect: (path: string) => void named.push(path) }, `${dir}/blink`, words),
      (err: unknown) =>
        err instanceof UntrustedWay && /a directory anyone may write \(mode 0777\)/.test(err.message),
    );
    assert.equal(named.length, 1);
  } finally {
    peer.close();
    await Deno.remove(dir, { recursive: true });
  }
});
