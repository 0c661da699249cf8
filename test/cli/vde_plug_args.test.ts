/** Debian vde_plug's spellings (`= COMMAND`, --port, -g, -m, and -d where it cannot serve) in `vde plug`. */
import assert from "node:assert/strict";
import { toPlugArgs, withSwitchOptions } from "../../src/cli/vde_plug_args.ts";
import { reap, spawnVde, within } from "../helpers/framed_peers.ts";
import { run } from "../helpers/processes.ts";
import { startOurSwitch } from "../helpers/switches.ts";
import { ourCli } from "../helpers/vde_clients.ts";

Deno.test("vde_plug's '= COMMAND ARGS' becomes one cmd:// end, each word quoted that needs it", () => {
  assert.deepEqual(
    toPlugArgs(["plug", "/tmp/net", "=", "ssh", "hostB", "vde_plug", "/tmp/net"]),
    ["plug", "/tmp/net", "cmd://ssh hostB vde_plug /tmp/net"],
  );
  assert.deepEqual(
    toPlugArgs(["plug", "-group", "vde", "/tmp/net", "=", "sh", "-c", "echo 'a b'"]),
    ["plug", "--group", "vde", "/tmp/net", `cmd://sh -c 'echo '\\''a b'\\'''`],
  );
  assert.deepEqual(
    toPlugArgs(["switch", "-s", "/tmp/net", "="]),
    ["switch", "-s", "/tmp/net", "="],
    "plug only",
  );
});

Deno.test("vde_plug's '= COMMAND' with no VNL before it joins the default switch ('') to the command", () => {
  const cmd = "cmd://ssh remote vde_plug";
  assert.deepEqual(toPlugArgs(["plug", "=", "ssh", "remote", "vde_plug"]), ["plug", "", cmd]);
  assert.deepEqual(
    toPlugArgs([
      "plug",
      "-d",
      "-p",
      "x.pid",
      "--port",
      "3",
      "-gvde",
      "-D",
      "a b",
      "=",
      "ssh",
      "remote",
      "vde_plug",
    ]),
    ["plug", "-d", "-p", "x.pid", "--port", "3", "-gvde", "-D", "a b", "", cmd],
    "options and their values are no VNL",
  );
  assert.deepEqual(toPlugArgs(["plug", "-dp", "x.pid", "=", "ssh", "remote", "vde_plug"]), [
    "plug",
    "-dp",
    "x.pid",
    "",
    cmd,
  ]);
  assert.deepEqual(
    toPlugArgs(["plug", "-l", "-", "=", "cat"]),
    ["plug", "-l", "-", "cmd://cat"],
    "- is a VNL",
  );
  assert.deepEqual(toPlugArgs(["plug", "--port=3", "/tmp/sw", "=", "cat"]), [
    "plug",
    "--port=3",
    "/tmp/sw",
    "cmd://cat",
  ]);
});

Deno.test("vde_plug's -g and -m become a node end's grp= and mode=, which the VNL's own brackets override; --port is refused", () => {
  assert.equal(withSwitchOptions("hub://", { group: "vde", mode: "660" }, "-g"), "hub://[grp=vde/mode=660]");
  assert.equal(
    withSwitchOptions("switch:///tmp/s[mode=600/hashsize=9]", { mode: "666" }, "-m"),
    "switch:///tmp/s[mode=666/mode=600/hashsize=9]",
  );
  assert.throws(
    () => withSwitchOptions("hub:///tmp/h", { port: "3" }, "--port, -g and -m"),
    /^Error: --port, -g and -m set a switch port's options, and hub:\/\/\/tmp\/h serves a node of its own/,
  );
});

Deno.test("vde_plug's --port, -g and -m become the switch end's bracket parameters; on another end they are refused", () => {
  assert.equal(withSwitchOptions("/tmp/net", { port: "3" }, "--port"), "/tmp/net[port=3]");
  assert.equal(
    withSwitchOptions("vde:///tmp/net[5]", { group: "vde", mode: "660" }, "-g"),
    "vde:///tmp/net[port=5/group=vde/mode=660]",
  );
  assert.equal(withSwitchOptions("/tmp/net[mode=600]", { port: "2" }, "--port"), "/tmp/net[mode=600/port=2]");
  assert.equal(withSwitchOptions("tap://t0", {}, "--port"), "tap://t0", "no options, no change");
  assert.throws(
    () => withSwitchOptions("tap://t0", { port: "3" }, "--port2, -G and -M"),
    /^Error: --port2, -G and -M set a switch port's options, and tap:\/\/t0 is not a switch/,
  );
});

/**
 * Runs `vde plug ARGS` (through the whole command line, where '=' is rewritten) with `env`, waits until the
 * switch at `dir` lists a port matching `seen`, then for the plug to exit with status 0.
 */
async function plugSeenOnSwitch(args: string[], dir: string, seen: RegExp, env?: Record<string, string>) {
  const [exe, ...cli] = ourCli();
  const child = new Deno.Command(exe!, {
    args: [...cli, "plug", ...args],
    env,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  try {
    let ports = "";
    for (let i = 0; i < 50 && !seen.test(ports); i++) {
      await new Promise((r) => setTimeout(r, 100));
      ports = (await run([...ourCli(), "term", dir, "-c", "port/print"], { timeoutMs: 10_000 })).stdout;
    }
    assert.match(ports, seen);
    const out = await within("vde plug to exit", 15_000, child.output());
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  } finally {
    await reap(child);
  }
}

Deno.test("vde plug --port 3 takes port 3 of a switch, and '= COMMAND' runs the command as its other end", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "vde-plugargs-" });
  const sw = await startOurSwitch(`${tmp}/net`);
  try {
    await plugSeenOnSwitch(
      ["--port", "3", `${tmp}/net`, "=", "sleep", "3"],
      `${tmp}/net`,
      /Port 0003 .*ACTIVE/,
    );
  } finally {
    await sw.stop();
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("vde plug = COMMAND (as vde_plug = ssh host vde_plug) plugs the command into the default switch", async () => {
  const home = await Deno.makeTempDir({ prefix: "vde-plugargs-default-" });
  const sw = await startOurSwitch(`${home}/net`);
  try {
    await Deno.mkdir(`${home}/.vde2`);
    await Deno.symlink(`${home}/net`, `${home}/.vde2/default.switch`);
    // The plug's description shows on the port the default switch gave it.
    await plugSeenOnSwitch(["-D", "from-eq", "=", "sleep", "3"], `${home}/net`, /ACTIVE[\s\S]*from-eq/, {
      HOME: home,
    });
  } finally {
    await sw.stop();
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("vde_plug's -d with a stdin/stdout end is refused in one line saying what to do instead", async () => {
  // In the background stdin/stdout are /dev/null: a cable to them carries nothing.
  const child = spawnVde(["plug", "-d", "null://"], { stdin: "null", stdout: "null", stderr: "piped" });
  const out = await within("vde plug to exit", 10_000, child.output());
  assert.equal(out.code, 1);
  assert.match(
    new TextDecoder().decode(out.stderr),
    /^vde: --daemon needs two VNLs: .*`vde plug -d null:\/\/ tap:\/\/tap0`\n$/,
  );
});
