/**
 * A running lab's switch by name where a command takes a switch's path:
 * `vde capture wan/site1`, `vde term site1`, as a lab user knows them.
 */
import assert from "node:assert/strict";
import { forceDown, labFile, vde, withLabUp } from "./_helpers.ts";
import { isFile } from "../../src/os/paths.ts";
import {
  isLabSwitchConsole,
  matchLabSwitch,
  rootLabsWithHost,
  rootsHostAnswer,
  rootsLabAnswer,
  rootsNodeAnswer,
  usersLabs,
} from "../../src/lab/switch_paths.ts";
import { labsBaseDir, ROOT_LABS_DIR } from "../../src/lab/names.ts";
import { AS_NOBODY, run, type RunResult, skipUnlessRoot } from "../helpers/processes.ts";

/** A switch name no other test's lab uses, so the bare name is this test's alone. */
const SWITCH = `s${Deno.pid.toString(36)}`;

const LAB = `name: x
topology:
  nodes:
    ${SWITCH}: { kind: switch, ports: 4 }
  links: []
`;

Deno.test("vde term and vde capture take a running lab's switch as SWITCH or LAB/SWITCH", async () => {
  await withLabUp({ text: LAB }, async (name) => {
    for (const target of [SWITCH, `${name}/${SWITCH}`]) {
      const term = await vde(["term", target, "-c", "port/print"]);
      assert.equal(term.code, 0, term.stderr);
      const file = await Deno.makeTempFile({ suffix: ".pcapng" });
      try {
        // Nothing crosses the switch: the capture runs until the timeout, its file begun.
        const capture = await vde(["capture", target, "-c", "1", "-w", file], 5_000);
        assert.doesNotMatch(capture.stderr, /no such switch/, target);
        const head = (await Deno.readFile(file)).subarray(0, 4);
        assert.deepEqual([...head], [0x0a, 0x0d, 0x0d, 0x0a], `${target}: a pcapng section header`);
      } finally {
        await Deno.remove(file);
      }
    }
  });
});

Deno.test("a lab switch name that finds none is answered with the near one, or the lab switches there are", async () => {
  await withLabUp({ text: LAB }, async (name) => {
    const typo = await vde(["capture", `${name}/${SWITCH}x`, "-w", "/dev/null"]);
    assert.equal(typo.code, 1);
    assert.match(
      typo.stderr,
      new RegExp(
        `^vde: ${name}/${SWITCH}x: no such switch directory or management socket \\(did you mean ${name}/${SWITCH}[,?]`,
      ),
    );
    const term = await vde(["term", `${name}/${SWITCH}x`, "-c", "port/print"]);
    assert.equal(term.code, 1);
    assert.match(term.stderr, new RegExp(`\\(did you mean ${name}/${SWITCH}[,?]`));
    // vde slirp --sock takes a lab's switch by name too, and says so of a name that finds none.
    const slirp = await vde(["slirp", "--sock", `${name}/${SWITCH}x`, "-d"]);
    assert.equal(slirp.code, 1);
    assert.match(
      slirp.stderr,
      new RegExp(
        `^vde: no switch at ${name}/${SWITCH}x: the directory does not exist \\(did you mean ${name}/${SWITCH}[,?]`,
      ),
    );
  });
});

Deno.test("a switch name that two running labs have asks which lab's, for vde capture and vde slirp --sock", async () => {
  await withLabUp({ text: LAB }, async (first) => {
    await withLabUp({ text: LAB }, async (second) => {
      const r = await vde(["capture", SWITCH, "-w", "/dev/null"]);
      const [a, b] = [first, second].sort();
      assert.equal(r.code, 1);
      assert.equal(
        r.stderr,
        `vde: ${SWITCH} is a switch of labs ${a}, ${b}: name one, ${a}/${SWITCH} or ${b}/${SWITCH}\n`,
      );
      const slirp = await vde(["slirp", "--sock", SWITCH, "-d"]);
      assert.equal(slirp.code, 1);
      assert.equal(
        slirp.stderr,
        `vde: no switch at ${SWITCH}: the directory does not exist ` +
          `(a switch of labs ${a}, ${b}: name one, ${a}/${SWITCH} or ${b}/${SWITCH})\n`,
      );
    });
  });
});

Deno.test("a switch name with no lab up is told apart from a path, for vde capture to say no lab is up", () => {
  for (const name of ["sw1", "demo/sw1"]) {
    assert.deepEqual(matchLabSwitch(name, []), { why: "", noLabUp: true }, name);
  }
  for (const name of ["/tmp/net", "./net", "tmp/net/x"]) {
    assert.deepEqual(matchLabSwitch(name, []), { why: "", noLabUp: false }, name);
  }
  const up = [{ lab: "wan", node: "site1", dir: "/run/vde/wan/site1" }];
  assert.equal(matchLabSwitch("site1", up).found, up[0]);
});

Deno.test("a student naming root's lab, or its switch, is told it is root's, not that no such lab is up", async () => {
  const base = await Deno.makeTempDir({ prefix: "vde-root-lab-" });
  try {
    await Deno.mkdir(`${base}/u24s1`);
    // A class switch root serves beside the labs (setgid, as every switch's directory) is no lab.
    await Deno.mkdir(`${base}/class`);
    await Deno.chmod(`${base}/class`, 0o2700);
    const answer = "lab u24s1 is root's, not this user's: run vde as root for it " +
      "(its console runs commands as root in its hosts, so it is root's alone)";
    assert.equal(rootsLabAnswer("u24s1", 1000, base), answer);
    assert.equal(rootsLabAnswer("u24s1/sw1", 1000, base), answer);
    assert.equal(rootsLabAnswer("u24s1/", 1000, base), answer);
    assert.equal(rootsLabAnswer("u24s2", 1000, base), undefined, "a lab root does not run");
    assert.equal(rootsLabAnswer("class", 1000, base), undefined, "a switch's directory");
    assert.equal(rootsLabAnswer("./u24s1", 1000, base), undefined, "a path");
    assert.equal(rootsLabAnswer("u24s1/sw1/x", 1000, base), undefined, "a path");
    assert.equal(rootsLabAnswer("u24s1", 0, base), undefined, "root's own lab is root's to use");
    assert.equal(rootsLabAnswer("u24s1", 1000, `${base}/none`), undefined);
  } finally {
    await Deno.remove(base, { recursive: true });
  }
});

/**
 * What uid 65534's own lookup says of capture target `target` (after what `before`, more code, prints):
 * `found PATH` or the refusal, on stdout.
 */
async function captureAsNobody(target: string, before = ""): Promise<RunResult> {
  const capture = new URL("../../src/cli/capture.ts", import.meta.url).href;
  // capture.ts imports npm packages, which uid 65534 cannot cache in root's Deno directory.
  const denoDir = await Deno.makeTempDir({ prefix: "vde-roots-lab-deno-" });
  await Deno.chmod(denoDir, 0o777);
  return await run([
    ...AS_NOBODY,
    Deno.execPath(),
    "eval",
    `import { captureSource } from "${capture}";\n${before}\n` +
    `await captureSource(${JSON.stringify(target)}).then(` +
    `(s) => console.log("found " + s.path), (e) => console.log(e.message));`,
  ], { timeoutMs: 60_000, env: { DENO_DIR: denoDir } }).finally(() =>
    Deno.remove(denoDir, { recursive: true }).catch(() => {})
  );
}

Deno.test("root's running lab, seen by another uid, is named as root's by that uid's own lookup", async (t) => {
  if (skipUnlessRoot(t)) return;
  await withLabUp({ text: LAB }, async (name) => {
    const paths = new URL("../../src/lab/switch_paths.ts", import.meta.url).href;
    const asked = await captureAsNobody(
      `${name}/${SWITCH}`,
      `import { rootsLabAnswer } from "${paths}";\n` +
        `console.log(rootsLabAnswer(${JSON.stringify(name)}) ?? "none");` +
        `console.log(rootsLabAnswer(${JSON.stringify(`${name}/${SWITCH}`)}) ?? "none");`,
    );
    assert.match(
      asked.stdout,
      new RegExp(
        `^lab ${name} is root's, not this user's: .*\nlab ${name} is root's.*\nlab ${name} is root's`,
      ),
      "vde capture LAB/SWITCH too",
    );
  });
});

Deno.test("a lab switch's console is told from any other socket by where it lives, for the line that says how to share it", () => {
  assert.ok(isLabSwitchConsole(`${ROOT_LABS_DIR}/class/sw1.mgmt`));
  assert.ok(isLabSwitchConsole(`${labsBaseDir()}/class/sw1.mgmt`));
  assert.ok(!isLabSwitchConsole(`${ROOT_LABS_DIR}/class/ctl`), "the lab's own console");
  assert.ok(!isLabSwitchConsole("/tmp/sw1/mgmt"), "vde switch's");
  assert.ok(!isLabSwitchConsole("/tmp/class/sw1.mgmt"));
});

/** The user whose rootless labs the tests below plant, as root finds them. */
const USER = 4242;

/** A state file of USER's lab `name`, its rootless mark "m1" (`rootless` in `o` says another), with `o`. */
function usersState(name: string, o: Record<string, unknown> = {}): string {
  return JSON.stringify({
    name,
    pid: 1 << 30,
    file: "",
    namespaces: [],
    started: "",
    rootless: { namespace: { dev: 1, ino: 1 }, uid: USER, mark: "m1" },
    ...o,
  });
}

/** Where lab `name`'s state file goes in runtime directory `dir` (its directory made). */
function statePathIn(dir: string, name: string): string {
  Deno.mkdirSync(`${dir}/vde/${name}`, { recursive: true });
  return `${dir}/vde/${name}/state.json`;
}

/** Writes lab `name`'s state `text` in runtime directory `dir`, USER's file as their vde writes it. */
function plant(dir: string, name: string, text: string): string {
  const path = statePathIn(dir, name);
  Deno.writeTextFileSync(path, text);
  Deno.chownSync(path, USER, USER);
  return path;
}

Deno.test("root finds users' rootless labs by their marked processes, a lab of another mark or user not among them", async (t) => {
  if (skipUnlessRoot(t)) return;
  const dir = await Deno.makeTempDir({ prefix: "vde-r3-users-" });
  try {
    const lab = (name: string, mark: string, uid: number) =>
      plant(dir, name, usersState(name, { rootless: { namespace: { dev: 1, ino: 1 }, uid, mark } }));
    lab("mylan", "m1", USER);
    lab("other", "m2", USER); // no process carries its mark: not this one's
    lab("stolen", "m1", 4343); // another user's uid in the file
    // Two processes of the one lab (its vde up and a host's sleep): found once.
    const marked = () => [4, 5].map((pid) => ({ pid, uid: USER, mark: "m1", runtimeDir: dir }));
    const found = usersLabs(0, marked);
    assert.deepEqual(found.map((l) => [l.uid, l.name, l.state.name]), [[USER, "mylan", "mylan"]]);
    assert.equal(usersLabs(1000, marked).length, 0, "a user who is not root finds none");
    assert.deepEqual(usersLabs(0, () => []), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("root reads a user's lab states without trusting them: a FIFO or a link there hangs nothing, a foreign file or a bad pid is no lab, the file name shows no terminal escape", async (t) => {
  if (skipUnlessRoot(t)) return;
  const dir = await Deno.makeTempDir({ prefix: "vde-r15b-users-" });
  try {
    plant(dir, "mylan", usersState("mylan"));
    plant(dir, "escape", usersState("escape", { file: "/x\x1b]0;root\x07.yaml" }));
    plant(dir, "badpid", usersState("badpid", { pid: "self" }));
    // Root's file there (linked or copied) is no lab of the user's.
    Deno.chownSync(plant(dir, "roots", usersState("roots")), 0, 0);
    // A read of these would block for good (a FIFO nobody writes), or never end (/dev/zero).
    assert.equal((await run(["mkfifo", statePathIn(dir, "fifo")])).code, 0);
    Deno.symlinkSync("/dev/zero", statePathIn(dir, "zero"));
    Deno.symlinkSync(plant(dir, "target", usersState("link")), statePathIn(dir, "link"));
    const found = usersLabs(0, () => [{ pid: 4, uid: USER, mark: "m1", runtimeDir: dir }]);
    assert.deepEqual(found.map((l) => [l.name, l.state.file]), [
      ["escape", "/x?]0;root?.yaml"],
      ["mylan", ""],
      ["target", ""],
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a user who is not root naming a host alone finds it in root's labs by their namespaces, said as root's to reach, each lab's line where several have it", async () => {
  const base = await Deno.makeTempDir({ prefix: "vde-lab3-roots-" });
  const netns = await Deno.makeTempDir({ prefix: "vde-lab3-netns-" });
  try {
    for (const lab of ["class", "exam", "quiet"]) Deno.mkdirSync(`${base}/${lab}`);
    // class and exam have an h1, quiet none; a switch's directory there (setgid) is no lab.
    Deno.mkdirSync(`${base}/sw`);
    Deno.chmodSync(`${base}/sw`, 0o2770);
    for (const ns of ["vde-class-h1", "vde-exam-h1", "vde-class-h2", "vde-sw-h3"]) {
      Deno.writeTextFileSync(`${netns}/${ns}`, "");
    }
    const line = (lab: string) => `vde exec ${lab}/h`;
    assert.deepEqual(rootLabsWithHost("h1", 1000, base, netns), ["class", "exam"]);
    assert.equal(
      rootsHostAnswer("h2", line, 1000, base, netns),
      "h2 is a host of root's lab class, not this user's: run vde as root for it, `sudo vde exec class/h`",
    );
    assert.equal(
      rootsHostAnswer("h1", line, 1000, base, netns),
      "h1 is a host of root's labs class, exam, not this user's: run vde as root for it, " +
        "`sudo vde exec class/h` or `sudo vde exec exam/h`",
    );
    for (const host of ["h3", "h9", "../x", ""]) {
      assert.equal(rootsHostAnswer(host, line, 1000, base, netns), undefined);
    }
    assert.deepEqual(rootLabsWithHost("h1", 0, base, netns), [], "root's own labs are found as its own");
  } finally {
    await Deno.remove(base, { recursive: true });
    await Deno.remove(netns, { recursive: true });
  }
});

Deno.test("a user who is not root naming a switch or link alone is told it is root's lab's where that shows, else where it may be", async () => {
  const base = await Deno.makeTempDir({ prefix: "vde-lab4-roots-" });
  const netns = await Deno.makeTempDir({ prefix: "vde-lab4-netns-" });
  const line = (lab: string) => `vde capture ${lab}/x`;
  try {
    Deno.mkdirSync(`${base}/class/sw1`, { recursive: true });
    // A lab that shares a switch lets others find it by name: its ctl is seen.
    const ctl = Deno.listen({ transport: "unix", path: `${base}/class/sw1/ctl` });
    Deno.writeTextFileSync(`${netns}/vde-class-h1`, "");
    const answer = (name: string, uid = 1000) => rootsNodeAnswer(name, line, uid, base, netns);
    try {
      assert.deepEqual(answer("sw1"), {
        found: "sw1 is a switch of root's lab class, not this user's: run vde as root for it, " +
          "`sudo vde capture class/x`",
      });
    } finally {
      ctl.close();
    }
    for (const link of ["h1-sw2", "sw2-h1", "h1:eth0-sw2:1"]) {
      assert.match(
        (answer(link) as { found: string }).found,
        new RegExp(`^${link} is a link of root's lab class,`),
      );
    }
    assert.deepEqual(answer("site1-site2"), {
      maybe: "root's labs are up (class), whose switches and links only root sees: if it is one of theirs, " +
        "`sudo vde capture class/x`",
    });
    Deno.mkdirSync(`${base}/exam`);
    assert.match((answer("site1") as { maybe: string }).maybe, /\(class, exam\).*`sudo vde capture LAB\/x`$/);
    assert.equal(answer("sw1", 0), undefined, "root's labs are root's own");
    assert.equal(answer("/tmp/sw1"), undefined, "a path");
    assert.equal(rootsNodeAnswer("sw1", line, 1000, `${base}/none`, netns), undefined, "root runs no lab");
  } finally {
    await Deno.remove(base, { recursive: true });
    await Deno.remove(netns, { recursive: true });
  }
});

Deno.test("a namespace two of root's labs' names could open is counted once, for the longest lab that is up", async () => {
  const base = await Deno.makeTempDir({ prefix: "vde-lab4-roots-" });
  const netns = await Deno.makeTempDir({ prefix: "vde-lab4-netns-" });
  try {
    Deno.mkdirSync(`${base}/a`);
    // vde-a-b-h1 is lab a's b-h1 while lab a-b is down.
    Deno.writeTextFileSync(`${netns}/vde-a-b-h1`, "");
    assert.deepEqual(rootLabsWithHost("b-h1", 1000, base, netns), ["a"]);
    assert.deepEqual(rootLabsWithHost("h1", 1000, base, netns), []);
    // With a-b up, the one namespace is one lab's host, not a's b-h1 and a-b's h1 both.
    Deno.mkdirSync(`${base}/a-b`);
    assert.deepEqual(rootLabsWithHost("h1", 1000, base, netns), ["a-b"]);
    assert.deepEqual(rootLabsWithHost("b-h1", 1000, base, netns), []);
    // A's own host, whose namespace no longer lab's name opens, is still a's.
    Deno.writeTextFileSync(`${netns}/vde-a-h2`, "");
    assert.deepEqual(rootLabsWithHost("h2", 1000, base, netns), ["a"]);
  } finally {
    await Deno.remove(base, { recursive: true });
    await Deno.remove(netns, { recursive: true });
  }
});

Deno.test("a lab's names file says its hosts exactly: lab a's host b-h1 is not lab a-b's h1, whichever labs are up or old", async () => {
  const base = await Deno.makeTempDir({ prefix: "vde-lab5-roots-" });
  const netns = await Deno.makeTempDir({ prefix: "vde-lab5-netns-" });
  const names = (lab: string, hosts: string[]) =>
    Deno.writeTextFileSync(`${base}/${lab}.names.json`, JSON.stringify({ lab, owner: 0, hosts }));
  try {
    for (const lab of ["a", "a-b"]) Deno.mkdirSync(`${base}/${lab}`);
    Deno.writeTextFileSync(`${netns}/vde-a-b-h1`, "");
    names("a", ["b-h1"]);
    names("a-b", []);
    assert.deepEqual(rootLabsWithHost("b-h1", 1000, base, netns), ["a"]);
    assert.deepEqual(
      rootLabsWithHost("h1", 1000, base, netns),
      [],
      "a-b has no h1, whatever the name reads as",
    );
    // a-b brought up by a previous vde (no names file): a's file still claims the namespace.
    Deno.removeSync(`${base}/a-b.names.json`);
    assert.deepEqual(rootLabsWithHost("h1", 1000, base, netns), []);
    assert.deepEqual(rootLabsWithHost("b-h1", 1000, base, netns), ["a"]);
    // a old, a-b new and listing no h1: the namespace is a's.
    Deno.removeSync(`${base}/a.names.json`);
    names("a-b", ["h2"]);
    assert.deepEqual(rootLabsWithHost("b-h1", 1000, base, netns), ["a"]);
    assert.deepEqual(rootLabsWithHost("h1", 1000, base, netns), []);
    // A names file that is not the lab's (another lab's name in it, not JSON) is no answer: names are read.
    Deno.writeTextFileSync(`${base}/a-b.names.json`, JSON.stringify({ lab: "x", owner: 0, hosts: [] }));
    assert.deepEqual(rootLabsWithHost("h1", 1000, base, netns), ["a-b"]);
    Deno.writeTextFileSync(`${base}/a-b.names.json`, "{");
    assert.deepEqual(rootLabsWithHost("h1", 1000, base, netns), ["a-b"]);
    // A host listed whose namespace is gone (the lab going down) is none.
    names("a-b", ["h3"]);
    assert.deepEqual(rootLabsWithHost("h3", 1000, base, netns), []);
  } finally {
    await Deno.remove(base, { recursive: true });
    await Deno.remove(netns, { recursive: true });
  }
});

/** A lab of switch sw1 and host `host` on it. */
function oneHostLab(host: string): string {
  return `name: x
topology:
  nodes:
    sw1: { kind: switch, ports: 4 }
    ${host}: { kind: host, address: 10.9.0.1/24 }
  links:
    - endpoints: [${host}, sw1]
`;
}

Deno.test("another uid naming host h of root's lab X-b finds it, not lab X's b-h, whose namespace names the same", async (t) => {
  if (skipUnlessRoot(t)) return;
  const host = `h${Deno.pid.toString(36)}`;
  const text = oneHostLab(`b-${host}`);
  let upName = "";
  await withLabUp({ text }, async (name) => {
    upName = name;
    const names = JSON.parse(Deno.readTextFileSync(`${ROOT_LABS_DIR}/${name}.names.json`));
    assert.deepEqual(names, { lab: name, owner: 0, hosts: [`b-${host}`] });
    assert.equal((Deno.lstatSync(`${ROOT_LABS_DIR}/${name}.names.json`).mode ?? 0) & 0o777, 0o644);
    assert.equal(
      (Deno.lstatSync(`${ROOT_LABS_DIR}/${name}`).mode ?? 0) & 0o777,
      0o700,
      "its directory stays root's",
    );
    // Lab NAME-b, up beside it: namespace vde-NAME-b-HOST reads as its HOST too.
    const other = await labFile(`${name}-b`, {
      text: "name: x\ntopology:\n  nodes:\n    sw1: { kind: switch }\n",
    });
    try {
      const up = await vde(["up", "-d", other]);
      assert.equal(up.code, 0, up.stderr);
      const asked = await captureAsNobody(`b-${host}`);
      assert.match(
        asked.stdout,
        new RegExp(`^b-${host} is a host of root's lab ${name}, not this user's: `),
        asked.stderr,
      );
      const bare = await captureAsNobody(host);
      assert.doesNotMatch(bare.stdout, /is a host of root's lab/, "lab NAME-b has no such host");
    } finally {
      await forceDown(`${name}-b`);
      await Deno.remove(other.slice(0, other.lastIndexOf("/")), { recursive: true });
    }
  });
  for (const lab of [upName, `${upName}-b`]) {
    assert.equal(isFile(`${ROOT_LABS_DIR}/${lab}.names.json`), false, `vde down removes ${lab}'s names file`);
  }
});

Deno.test("root's running lab's host, named alone by another uid, is found by its namespace and said as root's to capture", async (t) => {
  if (skipUnlessRoot(t)) return;
  const host = `h${Deno.pid.toString(36)}`;
  const text = oneHostLab(host);
  await withLabUp({ text }, async (name) => {
    const asked = await captureAsNobody(host);
    assert.equal(
      asked.stdout,
      `${host} is a host of root's lab ${name}, not this user's: run vde as root for it, ` +
        `\`sudo vde capture ${name}/${host}\`\n`,
      asked.stderr,
    );
    // Its link, by the host at one end; its switch, which only root sees, as where it may be.
    const link = await captureAsNobody(`${host}-sw1`);
    assert.match(
      link.stdout,
      new RegExp(
        `^${host}-sw1 is a link of root's lab ${name}, not this user's: .*\`sudo vde capture ${name}/${host}-sw1\``,
      ),
      link.stderr,
    );
    const sw = await captureAsNobody("sw1");
    assert.match(
      sw.stdout,
      new RegExp(
        `^sw1: no such switch directory or management socket, nor a switch of this user's labs; ` +
          `root's labs are up \\([^)]*\\b${name}\\b[^)]*\\), whose switches and links only root sees: if it is one of theirs, \``,
      ),
      sw.stderr,
    );
  });
});
