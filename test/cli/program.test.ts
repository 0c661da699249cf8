/**
 * The pid file a program writes is never writable by others, even under
 * umask 000; a stale one of another user's, which /tmp's sticky bit keeps,
 * is refused with whose it is.
 */
import assert from "node:assert/strict";
import { evalUnderUmask000 } from "../helpers/umask.ts";
import { AS_OTHER_USER, run, skipUnlessRoot } from "../helpers/processes.ts";
import { ourCli } from "../helpers/vde_clients.ts";

Deno.test("a pid file written under umask 000 is mode 644, not one anyone could point at another process", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "vde-pidfile-mode-" });
  try {
    const program = new URL("../../src/cli/program.ts", import.meta.url).href;
    await evalUnderUmask000(`import { writePidfile } from "${program}"; writePidfile("${tmp}/sw.pid");`);
    assert.equal((await Deno.stat(`${tmp}/sw.pid`)).mode! & 0o777, 0o644);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("a pid file that exists as a FIFO is refused at once in one line, not waited on for a writer", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "vde-pidfile-fifo-" });
  try {
    assert.ok((await new Deno.Command("mkfifo", { args: [`${tmp}/sw.pid`] }).output()).success);
    const { writePidfile } = await import("../../src/cli/program.ts");
    assert.throws(
      () => writePidfile(`${tmp}/sw.pid`),
      {
        message:
          `pid file ${tmp}/sw.pid already exists and is a named pipe, not a regular file: give a pid file of your own`,
      },
    );
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("a stale pid file of another user's in a sticky directory is refused with whose it is", async (t) => {
  if (skipUnlessRoot(t)) return;
  const tmp = await Deno.makeTempDir({ prefix: "vde-pidfile-other-" });
  try {
    await Deno.chmod(tmp, 0o1777);
    // Left by nobody's switch killed with SIGKILL: a pid that runs no more.
    await Deno.writeTextFile(`${tmp}/sw.pid`, "999999999\n");
    // The mode the message names, whatever the umask (077 in some CI runners) made it.
    await Deno.chmod(`${tmp}/sw.pid`, 0o644);
    await Deno.chown(`${tmp}/sw.pid`, 65534, 65534);
    await Deno.chown(tmp, 65534, 65534);
    const program = new URL("../../src/cli/program.ts", import.meta.url).href;
    const code = `import { writePidfile } from "${program}";\n` +
      `try { writePidfile("${tmp}/sw.pid"); } catch (e) { console.log(e.message); }`;
    // Root without the capabilities that pass over the sticky bit plays the other user.
    const drop = "-dac_override,-dac_read_search,-fowner";
    const as = ["setpriv", `--bounding-set=${drop}`, `--inh-caps=${drop}`];
    const r = await run([...as, Deno.execPath(), "eval", code], { timeoutMs: 30_000 });
    assert.match(
      r.stdout,
      new RegExp(
        `^cannot replace the stale pid file ${tmp}/sw\\.pid \\(owner nobody, mode 644\\): .*; give a pid file of your own\n$`,
      ),
    );
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("a --logfile or --pidfile in a directory the user may not write (root's /var/log, /run) is named with whose it is and what to do", async (t) => {
  if (skipUnlessRoot(t)) return;
  const tmp = await Deno.makeTempDir({ prefix: "vde-unwritable-" });
  try {
    // The switches' directories in ours; the files asked for in nobody's.
    const closed = `${tmp}/closed`;
    await Deno.mkdir(closed);
    await Deno.chmod(closed, 0o755); // not through mkdir's mode, which the umask narrows
    await Deno.chown(closed, 65534, 65534);
    const cases: [string, string][] = [["--logfile", "log file"], ["--pidfile", "pid file"]];
    const results = await Promise.all(
      cases.map(([option], i) =>
        run(
          [...AS_OTHER_USER, ...ourCli(), "switch", "-s", `${tmp}/sw${i}`, "-d", option, `${closed}/vde.x`],
          {
            check: false,
            timeoutMs: 60_000,
          },
        )
      ),
    );
    for (const [i, r] of results.entries()) {
      const [option, role] = cases[i]!;
      assert.equal(r.code, 1, r.stderr);
      assert.match(
        r.stderr,
        new RegExp(
          `^vde: cannot (open the|write) ${role} ${closed}/vde\\.x: root may not create files in ${closed} ` +
            `\\(owner nobody, mode 755\\); give one in a directory of yours \\(${option} ~/vde\\.x\\), or have ` +
            `root make it yours first \\(install -o root -m 644 /dev/null ${closed}/vde\\.x\\)\n$`,
        ),
      );
    }
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("a symlink another user left at the pid file's path is refused at once, not followed (to a FIFO that blocked the switch for good)", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "vde-pidfile-link-" });
  try {
    await new Deno.Command("mkfifo", { args: [`${tmp}/fifo`] }).output();
    await Deno.symlink(`${tmp}/fifo`, `${tmp}/sw.pid`);
    const program = new URL("../../src/cli/program.ts", import.meta.url).href;
    const code = `import { writePidfile } from "${program}";\n` +
      `try { writePidfile("${tmp}/sw.pid"); } catch (e) { console.log(e.message); }`;
    const r = await run([Deno.execPath(), "eval", code], { timeoutMs: 30_000 });
    assert.equal(
      r.stdout,
      `pid file ${tmp}/sw.pid already exists and is a symlink: give a pid file of your own\n`,
    );
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
