/**
 * listenerPid: the kernel's record of who listens on a unix stream socket,
 * and nothing where nobody does.
 */
import assert from "node:assert/strict";
import { listenerPid, listeningInodes, socketHolderPid } from "../../src/os/socket_owner.ts";
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

Deno.test("listeningInodes takes a listening socket's line of /proc/net/unix by its whole path, not a connected one's", () => {
  const table = [
    "Num       RefCount Protocol Flags    Type St Inode Path",
    "00000000d1e4d1d6: 00000003 00000000 00000000 0001 03 40904841 /tmp/h/ctl",
    "00000000456bbd4a: 00000002 00000000 00010000 0001 01 40904814 /tmp/h/ctl",
    "00000000456bbd4b: 00000002 00000000 00010000 0001 01 40904815 /tmp/h/ctl2",
    "00000000456bbd4c: 00000002 00000000 00010000 0001 01 40904816 /tmp/a b",
  ].join("\n");
  assert.deepEqual(listeningInodes(table, "/tmp/h/ctl"), ["40904814"]);
  assert.deepEqual(listeningInodes(table, "/tmp/a b"), ["40904816"]);
});
