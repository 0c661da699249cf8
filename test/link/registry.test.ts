/**
 * The registry's word on a misspelt VNL: a known scheme written with one
 * colon (`tap:t0`) is a switch path to it, and the missing directory comes
 * with the VNL the user meant.
 */
import assert from "node:assert/strict";
import { openLink, schemes } from "../../src/link/registry.ts";
import { bindUnservedSockets } from "../helpers/stale_socket.ts";
import { ROOT_IF_PREFIX, skipUnlessRoot } from "../helpers/processes.ts";
import { createPersistentTap, deletePersistentTap } from "../../ffi/tun.ts";

async function refusal(vnl: string): Promise<string> {
  try {
    const link = await openLink(vnl);
    link.close();
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error(`${vnl} opened`);
}

Deno.test("a registered scheme written with one colon and no slashes is answered with 'did you mean SCHEME://REST?'", async () => {
  for (const scheme of schemes()) {
    const message = await refusal(`${scheme}:x${Deno.pid}`);
    assert.match(
      message,
      new RegExp(`\\(did you mean ${scheme.replace(/[+.]/g, "\\$&")}://x${Deno.pid}\\?\\)$`),
    );
    assert.ok(!message.includes("\n"), message);
  }
  assert.match(await refusal("slirp:/tcpfwd=8080:80"), /did you mean slirp:\/\/\/tcpfwd=8080:80\?/);
});

Deno.test("a switch path in a directory that exists, with no switch near it, is answered with the line that starts one", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "vde-registry-start-" });
  try {
    assert.equal(
      await refusal(`${tmp}/net`),
      `no switch at ${tmp}/net: the directory does not exist (start one: vde switch --sock ${tmp}/net --daemon)`,
    );
    // A path with a space is one word in the line to paste.
    assert.equal(
      await refusal(`${tmp}/my net`),
      `no switch at ${tmp}/my net: the directory does not exist (start one: vde switch --sock '${tmp}/my net' --daemon)`,
    );
    // Where vde switch could not make it either, no such line.
    assert.equal(
      await refusal(`${tmp}/none/net`),
      `no switch at ${tmp}/none/net: the directory does not exist`,
    );
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("a missing switch path that names no scheme gets no scheme hint", async () => {
  for (const vnl of [`/nonexistent-${Deno.pid}`, `nosuchscheme:x${Deno.pid}`, `relative-${Deno.pid}`]) {
    const message = await refusal(vnl);
    assert.match(message, /no switch at .*: the directory does not exist( \(start one: [^()]*\))?$/);
    assert.doesNotMatch(message, /did you mean/);
  }
});

Deno.test("a vde:// path that no switch serves says why: a stopped switch's leftovers, no ctl, a file, a management socket", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-noswitch-" });
  try {
    // A switch killed with SIGKILL leaves its ctl socket, which refuses connections: a socket bound, never served.
    bindUnservedSockets(`${dir}/ctl`);
    assert.equal(
      await refusal(dir),
      `no switch serves ${dir}: its ctl socket is left from a switch that stopped (start it again)`,
    );
    await Deno.remove(`${dir}/ctl`);
    assert.equal(await refusal(dir), `${dir} is not a switch's socket directory (it has no ctl socket)`);
    await Deno.writeTextFile(`${dir}/file`, "");
    assert.equal(
      await refusal(`${dir}/file`),
      `${dir}/file is not a switch's socket directory (it is a file)`,
    );
    const mgmt = Deno.listen({ transport: "unix", path: `${dir}/sw.mgmt` });
    try {
      assert.equal(
        await refusal(`${dir}/sw.mgmt`),
        `${dir}/sw.mgmt is a socket, not a switch's socket directory (a management socket? \`vde term ${dir}/sw.mgmt\` opens it)`,
      );
    } finally {
      mgmt.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a scheme's bare name that opens no switch is answered with 'did you mean SCHEME://?'", async () => {
  for (const scheme of ["slirp", "null"]) {
    const message = await refusal(scheme);
    assert.match(message, new RegExp(`\\(did you mean ${scheme}://\\?\\)$`));
  }
});

Deno.test("a tap's bare name (vde plug /tmp/net eth0) is answered with 'did you mean tap://NAME?'; another interface's is not", async (t) => {
  if (skipUnlessRoot(t)) return;
  const name = `${ROOT_IF_PREFIX}rg`;
  createPersistentTap(name);
  try {
    assert.equal(
      await refusal(name),
      `no switch at ${name}: the directory does not exist (did you mean tap://${name}?)`,
    );
  } finally {
    deletePersistentTap(name);
  }
  assert.equal(await refusal("lo"), "no switch at lo: the directory does not exist");
});

Deno.test("a switch's ctl socket named for the switch, and vde:// with two slashes, are answered with what was meant", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-ctl-named-" });
  try {
    const ctl = Deno.listen({ transport: "unix", path: `${dir}/ctl` });
    try {
      assert.equal(
        await refusal(`${dir}/ctl`),
        `${dir}/ctl is the switch's ctl socket: name the switch by its directory, ${dir}`,
      );
    } finally {
      ctl.close();
    }
    // vde://tmp/x is the relative path tmp/x; /tmp/x exists, so that was meant.
    const relative = dir.slice(1);
    assert.equal(
      await refusal(`vde://${relative}`),
      `no switch at ${relative}: the directory does not exist (did you mean /${relative}? as a VNL, vde:///${relative})`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a switch path a letter off a serving switch's directory (vde plug /tmp/nte) is answered with that directory", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-near-plug-" });
  try {
    await Deno.mkdir(`${dir}/net`);
    const ctl = Deno.listen({ transport: "unix", path: `${dir}/net/ctl` });
    try {
      assert.equal(
        await refusal(`${dir}/nte`),
        `no switch at ${dir}/nte: the directory does not exist (did you mean ${dir}/net?)`,
      );
    } finally {
      ctl.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
