/**
 * The switch's console on a non-terminal stdin, its startup script, and
 * the management socket options, with `vde switch` as its own process.
 */
import assert from "node:assert/strict";
import { sleep, spawnManaged, waitFor } from "../../helpers/processes.ts";
import { ourSwitchCommand } from "../../helpers/switches.ts";
import { RawClient, until, waitUntilAccepting, waitUntilSocketAccepts } from "../../helpers/vde_clients.ts";
import { rogueBpdu } from "../_helpers.ts";
import { MgmtClient } from "../../../src/console/client.ts";

async function withTmp(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "vde-stdin-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

function ourSwitch(dir: string, extra: string[], stdin: "null" | "piped") {
  const { cmd } = ourSwitchCommand(`${dir}/sw`, { extraArgs: extra });
  return spawnManaged(cmd, { name: "our switch", stdin });
}

Deno.test("commands on a piped stdin are answered on stdout in vde_switch's format, and EOF keeps the switch up", async () => {
  await withTmp(async (dir) => {
    const sw = ourSwitch(dir, [], "piped");
    try {
      await waitUntilAccepting(`${dir}/sw`, 20_000);
      await sw.write("port/showinfo\nfoo\n\nport/print 99\n");
      await sw.waitForOutput(/1022 Invalid argument\n/, 10_000);
      assert.equal(
        sw.stdout,
        "0000 DATA END WITH '.'\nNumports=32\nHUB=false\ncounters=true\n.\n1000 Success\n" +
          "1038 Function not implemented\n" +
          "0000 DATA END WITH '.'\n.\n1022 Invalid argument\n",
      );
      await sw.closeStdin();
      await sleep(1000);
      assert.equal(sw.exitStatus, null, "EOF on a non-terminal stdin does not stop the switch");
      await waitUntilAccepting(`${dir}/sw`, 5000);
    } finally {
      await sw.stop();
    }
  });
});

Deno.test("shutdown on stdin stops the switch cleanly", async () => {
  await withTmp(async (dir) => {
    const sw = ourSwitch(dir, [], "piped");
    try {
      await waitUntilAccepting(`${dir}/sw`, 20_000);
      await sw.write("shutdownx\nshutdown\n");
      const status = await Promise.race([sw.status, sleep(10_000).then(() => null)]);
      assert.notEqual(status, null, "the switch exited");
      assert.equal(status!.code, 0);
      assert.equal(sw.stdout, "1038 Function not implemented\n9999 END OF SESSION\n");
      assert.match(sw.stderr, /shutdown from the console, cleaning up and exiting/);
      assert.equal(await Deno.lstat(`${dir}/sw/ctl`).then(() => true, () => false), false, "ctl removed");
    } finally {
      await sw.stop();
    }
  });
});

Deno.test("a switch started with stdin at /dev/null and --mgmt stays up and serves the socket", async () => {
  await withTmp(async (dir) => {
    const sw = ourSwitch(dir, ["--mgmt", `${dir}/mgmt`, "--mgmtmode", "660"], "null");
    try {
      await waitUntilAccepting(`${dir}/sw`, 20_000);
      await sleep(500);
      assert.equal(sw.exitStatus, null);
      assert.equal((await Deno.lstat(`${dir}/mgmt`)).mode! & 0o777, 0o660);
      const client = await MgmtClient.connect(`${dir}/mgmt`);
      try {
        const info = await client.command("showinfo");
        assert.equal(info.lines!.at(-1), `mgmt ${dir}/mgmt perm 0660`);
      } finally {
        client.close();
      }
    } finally {
      await sw.stop();
    }
    assert.equal(
      await Deno.lstat(`${dir}/mgmt`).then(() => true, () => false),
      false,
      "socket removed at exit",
    );
  });
});

Deno.test("--rc runs a command file before clients arrive and logs failing lines", async () => {
  await withTmp(async (dir) => {
    await Deno.writeTextFile(
      `${dir}/switch.rc`,
      "# configure\nport/create 7\nport/sethub 1\nbogus\n\nvlan/create 10\nport/setvlan 7 10\n",
    );
    // vde_switch's spelling: -rcfile (getopt_long_only) and -mgmt.
    const sw = ourSwitch(dir, ["-rcfile", `${dir}/switch.rc`, "-mgmt", `${dir}/mgmt`], "null");
    try {
      await waitUntilAccepting(`${dir}/sw`, 20_000);
      await waitUntilSocketAccepts(`${dir}/mgmt`, 5000);
      const client = await MgmtClient.connect(`${dir}/mgmt`);
      try {
        assert.deepEqual((await client.command("port/showinfo")).lines, [
          "Numports=32",
          "HUB=true",
          "counters=true",
        ]);
        assert.match(
          (await client.command("port/allprint 7")).lines![0]!,
          /^Port 0007 untagged_vlan=0010 INACTIVE - NOT/,
        );
      } finally {
        client.close();
      }
      assert.match(sw.stderr, new RegExp(`switch\\.rc:4: bogus: 1038 Function not implemented`));
    } finally {
      await sw.stop();
    }
  });
});

Deno.test("an unreadable --rc file is a start-up error", async () => {
  await withTmp(async (dir) => {
    const sw = ourSwitch(dir, ["--rc", `${dir}/missing.rc`], "null");
    try {
      const status = await Promise.race([sw.status, sleep(20_000).then(() => null)]);
      assert.notEqual(status, null);
      assert.equal(status!.code, 1);
      assert.match(sw.stderr, /cannot read the startup script .*missing\.rc: No such file or directory/);
    } finally {
      await sw.stop();
    }
  });
});

Deno.test("a second switch cannot take over a live management socket", async () => {
  await withTmp(async (dir) => {
    const first = ourSwitch(dir, ["--mgmt", `${dir}/mgmt`], "null");
    try {
      await waitUntilAccepting(`${dir}/sw`, 20_000);
      await waitUntilSocketAccepts(`${dir}/mgmt`, 5000);
      const { cmd } = ourSwitchCommand(`${dir}/sw2`, { extraArgs: ["--mgmt", `${dir}/mgmt`] });
      const second = spawnManaged(cmd, { name: "second switch" });
      try {
        const status = await Promise.race([second.status, sleep(20_000).then(() => null)]);
        assert.equal(status?.code, 1);
        assert.match(second.stderr, /already serves the management socket/);
      } finally {
        await second.stop();
      }
      const client = await MgmtClient.connect(`${dir}/mgmt`);
      client.close();
    } finally {
      await first.stop();
    }
  });
});

Deno.test("a --daemon switch with --mgmt answers as soon as the command returns, and stops on shutdown", async () => {
  await withTmp(async (dir) => {
    const { cmd } = ourSwitchCommand(`${dir}/sw`, {
      extraArgs: ["--daemon", "--mgmt", `${dir}/mgmt`, "--pidfile", `${dir}/pid`],
    });
    const started = await new Deno.Command(cmd[0]!, {
      args: cmd.slice(1),
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    })
      .output();
    assert.equal(started.code, 0, new TextDecoder().decode(started.stderr));
    const pid = Number((await Deno.readTextFile(`${dir}/pid`)).trim());
    try {
      const client = await MgmtClient.connect(`${dir}/mgmt`);
      try {
        assert.equal((await client.command("port/showinfo")).code, 0);
        assert.equal((await client.command("shutdown")).endSession, true);
      } finally {
        client.close();
      }
      await waitFor(() => Deno.lstat(`${dir}/pid`).then(() => false, () => true), {
        timeoutMs: 10_000,
        what: "the daemon to exit and remove its pid file",
      });
      assert.equal(await Deno.lstat(`${dir}/mgmt`).then(() => true, () => false), false);
    } finally {
      // Only while its pid file says it still runs: never signal a recycled pid.
      if (await Deno.lstat(`${dir}/pid`).then(() => true, () => false)) {
        try {
          Deno.kill(pid, "SIGKILL");
        } catch { /* exited */ }
      }
    }
  });
});

Deno.test("--rc sets BPDU guard and root guard, before and after fstp/setfstp 1; a BPDU then trips the guard", async () => {
  await withTmp(async (dir) => {
    await Deno.writeTextFile(
      `${dir}/switch.rc`,
      "stp/setguard 3 1\nstp/setrootblock 4 1\nfstp/setfstp 1\nstp/setguard 5 1\nstp/setrootblock 5 1\n",
    );
    const sw = ourSwitch(dir, ["--rc", `${dir}/switch.rc`, "--mgmt", `${dir}/mgmt`], "null");
    const clients: RawClient[] = [];
    try {
      await waitUntilAccepting(`${dir}/sw`, 20_000);
      await waitUntilSocketAccepts(`${dir}/mgmt`, 5000);
      for (const port of [3, 4, 5]) clients.push(await RawClient.open(`${dir}/sw`, port));
      const client = await MgmtClient.connect(`${dir}/mgmt`);
      try {
        const guards = async () =>
          ((await client.command("stp")).lines ?? []).flatMap((l) => {
            const m = /^\s+(\d+)\s.*\s(-|bpdu\(\d\)|root\(\d\)|bpdu\(\d\),root\(\d\))\s+\d+\s+\d+\s+\d+$/
              .exec(l);
            return m === null ? [] : [`${m[1]} ${m[2]}`];
          });
        await until("the clients' ports in the tree", async () => (await guards()).length === 3);
        assert.deepEqual(await guards(), ["3 bpdu(0)", "4 root(0)", "5 bpdu(0),root(0)"]);
        clients[0]!.send(rogueBpdu());
        await until(
          "the guard trips",
          async () => (await client.command("port/print 3")).lines!.join("\n").includes("trips 1"),
        );
        assert.deepEqual(await guards(), ["3 bpdu(1)", "4 root(0)", "5 bpdu(0),root(0)"]);
      } finally {
        client.close();
      }
      assert.doesNotMatch(sw.stderr, /switch\.rc:\d/, "every rc line ran");
    } finally {
      for (const c of clients) await c.close();
      await sw.stop();
    }
  });
});
