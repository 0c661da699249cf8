/**
 * `vde up --apply FILE` on a running lab, on real namespaces: what the
 * edited file removed is taken out (a host's namespace with it), what it
 * added comes up and answers, a link's impairments change, each said in a
 * line; a link moves VLAN live; a change that cannot be made live changes
 * nothing and is named, a file with a mistake is refused and the lab runs
 * on as it was; a step that fails on the machine stops the apply, which
 * undoes all but the removals before it and says so.
 */
import assert from "node:assert/strict";
import { run, skipUnlessRoot, waitFor } from "../helpers/processes.ts";
import type { LabRunner } from "../../src/lab/runner.ts";
import { readState } from "../../src/lab/state.ts";
import { processAlive } from "../../src/os/processes.ts";
import { validateLab } from "../../src/lab/validate.ts";
import { labDir } from "../../src/lab/names.ts";
import {
  leftovers,
  ONE_SWITCH,
  pingCount,
  TWO_HOSTS,
  vde,
  withLabFile,
  withLabInProcess,
  withLabUp,
} from "./_helpers.ts";

const LAB = `name: x
topology:
  nodes:
    sw1: { kind: switch, ports: 4 }
    sw2: { kind: switch, ports: 4 }
    h1: { kind: host, address: 10.9.5.1/24 }
    h2: { kind: host, address: 10.9.5.2/24 }
  links:
    - endpoints: [h1, sw1]
    - endpoints: [sw1, sw2]
      delay: 5ms
    - endpoints: [h2, sw2]
`;

/** LAB with h2 replaced by h3 (and its link), the switches' link faster and lossless but duplicating. */
const EDITED = LAB.replace(
  "    h2: { kind: host, address: 10.9.5.2/24 }\n",
  "    h3: { kind: host, address: 10.9.5.3/24 }\n",
)
  .replace(
    "      delay: 5ms\n    - endpoints: [h2, sw2]\n",
    "      delay: 1ms\n      dup: 1%\n    - endpoints: [h3, sw2]\n",
  );

async function namespaces(): Promise<string> {
  return (await run(["ip", "netns", "list"], { check: false })).stdout;
}

Deno.test("vde up --apply of an edited running lab removes a host with its namespace, adds one that answers and changes a link's impairments, a line each", async (t) => {
  if (skipUnlessRoot(t)) return;
  await withLabUp({ text: LAB }, async (name, file) => {
    const pid = readState(name)?.pid;
    await Deno.writeTextFile(file, EDITED.replace("name: x", `name: ${name}`));
    const applied = await vde(["up", "--apply", file]);
    assert.equal(applied.code, 0, applied.stderr);
    assert.equal(
      applied.stdout,
      [
        "removed link h2:eth0-sw2:2",
        "removed host h2",
        "link sw1:2-sw2:1: delay 5ms -> 1ms, dup none -> 1%",
        "added host h3",
        "added link h3:eth0-sw2:2",
      ].map((l) => `lab ${name}: ${l}\n`).join(""),
    );
    assert.equal(readState(name)?.pid, pid, "the same lab runs on");
    assert.doesNotMatch(await namespaces(), new RegExp(`^vde-${name}-h2 `, "m"), "h2's namespace is gone");
    assert.deepEqual(readState(name)?.namespaces, [`vde-${name}-h1`, `vde-${name}-h3`]);
    assert.ok(await pingCount(name, "h1", "10.9.5.3", 3) >= 2, "h3 answers through sw2's freed port");
    const links = await vde(["term", name, "-c", "links"]);
    assert.match(links.stdout, /^sw1:2-sw2:1 .* delay 1ms, dup 1%$/m);
    // The file and the lab agree now: applied again, nothing; plain vde up, the plain refusal.
    const again = await vde(["up", "--apply", file]);
    assert.equal(again.stdout, `lab ${name}: nothing to apply: lab ${name} runs ${file} as it is\n`);
    assert.match(
      (await vde(["up", file])).stderr,
      new RegExp(`^vde: lab ${name} is already up \\(pid ${pid}\\): `),
    );
    assert.equal((await vde(["down", name])).code, 0);
    assert.deepEqual(await leftovers(name), []);
  });
});

Deno.test("vde up --apply with a change that cannot be made live changes nothing and names it; a file with a mistake is refused and the lab runs on", async (t) => {
  if (skipUnlessRoot(t)) return;
  await withLabUp({ text: LAB }, async (name, file) => {
    const original = await Deno.readTextFile(file);
    await Deno.writeTextFile(
      file,
      original.replace("sw2: { kind: switch, ports: 4 }", "sw2: { kind: switch, ports: 8, dataplane: main }")
        .replace("10.9.5.2/24", "10.9.5.2/24, exec: ['true']").replace("delay: 5ms", "delay: 9ms"),
    );
    const refused = await vde(["up", "--apply", file]);
    assert.equal(refused.code, 1);
    assert.equal(
      refused.stderr,
      `vde: lab ${name}: switch sw2: dataplane none -> main (not live: a switch's data plane, rc file and socket permissions are its start's)\n` +
        "  host h2: exec none -> true (not live: a host's exec ran when it came up)\n" +
        `  nothing was changed; \`vde up -c ${file}\` takes the lab down and brings the file up\n`,
    );
    assert.match(
      (await vde(["term", name, "-c", "nodes"])).stdout,
      /^sw2 +switch +4 ports/m,
      "not even the ports",
    );
    assert.match(
      (await vde(["term", name, "-c", "links"])).stdout,
      /^sw1:2-sw2:1 .* delay 5ms$/m,
      "not even the delay",
    );
    await Deno.writeTextFile(file, original.replace("delay: 5ms", "delay: 5 parsecs"));
    const bad = await vde(["up", "--apply", file]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^.*lab\.yaml:\d+:\d+: .*\n.*1 error in .*; nothing was created or changed\n$/);
    assert.ok(await pingCount(name, "h1", "10.9.5.2", 2) >= 1, "the lab runs on as it was");
  });
});

Deno.test("vde up --apply of a copy of the lab's file with a change that cannot be made live names the way that brings the copy up: vde down, then vde up", async (t) => {
  if (skipUnlessRoot(t)) return;
  await withLabUp({ text: ONE_SWITCH }, async (name, file) => {
    // A name with a space: the line's commands are pasted into a shell.
    const copy = file.replace(/[^/]*$/, "lab copy.yaml");
    await Deno.writeTextFile(
      copy,
      (await Deno.readTextFile(file)).replace("kind: switch", "kind: switch, dataplane: main"),
    );
    const refused = await vde(["up", "--apply", copy]);
    assert.equal(refused.code, 1);
    const realFile = await Deno.realPath(file);
    const realCopy = await Deno.realPath(copy);
    assert.match(
      refused.stderr,
      new RegExp(
        `  nothing was changed; the lab runs ${realFile}: \`vde down ${name}\`, then \`vde up '${realCopy}'\`, ` +
          "brings this file up\n$",
      ),
    );
    // What -c of the copy would say instead: the lab is another file's.
    assert.match((await vde(["up", "-c", "-d", copy])).stderr, /would take down lab .* which runs /);
    assert.equal((await vde(["down", name])).code, 0);
    const up = await vde(["up", "-d", copy]);
    assert.equal(up.code, 0, up.stderr);
    assert.equal(readState(name)?.file, realCopy);
  });
});

Deno.test("vde up --apply of a lab that is not up brings it up, as vde up does; with -c it is refused", async (t) => {
  if (skipUnlessRoot(t)) return;
  await withLabFile({ text: ONE_SWITCH }, async (name, file) => {
    const both = await vde(["up", "--apply", "-c", "-d", file]);
    assert.equal(both.stderr, "vde: give --apply (live) or -c (down, then up), not both\n");
    const up = await vde(["up", "--apply", "-d", file]);
    assert.equal(up.code, 0, up.stderr);
    assert.match(up.stderr, new RegExp(`^lab ${name} is up in the background`));
  });
});

Deno.test("vde up --apply --http of a running lab is refused in one line naming vde up -c, not dropped as nothing to apply", async (t) => {
  if (skipUnlessRoot(t)) return;
  await withLabUp({ text: ONE_SWITCH }, async (name, file) => {
    const web = await vde(["up", "--apply", "--http", "0", file]);
    assert.equal(web.code, 1);
    assert.equal(
      web.stderr,
      `vde: --http is the lab's start's, not --apply's: lab ${name} runs (\`vde status ${name}\` names its ` +
        `web view, if it has one); \`vde up -c --http 0 ${file}\` takes it down and up with one, or give ` +
        "--apply alone\n",
    );
    assert.doesNotMatch((await vde(["status", name])).stdout, /web view/, "nothing was started");
  });
});

/** TWO_HOSTS (10.9.0.1 and 10.9.0.2) with both links in VLAN 10. */
const VLANS = TWO_HOSTS.replace(/(endpoints: \[h\d, sw1\]\n)/g, "$1      vlan: 10\n");

Deno.test("vde up --apply moves a link to another VLAN live, as vlan/addport would: apart the hosts stop answering, together again they answer", async (t) => {
  if (skipUnlessRoot(t)) return;
  await withLabUp({ text: VLANS }, async (name, file) => {
    assert.ok(await pingCount(name, "h1", "10.9.0.2", 2) >= 1, "both in VLAN 10");
    const text = await Deno.readTextFile(file);
    const [head, h1Link, h2Link] = text.split("    - endpoints: ");
    await Deno.writeTextFile(
      file,
      `${head}    - endpoints: ${h1Link}    - endpoints: ${h2Link!.replace("10", "20")}`,
    );
    let applied = await vde(["up", "--apply", file]);
    assert.equal(applied.stdout, `lab ${name}: link h2:eth0-sw1:2: vlan 10 -> 20\n`, applied.stderr);
    assert.equal(await pingCount(name, "h1", "10.9.0.2", 2), 0, "VLANs 10 and 20 are apart");
    await Deno.writeTextFile(file, (await Deno.readTextFile(file)).replace("vlan: 10", "vlan: 20"));
    applied = await vde(["up", "--apply", file]);
    assert.equal(applied.stdout, `lab ${name}: link h1:eth0-sw1:1: vlan 10 -> 20\n`, applied.stderr);
    assert.ok(await pingCount(name, "h1", "10.9.0.2", 3) >= 1, "both in VLAN 20");
  });
});

Deno.test("vde up --apply that fails halfway (a new host's namespace is taken) undoes all but the removals before it, and says so; the lab runs on", async (t) => {
  if (skipUnlessRoot(t)) return;
  await withLabUp({ text: LAB }, async (name, file) => {
    const taken = `vde-${name}-h3`;
    await run(["ip", "netns", "add", taken]);
    try {
      const text = await Deno.readTextFile(file);
      const edited = text.replace("delay: 5ms", "delay: 2ms").replace(
        "sw1: { kind: switch, ports: 4 }",
        "sw1: { kind: switch, ports: 6, hub: true }",
      )
        .replace("  links:\n", "    h3: { kind: host }\n  links:\n");
      await Deno.writeTextFile(file, edited);
      const failed = `adding host h3 failed: network namespace ${taken} for host h3 exists already: ` +
        `\`ip netns del ${taken}\` if nothing uses it`;
      const applied = await vde(["up", "--apply", file]);
      assert.equal(applied.code, 1);
      assert.equal(applied.stderr, `vde: lab ${name}: ${failed}; nothing was changed\n`);
      assert.match(await namespaces(), new RegExp(`^${taken}\\b`, "m"), "not its namespace: left alone");
      assert.ok(await pingCount(name, "h1", "10.9.5.2", 2) >= 1, "the lab runs on");
      assert.match(
        (await vde(["term", name, "-c", "links"])).stdout,
        /^sw1:2-sw2:1 .* delay 5ms$/m,
        "delay undone",
      );
      assert.match((await vde(["term", name, "-c", "sw1 port/showinfo"])).stdout, /^Numports=4\nHUB=false$/m);
      // With a removal before the failure: that stays (h2's processes went with it), and is said.
      await Deno.writeTextFile(
        file,
        edited.replace("    h2: { kind: host, address: 10.9.5.2/24 }\n", "").replace(
          "    - endpoints: [h2, sw2]\n",
          "",
        ),
      );
      const removed = await vde(["up", "--apply", file]);
      assert.equal(
        removed.stderr,
        `vde: lab ${name}: removed link h2:eth0-sw2:2\n  removed host h2\n` +
          `  ${failed}; the rest was undone: the lab runs on with the removals above\n`,
      );
      // The lab changed all the same (h2 is gone): its log says so, and who did it; the apply that changed
      // nothing is not there.
      const said = (await Deno.readTextFile(`${labDir(name)}.log`)).split("\n").filter((l) =>
        / apply /.test(l)
      );
      assert.equal(said.length, 1, said.join("\n"));
      assert.match(
        said[0]!,
        / vde up: lab \S+: from its console of .*\(pid \d+\): apply \S+ \(failed part-way: the lab runs changed, as its reply said\)$/,
      );
      assert.match((await vde(["term", name, "-c", "links"])).stdout, /^sw1:2-sw2:1 .* delay 5ms$/m);
      assert.doesNotMatch((await vde(["term", name, "-c", "nodes"])).stdout, /^h[23] /m);
    } finally {
      await run(["ip", "netns", "del", taken], { check: false });
    }
  });
});

Deno.test("vde up --apply of a host whose exec fails removes the host again, so the lab has no half-made host and a second apply tries anew", async (t) => {
  if (skipUnlessRoot(t)) return;
  await withLabUp({ text: LAB }, async (name, file) => {
    await Deno.writeTextFile(
      file,
      (await Deno.readTextFile(file)).replace(
        "  links:\n",
        '    h3: { kind: host, address: 10.9.5.3/24, exec: ["false"] }\n  links:\n    - endpoints: [h3, sw1]\n',
      ),
    );
    for (let i = 0; i < 2; i++) {
      const applied = await vde(["up", "--apply", file]);
      assert.equal(
        applied.stderr,
        `vde: lab ${name}: configuring host h3 failed: h3: exec "false" failed: exit status 1; nothing was changed\n`,
        `apply ${i + 1}`,
      );
      assert.doesNotMatch(await namespaces(), new RegExp(`^vde-${name}-h3 `, "m"), "h3's namespace is gone");
      assert.deepEqual(readState(name)?.namespaces, [`vde-${name}-h1`, `vde-${name}-h2`]);
    }
    assert.doesNotMatch((await vde(["term", name, "-c", "nodes"])).stdout, /^h3 /m);
  });
});

Deno.test("vde up --apply of a link whose address cannot be had (no DHCP lease) takes the link out again with its address: nothing was changed", async (t) => {
  if (skipUnlessRoot(t)) return;
  await withLabUp({ text: LAB }, async (name, file) => {
    await Deno.writeTextFile(
      file,
      (await Deno.readTextFile(file)).replace(
        "h1: { kind: host, address: 10.9.5.1/24 }",
        "h1: { kind: host, address: 10.9.5.1/24, interfaces: { eth1: dhcp } }",
      ) + "    - endpoints: [h1, sw2]\n",
    );
    const applied = await vde(["up", "--apply", file], 90_000);
    assert.match(
      applied.stderr,
      new RegExp(
        `^vde: lab ${name}: adding link h1:eth1-sw2:3 failed: h1: no DHCP lease on eth1 .*; nothing was changed\n$`,
      ),
    );
    const nodes = (await vde(["term", name, "-c", "nodes"])).stdout;
    assert.match(
      nodes,
      /^h1 +host +netns \S+, eth0 10\.9\.5\.1\/24$/m,
      "no eth1, and no address kept for it",
    );
    assert.deepEqual(
      (await vde(["term", name, "-c", "diff"])).stdout,
      "link h1:eth1-sw2:3: added to the file\n",
    );
  });
});

Deno.test("a lab killed (SIGKILL) after an apply is cleaned up by vde down from its state file, the applied host too, and comes up again from its file", async (t) => {
  if (skipUnlessRoot(t)) return;
  await withLabUp({ text: LAB }, async (name, file) => {
    await Deno.writeTextFile(file, EDITED.replace("name: x", `name: ${name}`));
    assert.equal((await vde(["up", "--apply", file])).code, 0);
    const pid = readState(name)!.pid;
    Deno.kill(pid, "SIGKILL");
    await waitFor(
      // Not `kill -0`: a zombie takes signals, and where nothing reaps orphans (a container whose pid 1
      // does not wait) the killed lab stays one.
      () => !processAlive(pid) || undefined,
      {
        timeoutMs: 10_000,
        what: "vde up killed",
      },
    );
    assert.match(
      await namespaces(),
      new RegExp(`^vde-${name}-h3\\b`, "m"),
      "h3's namespace outlived its owner",
    );
    assert.equal((await vde(["down", name])).code, 0);
    assert.deepEqual(await leftovers(name), []);
    const up = await vde(["up", "-d", file]);
    assert.equal(up.code, 0, up.stderr);
    assert.ok(await pingCount(name, "h1", "10.9.5.3", 3) >= 2, "h3 answers again");
  });
});

Deno.test("vde down while vde up --apply runs a new host's exec stops it, takes everything down, and the apply says so rather than bring the file up", async (t) => {
  if (skipUnlessRoot(t)) return;
  await withLabUp({ text: LAB }, async (name, file) => {
    await Deno.writeTextFile(
      file,
      (await Deno.readTextFile(file)).replace(
        "  links:\n",
        '    h3: { kind: host, exec: ["sleep 50"] }\n  links:\n',
      ),
    );
    const applying = vde(["up", "--apply", file], 90_000);
    await waitFor(
      async () =>
        (await run(["ip", "netns", "pids", `vde-${name}-h3`], { check: false })).stdout.trim() !== "" ||
        undefined,
      {
        timeoutMs: 30_000,
        what: "h3's exec running",
      },
    );
    assert.equal((await vde(["down", name])).code, 0);
    const applied = await applying;
    assert.equal(applied.code, 1);
    assert.match(applied.stderr, new RegExp(`^vde: lab ${name} stopped answering during \`apply\``));
    assert.deepEqual(await leftovers(name), [], "h3 too");
    assert.equal(readState(name), undefined, "and not brought up again");
  });
});

/** Two switches and a link: a lab that needs no root, run in this process. */
const SWITCHES = `name: x
topology:
  nodes:
    sw1: { kind: switch, ports: 4 }
    sw2: { kind: switch, ports: 4 }
  links:
    - endpoints: [sw1, sw2]
      delay: 5ms
`;

/** A lab of SWITCHES run in this process, as withLabInProcess runs it. */
function withSwitchesInProcess(
  fn: (r: LabRunner, line: (line: string) => Promise<string>, file: string) => Promise<void>,
): Promise<void> {
  return withLabInProcess(SWITCHES, fn);
}

Deno.test("a relative FILE in the lab shell's diff and apply is read from the lab file's directory, not the lab process's", async () => {
  await withSwitchesInProcess(async (_r, line, file) => {
    const dir = file.slice(0, file.lastIndexOf("/"));
    await Deno.writeTextFile(
      `${dir}/edited.yaml`,
      (await Deno.readTextFile(file)).replace("delay: 5ms", "delay: 2ms"),
    );
    assert.notEqual(Deno.cwd(), dir);
    assert.equal(await line("diff edited.yaml"), "0 link sw1:1-sw2:1: delay 5ms -> 2ms");
    assert.equal(
      await line("apply edited.yaml"),
      `0 link sw1:1-sw2:1: delay 5ms -> 2ms\nnow runs ${dir}/edited.yaml (was ${file})\n`,
    );
  });
});

Deno.test("the lab shell's apply or diff of a lab file others may write is refused with the chmod to do, and the lab runs on unchanged", async () => {
  await withSwitchesInProcess(async (r, line, file) => {
    const dir = file.slice(0, file.lastIndexOf("/"));
    await Deno.writeTextFile(
      `${dir}/open.yaml`,
      (await Deno.readTextFile(file)).replace("delay: 5ms", "delay: 2ms"),
    );
    await Deno.chmod(`${dir}/open.yaml`, 0o666);
    const refusal =
      `cannot read ${dir}/open.yaml: anyone may write it (mode 0666), and its commands would run ` +
      `as root: chmod go-w ${dir}/open.yaml`;
    // Its code aside (as a file not there is answered), the line vde up says.
    assert.equal((await line("apply open.yaml")).replace(/^\d+ /, ""), `${refusal}\n`);
    assert.equal((await line("diff open.yaml")).replace(/^\d+ /, ""), `${refusal}\n`);
    assert.equal(r.file, file);
    await Deno.chmod(`${dir}/open.yaml`, 0o644);
    assert.equal(await line("diff open.yaml"), "0 link sw1:1-sw2:1: delay 5ms -> 2ms");
  });
});

Deno.test("the lab shell's apply of another file makes it the lab's file: state.json names it, and diff and apply without a file read it", async () => {
  await withSwitchesInProcess(async (r, line, file) => {
    const dir = file.slice(0, file.lastIndexOf("/"));
    const other = `${dir}/other.yaml`;
    await Deno.writeTextFile(other, SWITCHES.replace("name: x", `name: ${r.lab.name}`).replace("5ms", "7ms"));
    assert.match(await line("apply other.yaml"), new RegExp(`now runs ${other} \\(was ${file}\\)\n$`));
    assert.equal(r.file, other);
    assert.equal(readState(r.lab.name)?.file, other);
    assert.equal(await line("diff"), "0 ");
    await Deno.writeTextFile(other, (await Deno.readTextFile(other)).replace("7ms", "8ms"));
    assert.equal(await line("apply"), "0 link sw1:1-sw2:1: delay 7ms -> 8ms\n");
    // Back to the first file, by name: it is the lab's again.
    assert.match(await line(`apply ${file}`), new RegExp(`now runs ${file} \\(was ${other}\\)\n$`));
    assert.equal(readState(r.lab.name)?.file, file);
  });
});

Deno.test("an apply of another file that changes nothing (a change not live, a mistake) leaves the lab on its own file", async () => {
  await withSwitchesInProcess(async (r, line, file) => {
    const dir = file.slice(0, file.lastIndexOf("/"));
    const named = SWITCHES.replace("name: x", `name: ${r.lab.name}`);
    await Deno.writeTextFile(
      `${dir}/ports.yaml`,
      named.replace("ports: 4 }\n    sw2", "ports: 4, dataplane: main }\n    sw2"),
    );
    assert.match(await line("apply ports.yaml"), /^\d+ .*dataplane none -> main \(not live: /);
    await Deno.writeTextFile(`${dir}/bad.yaml`, named.replace("delay: 5ms", "delay: fast"));
    assert.match(await line("apply bad.yaml"), /^\d+ .*bad\.yaml:\d+:\d+: .*\nnothing was changed\n$/s);
    // A diff changes nothing anyway: its refusal does not say so as if it might have.
    assert.match(await line("diff bad.yaml"), /^\d+ .*bad\.yaml:\d+:\d+: [^\n]*\n$/);
    // One line as vde up says it, not the OS's "(os error 2): readfile '...'".
    assert.match(
      await line("apply nosuch.yaml"),
      new RegExp(`^\\d+ cannot read ${dir}/nosuch.yaml: no such file\n?$`),
    );
    assert.equal(r.file, file);
    assert.equal(readState(r.lab.name)?.file, file);
  });
});

Deno.test("two applies at once (two consoles) run one after the other: the second finds the first's changes made", async () => {
  await withSwitchesInProcess(async (r, line, file) => {
    const edited = (await Deno.readTextFile(file)).replace(
      "  links:\n",
      "    sw3: { kind: switch, ports: 4 }\n  links:\n    - endpoints: [sw1, sw3]\n",
    ).replace("delay: 5ms", "delay: 1ms");
    const copy = file.replace(/lab\.yaml$/, "copy.yaml");
    await Deno.writeTextFile(file, edited);
    await Deno.writeTextFile(copy, edited);
    const [first, second] = await Promise.all([line(`apply ${file}`), line(`apply ${copy}`)]);
    assert.equal(first, "0 link sw1:1-sw2:1: delay 5ms -> 1ms\nadded switch sw3\nadded link sw1:2-sw3:1\n");
    // The same lab in another file: nothing to change, and the lab runs that file from then on.
    assert.equal(
      second,
      `0 nothing to apply: lab ${r.lab.name} runs ${copy} as it is\nnow runs ${copy} (was ${file})\n`,
    );
    assert.deepEqual(r.lab.nodes.map((n) => n.name), ["sw1", "sw2", "sw3"]);
    assert.equal(r.switches.get("sw1")!.sw.allocatedPorts().length, 2, "sw1's ports: one link each");
  });
});

Deno.test("a del, add or link line while an apply runs waits for it, and finds what it added", async () => {
  await withSwitchesInProcess(async (r, line, file) => {
    await Deno.writeTextFile(
      file,
      (await Deno.readTextFile(file)).replace(
        "  links:\n",
        "    sw3: { kind: switch, ports: 4 }\n  links:\n    - endpoints: [sw2, sw3]\n",
      ),
    );
    const said = await Promise.all([
      line("apply"),
      line("link sw2-sw3 loss 5%"),
      line("add link sw1 sw3"),
      line("del sw3"),
    ]);
    assert.deepEqual(said, [
      "0 added switch sw3\nadded link sw2:2-sw3:1\n",
      "0 ",
      "0 added link sw1:2-sw3:2\n",
      "0 removed switch sw3 and 2 links sw2:2-sw3:1, sw1:2-sw3:2\n",
    ]);
    assert.deepEqual(r.links.map((l) => l.name), ["sw1:1-sw2:1"]);
  });
});

Deno.test("a change asked for while the lab goes down is refused in one line, and down waits for the one under way", async () => {
  await withSwitchesInProcess(async (r, line) => {
    const { lab } = validateLab(
      SWITCHES.replace("  links:", "    sw3: { kind: switch, ports: 4 }\n  links:"),
      {},
    );
    let started!: () => void;
    const underWay = new Promise<void>((res) => started = res);
    let release!: () => void;
    const gate = new Promise<void>((res) => release = res);
    const adding = r.change(async () => {
      started();
      await gate;
      await r.addNode(lab!.nodes.find((n) => n.name === "sw3")!);
    });
    await underWay;
    let downed = false;
    const down = r.down().then(() => downed = true);
    assert.equal(await line("add switch sw4"), `5 lab ${r.lab.name} is going down: nothing was changed\n`);
    assert.equal(downed, false, "down waits for the change under way");
    release();
    await adding;
    await down;
    assert.equal(r.switches.size, 0, "sw3, added before down went on, was taken down with the rest");
  });
});

Deno.test("a slirp added by apply gets no switch's command; a switch removed and added again as a slirp says it takes none", async () => {
  await withSwitchesInProcess(async (_r, line, file) => {
    const text = await Deno.readTextFile(file);
    await Deno.writeTextFile(
      file,
      text.replace("  links:\n", "    nat: { kind: slirp }\n  links:\n    - endpoints: [nat, sw1]\n"),
    );
    assert.equal(await line("apply"), "0 added slirp nat\nadded link nat-sw1:2\n");
    assert.equal(await line("nat help"), "38 ", "no such command, as for a slirp of the file");
    assert.equal(await line("del sw2"), "0 removed switch sw2 and 1 link sw1:1-sw2:1\n");
    await Deno.writeTextFile(file, text.replace("sw2: { kind: switch, ports: 4 }", "sw2: { kind: slirp }"));
    assert.equal(
      await line("apply"),
      "0 removed link nat-sw1:2\nremoved slirp nat\nadded slirp sw2\nadded link sw1:1-sw2\n",
    );
    assert.equal(await line("sw2 help"), "22 sw2 is a slirp: it takes no commands\n");
  });
});

Deno.test("a switch removed leaves no socket in the lab's directory, and one added again under its name serves there", async () => {
  await withSwitchesInProcess(async (r, line) => {
    const entries = () => [...Deno.readDirSync(r.dir)].map((e) => e.name).sort();
    const before = entries();
    assert.equal(await line("del sw2"), "0 removed switch sw2 and 1 link sw1:1-sw2:1\n");
    assert.deepEqual(entries(), before.filter((e) => !e.startsWith("sw2")));
    assert.equal(await line("add switch sw2 ports 4"), "0 added switch sw2\n");
    assert.deepEqual(entries(), before);
    assert.equal(await line("add link sw1 sw2"), "0 added link sw1:1-sw2:1\n");
    assert.match(await line("sw2 port/print"), /^0 /);
  });
});

Deno.test("save after vde up --apply writes into the file as edited, its new comments kept, not into the text vde up read", async (t) => {
  if (skipUnlessRoot(t)) return;
  await withLabUp({ text: SWITCHES }, async (name, file) => {
    const edited = (await Deno.readTextFile(file)).replace(
      "  links:\n",
      "    sw3: { kind: switch, ports: 4 } # added by hand\n  links:\n",
    );
    await Deno.writeTextFile(file, edited);
    assert.equal((await vde(["up", "--apply", file])).stdout, `lab ${name}: added switch sw3\n`);
    const saved = await vde(["term", name, "-c", "link sw1-sw2 loss 2%", "-c", "save"]);
    assert.equal(saved.stdout, `saved ${file}\n`, saved.stderr);
    const text = await Deno.readTextFile(file);
    assert.match(text, /^ {4}sw3: \{ kind: switch, ports: 4 \} # added by hand$/m);
    assert.match(text, /^ {6}delay: 5ms\n {6}loss: 2%\n$/m);
  });
});

Deno.test("after the shell's apply of another file, vde up --apply of that file reaches the lab and save writes into it, not the first file", async (t) => {
  if (skipUnlessRoot(t)) return;
  await withLabUp({ text: SWITCHES }, async (name, file) => {
    const first = await Deno.readTextFile(file);
    const other = `${file.slice(0, file.lastIndexOf("/"))}/other.yaml`;
    await Deno.writeTextFile(other, first.replace("delay: 5ms", "delay: 7ms"));
    const applied = await vde(["term", name, "-c", "apply other.yaml"]);
    assert.equal(
      applied.stdout,
      `link sw1:1-sw2:1: delay 5ms -> 7ms\nnow runs ${other} (was ${file})\n`,
    );
    assert.match((await vde(["status"])).stdout, new RegExp(`${name} .* ${other}\n`));
    await Deno.writeTextFile(other, first.replace("delay: 5ms", "delay: 9ms"));
    assert.equal(
      (await vde(["up", "--apply", other])).stdout,
      `lab ${name}: link sw1:1-sw2:1: delay 7ms -> 9ms\n`,
    );
    const saved = await vde(["term", name, "-c", "link sw1-sw2 loss 2%", "-c", "save"]);
    assert.equal(saved.stdout, `saved ${other}\n`, saved.stderr);
    assert.match(await Deno.readTextFile(other), /^ {6}delay: 9ms\n {6}loss: 2%\n$/m);
    assert.equal(await Deno.readTextFile(file), first);
  });
});

Deno.test("vde up --apply of another file of a running lab's name applies it live, and the lab runs that file from then on", async (t) => {
  if (skipUnlessRoot(t)) return;
  await withLabUp({ text: SWITCHES }, async (name, file) => {
    const other = `${file.slice(0, file.lastIndexOf("/"))}/copy.yaml`;
    await Deno.writeTextFile(other, (await Deno.readTextFile(file)).replace("delay: 5ms", "delay: 6ms"));
    // Plain vde up of a copy still refuses: it would be a second lab of one name.
    assert.match((await vde(["up", other])).stderr, /already up/);
    assert.equal(
      (await vde(["up", "--apply", other])).stdout,
      `lab ${name}: link sw1:1-sw2:1: delay 5ms -> 6ms\nlab ${name}: now runs ${other} (was ${file})\n`,
    );
    assert.match((await vde(["status"])).stdout, new RegExp(`${name} .* ${other}\n`));
  });
});
