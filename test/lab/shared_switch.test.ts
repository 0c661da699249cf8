/**
 * A lab switch shared with a group (`mode: 660`, `group`, `mgmt_mode`), as
 * a teacher runs one as root for students: members plug Debian's vde_plug
 * into it and reach each other, and open its console; whoever is not in the
 * group is refused, by the kernel and by vde's own lookup of `LAB/SWITCH`
 * in one line; a switch the file does not share stays root's.
 */
import assert from "node:assert/strict";
import { AS_NOGROUP_MEMBER, NOGROUP, run, skipUnless, skipUnlessRoot } from "../helpers/processes.ts";
import {
  BROADCAST,
  ethFrame,
  mac,
  sameBytes,
  StdioClient,
  waitForPortFiles,
} from "../helpers/vde_clients.ts";
import { isFile } from "../../src/os/paths.ts";
import { onPath } from "../../src/os/command_lookup.ts";
import { labDir } from "../../src/lab/names.ts";
import { withLabUp } from "./_helpers.ts";

// Neither root nor the switch's owner: one in nogroup, one in no group but their own.
const AS_MEMBER = AS_NOGROUP_MEMBER;
const AS_OTHER = ["setpriv", "--reuid=12346", "--regid=12346", "--clear-groups"];

const LAB = `name: x
topology:
  nodes:
    sw1: { kind: switch, ports: 4, mode: 660, group: nogroup, mgmt_mode: 660 }
    sw2: { kind: switch, ports: 4 }
  links: []
`;

/** Whether `as` may connect to the stream socket `path`: "ok", or the error's name. */
async function connects(as: string[], path: string): Promise<string> {
  const py = "import socket,sys\ns=socket.socket(socket.AF_UNIX)\n" +
    "try:\n s.connect(sys.argv[1]); print('ok')\nexcept OSError as e: print(type(e).__name__)";
  return (await run([...as, "/usr/bin/python3", "-c", py, path], { check: false })).stdout.trim();
}

/** What `as` is answered at the console socket `path` for `line` (its first second of output). */
async function said(as: string[], path: string, line: string): Promise<string> {
  const py = "import socket,sys,time\ns=socket.socket(socket.AF_UNIX)\ns.connect(sys.argv[1])\n" +
    "s.sendall(sys.argv[2].encode()+b'\\n')\ntime.sleep(1)\ns.settimeout(0.5)\nout=b''\n" +
    "try:\n while True:\n  d=s.recv(65536)\n  if not d: break\n  out+=d\nexcept OSError: pass\n" +
    "print(out.decode(errors='replace'))";
  return (await run([...as, "/usr/bin/python3", "-c", py, path, line], { check: false })).stdout;
}

/** What `code` (a module importing `src/` by `SRC/`) prints run as uid `as`: its stdout, else its stderr. */
async function evalAs(as: string[], code: string): Promise<string> {
  const src = new URL("../../src/", import.meta.url).href;
  // The other uid cannot cache modules in root's Deno directory.
  const denoDir = await Deno.makeTempDir({ prefix: "vde-l9-deno-" });
  await Deno.chmod(denoDir, 0o777);
  try {
    const r = await run([...as, Deno.execPath(), "eval", code.replaceAll("SRC/", src)], {
      timeoutMs: 60_000,
      env: { DENO_DIR: denoDir },
      check: false,
    });
    return r.stdout.trim() || r.stderr;
  } finally {
    await Deno.remove(denoDir, { recursive: true });
  }
}

/** What this lab's switch lookup answers `name` as uid `as`: the switch's directory, or its one line. */
function lookedUp(as: string[], name: string): Promise<string> {
  return evalAs(
    as,
    `import { findLabSwitch, rootsLabAnswer } from "SRC/lab/switch_paths.ts";\n` +
      `const n = ${JSON.stringify(name)};\n` +
      `console.log(findLabSwitch(n).found?.dir ?? rootsLabAnswer(n) ?? "none");`,
  );
}

/** What `vde term PATH -c nodes` as uid `as` is refused with: its one line, or "opened". */
function termRefusal(as: string[], path: string): Promise<string> {
  return evalAs(
    as,
    `import { runTerm } from "SRC/cli/term.ts";\nconst path = ${JSON.stringify(path)};\n` +
      `try { await runTerm(path, { command: ["nodes"], timeout: "5" }); console.log("opened"); }\n` +
      `catch (e) { console.log(e.message); }`,
  );
}

/** Why `vde plug` (and `vde slirp`) as uid `as` cannot open the switch at `dir`: its one line, or "opened". */
function plugRefusal(as: string[], dir: string): Promise<string> {
  return evalAs(
    as,
    `import { openVdeLink } from "SRC/link/vde_link.ts";\n` +
      `try { (await openVdeLink(${JSON.stringify(dir)})).close(); console.log("opened"); }\n` +
      `catch (e) { console.log(e.message); }`,
  );
}

Deno.test("a lab switch with mode 660 and a group serves the group's vde_plug and console, and refuses others in one line", async (t) => {
  if (
    skipUnlessRoot(t) ||
    skipUnless(t, onPath("vde_plug") ? null : "vde_plug (Debian vdeplug) is missing") ||
    skipUnless(t, isFile("/usr/bin/python3") ? null : "/usr/bin/python3 is missing")
  ) return;
  await withLabUp({ text: LAB }, async (name) => {
    const dir = `${labDir(name)}/sw1`;
    const st = Deno.lstatSync(dir);
    assert.equal(
      (st.mode ?? 0) & 0o7777,
      0o3770,
      "the switch's directory, as vde switch --mode 660 makes it",
    );
    assert.equal(st.gid, NOGROUP);
    assert.equal((Deno.lstatSync(labDir(name)).mode ?? 0) & 0o777, 0o711, "the lab's directory lets them in");
    assert.equal((Deno.lstatSync(`${labDir(name)}/state.json`).mode ?? 0) & 0o777, 0o600);
    assert.equal((Deno.lstatSync(`${labDir(name)}/ctl`).mode ?? 0) & 0o777, 0o600, "the lab's console");
    assert.equal(
      (Deno.lstatSync(`${labDir(name)}.log`).mode ?? 0) & 0o777,
      0o600,
      "the lab's log (its hosts' exec output), beside its directory",
    );

    const a = new StdioClient([...AS_MEMBER, "vde_plug", dir], "vde_plug a (member)");
    const b = new StdioClient([...AS_MEMBER, "vde_plug", dir], "vde_plug b (member)");
    try {
      await waitForPortFiles(dir, 2);
      const frame = ethFrame(BROADCAST, mac(0xa), 1);
      await a.send(frame);
      assert.ok(sameBytes(await b.waitTag(1), frame), "b got a's broadcast");
    } finally {
      await a.stop();
      await b.stop();
    }
    const refused = await run([...AS_OTHER, "vde_plug", dir], { check: false, timeoutMs: 10_000 });
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /Permission denied/);

    assert.equal(await connects(AS_MEMBER, `${dir}.mgmt`), "ok", "mgmt_mode 660: the group's console");
    const load = await said(AS_MEMBER, `${dir}.mgmt`, "load /etc/shadow");
    assert.match(load, /only root may load/, "a member's load reads no file as root");
    assert.doesNotMatch(load, /root:/);
    assert.equal(await connects(AS_OTHER, `${dir}.mgmt`), "PermissionError");
    assert.equal(await connects(AS_MEMBER, `${labDir(name)}/sw2.mgmt`), "PermissionError", "sw2 is root's");
    assert.equal(await connects(AS_MEMBER, `${labDir(name)}/ctl`), "PermissionError", "the lab's console");

    assert.equal(await lookedUp(AS_MEMBER, `${name}/sw1`), dir, "vde term LAB/SWITCH finds it");
    assert.match(
      await lookedUp(AS_OTHER, `${name}/sw1`),
      new RegExp(
        `^switch ${name}/sw1 of root's lab ${name}: permission denied: it is group nogroup's .*, ` +
          "and 12346 is not in nogroup: ask its admin",
      ),
    );
    assert.match(
      await lookedUp(AS_MEMBER, `${name}/ctl`),
      new RegExp(`^lab ${name} is root's, not this user's`),
      "the lab's own console is not a switch",
    );
    // The lab's console by its path, or its directory's: root's by design, no mgmt_mode opens it.
    for (const path of [`${labDir(name)}/ctl`, labDir(name)]) {
      const refusal = await termRefusal(AS_MEMBER, path);
      assert.match(
        refusal,
        new RegExp(
          `: permission denied \\(owner root, mode 600\\): it is lab ${name}'s own console, .*` +
            `run vde term as that user \\(or root\\); a switch its file shares is \`vde term ${name}/SWITCH\`$`,
        ),
        path,
      );
      assert.doesNotMatch(refusal, /--mgmtmode|\n/, `${path}: no switch's options, one line`);
    }
    assert.match(
      await lookedUp(AS_MEMBER, `${name}/sw2`),
      new RegExp(
        `^switch ${name}/sw2 of root's lab ${name}: not shared with this user \\(owner root, mode 2700\\)`,
      ),
    );
  });
});

Deno.test("vde plug refused by a lab switch the file does not share says how a lab file shares one, not --mode 666 or chmod", async (t) => {
  if (skipUnlessRoot(t)) return;
  const sharing = " a lab shares a switch with a group by its node's `mode: 660` and `group: GROUP`";
  await withLabUp({ text: LAB }, async (name) => {
    const dir = labDir(name);
    assert.equal(
      await plugRefusal(AS_MEMBER, `${dir}/sw2`),
      `permission denied on the switch at ${dir}/sw2: a switch of root's lab ${name} that its lab file ` +
        `does not share with this user:${sharing}`,
    );
    // The shared one still tells whoever is not in its group to be added, as before.
    assert.match(
      await plugRefusal(AS_OTHER, `${dir}/sw1`),
      new RegExp(`^permission denied on the switch at ${dir}/sw1: it is group nogroup's .*ask its admin`),
    );
  });
  // A lab that shares nothing keeps its directory closed (700): the lab file is still the way, not a chmod.
  await withLabUp({ text: LAB.replace(", mode: 660, group: nogroup, mgmt_mode: 660", "") }, async (name) => {
    const dir = labDir(name);
    assert.equal(
      await plugRefusal(AS_MEMBER, `${dir}/sw1`),
      `permission denied on the switch at ${dir}/sw1: a switch of root's lab ${name} that its lab file ` +
        `does not share with this user:${sharing}`,
    );
  });
});
