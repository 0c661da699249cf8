/**
 * listenerPid: the kernel's record of who listens on a unix stream socket,
 * and nothing where nobody does.
 */
import assert from "node:assert/strict";
import { listenerPid } from "../../src/os/socket_owner.ts";
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
