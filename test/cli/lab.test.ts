import assert from "node:assert/strict";
import {
  hostWithExec,
  ONE_SWITCH,
  TWO_HOSTS,
  vde,
  vdeCommand,
  withLabFile,
  withLabUp,
} from "../lab/_helpers.ts";
import { run, skipUnlessRoot, waitFor } from "../helpers/processes.ts";
import { startOurSwitch } from "../helpers/switches.ts";
import {
  checkCanStart,
  checkGroups,
  downEach,
  labFilesHere,
  rootLabsHint,
  statusWantsJson,
} from "../../src/cli/lab.ts";
import { UsageError } from "../../src/cli/main.ts";
import { formatErrors, validateLab } from "../../src/lab/validate.ts";
import { labDir, labsBaseDir } from "../../src/lab/names.ts";
import { SUN_PATH_LEN } from "../../src/wire/sockaddr_un.ts";
import { isDirectory, isSocket } from "../../src/os/paths.ts";
import { readState, STOPPING_FILE, writeState } from "../../src/lab/state.ts";
import { processAlive } from "../../src/os/processes.ts";
import { asRootWithoutSudo, giveToNobody } from "../helpers/root_files.ts";

Deno.test("plain vde without a terminal prints help; an unknown subcommand is named", async () => {
  const plain = await vde([]);
  assert.equal(plain.code, 0);
  assert.match(plain.stdout, /^Usage: vde /);
  const bad = await vde(["bogus"]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /unknown command 'bogus'/);
  const typo = await vde(["swtich"]);
  assert.equal(typo.code, 1);
  assert.match(typo.stderr, /^vde: unknown command 'swtich' \(did you mean switch\?\)\n/);
  const file = await vde(["lab.yaml"]);
  assert.equal(file.code, 1);
  assert.match(
    file.stderr,
    /^vde: unknown command 'lab\.yaml' \(a lab file\? `vde up lab\.yaml` brings it up\)\n/,
  );
  // A name to paste goes in as one shell word: nothing in it expands.
  const odd = await vde(["my lab;$(id).yaml"]);
  assert.match(odd.stderr, /`vde up 'my lab;\$\(id\)\.yaml'` brings it up/);
});

Deno.test("a mistyped subcommand followed by its options is named as the command, not as an option", async () => {
  const typo = await vde(["swtich", "-s", "/tmp/net"]);
  assert.equal(typo.code, 1);
  assert.match(typo.stderr, /^vde: unknown command 'swtich' \(did you mean switch\?\)\n/);
  const file = await vde(["lab.yaml", "--http", "9100"]);
  assert.match(file.stderr, /^vde: unknown command 'lab\.yaml' \(a lab file\? `vde up lab\.yaml`/);
  const option = await vde(["--bogus"]);
  assert.equal(option.code, 1);
  assert.match(option.stderr, /^vde: unknown option '--bogus'\n/);
  const sub = await vde(["switch", "--sokc", "/tmp/net"]);
  assert.equal(sub.code, 1);
  assert.match(
    sub.stderr,
    /^vde: unknown option '--sokc' \(did you mean --sock\?\)\n\(run with --help for usage\)\n$/,
    "subcommands still refuse theirs",
  );
});

Deno.test("vde up of a lab with hosts, not as root, says it needs root, or --rootless, before making anything", () => {
  const { lab } = validateLab(`name: nu
topology:
  nodes:
    sw1: { kind: switch }
    h1: { kind: host, address: 10.9.0.1/24 }
  links:
    - endpoints: [h1, sw1]
`);
  assert.ok(lab !== undefined);
  assert.throws(
    () => checkCanStart(lab, 1000),
    new UsageError(
      "lab nu needs root: its hosts (h1) are network namespaces; run vde up as root, " +
        "or `vde up --rootless` for namespaces of your own",
    ),
  );
  const switchesOnly = { ...lab, nodes: lab.nodes.filter((n) => n.kind !== "host"), links: [] };
  assert.doesNotThrow(() => checkCanStart(switchesOnly, 1000), "a lab of switches runs as any user");
});

Deno.test("vde up refuses a VDE_KEEP_WARM_MS naming no keep-warm window before it makes anything, in the one line vde switch gives", () => {
  const { lab } = validateLab("name: kw\ntopology:\n  nodes:\n    sw1: { kind: switch }\n");
  assert.ok(lab !== undefined);
  Deno.env.set("VDE_KEEP_WARM_MS", "-5");
  try {
    assert.throws(
      () => checkCanStart(lab, 0),
      new UsageError(
        'VDE_KEEP_WARM_MS must be a whole number of milliseconds from 0 (never keep warm) to 1000, got "-5"',
      ),
    );
    Deno.env.set("VDE_KEEP_WARM_MS", "0");
    assert.doesNotThrow(() => checkCanStart(lab, 0));
  } finally {
    Deno.env.delete("VDE_KEEP_WARM_MS");
  }
});

Deno.test("a user's lab refuses a switch's group, and a mode or mgmt_mode that lets its group or others in, each at its FILE:LINE:COL: its directory is closed to them", () => {
  const text = "name: ng\ntopology:\n  nodes:\n    sw1: { kind: switch, mode: 600 }\n" +
    "    sw2: { kind: switch, mode: 660, group: 65534 }\n    sw3: { kind: switch, mode: 060, mgmt_mode: 606 }\n";
  const closed = "a lab of a user other than root is theirs alone (its runtime directory is closed to others";
  const lines = (usersOwn: "user" | "rootless") =>
    formatErrors("f.yaml", validateLab(text, { usersOwn }).errors);
  assert.deepEqual(lines("user"), [
    `f.yaml:5:32: sw2: mode 660 lets its group in, but ${closed}): write 600 (or leave it out), or run vde up as root`,
    `f.yaml:5:44: sw2: group 65534: ${closed}): drop \`group\`, or run vde up as root (vde switch --sock DIR ` +
    "--mode 660 --group G shares a switch of yours, which vde plug joins to the lab)",
    `f.yaml:6:32: sw3: mode 060 lets its group in, but ${closed}): write 600 (or leave it out), or run vde up as root`,
    `f.yaml:6:48: sw3: mgmt_mode 606 lets others in, but ${closed}): write 600 (or leave it out), or run vde up as root`,
  ]);
  assert.match(lines("rootless")[0]!, /closed to others, and its user namespace maps no group\): write 600/);
  const { lab, errors } = validateLab(text);
  assert.deepEqual(errors, [], "root's lab shares");
  assert.doesNotThrow(() => checkGroups(lab!, 0, new Set([0])), "root gives files to any group");
});

Deno.test("vde up of a lab whose name makes a socket path too long says so in one line before making anything", () => {
  const text = (name: string) => `name: ${name}\ntopology:\n  nodes:\n    sw1: { kind: switch }\n`;
  // A switch's directory keeps room for its sockets' names (.PORT.FD.new, a plug's .PID-NNNNN): 16 bytes.
  const room = SUN_PATH_LEN - 1 - `${labsBaseDir()}/`.length - "/sw1/".length - 16;
  const fits = validateLab(text(`r14${"x".repeat(room - 3)}`)).lab;
  const long = validateLab(text(`r14${"x".repeat(room - 2)}`)).lab;
  assert.ok(fits !== undefined && long !== undefined);
  assert.doesNotThrow(() => checkCanStart(fits, 0));
  assert.throws(
    () => checkCanStart(long, 0),
    new UsageError(
      `lab ${long.name}: a socket path would be ${SUN_PATH_LEN} bytes (${labDir(long.name)}/sw1/...), ` +
        `the limit is ${
          SUN_PATH_LEN - 1
        }: give it a shorter name (--name, or its file's name:) or shorter node names`,
    ),
  );
  assert.equal(isDirectory(labDir(long.name)), false, "nothing was made");
});

Deno.test("vde up --rootless of a lab whose slirp's or cable's outside socket would be too long says so in one line before making anything", () => {
  const text = (node: string) =>
    `name: r16\ntopology:\n  nodes:\n    ${node}: { kind: slirp }\n    c${node}: { kind: cable, listen: "127.0.0.1:0", insecure: true }\n`;
  const room = SUN_PATH_LEN - 1 - `${labDir("r16")}/`.length - "c".length - ".outside".length;
  const fits = validateLab(text("x".repeat(room))).lab;
  const long = validateLab(text("x".repeat(room + 1))).lab;
  assert.ok(fits !== undefined && long !== undefined);
  assert.doesNotThrow(() => checkCanStart(fits, 0, "", true));
  // As root the lab binds no NODE.outside: its slirps and cables run in its own process.
  assert.doesNotThrow(() => checkCanStart(long, 0, "", false));
  const path = `${labDir("r16")}/c${"x".repeat(room + 1)}.outside`;
  assert.throws(
    () => checkCanStart(long, 0, "", true),
    new UsageError(
      `lab r16: a socket path would be ${SUN_PATH_LEN} bytes (${path}...), the limit is ${
        SUN_PATH_LEN - 1
      }: ` +
        "give it a shorter name (--name, or its file's name:) or shorter node names",
    ),
  );
  assert.equal(isDirectory(labDir("r16")), false, "nothing was made");
});

Deno.test("vde graph of a file that is not a lab file (binary, not YAML, other YAML) says so in one line", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-graph-" });
  try {
    const cases: [string, string][] = [
      ["\x7fELF\x02\0\0", "1:6: not a lab file: binary data, expected YAML with `name` and `topology`"],
      [
        'hello: [\n  - x: {\n\t"a\n',
        "2:3: not YAML: Implicit keys of flow sequence pairs need to be on a single line " +
        "(expected YAML with `name` and `topology`)",
      ],
      ["root:x:0:0:root:/root:/bin/bash\n", "1:1: not a lab file: expected YAML with `name` and `topology`"],
    ];
    for (const [text, where] of cases) {
      await Deno.writeTextFile(`${dir}/f`, text);
      const r = await vde(["graph", `${dir}/f`]);
      assert.equal(r.code, 1);
      assert.equal(r.stdout, "");
      assert.equal(r.stderr, `vde: ${dir}/f:${where}\n`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("vde graph of a lab file with a mistake prints FILE:LINE:COL and does not speak of creating anything", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-graph-" });
  try {
    await Deno.writeTextFile(
      `${dir}/lab.yaml`,
      "name: g\ntopology:\n  nodes:\n    sw1: { kind: swich }\n  links: []\n",
    );
    const r = await vde(["graph", `${dir}/lab.yaml`]);
    assert.equal(r.code, 1);
    assert.equal(
      r.stderr,
      `${dir}/lab.yaml:4:18: unknown kind "swich" of node sw1 (did you mean "switch"?)\n` +
        `vde: 1 error in ${dir}/lab.yaml\n`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("another tool's word for a lab command (containerlab's deploy, destroy, inspect; docker's attach, ssh) is answered with vde's", async () => {
  const deploy = await vde(["deploy", "-t", "mylab.clab.yml"]);
  assert.equal(deploy.code, 1);
  assert.match(
    deploy.stderr,
    /^vde: unknown command 'deploy' \(a lab comes up with `vde up mylab\.clab\.yml`\)\n/,
  );
  const destroy = await vde(["destroy"]);
  assert.match(
    destroy.stderr,
    /^vde: unknown command 'destroy' \(a lab goes down with `vde down lab\.yaml`\)\n/,
  );
  assert.match(
    (await vde(["inspect"])).stderr,
    /^vde: unknown command 'inspect' \(`vde status` lists running labs/,
  );
  // docker's attach and containerlab's ssh: a shell in a host is vde exec's.
  for (const word of ["ssh", "attach", "shell"]) {
    assert.match((await vde([word, "h1"])).stderr, /a shell in a lab's host is `vde exec HOST`/, word);
  }
  // stop is no typo of tap.
  assert.match(
    (await vde(["stop"])).stderr,
    /^vde: unknown command 'stop' \(a switch stops with `vde term DIR -c shutdown`/,
  );
});

Deno.test("vde up of a device or a FIFO is refused in one line, not read without end or waited on", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-labfile-" });
  try {
    assert.ok((await new Deno.Command("mkfifo", { args: [`${dir}/lab.yaml`] }).output()).success);
    const fifo = await vde(["up", `${dir}/lab.yaml`]);
    assert.equal(fifo.stderr, `vde: cannot read ${dir}/lab.yaml: it is a named pipe, not a regular file\n`);
    const zero = await vde(["up", "/dev/zero"]);
    assert.equal(zero.stderr, "vde: cannot read /dev/zero: it is a character device, not a regular file\n");
    assert.equal(zero.code, 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("root's vde up of a lab file others may write, or nobody's, is refused in one line with the chmod or chown to do, and its hosts' commands never run; vde graph still draws it", async () => {
  await asRootWithoutSudo("vde-labfile-", async (dir) => {
    const file = `${dir}/lab.yaml`;
    await Deno.writeTextFile(
      file,
      `name: trustlab\ntopology:\n  nodes:\n    h1: { kind: host, exec: ["touch ${dir}/ran"] }\n`,
    );
    await Deno.chmod(file, 0o666);
    const open = await vde(["up", file]);
    assert.equal(
      open.stderr,
      `vde: cannot read ${file}: anyone may write it (mode 0666), and its commands would run as root: ` +
        `chmod go-w ${file}\n`,
    );
    assert.equal(open.code, 1);
    assert.match((await vde(["graph", file])).stdout, /^graph "trustlab"/);
    await Deno.chmod(file, 0o644);
    giveToNobody(file);
    const theirs = await vde(["up", file]);
    assert.match(
      theirs.stderr,
      /^vde: cannot read \S+: it is (nobody|65534)'s, and its commands would run as root: read it, then chown root \S+\n$/,
    );
    assert.throws(() => Deno.lstatSync(`${dir}/ran`), Deno.errors.NotFound);
  });
});

Deno.test("a lab file's name a letter or two off one beside it (lab.yml for lab.yaml) is answered with that file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-near-lab-" });
  try {
    await Deno.writeTextFile(`${dir}/lab.yaml`, "name: x\ntopology:\n  nodes: {}\n");
    await Deno.writeTextFile(`${dir}/lab.txt`, "");
    const up = await vde(["up", `${dir}/lab.yml`]);
    assert.equal(up.code, 1);
    assert.equal(
      up.stderr,
      `vde: cannot read ${dir}/lab.yml: no such file (did you mean ${dir}/lab.yaml?)\n`,
    );
    const down = await run([...vdeCommand(), "down", "lab.yml"], { cwd: dir, check: false });
    assert.equal(
      down.stderr,
      `vde: "lab.yml" is neither a lab file nor a lab name (did you mean lab.yaml?)\n`,
    );
    const none = await vde(["up", `${dir}/lab.tx`]);
    assert.equal(none.stderr, `vde: cannot read ${dir}/lab.tx: no such file\n`, "only a YAML file is meant");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("vde up and vde down take containerlab's -t FILE for the lab, and say what they need without one", async () => {
  const up = await vde(["up", "-t", "/nonexistent/lab.yaml"]);
  assert.equal(up.code, 1);
  assert.equal(up.stderr, "vde: cannot read /nonexistent/lab.yaml: no such file\n");
  const down = await vde(["down", "-t", "/nonexistent/lab.yaml"]);
  assert.equal(down.code, 1);
  assert.match(down.stderr, /^vde: "\/nonexistent\/lab\.yaml" is neither a lab file nor a lab name\n$/);
  assert.equal((await vde(["up"])).stderr, "vde: vde up needs a lab file: vde up lab.yaml\n");
  assert.match(
    (await vde(["down"])).stderr,
    /^vde: vde down needs a lab: vde down LAB, its name or lab file \((up: .*|no lab is up)\)\n$/,
  );
  assert.equal(
    (await vde(["up", "a.yaml", "-t", "b.yaml"])).stderr,
    "vde: vde up: give one lab, not a.yaml and -t b.yaml\n",
  );
});

Deno.test("vde help [command] prints the help, and vde version or -V point to --version", async () => {
  const help = await vde(["help", "switch"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^Usage: vde switch \[options\]/);
  assert.match((await vde(["help"])).stdout, /^Usage: vde \[options\] \[command\]/);
  assert.match(
    (await vde(["version"])).stderr,
    /^vde: unknown command 'version' \(`vde --version` prints it\)/,
  );
  assert.match(
    (await vde(["-V"])).stderr,
    /^vde: unknown option '-V' \(vde -v or --version prints the version\)/,
  );
});

Deno.test("vde lab deploy -t FILE, as a containerlab user types it, is answered with vde up FILE", async () => {
  const r = await vde(["lab", "deploy", "-t", "mylab.clab.yml"]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^vde: unknown command 'lab' \(a lab comes up with `vde up mylab\.clab\.yml`\)\n/);
});

Deno.test("vde graph and vde status take containerlab's -t FILE too", async () => {
  const example = new URL("../../examples/lan-nat.yaml", import.meta.url).pathname;
  const graph = await vde(["graph", "-t", example]);
  assert.equal(graph.code, 0, graph.stderr);
  assert.match(graph.stdout, /^graph "lan" \{/);
  assert.equal((await vde(["graph"])).stderr, "vde: vde graph needs a lab file: vde graph lab.yaml\n");
  const status = await vde(["status", "-t", "/nonexistent/lab.yaml"]);
  assert.equal(status.code, 1);
  assert.match(status.stderr, /^vde: "\/nonexistent\/lab\.yaml" is neither a lab file nor a lab name\n$/);
});

Deno.test("vde status or down of a switch's socket directory (a switch started alone) says what reaches that switch", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "vde-status-switch-" });
  const sw = await startOurSwitch(`${tmp}/sw`);
  try {
    for (const args of [["status", `${tmp}/sw`], ["status", `${tmp}/sw`, "--json"], ["down", `${tmp}/sw`]]) {
      const r = await vde(args);
      assert.equal(r.code, 1);
      assert.equal(
        r.stderr,
        `vde: "${tmp}/sw" is a switch's socket directory, not a lab: vde term ${tmp}/sw reaches that switch (-c ports, -c shutdown)\n`,
      );
    }
  } finally {
    await sw.stop();
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("vde up, down and graph without a lab take the one lab file in the current directory, as containerlab does; down of several, none up, has nothing to take down", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-cwd-lab-" });
  try {
    // A name of this run's own: `vde down` here would take down a lab of the example's name (lan) that is up.
    const name = `cwd${Deno.pid}`;
    const example = (await Deno.readTextFile(new URL("../../examples/lan-nat.yaml", import.meta.url)))
      .replace(/^name: lan$/m, `name: ${name}`);
    await Deno.writeTextFile(`${dir}/notes.yaml`, "title: not a lab\n");
    await Deno.writeTextFile(`${dir}/mylab.clab.yml`, example);
    const graph = await run([...vdeCommand(), "graph"], { cwd: dir, check: false });
    assert.equal(graph.code, 0, graph.stderr);
    assert.match(graph.stdout, new RegExp(`^graph "${name}" \\{`));
    // The lab is not up: down names it, so the file was the one taken; nothing to take down is success.
    const down = await run([...vdeCommand(), "down"], { cwd: dir, check: false });
    assert.equal(down.code, 0, down.stderr);
    assert.match(down.stdout, new RegExp(`^no lab ${name} is up.*: nothing to take down\n$`));
    await Deno.writeTextFile(`${dir}/other.yaml`, example.replace(/^name: .*$/m, `name: ${name}b`));
    // Two here and neither lab up: whichever was meant is down, as `vde down NAME` of a lab not up (exit 0).
    const two = await run([...vdeCommand(), "down"], { cwd: dir, check: false });
    assert.equal(two.code, 0, two.stderr);
    assert.equal(
      two.stdout,
      `no lab of this directory's 2 lab files is up (mylab.clab.yml: ${name}, other.yaml: ${name}b): ` +
        "nothing to take down\n",
    );
    const up = await run([...vdeCommand(), "up"], { cwd: dir, check: false });
    assert.equal(up.code, 1);
    assert.match(up.stderr, /^vde: vde up needs a lab file: vde up lab\.yaml \(this directory has 2: /);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("vde down --all goes on past a lab that fails to come down, and names it after", async () => {
  const tried: string[] = [];
  await assert.rejects(
    downEach(["a", "b", "c"], (name) => {
      tried.push(name);
      return name === "b" ? Promise.reject(new Error("no lab b is up")) : Promise.resolve();
    }),
    { message: "not every lab came down (b: no lab b is up)" },
  );
  assert.deepEqual(tried, ["a", "b", "c"]);
  await downEach(["a"], () => Promise.resolve());
});

Deno.test("a lab file linked into the current directory is found there as the file it names", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-cwd-link-" });
  try {
    await Deno.mkdir(`${dir}/here`);
    await Deno.writeTextFile(`${dir}/kept.yaml`, "name: x\ntopology:\n  nodes: {}\n");
    await Deno.symlink(`${dir}/kept.yaml`, `${dir}/here/lab.yaml`);
    // Links to what is no regular file, or to nothing, are no lab files.
    await Deno.symlink("/dev/null", `${dir}/here/null.yaml`);
    await Deno.symlink(`${dir}/gone.yaml`, `${dir}/here/dangling.yml`);
    assert.equal(labFilesHere(`${dir}/here`), "lab.yaml");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("vde down --all is containerlab's destroy --all, and takes no lab besides", async () => {
  // Not run for real here: it would take down the labs of anything else running on this machine.
  const help = await vde(["down", "--help"]);
  assert.match(help.stdout, /-a, --all +take every lab down, as containerlab's destroy --all/);
  const both = await vde(["down", "--all", "demo"]);
  assert.equal(both.code, 1);
  assert.equal(both.stderr, "vde: vde down --all takes no lab: give demo or --all\n");
  const named = await vde(["down", "--all", "--name", "demo"]);
  assert.equal(named.code, 1);
  assert.equal(named.stderr, "vde: vde down --all takes no lab: give --name demo or --all\n");
});

Deno.test("vde down in a directory of several lab files takes the one whose lab is up", async () => {
  await withLabUp({ text: ONE_SWITCH }, async (name, file) => {
    const dir = file.slice(0, file.lastIndexOf("/"));
    await Deno.writeTextFile(`${dir}/other.yaml`, ONE_SWITCH.replace("name: x", `name: ${name}x`));
    const down = await run([...vdeCommand(), "down"], { cwd: dir, check: false, timeoutMs: 60_000 });
    assert.equal(down.code, 0, down.stderr);
    assert.match(down.stdout, new RegExp(`^removed lab ${name}$`, "m"));
  });
});

Deno.test("vde down and vde graph beside a copy the lab shell's save wrote (two files naming the lab that is up) take the file it runs", async () => {
  await withLabUp({ text: ONE_SWITCH }, async (name, file) => {
    const dir = file.slice(0, file.lastIndexOf("/"));
    const save = await vde(["term", name, "-c", `save ${dir}/copy.yaml`]);
    assert.equal(save.code, 0, save.stderr);
    // The copy first by name (copy.yaml < lab.yaml), and drawn differently: the file it runs is drawn.
    await Deno.writeTextFile(
      `${dir}/copy.yaml`,
      ONE_SWITCH.replace("name: x", `name: ${name}`).replace("4", "8"),
    );
    const graph = await run([...vdeCommand(), "graph"], { cwd: dir, check: false });
    assert.equal(graph.code, 0, graph.stderr);
    assert.match(graph.stdout, /4 ports/);
    const down = await run([...vdeCommand(), "down"], { cwd: dir, check: false, timeoutMs: 60_000 });
    assert.equal(down.code, 0, down.stderr);
    assert.match(down.stdout, new RegExp(`^removed lab ${name}$`, "m"));
  });
});

Deno.test("vde graph takes a running lab's name, and of several lab files here the one whose lab is up", async () => {
  await withLabUp({ text: ONE_SWITCH }, async (name, file) => {
    const dir = file.slice(0, file.lastIndexOf("/"));
    await Deno.writeTextFile(`${dir}/backup.yaml`, ONE_SWITCH.replace("name: x", `name: ${name}x`));
    const here = await run([...vdeCommand(), "graph"], { cwd: dir, check: false });
    assert.equal(here.code, 0, here.stderr);
    assert.match(here.stdout, new RegExp(`^graph "${name}" \\{`));
    const byName = await vde(["graph", name]);
    assert.equal(byName.code, 0, byName.stderr);
    assert.equal(byName.stdout, here.stdout);
  });
});

Deno.test("a user who is not root, finding no lab, is told of root's labs, which are not theirs to list, and not of root's switches", async () => {
  const base = await Deno.makeTempDir({ prefix: "vde-root-labs-" });
  try {
    assert.equal(rootLabsHint(1000, base), "");
    await Deno.mkdir(`${base}/demo`);
    await Deno.writeTextFile(`${base}/demo.log`, "a background lab's log, no lab\n");
    assert.equal(rootLabsHint(1000, base), "; root's labs are up (demo): run vde as root for those");
    // A class switch root serves beside them (its directory setgid, as every switch's) is no lab.
    await Deno.mkdir(`${base}/class`);
    await Deno.chmod(`${base}/class`, 0o3770);
    assert.equal(rootLabsHint(1000, base), "; root's labs are up (demo): run vde as root for those");
    assert.equal(rootLabsHint(0, base), "", "root lists them itself");
    assert.equal(rootLabsHint(1000, `${base}/none`), "");
  } finally {
    await Deno.remove(base, { recursive: true });
  }
});

Deno.test("vde example lists the carried labs and prints one; a missing examples/ file points to it", async () => {
  const list = await vde(["example"]);
  assert.equal(list.code, 0, list.stderr);
  assert.match(
    list.stdout,
    /^class {7}One student's lab, .*\nlan-nat {5}Two hosts on one switch, .*\nlossy-wan {3}Two sites/,
  );
  const one = await vde(["example", "stp-loop"]);
  assert.equal(one.code, 0, one.stderr);
  assert.match(one.stdout, /^# Three switches in a triangle/);
  const typo = await vde(["example", "lan-nta"]);
  assert.equal(typo.code, 1);
  assert.equal(
    typo.stderr,
    "vde: no example lan-nta (did you mean lan-nat?); the examples: class, lan-nat, lossy-wan, stp-loop, vlan-trunk\n",
  );
  const missing = await vde(["graph", "/nonexistent/examples/vlan-trunk.yaml"]);
  assert.equal(missing.code, 1);
  assert.equal(
    missing.stderr,
    "vde: cannot read /nonexistent/examples/vlan-trunk.yaml: no such file (vde carries that example: " +
      "vde example vlan-trunk > vlan-trunk.yaml; vde up vlan-trunk.yaml)\n",
  );
});

Deno.test("vde status takes --json, and --format json or table as containerlab's inspect spells it; another format is one line", async () => {
  assert.equal(statusWantsJson({}), false);
  assert.equal(statusWantsJson({ json: true }), true);
  assert.equal(statusWantsJson({ format: "json" }), true);
  assert.equal(statusWantsJson({ format: "table" }), false);
  assert.throws(() => statusWantsJson({ json: true, format: "table" }), UsageError);
  const xml = await vde(["status", "--format", "xml"]);
  assert.equal(xml.code, 1);
  assert.equal(xml.stdout, "");
  assert.equal(xml.stderr, 'vde: vde status --format takes json or table, not "xml"\n');
});

Deno.test("vde status --json: the labs, and one lab's nodes (kind, state, namespace, addresses) and links (ends, settings, counters) as one JSON document", async (t) => {
  if (skipUnlessRoot(t)) return;
  const text = TWO_HOSTS.replace(
    "    - endpoints: [h2, sw1]\n",
    "    - endpoints: [h2, sw1]\n      loss: 5%\n      vlan: 3\n",
  );
  await withLabUp({ text }, async (name, file) => {
    const all = await vde(["status", "--json"]);
    assert.equal(all.code, 0, all.stderr);
    const labs = JSON.parse(all.stdout).labs as { name: string; pid: number; state: string; file: string }[];
    const mine = labs.find((l) => l.name === name);
    assert.equal(mine?.state, "up");
    assert.equal(mine?.file, await Deno.realPath(file));
    assert.ok(mine!.pid > 0);
    for (const args of [[name, "--json"], [file, "--format", "json"]]) {
      const one = await vde(["status", ...args]);
      assert.equal(one.code, 0, one.stderr);
      const doc = JSON.parse(one.stdout);
      assert.deepEqual([doc.name, doc.pid, doc.state], [name, mine!.pid, "up"]);
      assert.deepEqual(doc.nodes.map((n: { name: string; kind: string }) => [n.name, n.kind]), [
        ["sw1", "switch"],
        ["h1", "host"],
        ["h2", "host"],
      ]);
      const [sw1, h1] = doc.nodes;
      assert.deepEqual([sw1.ports, sw1.portsInUse, sw1.hub, sw1.state], [4, 2, false, "up"]);
      assert.equal(h1.namespace, `vde-${name}-h1`);
      assert.deepEqual(h1.interfaces, [{ name: "eth0", addresses: ["10.9.0.1/24"], dhcp: false }]);
      assert.deepEqual(doc.links.map((l: { name: string; state: string }) => l.state), ["up", "up"]);
      const h2link = doc.links[1];
      assert.deepEqual(h2link.a, { node: "h2", iface: "eth0" });
      assert.equal(h2link.b.node, "sw1");
      assert.deepEqual(h2link.settings, { loss: "5%", vlan: 3 });
      for (const key of ["framesAtoB", "framesBtoA", "drops"]) assert.equal(typeof h2link[key], "number");
    }
    // The table is still the default, and --format table asks for it.
    const table = await vde(["status", name, "--format", "table"]);
    assert.match(table.stdout, /^lab \S+ \(pid \d+\)\n/);
    assert.match(table.stdout, /loss 5%, vlan 3/);
  });
  // A lab not up: one line on stderr, nothing on stdout for a parser to read half of.
  const gone = await vde(["status", "nosuchlb", "--json"]);
  assert.equal(gone.code, 1);
  assert.equal(gone.stdout, "");
  assert.match(gone.stderr, /^vde: no lab nosuchlb is up[^\n]*\n$/);
});

Deno.test("a lab still coming up is starting in vde status, not up, and its own status and vde term say so in one line, not a missing file or socket", async (t) => {
  if (skipUnlessRoot(t)) return;
  // The host's exec holds bring-up for a while, after the lab's state file and sockets are there: longer
  // than five vde commands take on a loaded machine (8 s was not, at a load of 30), and vde down cuts it short.
  await withLabFile({ text: hostWithExec("10.9.0.1/24", ["sleep 60"]) }, async (name, file) => {
    const up = new Deno.Command(vdeCommand()[0]!, {
      args: [...vdeCommand().slice(1), "up", "-d", file],
      stdout: "null",
      stderr: "null",
    }).spawn();
    try {
      await waitFor(() => isSocket(`${labDir(name)}/sw1.mgmt`), {
        timeoutMs: 30_000,
        what: "the lab's switch",
      });
      const all = await vde(["status", "--json"]);
      assert.equal(all.code, 0, all.stderr);
      const mine = (JSON.parse(all.stdout).labs as { name: string; state: string }[]).find((l) =>
        l.name === name
      );
      assert.equal(mine?.state, "starting");
      assert.match((await vde(["status"])).stdout, new RegExp(`^${name} +\\d+ +starting `, "m"));
      for (const args of [["status", name], ["status", name, "--json"], ["term", name, "-c", "status"]]) {
        const one = await vde(args);
        assert.equal(one.code, 1);
        assert.equal(one.stdout, "");
        assert.match(
          one.stderr,
          new RegExp(`^vde: lab ${name} is not up \\(its vde up, pid \\d+, is still bringing it up`),
        );
      }
    } finally {
      await vde(["down", name]);
      await up.status;
    }
    const after = await vde(["status", "--json"]);
    assert.equal((JSON.parse(after.stdout).labs as { name: string }[]).some((l) => l.name === name), false);
  });
});

Deno.test("vde term LAB of a lab whose vde up was killed (SIGKILL) says the lab is dead and what to run, whether its console socket was left or never made", async (t) => {
  if (skipUnlessRoot(t)) return;
  // Killed once up (its console socket left, nothing serving it), then killed as it still brings the lab up
  // (no console yet, the host's exec holding bring-up).
  for (
    const [text, detached] of [[ONE_SWITCH, true], [hostWithExec("10.9.0.1/24", ["sleep 8"]), false]] as const
  ) {
    await withLabFile({ text }, async (name, file) => {
      const up = new Deno.Command(vdeCommand()[0]!, {
        args: [...vdeCommand().slice(1), "up", ...(detached ? ["-d"] : []), file],
        stdin: "null",
        stdout: "null",
        stderr: "null",
      }).spawn();
      try {
        if (detached) assert.equal((await up.status).code, 0, "the lab came up");
        await waitFor(() => isSocket(`${labDir(name)}/sw1.mgmt`) || undefined, {
          timeoutMs: 30_000,
          what: "the lab's switch",
        });
        const pid = readState(name)!.pid;
        Deno.kill(pid, "SIGKILL");
        await waitFor(() => !processAlive(pid) || undefined, { timeoutMs: 10_000, what: "vde up killed" });
        assert.equal(
          isSocket(`${labDir(name)}/ctl`),
          detached,
          "the console socket left behind, or never made",
        );
        const term = await vde(["term", name, "-c", "status"]);
        assert.equal(term.code, 1);
        assert.equal(term.stdout, "");
        assert.equal(
          term.stderr,
          `vde: lab ${name} is dead (its vde up, pid ${pid}, is gone): run \`vde down ${name}\`\n`,
        );
      } finally {
        await vde(["down", name]);
        await up.status;
      }
    });
  }
});

Deno.test("vde down of a lab already down says so in one line and exits 0; a lab it cannot name stays a failure", async (t) => {
  if (skipUnlessRoot(t)) return;
  await withLabUp({ text: ONE_SWITCH }, async (name, file) => {
    const first = await vde(["down", file]);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, new RegExp(`removed lab ${name}\\n$`));
    for (const args of [[file], [name], ["-t", file]]) {
      const again = await vde(["down", ...args]);
      assert.equal(again.code, 0, again.stderr);
      assert.equal(again.stderr, "");
      assert.match(again.stdout, new RegExp(`^no lab ${name} is up[^\\n]*: nothing to take down\\n$`));
    }
  });
  // Neither a lab file nor a lab name: a mistake in the trap itself, not a lab already down.
  const bad = await vde(["down", "no/such/lab.yaml"]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /is neither a lab file nor a lab name/);
});

Deno.test("two vde down of one lab at once both exit 0 and leave no directory of it, run after run", async (t) => {
  if (skipUnlessRoot(t)) return;
  await withLabFile({ text: ONE_SWITCH }, async (name, file) => {
    for (let run = 0; run < 6; run++) {
      const up = await vde(["up", "-d", file]);
      assert.equal(up.code, 0, up.stderr);
      const both = await Promise.all([vde(["down", name]), vde(["down", name])]);
      for (const r of both) {
        assert.equal(r.code, 0, `run ${run}: ${r.stderr}`);
        assert.equal(r.stderr, "", `run ${run}`);
        // Whichever came second waited for the first's stop, or found the lab gone already.
        assert.match(
          r.stdout,
          new RegExp(`removed lab ${name}\n$|: nothing to take down\n$|\\(no lab was running there\\)\n$`),
          `run ${run}: ${JSON.stringify(r.stdout)}`,
        );
      }
      assert.equal(isDirectory(labDir(name)), false, `run ${run}: ${both.map((r) => r.stdout).join("")}`);
    }
  });
});

Deno.test("a lab file whose name is a path (../../x) is refused by vde down and status as vde up refuses it, removing nothing it leads to", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-name-path-" });
  try {
    // From the labs' directory up to / and down to the victim: vde down removed that directory, --cleanup its .log.
    const name = `${"../".repeat(labsBaseDir().split("/").filter((p) => p !== "").length)}${
      dir.slice(1)
    }/victim`;
    await Deno.mkdir(`${dir}/victim`);
    await Deno.writeTextFile(`${dir}/victim/kept`, "x");
    await Deno.writeTextFile(`${dir}/victim.log`, "x");
    const lab = (n: string) => `name: "${n}"\ntopology:\n  nodes:\n    sw1: { kind: switch }\n`;
    await Deno.writeTextFile(`${dir}/a.yaml`, lab(name));
    await Deno.writeTextFile(`${dir}/b.yaml`, lab("b\\e]0;title\\a"));
    const refusal = `vde: a.yaml: lab name "${name}" may hold only letters, digits, "-" and "_", ` +
      "starting with a letter or digit\n";
    for (const args of [["down", "a.yaml"], ["down", "a.yaml", "--cleanup"], ["status", "a.yaml"]]) {
      const r = await run([...vdeCommand(), ...args], { cwd: dir, check: false });
      assert.equal(r.code, 1, args.join(" "));
      assert.equal(r.stdout, "", args.join(" "));
      assert.equal(r.stderr, refusal, args.join(" "));
    }
    // Two lab files here, neither naming a lab: not "nothing to take down" (and their .log removed).
    const both = await run([...vdeCommand(), "down", "--cleanup"], { cwd: dir, check: false });
    assert.equal(both.code, 1, both.stdout);
    assert.equal(both.stdout, "");
    assert.equal(both.stderr.includes("\x1b"), false, both.stderr);
    assert.equal(await Deno.readTextFile(`${dir}/victim/kept`), "x");
    assert.equal(await Deno.readTextFile(`${dir}/victim.log`), "x");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("of two vde up -d of a lab at once, the one that loses leaves the winner's log alone", async (t) => {
  if (skipUnlessRoot(t)) return;
  // The host's exec keeps the winner starting for seconds, long after it has the lab's name and log.
  await withLabFile(
    { text: hostWithExec("10.9.57.1/24", ["sleep 3", "echo winner configured"]) },
    async (name, file) => {
      const both = await Promise.all([vde(["up", "-d", file], 120_000), vde(["up", "-d", file], 120_000)]);
      const won = both.filter((r) => r.code === 0);
      assert.equal(won.length, 1, both.map((r) => r.stderr).join("\n"));
      const lost = both.find((r) => r.code !== 0)!;
      // Still coming up as the loser looked, most likely (its exec sleeps): said so, not "already up".
      assert.match(
        lost.stderr,
        /is coming up already \(its vde up, pid \d+, is bringing it up\)|is starting or stopping|is already up/,
        lost.stderr,
      );
      const text = await Deno.readTextFile(`${labsBaseDir()}/${name}.log`);
      assert.match(text, /h1 {2}winner configured/, "the winner's log is there, with its exec's line");
      assert.doesNotMatch(
        text,
        /starting or stopping|already up|coming up already/,
        "the loser wrote nothing in it",
      );
    },
  );
});

Deno.test("a lab being taken down is stopping in vde status, and vde status LAB and vde term LAB say it is being taken down", async () => {
  const name = `down${Deno.pid.toString(36)}`;
  // Its vde up, still running (a Deno program, as vde is), its console closed and the lab marked.
  const owner = new Deno.Command(Deno.execPath(), {
    args: ["eval", "setTimeout(() => {}, 60_000)"],
    stdin: "null",
  })
    .spawn();
  let file: string | undefined;
  try {
    Deno.mkdirSync(labDir(name), { recursive: true });
    writeState({ name, pid: owner.pid, file: "", namespaces: [], started: new Date().toISOString() });
    Deno.writeTextFileSync(`${labDir(name)}/${STOPPING_FILE}`, "");
    const list = await vde(["status"]);
    assert.match(
      list.stdout,
      new RegExp(`^${name} +${owner.pid} +stopping \\(being taken down\\)`, "m"),
      list.stdout,
    );
    const json = await vde(["status", "--json"]);
    assert.equal(
      JSON.parse(json.stdout).labs.find((l: { name: string }) => l.name === name)?.state,
      "stopping",
    );
    const line = `lab ${name} is being taken down (its vde up, pid ${owner.pid}, is stopping): ` +
      "`vde status` lists it as stopping until it is gone";
    const one = await vde(["status", name]);
    assert.equal(one.stderr, `vde: ${line}\n`);
    const term = await vde(["term", name]);
    assert.equal(term.stderr, `vde: ${line}\n`);
    // Brought up again meanwhile: not "already up", which it is not for long.
    file = Deno.makeTempFileSync({ prefix: `${name}-`, suffix: ".yaml" });
    Deno.writeTextFileSync(file, `name: ${name}\ntopology:\n  nodes:\n    sw1: { kind: switch }\n`);
    const up = await vde(["up", "-d", file]);
    assert.equal(up.stderr, `vde: ${line}; bring it up again then\n`);
  } finally {
    if (file !== undefined) Deno.removeSync(file);
    owner.kill("SIGKILL");
    await owner.status;
    await Deno.remove(labDir(name), { recursive: true }).catch(() => {});
    await Deno.remove(`${labsBaseDir()}/${name}.names.json`).catch(() => {});
  }
});
