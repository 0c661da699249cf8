/**
 * `vde term PATH -c CMD ...` (and commands on a piped stdin) against our
 * switch's management socket and against Debian's `vde_switch -M`: listings
 * on stdout, the first failing command on stderr with exit status 1, and
 * our tables emulated for a switch that lacks them.
 */
import assert from "node:assert/strict";
import {
  AS_OTHER_USER,
  hasCommand,
  pathExists,
  run,
  skipUnless,
  skipUnlessRoot,
  skipWithout,
  spawnManaged,
  waitFor,
  waitForPath,
} from "../helpers/processes.ts";
import { listens, startCSwitch, startOurSwitch } from "../helpers/switches.ts";
import {
  BROADCAST,
  ClientSet,
  ethFrame,
  mac,
  ourCli,
  RawClient,
  waitForPortFiles,
  withMgmtSwitch,
} from "../helpers/vde_clients.ts";

import { buildProgram } from "../../src/cli/main.ts";
import { plugSwitchDir, termCommand, withTermHint } from "../../src/cli/term.ts";
import { processAlive } from "../../src/os/processes.ts";
import { defaultSock } from "../../src/cli/switch.ts";

type Kind = "c" | "ours";

function term(args: string[], input?: string) {
  return run([...ourCli(), "term", ...args], { check: false, timeoutMs: 30_000, input });
}

for (const kind of ["ours", "c"] as const) {
  const name = kind === "c" ? "Debian's vde_switch -M" : "our switch";

  Deno.test(`vde term -c runs commands against ${name} and prints their listings`, async (t) => {
    if (
      kind === "c" &&
      skipUnless(t, (await hasCommand("vde_switch")) ? null : "needs vde_switch (package vde-switch)")
    ) {
      return;
    }
    await withMgmtSwitch(kind, async (mgmt) => {
      const r = await term([mgmt, "-c", "port/showinfo", "-c", "port/sethub 1", "-c", "hash/showinfo"]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(
        r.stdout,
        "Numports=32\nHUB=false\ncounters=true\n" +
          "Hash size 128\nGC interval 2 secs\nGC expire 100 secs\nMin persistence 3 secs\n",
      );
      const after = await term([mgmt, "-c", "port/showinfo"]);
      assert.match(after.stdout, /HUB=true/, "the setting stuck");
    });
  });

  Deno.test(`vde term -c shutdown on ${name} returns once the switch has exited, not before`, async (t) => {
    if (
      kind === "c" &&
      skipUnless(t, (await hasCommand("vde_switch")) ? null : "needs vde_switch (package vde-switch)")
    ) {
      return;
    }
    await withMgmtSwitch(kind, async (mgmt, _dir, sw) => {
      const pid = sw.pid;
      assert.ok(processAlive(pid), "the switch runs");
      const r = await term([mgmt, "-c", "shutdown"]);
      assert.equal(r.code, 0, r.stderr);
      // A script's next step (the same tap or pid file, the log as an artifact) needs it gone.
      assert.equal(processAlive(pid), false, "the switch has exited when vde term returns");
    });
  });

  Deno.test(`vde term -c exits 1 at the first failing command on ${name}`, async (t) => {
    if (
      kind === "c" &&
      skipUnless(t, (await hasCommand("vde_switch")) ? null : "needs vde_switch (package vde-switch)")
    ) {
      return;
    }
    await withMgmtSwitch(kind, async (mgmt) => {
      const r = await term([mgmt, "-c", "port/print 99", "-c", "port/sethub 1"]);
      assert.equal(r.code, 1);
      // A bad argument gets the command's usage, as at the terminal.
      assert.equal(
        r.stderr,
        "vde: port/print 99: 1022 Invalid argument (port 99 is past the last port (port/showinfo says Numports))\n",
      );
      assert.match(
        (await term([mgmt, "-c", "port/showinfo"])).stdout,
        /HUB=false/,
        "later commands did not run",
      );
      const unknown = await term([mgmt, "-c", "no/such/command"]);
      assert.equal(unknown.code, 1);
      // No near name: where the names are, as the interactive console says.
      assert.equal(
        unknown.stderr,
        "vde: no/such/command: 1038 Function not implemented (no such command; `help` lists the commands)\n",
      );
      const typo = await term([mgmt, "-c", "hsah/print"]);
      assert.equal(typo.code, 1);
      assert.equal(
        typo.stderr,
        "vde: hsah/print: 1038 Function not implemented (did you mean hash/print?)\n",
      );
      // The README's VLAN example on a switch nobody has plugged into yet.
      const missing = await term([mgmt, "-c", "vlan/create 10", "-c", "vlan/addport 10 1"]);
      assert.equal(missing.code, 1);
      assert.match(
        missing.stderr,
        /^vde: vlan\/addport 10 1: 1006 No such device or address \(no such port or VLAN \(vlan\/addport VLAN PORT\): a port is there once something plugs in, or after port\/create N; .*\)\n$/,
      );
      // VLAN 10 was made above: the code stays vde_switch's, the words say which VLAN.
      const again = await term([mgmt, "-c", "vlan/create 10"]);
      assert.equal(again.code, 1);
      assert.equal(
        again.stderr,
        "vde: vlan/create 10: 1017 File exists (VLAN 10 exists; vlan/allprint 10 shows it)\n",
      );
      // An access port of VLAN 10: the VLAN cannot go, nor can delport take the port out; 1098 says why.
      const held = await term([
        mgmt,
        "-c",
        "port/create 7",
        "-c",
        "port/setvlan 7 10",
        "-c",
        "vlan/remove 10",
      ]);
      assert.equal(held.code, 1);
      assert.equal(
        held.stderr,
        "vde: vlan/remove 10: 1098 Address already in use (VLAN 10 still has ports, which vlan/allprint 10 " +
          "lists: vlan/delport 10 PORT takes a trunk out, port/setvlan PORT 0 an access port)\n",
      );
      const untagged = await term([mgmt, "-c", "vlan/delport 10 7"]);
      assert.match(
        untagged.stderr,
        /1098 Address already in use \(VLAN 10 is port 7's untagged VLAN, .*port\/setvlan 7 0 /,
      );
      assert.equal((await term([mgmt, "-c", "port/setvlan 7 0", "-c", "port/remove 7"])).code, 0);
      if (kind === "ours") {
        const router = await term([mgmt, "-c", "mcast/snooping 1", "-c", "mcast/router 5 1"]);
        assert.equal(router.code, 1);
        assert.equal(
          router.stderr,
          "vde: mcast/router 5 1: no port 5 yet: it is there once something plugs in, or after port/create 5; " +
            "`ports all` lists the ports\n",
        );
        // The port is there now, snooping is not: the switch says which, and what to type.
        const off = await term([
          mgmt,
          "-c",
          "mcast/snooping 0",
          "-c",
          "port/create 5",
          "-c",
          "mcast/router 5 1",
        ]);
        assert.equal(off.code, 1);
        assert.equal(
          off.stderr,
          "vde: mcast/router 5 1: snooping is off: type mcast/snooping 1 first, or start the switch with " +
            "--mcast-snooping\n",
        );
      }
    });
  });

  Deno.test(`vde term shows ports, macs and hub tables for ${name}`, async (t) => {
    if (
      skipUnless(
        t,
        !(await hasCommand("vde_plug"))
          ? "needs vde_plug (package vdeplug)"
          : kind === "c" && !(await hasCommand("vde_switch"))
          ? "needs vde_switch (package vde-switch)"
          : null,
      )
    ) return;
    await withMgmtSwitch(kind, async (mgmt, dir) => {
      const clients = new ClientSet();
      try {
        const a = clients.vdePlug(`${dir}[1]`, ["-D", "plug A"]);
        const b = clients.vdePlug(`${dir}[2]`, ["-D", "plug B"]);
        await waitForPortFiles(dir, 2);
        await a.send(ethFrame(BROADCAST, mac(0xa), 1));
        await b.waitTag(1);
        const r = await term([mgmt, "-c", "ports", "-c", "macs", "-c", "hub on", "-c", "hub"]);
        assert.equal(r.code, 0, r.stderr);
        const lines = r.stdout.split("\n");
        assert.match(
          lines[0]!,
          /^PORT {2}STATE {3}VLAN {2}USER {2}IN PKTS {2}IN BYTES {2}OUT PKTS {2}OUT BYTES {2}(DROPS {2})?ENDPOINTS$/,
        );
        assert.match(r.stdout, /\n {3}1 {2}active +0 {2}root +1 +64 +0 +0 .*plug A/);
        assert.match(r.stdout, /\nMAC +VLAN {2}PORT {2}AGE {2}ON\n02:00:00:00:00:0a +0 +1 +\d+s {2}plug A/);
        assert.match(r.stdout, /hub mode is on\nhub mode is on\n$/);
      } finally {
        await clients.stopAll();
      }
    });
  });
}

Deno.test("vde term reads commands from a piped stdin", async () => {
  await withMgmtSwitch("ours", async (mgmt) => {
    const r = await term([mgmt], "port/showinfo\n\n# a comment\nhub\n");
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "Numports=32\nHUB=false\ncounters=true\nhub mode is off\n");
  });
});

/** `vde term MGMT` on a piped stdin held open, as a monitor runs it (`(...; sleep infinity) | vde term`). */
function heldOpenTerm(mgmt: string) {
  const child = new Deno.Command(ourCli()[0]!, {
    args: [...ourCli().slice(1), "term", mgmt],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stdin = child.stdin.getWriter();
  let out = "";
  const reading = (async () => {
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) out += chunk;
  })();
  const err = new Response(child.stderr).text();
  return {
    out: () => out,
    err,
    write: (text: string) => stdin.write(new TextEncoder().encode(text)),
    /** Its exit status, the test failing when it still runs 20 s on (`what` happened meanwhile). */
    async exited(what: string): Promise<Deno.CommandStatus> {
      const status = await Promise.race([
        child.status,
        new Promise<null>((r) => setTimeout(() => r(null), 20_000)),
      ]);
      assert.notEqual(status, null, `vde term still runs 20 s after ${what}`);
      await reading;
      return status!;
    },
    /** Ends its input, as a script's end does; its exit status once it exits. */
    async endInput(): Promise<Deno.CommandStatus> {
      await stdin.close().catch(() => {});
      await reading;
      return await child.status;
    },
    /** Ends it however it stands. */
    async stop(): Promise<void> {
      await stdin.close().catch(() => {});
      try {
        child.kill();
      } catch { /* exited */ }
      await child.status;
      await reading;
    },
  };
}

Deno.test("vde term on a piped stdin held open prints the switch's debug events after debug/add, one line each, as clients come and go", async () => {
  await withMgmtSwitch("ours", async (mgmt, dir) => {
    const term = heldOpenTerm(mgmt);
    const clients = new ClientSet();
    const out = term.out;
    const listings = () => out().split("Numports=").length - 1;
    let early: RawClient | undefined;
    let status: Deno.CommandStatus;
    try {
      // A script that asked for no events gets none: this client's join (port 5) is never printed.
      early = await RawClient.open(dir, 5);
      await term.write("port/showinfo\n");
      await waitFor(() => listings() === 1, { timeoutMs: 15_000, what: "the first listing" });
      await term.write("debug/add port/ep/+\ndebug/add port/ep/-\nport/showinfo\n");
      // The listing of the last command says the two before it are in force.
      await waitFor(() => listings() === 2, { timeoutMs: 15_000, what: "port/showinfo's listing" });
      await clients.raw(dir);
      await waitFor(() => /^3031 port\/ep\/\+ Port 01 FD +\d+$/m.test(out()), {
        timeoutMs: 15_000,
        what: "port/ep/+",
      });
      await clients.stopAll();
      await waitFor(() => /^3032 port\/ep\/- Port 01 FD +\d+$/m.test(out()), {
        timeoutMs: 15_000,
        what: "port/ep/-",
      });
    } finally {
      await clients.stopAll();
      status = await term.endInput();
      await early?.close(); // once vde term is gone: its leaving is no event of this test's
    }
    assert.equal(status.code, 0, await term.err);
    assert.deepEqual(out().split("\n").filter((l) => l.startsWith("303")).map((l) => l.slice(0, 25)), [
      "3031 port/ep/+ Port 01 FD",
      "3032 port/ep/- Port 01 FD",
    ]);
  });
});

Deno.test("vde term on a piped stdin held open says a switch that stops under it and exits 1, not waiting on in silence", async () => {
  await withMgmtSwitch("ours", async (mgmt, _dir, sw) => {
    const term = heldOpenTerm(mgmt);
    try {
      await term.write("debug/add port/ep/+\nhub\n");
      await waitFor(() => /hub mode is off/.test(term.out()), { timeoutMs: 15_000, what: "hub's answer" });
      // A monitor's stdin stays open: the switch stopping is what ends it.
      await sw.stop();
      assert.equal((await term.exited("its switch stopped")).code, 1);
      assert.equal(await term.err, `vde: ${mgmt} closed the connection (the switch or lab stopped)\n`);
    } finally {
      await term.stop();
    }
  });
});

Deno.test("vde term on a piped stdin that says shutdown and stays open ends with status 0 once the switch is gone", async () => {
  await withMgmtSwitch("ours", async (mgmt) => {
    const term = heldOpenTerm(mgmt);
    try {
      await term.write("shutdown\n");
      assert.equal((await term.exited("its shutdown")).code, 0, await term.err);
    } finally {
      await term.stop();
    }
  });
});

Deno.test("vde term -c watch says watch is for a terminal and what a script reads instead", async () => {
  await withMgmtSwitch("ours", async (mgmt) => {
    const r = await term([mgmt, "-c", "watch 2"]);
    assert.equal(r.code, 1);
    assert.equal(
      r.stderr,
      "vde: watch 2: 1038 Function not implemented (watch redraws at a terminal: run vde term without -c and type it; a script reads ports)\n",
    );
  });
});

Deno.test("vde term -c load of a named pipe nobody writes says so, not a bare 1110 Connection timed out", async () => {
  await withMgmtSwitch("ours", async (mgmt) => {
    const dir = await Deno.makeTempDir({ prefix: "vde-term-pipe-" });
    try {
      await run(["mkfifo", `${dir}/rc`]);
      const r = await term([mgmt, "-c", `load ${dir}/rc`]);
      assert.equal(r.code, 1);
      assert.equal(
        r.stderr,
        `vde: load ${dir}/rc: 1110 Connection timed out (a named pipe that nobody opened for writing within 5 s)\n`,
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
});

Deno.test("vde term -c load of a script others may write says which and the chmod that fixes it, in the switch's words, not a bare 1001 Operation not permitted", async () => {
  await withMgmtSwitch("ours", async (mgmt) => {
    const dir = await Deno.makeTempDir({ prefix: "vde-term-rc-" });
    try {
      await Deno.writeTextFile(`${dir}/open.rc`, "help\n");
      await Deno.chmod(`${dir}/open.rc`, 0o666);
      await Deno.mkdir(`${dir}/shared`);
      await Deno.chmod(`${dir}/shared`, 0o777);
      await Deno.writeTextFile(`${dir}/shared/sw.rc`, "help\n");
      let r = await term([mgmt, "-c", `load ${dir}/open.rc`]);
      assert.equal(r.code, 1);
      assert.equal(
        r.stderr,
        `vde: load ${dir}/open.rc: anyone may write it (mode 0666), and its lines ` +
          `would run as ours: chmod go-w ${dir}/open.rc\n`,
      );
      r = await term([mgmt, "-c", `load ${dir}/shared/sw.rc`]);
      assert.equal(r.code, 1);
      assert.match(
        r.stderr,
        new RegExp(`a directory anyone may write \\(mode 0777\\).*: chmod o-w ${dir}/shared`),
      );
      // Once narrowed as said, it loads.
      await Deno.chmod(`${dir}/open.rc`, 0o644);
      assert.equal((await term([mgmt, "-c", `load ${dir}/open.rc`])).code, 0);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
});

for (const kind of ["ours", "c"] as const) {
  Deno.test(`vde term on a hub:// node's directory (${kind === "c" ? "Debian's vde_plug" : "vde plug"}) says it is a node, which has no console, not 'restart it with --mgmt'`, async (t) => {
    if (kind === "c" && await skipWithout(t, { vde_plug: "vdeplug" })) return;
    const tmp = await Deno.makeTempDir({ prefix: "vde-term-node-" });
    const program = kind === "c" ? ["vde_plug"] : [...ourCli(), "plug"];
    const node = spawnManaged([...program, "null://", `hub://${tmp}/hub`], { stdin: "piped" });
    try {
      await waitFor(
        async () => (await pathExists(`${tmp}/hub/ctl`, true)) && (await listens(`${tmp}/hub/ctl`)),
        {
          timeoutMs: 20_000,
          what: "the hub's ctl",
        },
      );
      const r = await term([`${tmp}/hub`, "-c", "ports"]);
      assert.equal(r.code, 1);
      assert.equal(
        r.stderr,
        `vde: ${tmp}/hub is served by a hub:// node (${
          kind === "c" ? "vde_plug" : "vde plug"
        }, pid ${node.pid}), ` +
          "which has no console, as vdeplug4's nodes have none: `vde term` the switch it joins, or serve a " +
          "switch there instead (vde switch --sock DIR)\n",
      );
    } finally {
      await node.stop();
      await Deno.remove(tmp, { recursive: true });
    }
  });
}

Deno.test("vde term says why when nothing listens on the socket", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "vde-term-" });
  try {
    const r = await term([`${tmp}/nothing`, "-c", "help"]);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /^vde: cannot open the management socket .*nothing: no such socket, switch directory or running lab \(is the switch running\? /,
    );
    // A file that is no socket is not a switch that stopped.
    await Deno.writeTextFile(`${tmp}/file`, "");
    const file = await term([`${tmp}/file`, "-c", "help"]);
    assert.equal(file.code, 1);
    assert.equal(
      file.stderr,
      `vde: ${tmp}/file is a file, not a management socket (vde switch serves DIR/mgmt, vde_switch -M PATH)\n`,
    );
    // A FIFO nobody writes is read as vde up reads a lab file, without waiting on it: once, it hung vde term.
    await new Deno.Command("mkfifo", { args: [`${tmp}/fifo`] }).output();
    const fifo = await run([...ourCli(), "term", `${tmp}/fifo`, "-c", "help"], {
      check: false,
      timeoutMs: 10_000,
    });
    assert.equal(fifo.code, 1);
    assert.match(fifo.stderr, /fifo is a file, not a management socket/);
    // A lab file stands for its lab, as in vde status: one that is not up says so, with the line that starts it.
    const lab = `nu${Deno.pid}`;
    await Deno.writeTextFile(`${tmp}/lab.yaml`, `name: ${lab} # the lab\ntopology:\n  nodes: {}\n`);
    const labFile = await term([`${tmp}/lab.yaml`, "-c", "links"]);
    assert.equal(labFile.code, 1);
    assert.match(labFile.stderr, new RegExp(`; its lab ${lab} is not up \\(vde up ${tmp}/lab\\.yaml\\)\n$`));
    // A socket file left by a process killed while it served it (as a switch killed with SIGKILL leaves).
    const holder = new Deno.Command(Deno.execPath(), {
      args: [
        "eval",
        `Deno.listen({ transport: "unix", path: "${tmp}/stale" }); console.log("up"); setInterval(() => {}, 1000);`,
      ],
      stdout: "piped",
      stderr: "null",
    }).spawn();
    await holder.stdout.getReader().read();
    holder.kill("SIGKILL");
    await holder.status;
    await Deno.stat(`${tmp}/stale`);
    const refused = await term([`${tmp}/stale`, "-c", "help"]);
    assert.equal(refused.code, 1);
    assert.match(
      refused.stderr,
      /^vde: cannot open the management socket .*stale: nothing serves it \(the switch that made it has stopped\)\n$/,
    );
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

/** What names the switch in `dir`: the directory, its ctl, and the switch as a plug names it (any VNL form). */
function namesOfSwitch(dir: string): string[] {
  return [
    dir,
    `${dir}/`,
    `${dir}/ctl`,
    `vde://${dir}`,
    `vde://${dir}[3]`,
    `vde://${dir}[port=3]`,
    `${dir}[3]`,
  ];
}

Deno.test("vde term DIR reaches the management socket every switch serves in its socket directory", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "vde-term-" });
  const sw = await startOurSwitch(`${tmp}/net`);
  try {
    await waitForPath(`${tmp}/net/mgmt`, 20_000, true);
    const st = await Deno.stat(`${tmp}/net/mgmt`);
    assert.equal(st.mode! & 0o777, 0o600, "mode as --mgmtmode's default");
    for (const path of namesOfSwitch(`${tmp}/net`)) {
      const r = await term([path, "-c", "port/showinfo"]);
      assert.equal(r.code, 0, `${path}: ${r.stderr}`);
      assert.equal(r.stdout, "Numports=32\nHUB=false\ncounters=true\n");
    }
    const help = await term([`${tmp}/net`, "-c", "? port/print"]);
    assert.match(help.stdout, /^port\/print +\[N\] /m, "? is help");
  } finally {
    await sw.stop();
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("vde term on a switch directory without a management socket says how to start one", async (t) => {
  if (skipUnless(t, (await hasCommand("vde_switch")) ? null : "needs vde_switch (package vde-switch)")) {
    return;
  }
  const tmp = await Deno.makeTempDir({ prefix: "vde-term-" });
  const sw = await startCSwitch(`${tmp}/net`);
  try {
    const r = await term([`${tmp}/net`, "-c", "help"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^vde: .*\/net is a switch's socket directory without a management socket: /);
    assert.match(
      r.stderr,
      /if the switch was started with --mgmt PATH \(vde_switch: -M PATH\), run `vde term PATH`/,
    );
    const ctl = await term([`${tmp}/net/ctl`, "-c", "help"]);
    assert.equal(ctl.code, 1);
    assert.match(ctl.stderr, /ctl is the switch's data socket \(for vde_plug and QEMU\), not its console/);
  } finally {
    await sw.stop();
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("--mgmt PATH moves the management socket out of the socket directory", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "vde-term-" });
  const sw = await startOurSwitch(`${tmp}/net`, {
    extraArgs: ["--mgmt", `${tmp}/console`, "--mgmtmode", "640"],
  });
  try {
    await waitForPath(`${tmp}/console`, 20_000, true);
    assert.equal((await Deno.stat(`${tmp}/console`)).mode! & 0o777, 0o640);
    assert.equal(await pathExists(`${tmp}/net/mgmt`), false);
    assert.equal((await term([`${tmp}/console`, "-c", "port/showinfo"])).code, 0);
    const byDir = await term([`${tmp}/net`, "-c", "port/showinfo"]);
    assert.equal(byDir.code, 1);
    assert.match(
      byDir.stderr,
      /started with --mgmt PATH .*, run `vde term PATH`/,
      "the directory points at --mgmt",
    );
  } finally {
    await sw.stop();
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("vde term DIR finds the console at DIR.mgmt beside the directory, where labs put it", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "vde-term-" });
  const sw = await startOurSwitch(`${tmp}/net`, { extraArgs: ["--mgmt", `${tmp}/net.mgmt`] });
  try {
    await waitForPath(`${tmp}/net.mgmt`, 20_000, true);
    for (const path of namesOfSwitch(`${tmp}/net`)) {
      const r = await term([path, "-c", "showinfo"]);
      assert.equal(r.code, 0, `${path}: ${r.stderr}`);
      assert.match(r.stdout, new RegExp(`^mgmt ${tmp}/net\\.mgmt perm`, "m"), path);
    }
  } finally {
    await sw.stop();
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("vde term DIR.mgmt (vde2's habit) reaches a switch that serves its console inside, DIR/mgmt", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "vde-term-" });
  const sw = await startOurSwitch(`${tmp}/net`);
  try {
    await waitForPath(`${tmp}/net/mgmt`, 20_000, true);
    const r = await term([`${tmp}/net.mgmt`, "-c", "showinfo"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^mgmt ${tmp}/net/mgmt perm`, "m"));
  } finally {
    await sw.stop();
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("vde term on another user's switch directory says it cannot look into it, not that it is no switch", async (t) => {
  if (skipUnlessRoot(t)) return;
  const tmp = await Deno.makeTempDir({ prefix: "vde-term-" });
  try {
    // A switch directory as vde_switch leaves it (2700) for a user nobody; root without
    // CAP_DAC_OVERRIDE sees it as any other user would.
    await Deno.mkdir(`${tmp}/net`, { mode: 0o700 });
    await Deno.chown(`${tmp}/net`, 65534, 65534);
    const r = await run(
      [
        ...AS_OTHER_USER,
        ...ourCli(),
        "term",
        `${tmp}/net`,
        "-c",
        "help",
      ],
      { check: false, timeoutMs: 30_000 },
    );
    assert.equal(r.code, 1);
    assert.equal(
      r.stderr,
      `vde: cannot look into ${tmp}/net: permission denied; run vde term as the switch's user (or root)\n`,
    );
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("vde term on a console shared with a group the user is not in says to be added to it, not to restart the switch", async (t) => {
  if (skipUnlessRoot(t)) return;
  const tmp = await Deno.makeTempDir({ prefix: "vde-term-group-" });
  const sw = await startOurSwitch(`${tmp}/net`, {
    extraArgs: ["--mgmt", `${tmp}/net.mgmt`, "--mgmtmode", "660", "--mgmtgroup", "daemon"],
  });
  try {
    await waitForPath(`${tmp}/net.mgmt`, 20_000, true);
    // Another user's switch (nobody's) whose console is shared with group daemon, which root is not in;
    // root without CAP_DAC_OVERRIDE meets its mode as that other user would.
    await Deno.chown(`${tmp}/net.mgmt`, 65534, null);
    const r = await run([...AS_OTHER_USER, ...ourCli(), "term", `${tmp}/net.mgmt`, "-c", "help"], {
      check: false,
      timeoutMs: 30_000,
    });
    assert.equal(r.code, 1);
    assert.equal(
      r.stderr,
      `vde: cannot open the management socket ${tmp}/net.mgmt: permission denied: it is group daemon's ` +
        "(owner nobody, mode 660), and root is not in daemon: ask its admin to add you (usermod -aG daemon root), " +
        "then log in again\n",
    );
  } finally {
    await sw.stop();
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("vde term on a switch directory shared with a group the user is not in says to be added to it, for DIR and DIR/mgmt", async (t) => {
  if (skipUnlessRoot(t)) return;
  const tmp = await Deno.makeTempDir({ prefix: "vde-term-groupdir-" });
  const shared = ["--mode", "660", "--group", "daemon", "--mgmtmode", "660", "--mgmtgroup", "daemon"];
  const sw = await startOurSwitch(`${tmp}/net`, { extraArgs: shared });
  try {
    await waitForPath(`${tmp}/net/mgmt`, 20_000, true);
    // nobody's switch, its directory and console shared with group daemon, which root is not in; root
    // without CAP_DAC_OVERRIDE meets their modes as that other user would.
    for (const path of [`${tmp}/net`, `${tmp}/net/mgmt`]) await Deno.chown(path, 65534, null);
    const refusals = [
      [`${tmp}/net`, "cannot look into"],
      [`${tmp}/net/mgmt`, "cannot open the management socket"],
    ] as const;
    for (const [given, line] of refusals) {
      const r = await run([...AS_OTHER_USER, ...ourCli(), "term", given, "-c", "help"], {
        check: false,
        timeoutMs: 30_000,
      });
      assert.equal(r.code, 1);
      assert.match(
        r.stderr,
        new RegExp(
          `^vde: ${line} ${given}: permission denied: it is group daemon's \\(owner nobody, mode \\d+\\), and root ` +
            "is not in daemon: ask its admin to add you \\(usermod -aG daemon root\\), then log in again\\n$",
        ),
      );
    }
  } finally {
    await sw.stop();
    await Deno.remove(tmp, { recursive: true });
  }
});

const WIREFILTER_HAS = "a wirefilter's console has no ports or MACs: `showinfo` shows its impairments, " +
  "`counters` what each did, loss/delay/dup/bandwidth/... set them (`help` lists them)";

Deno.test("vde term -c on a wirefilter gives no made-up usage for commands whose help shows no syntax", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-term-wf-" });
  const mgmt = `${dir}/wf.mgmt`;
  const started = await run([...ourCli(), "wirefilter", "null://", "null://", "--mgmt", mgmt, "--daemon"], {
    check: false,
    timeoutMs: 30_000,
  });
  try {
    assert.equal(started.code, 0, started.stderr);
    const loss = await term([mgmt, "-c", "loss abc"]);
    assert.equal(loss.code, 1);
    assert.equal(
      loss.stderr,
      'vde: loss abc: expected a number, found "abc"\n',
      "loss takes a value: no 'takes no arguments'; the filter's own words",
    );
    const markov = await term([mgmt, "-c", "markov-numnodes x"]);
    assert.equal(markov.stderr, "vde: markov-numnodes x: 1022 Invalid argument (usage: markov-numnodes n)\n");
    // vde term's hub/ports/macs for a C switch: a wirefilter has none, whatever the words after them, and
    // says what it has.
    for (const line of ["hub maybe", "ports foo", "macs", "ports"]) {
      assert.equal(
        (await term([mgmt, "-c", line])).stderr,
        `vde: ${line}: 1038 Function not implemented (${WIREFILTER_HAS})\n`,
        line,
      );
    }
  } finally {
    await term([mgmt, "-c", "shutdown"]);
    await Deno.remove(dir, { recursive: true });
  }
});

for (const kind of ["ours", "c"] as const) {
  const name = kind === "c" ? "Debian's wirefilter" : "our wirefilter";
  Deno.test(`vde term -c shutdown on ${name} returns once it has exited, status 0`, async (t) => {
    if (kind === "c" && await skipWithout(t, { wirefilter: "vde-wirefilter" })) return;
    await withMgmtSwitch("ours", async (_switchMgmt, dir) => {
      const mgmt = `${dir}.wf`;
      // Its showinfo names no pid, and Debian's answers shutdown by hanging up, with no reply.
      const filter = spawnManaged(
        [...(kind === "c" ? ["wirefilter"] : [...ourCli(), "wirefilter"]), "-v", `${dir}:${dir}`, "-M", mgmt],
        { stdin: "piped" },
      );
      try {
        await waitFor(async () => (await pathExists(mgmt, true)) && (await listens(mgmt)), {
          timeoutMs: 20_000,
          what: "the wirefilter's management socket",
        });
        const r = await term([mgmt, "-c", "shutdown"]);
        assert.equal(r.code, 0, r.stderr);
        assert.equal(processAlive(filter.pid), false, "the wirefilter has exited when vde term returns");
      } finally {
        await filter.stop();
        await Deno.remove(mgmt).catch(() => {});
      }
    });
  });
}

/** A relay of one unix socket to another (as `ssh -L` or socat would be), in no vde program's name. */
const RELAY = `
import os, socket, threading
def pump(a, b):
    try:
        while True:
            data = a.recv(4096)
            if not data:
                break
            b.sendall(data)
    except OSError:
        pass
    for s in (a, b):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
server = socket.socket(socket.AF_UNIX)
server.bind(os.environ["RELAY_FROM"])
server.listen(4)
while True:
    client, _ = server.accept()
    far = socket.socket(socket.AF_UNIX)
    far.connect(os.environ["RELAY_TO"])
    threading.Thread(target=pump, args=(client, far), daemon=True).start()
    threading.Thread(target=pump, args=(far, client), daemon=True).start()
`;

Deno.test("vde term -c shutdown through a relay (ssh -L, socat) returns once answered: the relay, which stays, is not waited for", async (t) => {
  if (await skipWithout(t, { python3: "python3" })) return;
  await withMgmtSwitch("ours", async (mgmt, dir, sw) => {
    const relayed = `${dir}.relayed`;
    const relay = spawnManaged(["python3", "-c", RELAY], { env: { RELAY_FROM: relayed, RELAY_TO: mgmt } });
    try {
      await waitFor(async () => (await pathExists(relayed, true)) && (await listens(relayed)), {
        timeoutMs: 20_000,
        what: "the relay's socket",
      });
      const r = await term([relayed, "-c", "shutdown", "--timeout", "5"]);
      assert.equal(r.code, 0, r.stderr);
      await waitFor(() => !processAlive(sw.pid), { timeoutMs: 10_000, what: "the switch to exit" });
      assert.ok(processAlive(relay.pid), "the relay still runs, as ssh -L would");
    } finally {
      await relay.stop();
      await Deno.remove(relayed).catch(() => {});
    }
  });
});

Deno.test("vde term without PATH opens the console of the switch vde switch serves without --sock", () => {
  const term = buildProgram([termCommand]).commands.find((c) => c.name() === "term")!;
  const [path] = term.registeredArguments;
  assert.equal(path?.required, false);
  assert.equal(path?.defaultValue, defaultSock());
  assert.equal(defaultSock(), Deno.uid() === 0 ? "/var/run/vde.ctl" : "/tmp/vde.ctl");
});

Deno.test("vde term -c hub on (a command the shell split) says to quote it, with the line to type", async () => {
  const split = await term(["/tmp/u15-none", "-c", "port/print", "1", "-c", "macs"]);
  assert.equal(split.code, 1);
  assert.equal(
    split.stderr,
    "vde: too many arguments for 'term': -c takes one command: quote it with its arguments, -c 'port/print 1'\n" +
      "(run with --help for usage)\n",
  );
  const noFlag = await term(["/tmp/u15-none", "hub", "on"]);
  assert.equal(noFlag.code, 1);
  assert.match(
    noFlag.stderr,
    /^vde: too many arguments for 'term': console commands go after -c, quoted with their arguments: vde term \/tmp\/u15-none -c 'hub on'\n/,
  );
  // A quote or `$` in the words stays literal in the line to type: single quotes, a quote closed and escaped.
  const quoted = await term(["/tmp/u15-none", "-c", "port/setdescr", "1", "it's $HOME"]);
  assert.equal(quoted.code, 1);
  assert.match(quoted.stderr, /-c 'port\/setdescr 1 it'\\''s \$HOME'\n/);
});

Deno.test("vde term -s SOCK (unixcmd's spelling) is answered with the socket as the argument", async () => {
  assert.equal(
    withTermHint("vde: unknown option '-s'\n(run with --help for usage)\n"),
    "vde: unknown option '-s' (unixcmd's -s SOCK is the argument here: vde term SOCK -c 'port/print')\n" +
      "(run with --help for usage)\n",
  );
  assert.equal(withTermHint("vde: unknown option '-x'\n"), "vde: unknown option '-x'\n");
  const r = await term(["-s", "/tmp/vde-no-such-switch", "-c", "port/print"]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^vde: unknown option '-s' \(unixcmd's -s SOCK is the argument here/);
});

Deno.test("vde term takes every vde:// form vde plug takes as its switch's directory, and refuses a bad one in a line", () => {
  const cases: [string, string | undefined][] = [
    ["vde:///tmp/net", "/tmp/net"],
    ["vde:///tmp/net[3]", "/tmp/net"],
    ["vde:///tmp/net[port=3]", "/tmp/net"],
    ["vde:///tmp/net[p=3/mode=660]", "/tmp/net"],
    ["vde:///tmp/net[]", "/tmp/net"],
    ["/tmp/vde-term-no-such-net[port=3]", "/tmp/vde-term-no-such-net"],
    // Not a plug's VNL: left to the rest of the lookup.
    ["/tmp/net", undefined],
    ["sw1", undefined],
  ];
  for (const [path, dir] of cases) assert.equal(plugSwitchDir(path), dir, path);
  for (const bad of ["vde:///tmp/net[port=x]", "vde:///tmp/net[colour=red]", "vde:///tmp/net[3"]) {
    assert.throws(
      () => plugSwitchDir(bad),
      (e: Error) => e.message.startsWith(`${bad}: `) && !e.message.includes("\n"),
    );
  }
});
