/**
 * Debian's management clients against our switch's management socket:
 * `unixcmd` (with Debian's /etc/vde2/vdecmd parse machine) gets the same
 * bytes and exit status from ours as from the C vde_switch, a scripted
 * `unixterm` works, and `port/sethub 1` sent by unixcmd really turns the
 * switch into a hub: a third vde_plug client starts seeing unicast frames
 * meant for another, and stops when hub mode is off again.
 */
import assert from "node:assert/strict";
import { hasCommand, run, skipUnless, sleep, spawnManaged } from "../helpers/processes.ts";
import { tmuxMissing, TmuxSession } from "../console/_tmux.ts";
import {
  BROADCAST,
  ClientSet,
  ethFrame,
  mac,
  type StdioClient,
  tagOf,
  waitForPortFiles,
  withMgmtSwitch,
} from "../helpers/vde_clients.ts";

const VDECMD = "/etc/vde2/vdecmd";

async function missingTools(tools: string[]): Promise<string | null> {
  for (const tool of tools) {
    if (!(await hasCommand(tool))) return `needs ${tool} (Debian packages vde2, vdeplug, vde-switch)`;
  }
  try {
    await Deno.stat(VDECMD);
  } catch {
    return `needs ${VDECMD} (Debian package vde2)`;
  }
  return null;
}

/**
 * Debian's parse machine with its wait for each reply raised from 1 s to 5 s, every step else as shipped: a
 * loaded machine (the full suite, 2 cores) delays either switch's answer past 1 s now and then, and unixcmd
 * then prints nothing and exits 255, which says nothing of what the switch answers.
 */
let patientVdecmd: Promise<string> | undefined;
function vdecmdFile(): Promise<string> {
  return patientVdecmd ??= (async () => {
    const script = (await Deno.readTextFile(VDECMD)).replace(/^TIMEOUT \d+$/m, "TIMEOUT 5000");
    const file = await Deno.makeTempFile({ prefix: "vde-vdecmd-" });
    await Deno.writeTextFile(file, script);
    globalThis.addEventListener("unload", () => Deno.removeSync(file));
    return file;
  })();
}

/** Runs unixcmd; its stdout (NULs and all) and exit status. */
async function unixcmd(mgmt: string, ...cmd: string[]): Promise<{ out: string; code: number }> {
  const script = await vdecmdFile();
  const r = await run(["unixcmd", "-f", script, "-s", mgmt, ...cmd], { check: false, timeoutMs: 20_000 });
  assert.equal(r.timedOut, false, `unixcmd ${cmd.join(" ")} timed out`);
  return { out: r.stdout, code: r.code };
}

Deno.test("unixcmd gets the same bytes and status from our socket as from vde_switch's", async (t) => {
  if (skipUnless(t, await missingTools(["unixcmd", "vde_switch"]))) return;
  const commands = [["port/showinfo"], ["hash/showinfo"], ["foo"], ["port/print", "99"], [
    "port/sethub",
    "1",
  ]];
  const results: Record<string, { out: string; code: number }[]> = { c: [], ours: [] };
  for (const kind of ["c", "ours"] as const) {
    await withMgmtSwitch(kind, async (mgmt) => {
      for (const cmd of commands) results[kind]!.push(await unixcmd(mgmt, ...cmd));
    });
  }
  for (const [i, cmd] of commands.entries()) {
    assert.deepEqual(results.ours![i], results.c![i], `unixcmd ${cmd.join(" ")}`);
  }
  assert.match(results.ours![0]!.out, /^Numports=32\n/);
});

Deno.test("unixcmd reads port/print and hash/print listings from our switch", async (t) => {
  if (skipUnless(t, await missingTools(["unixcmd", "vde_plug"]))) return;
  await withMgmtSwitch("ours", async (mgmt, dir) => {
    const clients = new ClientSet();
    try {
      const a = clients.vdePlug(dir, ["-D", "first plug"]);
      const b = clients.vdePlug(`${dir}[5]`, ["-D", "second plug"]);
      await waitForPortFiles(dir, 2);
      await a.send(ethFrame(BROADCAST, mac(1), 1));
      await b.waitTag(1);
      await b.send(ethFrame(mac(1), mac(2), 2));
      await a.waitTag(2);
      const ports = (await unixcmd(mgmt, "port/print")).out.replaceAll("\0", "");
      assert.match(ports, /^Port 0001 untagged_vlan=0000 ACTIVE - Unnamed Allocatable\n/);
      assert.match(ports, /\n Current User: root Access Control: \(User: NONE - Group: NONE\)\n/);
      assert.match(ports, /\n {2}-- endpoint ID \d{4} module unix prog {3}: first plug/);
      assert.match(ports, /\n ?Port 0005 untagged_vlan=0000 ACTIVE - Unnamed Allocatable\n/);
      assert.match(ports, /: second plug/);
      const hash = (await unixcmd(mgmt, "hash/print")).out.replaceAll("\0", "");
      assert.match(hash, /Addr: 02:00:00:00:00:01 VLAN 0000 to port: 001 {2}age \d+ secs/);
      assert.match(hash, /Addr: 02:00:00:00:00:02 VLAN 0000 to port: 005 {2}age \d+ secs/);
    } finally {
      await clients.stopAll();
    }
  });
});

Deno.test("unixcmd reads a 65,536-entry hash/print whole, through the small send buffer of our socket", async (t) => {
  if (skipUnless(t, await missingTools(["unixcmd", "vde_plug"]))) return;
  await withMgmtSwitch("ours", async (mgmt, dir) => {
    const clients = new ClientSet();
    try {
      const a = clients.vdePlug(dir, ["-D", "filler"]);
      await waitForPortFiles(dir, 1);
      const macs = 65_536;
      const burst = 256;
      for (let i = 0; i < macs; i += burst) {
        const frames: Uint8Array[] = [];
        for (let j = i; j < i + burst; j++) {
          frames.push(
            ethFrame(BROADCAST, new Uint8Array([2, 0x5e, 0, j >> 16, (j >> 8) & 0xff, j & 0xff]), j),
          );
        }
        await a.send(...frames);
        // Paced: Debian's vde_plug drops what its socket to the switch cannot take at once.
        await new Promise((r) => setTimeout(r, 2));
      }
      let lines = 0;
      for (let tries = 0; tries < 50 && lines < macs; tries++) {
        const r = await unixcmd(mgmt, "hash/print");
        lines = r.out.replaceAll("\0", "").split("\n").filter((l) =>
          /^Hash: \d{4} Addr: 02:5e:00(:[0-9a-f]{2}){3} VLAN 0000 to port: 001 /.test(l)
        ).length;
        if (lines < macs) {
          await new Promise((r) =>
            setTimeout(r, 100)
          );
        }
      }
      assert.equal(lines, macs, "every learnt address listed once");
    } finally {
      await clients.stopAll();
    }
  });
});

Deno.test("a scripted unixterm session runs commands and logs out", async (t) => {
  if (skipUnless(t, await missingTools(["unixterm"]))) return;
  await withMgmtSwitch("ours", async (mgmt) => {
    // Each line goes once the reply before it is in, and stdin stays open: unixterm quits when its
    // stdin closes, so a script of fixed pauses lost every reply still on its way when the machine
    // was slow (only the banner came out).
    const term = spawnManaged(["unixterm", mgmt], { stdin: "piped" });
    let status: Deno.CommandStatus | null = null;
    try {
      await term.waitForOutput(/vde\$ $/, 15_000);
      await term.write("port/showinfo\n");
      await term.waitForOutput(/1000 Success\n\nvde\$ $/, 15_000);
      await term.write("foo\n");
      await term.waitForOutput(/1038 Function not implemented\n\nvde\$ $/, 15_000);
      await term.write("logout\n");
      status = await Promise.race([term.status, sleep(15_000).then(() => null)]);
    } finally {
      await term.stop();
    }
    assert.ok(status !== null, "unixterm still runs 15 s after logout");
    const expected =
      "VDE switch V.2.3.2\nvde for Deno - speaks vde_switch 2.3.2's console protocol\n\nvde$ " +
      "0000 DATA END WITH '.'\nNumports=32\nHUB=false\ncounters=true\n.\n1000 Success\n\nvde$ " +
      "1038 Function not implemented\n\nvde$ ";
    // unixterm quits on the hang-up, sometimes before printing the last bytes (with vde_switch too).
    assert.ok(
      [expected, `${expected}9999 END OF SESSION`].includes(term.stdout),
      JSON.stringify(term.stdout),
    );
    assert.equal(status.code, 0, "unixterm saw the session end");
  });
});

/** Sends A -> B unicasts tagged `tag`, then a broadcast marker; resolves whether C saw the unicast. */
async function cSeesUnicast(a: StdioClient, b: StdioClient, c: StdioClient, tag: number): Promise<boolean> {
  await a.send(ethFrame(mac(2), mac(1), tag));
  await b.waitTag(tag);
  // The marker follows the unicast through the switch: once C has it, C would have had the unicast too.
  await a.send(ethFrame(BROADCAST, mac(1), tag + 1));
  await c.waitTag(tag + 1);
  return c.frames.some((f) => tagOf(f) === tag);
}

Deno.test("port/sethub through unixcmd makes a third client see unicast frames, until it is turned off", async (t) => {
  if (skipUnless(t, await missingTools(["unixcmd", "vde_plug"]))) return;
  await withMgmtSwitch("ours", async (mgmt, dir) => {
    const clients = new ClientSet();
    try {
      const a = clients.vdePlug(dir, ["-D", "A"]);
      const b = clients.vdePlug(dir, ["-D", "B"]);
      const c = clients.vdePlug(dir, ["-D", "C"]);
      await waitForPortFiles(dir, 3);
      // Teach the switch where A and B live.
      await a.send(ethFrame(BROADCAST, mac(1), 1));
      await b.send(ethFrame(BROADCAST, mac(2), 2));
      await c.waitTag(1);
      await c.waitTag(2);
      assert.equal(await cSeesUnicast(a, b, c, 10), false, "switch mode: C does not see A -> B");
      assert.match((await unixcmd(mgmt, "port/sethub", "1")).out, /^$/);
      assert.match((await unixcmd(mgmt, "port/showinfo")).out, /HUB=true/);
      assert.equal(await cSeesUnicast(a, b, c, 20), true, "hub mode: C sees A -> B");
      await unixcmd(mgmt, "port/sethub", "0");
      assert.match((await unixcmd(mgmt, "port/showinfo")).out, /HUB=false/);
      assert.equal(await cSeesUnicast(a, b, c, 30), false, "switch mode again: C does not see A -> B");
    } finally {
      await clients.stopAll();
    }
  });
});

Deno.test("vdeterm at a terminal runs commands on our socket and completes from our help", async (t) => {
  if (skipUnless(t, (await missingTools(["vdeterm"])) ?? (await tmuxMissing()))) return;
  await withMgmtSwitch("ours", async (mgmt, dir) => {
    const tmux = await TmuxSession.start(`${dir}.tmux`, `vdeterm ${mgmt}`);
    try {
      const prompt = `vde[${mgmt}]: `;
      await tmux.waitFor((s) => s.endsWith(prompt.trimEnd()), "vdeterm's prompt");
      // vdeterm sends each command without a newline.
      await tmux.keys("port/showinfo", "Enter");
      await tmux.waitFor(
        (s) => s.includes("Numports=32\nHUB=false\ncounters=true\nSuccess"),
        "port/showinfo",
      );
      await tmux.keys("port/pr", "Tab");
      await tmux.waitFor((s) => s.endsWith(`${prompt}port/print`), "vdeterm's completion from our help");
      // vdeterm has no line editing to speak of: run the completed command, then leave.
      await tmux.keys("Enter");
      await tmux.waitFor(
        (s) => s.endsWith(prompt.trimEnd()) && s.split("Success").length === 3,
        "port/print",
      );
      await tmux.keys("logout", "Enter");
      await tmux.waitFor((s) => s.includes("[exit "), "vdeterm to leave");
    } finally {
      await tmux.kill();
    }
  });
});
