/**
 * What goes wrong with labs: a bad file creates nothing, a failure halfway
 * rolls back, and a `vde up` killed with SIGKILL (or stopped with SIGTERM)
 * leaves nothing once `vde down` has run (or by itself).
 */
import assert from "node:assert/strict";
import { run, skipUnlessRoot, spawnManaged, waitFor } from "../helpers/processes.ts";
import { labDir } from "../../src/lab/names.ts";
import { startOurSwitch } from "../helpers/switches.ts";
import { readState } from "../../src/lab/state.ts";
import {
  FIVE_MISTAKES,
  forceDown,
  leftovers,
  ONE_SWITCH,
  pingCount,
  TWO_HOSTS,
  TWO_SWITCHES,
  vde,
  vdeCommand,
  withLabFile,
  withLabUp,
} from "./_helpers.ts";

Deno.test("vde up of a file with five mistakes prints five FILE:LINE:COL lines and creates nothing", async (t) => {
  if (skipUnlessRoot(t)) return;
  await withLabFile({ text: FIVE_MISTAKES }, async (name, file) => {
    const r = await vde(["up", file]);
    assert.equal(r.code, 1);
    const located = r.stderr.split("\n").filter((l) => l.startsWith(`${file}:`));
    assert.equal(located.length, 5, r.stderr);
    for (const line of located) assert.match(line, /^\S+:\d+:\d+: \S/);
    assert.match(r.stderr, /5 errors in .*; nothing was created/);
    assert.deepEqual(await leftovers(name), []);
  });
});

Deno.test("vde up with a missing rc file names it at its FILE:LINE:COL, beside the lab file, and creates nothing", async (t) => {
  if (skipUnlessRoot(t)) return;
  const text = TWO_HOSTS.replace(
    "sw1: { kind: switch, ports: 4 }",
    "sw1: { kind: switch, ports: 4, rc: sw1.rc }",
  );
  await withLabFile({ text }, async (name, file) => {
    // Run from elsewhere: the rc file is looked for beside the lab file, as bring-up does.
    const r = await run([...vdeCommand(), "up", file], { cwd: "/", check: false, timeoutMs: 60_000 });
    assert.equal(r.code, 1);
    const dir = file.slice(0, file.lastIndexOf("/"));
    assert.equal(
      r.stderr,
      `${file}:4:40: sw1: rc: cannot read the startup script ${dir}/sw1.rc: no such file\n` +
        `vde: 1 error in ${file}; nothing was created\n`,
    );
    assert.deepEqual(await leftovers(name), []);
  });
});

Deno.test("vde up of a lab whose cable key is /dev/zero names it at its FILE:LINE:COL and creates nothing", async (t) => {
  if (skipUnlessRoot(t)) return;
  const text = TWO_HOSTS.replace(
    "  links:\n",
    "    wan: { kind: cable, listen: 0, key: /dev/zero }\n  links:\n",
  )
    .replace("  links:\n", "  links:\n    - endpoints: [wan, sw1]\n");
  await withLabFile({ text }, async (name, file) => {
    const r = await vde(["up", file]);
    assert.equal(r.code, 1);
    assert.equal(
      r.stderr,
      `${file}:7:41: wan: key: cannot read key file /dev/zero: it is a character device, not a regular file\n` +
        `vde: 1 error in ${file}; nothing was created\n`,
    );
    assert.deepEqual(await leftovers(name), []);
  });
});

Deno.test("a failure halfway through vde up (a tap name already taken) rolls back everything made", async (t) => {
  if (skipUnlessRoot(t)) return;
  await withLabFile({ text: TWO_HOSTS }, async (name, file) => {
    const taken = `${name}-h2-0`;
    await run(["ip", "tuntap", "add", taken, "mode", "tap"]);
    try {
      // In the background too, the error is the one line a foreground start prints.
      for (const args of [["up", file], ["up", "-d", file]]) {
        const r = await vde(args);
        assert.equal(r.code, 1, r.stdout);
        assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
        assert.match(r.stderr, new RegExp(`cannot create tap ${taken} for h2:eth0: the name is taken`));
        assert.match(r.stderr, /everything made was taken down/);
      }
    } finally {
      await run(["ip", "link", "del", taken], { check: false });
    }
    assert.deepEqual(await leftovers(name), []);
  });
});

Deno.test("a failed vde up -d keeps the failed run's log and names it in its one line; the next vde up -d starts a fresh log", async (t) => {
  if (skipUnlessRoot(t)) return;
  await withLabFile({ text: TWO_HOSTS }, async (name, file) => {
    const log = `${labDir(name)}.log`;
    const taken = `${name}-h2-0`;
    await run(["ip", "tuntap", "add", taken, "mode", "tap"]);
    try {
      const failed = await vde(["up", "-d", file]);
      assert.equal(failed.code, 1, failed.stdout);
      assert.equal(failed.stderr.trim().split("\n").length, 1, failed.stderr);
      assert.match(
        failed.stderr,
        new RegExp(`cannot create tap ${taken} .*taken down\\); its log: ${log}\n$`),
      );
      // Why, as its last line: what a script shows.
      const kept = await Deno.readTextFile(log);
      assert.match(
        kept.trim().split("\n").at(-1)!,
        new RegExp(`vde up: lab ${name}: cannot create tap ${taken}`),
      );
    } finally {
      await run(["ip", "link", "del", taken], { check: false });
    }
    assert.deepEqual(await leftovers(name), []);
    const up = await vde(["up", "-d", file]);
    assert.equal(up.code, 0, up.stderr);
    assert.doesNotMatch(await Deno.readTextFile(log), /cannot create tap/, "the failed run's lines are gone");
  });
});

Deno.test("vde up where a host's namespace exists already says so and leaves that namespace alone", async (t) => {
  if (skipUnlessRoot(t)) return;
  await withLabFile({ text: TWO_HOSTS }, async (name, file) => {
    const ns = `vde-${name}-h2`;
    await run(["ip", "netns", "add", ns]);
    try {
      const r = await vde(["up", file]);
      assert.equal(r.code, 1, r.stdout);
      assert.match(
        r.stderr,
        new RegExp(
          `network namespace ${ns} for host h2 exists already: \`ip netns del ${ns}\` if nothing uses it`,
        ),
      );
      assert.ok(
        (await run(["ip", "netns", "list"])).stdout.includes(ns),
        "the namespace it did not make is kept",
      );
    } finally {
      await run(["ip", "netns", "del", ns], { check: false });
    }
    assert.deepEqual(await leftovers(name), []);
  });
});

Deno.test("vde up whose host's namespace is another lab's says which lab, and that lab keeps running", async (t) => {
  if (skipUnlessRoot(t)) return;
  // Lab NAME's host z-h2 and lab NAME-z's host h2 are both vde-NAME-z-h2.
  await withLabUp({ text: TWO_HOSTS.replaceAll("h2", "z-h2") }, async (name, file) => {
    const other = `${name}-z`;
    const second = file.replace(/lab\.yaml$/, "second.yaml");
    await Deno.writeTextFile(second, TWO_HOSTS);
    try {
      const r = await vde(["up", second, "--name", other]);
      assert.equal(r.code, 1, r.stdout);
      assert.match(r.stderr, new RegExp(`network namespace vde-${other}-h2 for host h2 is lab ${name}'s`));
      assert.match(r.stderr, /give this lab another name \(--name\) or rename the host/);
      assert.doesNotMatch(r.stderr, /ip netns del/);
      assert.equal((await vde(["status", name])).code, 0, "the first lab still runs");
      assert.equal(await pingCount(name, "h1", "10.9.0.2", 1), 1);
    } finally {
      await forceDown(other);
    }
  });
});

async function startForeground(file: string, name: string) {
  const up = spawnManaged([...vdeCommand(), "up", file], { name: "vde up" });
  await waitFor(async () => {
    if (up.exitStatus !== null) throw new Error(`vde up exited: ${up.stderr}`);
    return (await vde(["status", name])).code === 0 || undefined;
  }, { timeoutMs: 30_000, what: `lab ${name} up` });
  return up;
}

Deno.test("after kill -9 of vde up, vde status says dead and vde down removes everything", async (t) => {
  if (skipUnlessRoot(t)) return;
  await withLabFile({ text: TWO_HOSTS }, async (name, file) => {
    const up = await startForeground(file, name);
    assert.equal(await pingCount(name, "h1", "10.9.0.2", 2), 2);
    up.kill("SIGKILL");
    await up.status;
    const status = await vde(["status", name]);
    assert.equal(status.code, 1);
    assert.match(status.stderr, /is dead .* run `vde down/);
    assert.notDeepEqual(
      await leftovers(name),
      [],
      "a killed vde up leaves its namespaces (this test needs some)",
    );
    const down = await vde(["down", file]);
    assert.equal(down.code, 0, down.stderr);
    assert.deepEqual(await leftovers(name), []);
    const again = await vde(["down", name]);
    assert.equal(again.code, 0, "a second down finds nothing to take down, which is success");
    assert.match(again.stdout, new RegExp(`^no lab ${name} is up[^\\n]*: nothing to take down\\n$`));
  });
});

Deno.test("SIGTERM to vde up takes the lab down cleanly", async (t) => {
  if (skipUnlessRoot(t)) return;
  await withLabFile({ text: TWO_HOSTS }, async (name, file) => {
    const up = await startForeground(file, name);
    assert.match(up.stdout, /^LINK +STATE/m);
    up.kill("SIGTERM");
    const st = await up.status;
    assert.equal(st.code, 0, up.stderr);
    assert.deepEqual(await leftovers(name), []);
    await assert.rejects(Deno.stat(labDir(name)));
  });
});

Deno.test("vde up of a lab that is up says so in one line and leaves the running lab and its log alone", async (t) => {
  if (skipUnlessRoot(t)) return;
  await withLabUp({ text: ONE_SWITCH }, async (name, file) => {
    const log = `${labDir(name)}.log`;
    await Deno.writeTextFile(log, "the running lab's log\n", { append: true });
    for (const args of [["up", "-d", file], ["up", file]]) {
      const again = await vde(args);
      assert.equal(again.code, 1);
      const pid = readState(name)?.pid;
      assert.equal(
        again.stderr,
        `vde: lab ${name} is already up (pid ${pid}): \`vde status ${name}\`, \`vde down ${name}\`\n`,
      );
    }
    assert.match(await Deno.readTextFile(log), /the running lab's log/, "the running lab's log is kept");
    assert.equal((await vde(["status", name])).code, 0, "the first lab still runs");
  });
});

Deno.test("vde up of a running lab's edited file says each change the running lab does not follow in a line, and how to apply it", async (t) => {
  if (skipUnlessRoot(t)) return;
  await withLabUp({ text: TWO_SWITCHES }, async (name, file) => {
    const text = await Deno.readTextFile(file);
    await Deno.writeTextFile(
      file,
      text.replace("    sw2: { kind: switch, ports: 4 }\n", "    sw3: { kind: switch }\n").replace(
        "[sw1, sw2]",
        "[sw1, sw3]",
      ),
    );
    const pid = readState(name)?.pid;
    const again = await vde(["up", file]);
    assert.equal(again.code, 1);
    assert.equal(
      again.stderr,
      `vde: lab ${name} is already up (pid ${pid}) and differs from ${file} ` +
        "(the file was edited, or the lab changed from its shell):\n" +
        "  link sw1:1-sw2:1: removed from the file\n" +
        "  switch sw2: removed from the file\n" +
        "  switch sw3: added to the file\n" +
        "  link sw1:1-sw3:1: added to the file\n" +
        `\`vde up --apply ${file}\` makes the lab the file live, \`vde up -c ${file}\` takes the lab down ` +
        `and brings the file up; \`vde term ${name} -c 'save ${file}'\` writes the running lab to the file instead\n`,
    );
    assert.match(
      (await vde(["term", name, "-c", "nodes"])).stdout,
      /^sw2 /m,
      "the running lab is left alone",
    );
    const applied = await vde(["up", "-c", "-d", file]);
    assert.equal(applied.code, 0, applied.stderr);
    assert.match((await vde(["term", name, "-c", "nodes"])).stdout, /^sw3 /m, "vde up -c applies the edit");
  });
});

Deno.test("vde up of a file whose running lab changed from its shell says the lab differs, and that save keeps the change", async (t) => {
  if (skipUnlessRoot(t)) return;
  await withLabUp({ text: TWO_SWITCHES }, async (name, file) => {
    assert.equal((await vde(["term", name, "-c", "link sw1-sw2 delay 20ms"])).code, 0);
    const again = await vde(["up", file]);
    assert.equal(again.code, 1);
    assert.match(
      again.stderr,
      /differs from .* \(the file was edited, or the lab changed from its shell\):\n/,
    );
    assert.match(again.stderr, /^ {2}link sw1:1-sw2:1: delay 20ms -> none$/m);
    assert.ok(
      again.stderr.endsWith(
        `\`vde term ${name} -c 'save ${file}'\` writes the running lab to the file instead\n`,
      ),
    );
    assert.equal((await vde(["term", name, "-c", `save ${file}`])).code, 0);
    assert.equal(
      (await vde(["up", file])).stderr,
      `vde: lab ${name} is already up (pid ${
        readState(name)?.pid
      }): \`vde status ${name}\`, \`vde down ${name}\`\n`,
    );
  });
});

Deno.test("vde down and vde up -c of a copy of a running lab's file refuse to take down the lab the other file runs", async (t) => {
  if (skipUnlessRoot(t)) return;
  await withLabUp({ text: TWO_SWITCHES }, async (name, file) => {
    const dir = await Deno.makeTempDir({ prefix: "vde-copy-" });
    try {
      const copy = `${dir}/lab.yaml`;
      await Deno.copyFile(file, copy);
      const pid = readState(name)?.pid;
      const said = `would take down lab ${name} (pid ${pid}), which runs ${file}, not ${copy}: ` +
        `to run this file beside it, change its \`name: ${name}\` or give \`--name\`; to take that lab down, \`vde down ${name}\`\n`;
      const down = await vde(["down", copy]);
      assert.equal(down.code, 1);
      assert.equal(down.stderr, `vde: vde down ${copy} ${said}`);
      const again = await vde(["up", "-c", "-d", copy]);
      assert.equal(again.code, 1);
      assert.equal(again.stderr, `vde: vde up -c ${said}`);
      assert.equal(readState(name)?.pid, pid, "the lab runs on, untouched");
      assert.equal((await vde(["down", file])).code, 0, "its own file takes it down");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
});

Deno.test("vde down of a running lab's file after it was renamed takes the lab down: no other copy runs it", async (t) => {
  if (skipUnlessRoot(t)) return;
  await withLabUp({ text: TWO_SWITCHES }, async (name, file) => {
    const renamed = `${file}.renamed.yaml`;
    await Deno.rename(file, renamed);
    try {
      const down = await vde(["down", renamed]);
      assert.equal(down.code, 0, down.stderr);
      assert.equal(readState(name), undefined, "the lab is down");
    } finally {
      await Deno.rename(renamed, file);
    }
  });
});

Deno.test("a slirp forward whose host port is taken stops vde up in one line that names the node", async () => {
  const held = Deno.listen({ hostname: "0.0.0.0", port: 0 });
  const port = (held.addr as Deno.NetAddr).port;
  try {
    const text =
      `name: x\ntopology:\n  nodes:\n    sw1: { kind: switch }\n    nat: { kind: slirp, forwards: ["tcp:${port}:80"] }\n  links:\n    - endpoints: [nat, sw1]\n`;
    await withLabFile({ text }, async (name, file) => {
      const r = await vde(["up", "-d", file]);
      assert.equal(r.code, 1, r.stdout);
      assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
      assert.match(r.stderr, new RegExp(`^vde: lab ${name}: nat: .*port ${port}.* already in use`));
      assert.deepEqual(await leftovers(name), []);
    });
  } finally {
    held.close();
  }
});

Deno.test("vde up of a copy of a running lab's file, its name unchanged, names the running file and the key to change", async (t) => {
  if (skipUnlessRoot(t)) return;
  await withLabUp({ text: ONE_SWITCH }, async (name, file) => {
    const dir = await Deno.makeTempDir({ prefix: `${name}-copy ` });
    try {
      const copy = `${dir}/lab copy.yaml`;
      await Deno.copyFile(file, copy);
      const pid = readState(name)?.pid;
      for (const args of [["up", copy], ["up", "-d", copy]]) {
        const r = await vde(args);
        assert.equal(r.code, 1);
        assert.equal(
          r.stderr,
          `vde: lab ${name} is already up from ${file} (pid ${pid}); to run ${copy} beside it, ` +
            `change its \`name: ${name}\` or give \`--name\`; to make the running lab this file, \`vde up --apply ${copy}\`\n`,
        );
      }
      assert.equal((await vde(["status", name])).code, 0, "the running lab is left alone");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
});

Deno.test("vde status and vde down of a lab that is not up name the labs that are, a near name first", async (t) => {
  if (skipUnlessRoot(t)) return;
  await withLabUp({ text: ONE_SWITCH }, async (name) => {
    const typo = await vde(["status", `${name}x`]);
    assert.equal(typo.code, 1);
    assert.match(typo.stderr, new RegExp(`^vde: no lab ${name}x is up \\(did you mean (\\S+, )*${name}[,?]`));
    // Nothing to take down is success (a cleanup trap's `vde down`), still with the near name.
    const down = await vde(["down", `${name}x`]);
    assert.equal(down.code, 0, down.stderr);
    assert.match(
      down.stdout,
      new RegExp(`^no lab ${name}x is up \\(did you mean (\\S+, )*${name}[,?].*: nothing to take down\\n$`),
    );
    const other = await vde(["status", "zzzzzzzz"]);
    assert.match(other.stderr, new RegExp(`^vde: no lab zzzzzzzz is up \\(up: (\\S+, )*${name}[,)]`));
  });
});

Deno.test("vde up --reconfigure (containerlab's) takes the running lab down and brings the edited file up; a file with a mistake leaves it running", async (t) => {
  if (skipUnlessRoot(t)) return;
  await withLabUp({ text: TWO_HOSTS }, async (name, file) => {
    const pid = readState(name)?.pid;
    await Deno.writeTextFile(file, (await Deno.readTextFile(file)).replace("10.9.0.2/24", "10.9.0.3/24"));
    const again = await vde(["up", "-d", "--reconfigure", file]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, new RegExp(`^stopped vde up \\(pid ${pid}\\)\\nremoved lab ${name}\\n`));
    assert.notEqual(readState(name)?.pid, pid);
    assert.equal(await pingCount(name, "h1", "10.9.0.3", 2), 2, "the edited address is live");
    // Checked before anything is taken down.
    const running = readState(name)?.pid;
    await Deno.writeTextFile(file, (await Deno.readTextFile(file)).replace("10.9.0.3/24", "10.9.0.300/24"));
    const bad = await vde(["up", "-d", "-c", file]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /1 error in .*; nothing was created/);
    assert.equal(readState(name)?.pid, running, "the running lab is left alone");
    assert.equal(
      (await vde(["down", "--cleanup", name])).code,
      0,
      "containerlab's destroy --cleanup is taken",
    );
  });
});

Deno.test("a lab named like a live switch's directory in /run/vde is told so, and vde down leaves that directory alone", async (t) => {
  if (skipUnlessRoot(t)) return;
  await withLabFile({ text: ONE_SWITCH }, async (name, file) => {
    const sw = await startOurSwitch(labDir(name));
    try {
      const up = await vde(["up", "-d", file]);
      assert.equal(up.code, 1, up.stdout);
      assert.equal(
        up.stderr,
        `vde: lab ${name} cannot use ${labDir(name)}: it is the directory of a switch that runs there ` +
          `(vde switch --sock ${labDir(name)}), no lab; give the lab another name\n`,
      );
      // Refused before it claimed the lab, the copy made no log (the line is the whole story).
      await assert.rejects(Deno.lstat(`${labDir(name)}.log`), Deno.errors.NotFound, "no log is left behind");
      const down = await vde(["down", name]);
      assert.equal(down.code, 1, down.stdout);
      assert.match(down.stderr, new RegExp(`^vde: lab ${name} cannot use .*, no lab: left alone\n$`));
      assert.ok((await Deno.lstat(`${labDir(name)}/ctl`)).isSocket, "the switch's directory is left alone");
    } finally {
      await sw.stop();
    }
  });
});

Deno.test("a background lab whose log cannot be opened says so in one line and leaves nothing behind", async (t) => {
  if (skipUnlessRoot(t)) return;
  await withLabFile({ text: ONE_SWITCH }, async (name, file) => {
    const log = `${labDir(name)}.log`;
    // Opened once the lab is claimed (a start refused before makes no log): the claim is undone.
    await Deno.mkdir(log);
    try {
      const up = await vde(["up", "-d", file]);
      assert.equal(up.code, 1, up.stdout);
      assert.equal(
        up.stderr,
        `vde: lab ${name}: cannot open the log file ${log}: it is not a regular file (everything made was taken down)\n`,
      );
      assert.deepEqual(await leftovers(name), []);
      assert.equal(readState(name), undefined);
    } finally {
      await Deno.remove(log);
    }
  });
});

Deno.test("two vde up -d of one lab at once: one comes up, the other says why in one line and touches nothing", async (t) => {
  if (skipUnlessRoot(t)) return;
  await withLabFile({ text: ONE_SWITCH }, async (name, file) => {
    const [a, b] = await Promise.all([vde(["up", "-d", file]), vde(["up", "-d", file])]);
    const [won, lost] = a.code === 0 ? [a, b] : [b, a];
    assert.equal(won.code, 0, won.stderr);
    assert.equal(lost.code, 1, lost.stdout);
    assert.match(
      lost.stderr,
      new RegExp(
        `^vde: lab ${name} is (already up \\(pid \\d+\\)|coming up already \\(its vde up, pid \\d+|starting or stopping)`,
      ),
    );
    assert.doesNotMatch(lost.stderr, /taken down/, "the lab that won was not touched");
    assert.equal(lost.stderr.trim().split("\n").length, 1, lost.stderr);
    assert.equal((await vde(["status", name])).code, 0, "the lab is up");
    // The log the lab that won writes is still the one by its name: the other neither removed nor emptied it.
    assert.equal((await vde(["down", name])).code, 0);
    assert.match(
      await Deno.readTextFile(`${labDir(name)}.log`),
      new RegExp(`lab ${name}: SIGTERM, taking it down`),
    );
  });
});

Deno.test("vde down keeps a background lab's log to read afterwards; vde down --cleanup removes it, the lab down or not", async (t) => {
  if (skipUnlessRoot(t)) return;
  await withLabUp({ text: ONE_SWITCH }, async (name) => {
    const log = `${labDir(name)}.log`;
    assert.equal((await vde(["down", name])).code, 0);
    assert.match(await Deno.readTextFile(log), new RegExp(`lab ${name}: SIGTERM, taking it down`));
    assert.deepEqual(await leftovers(name), []);
    const cleanup = await vde(["down", "--cleanup", name]);
    assert.equal(cleanup.code, 0, cleanup.stderr);
    assert.equal(cleanup.stdout, `removed ${log}\n`);
    await assert.rejects(Deno.stat(log));
  });
});

Deno.test("a host asking DHCP for an address in a lab with no slirp is told the lab has none to lease one", async (t) => {
  if (skipUnlessRoot(t)) return;
  const text = TWO_HOSTS.replace("address: 10.9.0.1/24", "address: dhcp");
  await withLabFile({ text }, async (name, file) => {
    const r = await vde(["up", "-d", file], 90_000);
    assert.equal(r.code, 1, r.stdout);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    assert.match(
      r.stderr,
      /h1: no DHCP lease on eth0 \(the lab has no slirp to lease one: add a node of kind slirp on its LAN\): /,
    );
    assert.deepEqual(await leftovers(name), []);
  });
});
