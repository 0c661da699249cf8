/**
 * listenerPid: the kernel's record of who listens on a unix stream socket,
 * and nothing where nobody does.
 */
import assert from "node:assert/strict";
import { boundSockets, listenerPid, socketHolderPid } from "../../src/os/socket_owner.ts";
import { PinnedDirectory } from "../../src/os/held_dir.ts";
import { bindUnservedSockets } from "../helpers/stale_socket.ts";

Deno.test("listenerPid names the process listening on a unix socket", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-owner-" });
  const listener = Deno.listen({ transport: "unix", path: `${dir}/s` });
  try {
    assert.equal(listenerPid(`${dir}/s`), Deno.pid);
  } finally {
    listener.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("listenerPid is undefined for a socket nobody serves, a plain file and a missing path", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-owner-" });
  try {
    bindUnservedSockets(`${dir}/stale`);
    await Deno.writeTextFile(`${dir}/file`, "");
    assert.equal(listenerPid(`${dir}/stale`), undefined);
    assert.equal(listenerPid(`${dir}/file`), undefined);
    assert.equal(listenerPid(`${dir}/missing`), undefined);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("socketHolderPid names the process holding a listening unix socket from /proc, without connecting to it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-holder-" });
  const listener = Deno.listen({ transport: "unix", path: `${dir}/s` });
  try {
    assert.equal(socketHolderPid(`${dir}/s`), Deno.pid);
    assert.equal(socketHolderPid(`${dir}/none`), undefined);
  } finally {
    listener.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("boundSockets takes a socket's line of /proc/net/unix by its whole path, or by a held directory's name for its last component, and says which listen", () => {
  const table = [
    "Num       RefCount Protocol Flags    Type St Inode Path",
    "00000000d1e4d1d6: 00000003 00000000 00000000 0001 03 40904841 /tmp/h/ctl",
    "00000000456bbd4a: 00000002 00000000 00010000 0001 01 40904814 /tmp/h/ctl",
    "00000000456bbd4b: 00000002 00000000 00010000 0001 01 40904815 /tmp/h/ctl2",
    "00000000456bbd4c: 00000002 00000000 00010000 0001 01 40904816 /tmp/a b",
    "00000000456bbd4d: 00000002 00000000 00010000 0001 01 40904817 /proc/self/fd/34/ctl",
    "00000000456bbd4e: 00000002 00000000 00010000 0001 01 40904818 /proc/self/fd/35/mgmt",
  ].join("\n");
  assert.deepEqual(boundSockets(table, "/tmp/h/ctl"), [
    { inode: "40904841", listening: false },
    { inode: "40904814", listening: true },
    { inode: "40904817", listening: true, heldFd: 34 },
  ]);
  assert.deepEqual(boundSockets(table, "/tmp/a b"), [{ inode: "40904816", listening: true }]);
});

Deno.test("socketHolderPid finds a socket bound through a held directory (/proc/self/fd/N/NAME) only where that process's fd N is the path's directory", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-owner-held-" });
  const other = await Deno.makeTempDir({ prefix: "vde-owner-held-" });
  const held = PinnedDirectory.pin(dir);
  const listener = Deno.listen({ transport: "unix", path: held.entry("s") });
  try {
    assert.equal(socketHolderPid(`${dir}/s`), Deno.pid);
    assert.equal(socketHolderPid(`${other}/s`), undefined);
  } finally {
    listener.close();
    held.close();
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(other, { recursive: true });
  }
});
