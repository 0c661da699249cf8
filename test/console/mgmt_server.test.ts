/**
 * A management socket that cannot be made says why in the user's terms, not the kernel's `bind: ...`;
 * a long command learns its client left.
 */
import assert from "node:assert/strict";
import { MgmtServer } from "../../src/console/mgmt_server.ts";
import { makeConsole } from "./_helpers.ts";
import { CommandRegistry, ok } from "../../src/console/registry.ts";
import { waitFor } from "../helpers/processes.ts";

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
  const dir = await Deno.makeTempDir({ prefix: "vde-mgmt-hangup-" });
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
      const signal = session.hangup!();
      await new Promise((r) => signal.addEventListener("abort", r));
      sawHangup();
      return ok();
    },
  });
  const server = await MgmtServer.start(commands, { debug: { detach: () => {} } }, {
    path: `${dir}/mgmt`,
    log: () => {},
  });
  try {
    const conn = await Deno.connect({ transport: "unix", path: `${dir}/mgmt` });
    await conn.read(new Uint8Array(4096));
    await conn.write(new TextEncoder().encode("wait\n"));
    await waitFor(() => peer, { timeoutMs: 10_000, what: "the command running" });
    conn.close();
    await hungUp;
    assert.equal(peer, Deno.pid);
  } finally {
    server.close();
    await Deno.remove(dir, { recursive: true });
  }
});
