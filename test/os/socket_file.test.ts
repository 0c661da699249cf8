import assert from "node:assert/strict";
import { giveSocketFile } from "../../src/os/socket_file.ts";

Deno.test("a bound socket is given its mode and group", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-socket-file-" });
  const listener = Deno.listen({ transport: "unix", path: `${dir}/s` });
  try {
    giveSocketFile(`${dir}/s`, 0o770, Deno.gid() ?? undefined);
    const st = Deno.lstatSync(`${dir}/s`);
    assert.equal(st.mode! & 0o777, 0o770);
    assert.equal(st.gid, Deno.gid());
  } finally {
    listener.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a socket's name swapped for a symlink to a file of ours is refused, and the file keeps its mode", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-socket-file-" });
  const listener = Deno.listen({ transport: "unix", path: `${dir}/s` });
  try {
    // What a member of a group-writable switch directory could do between our bind and our chmod.
    await Deno.writeTextFile(`${dir}/key`, "secret", { mode: 0o600 });
    await Deno.remove(`${dir}/s`);
    await Deno.symlink(`${dir}/key`, `${dir}/s`);
    assert.throws(() => giveSocketFile(`${dir}/s`, 0o777), /is no socket of ours any more/);
    assert.equal(Deno.statSync(`${dir}/key`).mode! & 0o777, 0o600);
  } finally {
    listener.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a socket file that cannot be opened is said in the errno's words, not its number", () => {
  const path = `/nonexistent-${Deno.pid}/sock`;
  assert.throws(
    () => giveSocketFile(path, 0o600),
    new Error(`cannot open ${path}: open: No such file or directory`),
  );
});
