/**
 * Root naming a host alone (`vde exec h1`, `vde capture h1`, `vde term h1`)
 * that only a user's rootless lab has: root's vde says whose lab it is and
 * the line that reaches it as that user, and that line runs as written.
 */
import assert from "node:assert/strict";
import { hasCommand, hasRoot, run, skipUnless } from "../helpers/processes.ts";
import { withStudent } from "../helpers/student.ts";

async function capability(): Promise<string | null> {
  const root = hasRoot();
  if (root !== null) return root;
  for (const cmd of ["useradd", "userdel", "setpriv", "unshare", "ip", "runuser"]) {
    if (!(await hasCommand(cmd))) return `${cmd} is not installed`;
  }
  return null;
}

Deno.test("root naming a host of a user's rootless lab alone is told whose it is, and the runuser line it gives runs there", async (t) => {
  if (skipUnless(t, await capability())) return;
  const name = `rh${Deno.pid.toString(36)}`;
  const host = `h${Deno.pid.toString(36)}`;
  await withStudent([], async (s) => {
    await Deno.writeTextFile(
      `${s.tmp}/home/lab.yaml`,
      `name: ${name}\ntopology:\n  nodes:\n    sw1: { kind: switch }\n    ${host}: { kind: host, address: 10.0.2.31/24 }\n` +
        `  links:\n    - endpoints: [${host}, sw1]\n`,
    );
    const up = await s.as(["vde", "up", "-d", "--rootless", "lab.yaml"], 120_000);
    assert.equal(up.code, 0, up.stderr);
    try {
      // Root's vde is the student's bundle, as a machine has one vde.
      const vde = [Deno.execPath(), "run", "-A", "--quiet", `${s.tmp}/bin/vde`];
      const bounded = { check: false, timeoutMs: 60_000 };
      const user = `vderl${Deno.pid}`;
      const whose =
        `${host} is a host of user ${user}'s rootless lab ${name}, whose namespaces are the user's own: ` +
        `reach it as that user, `;
      const env = `env XDG_RUNTIME_DIR=${s.tmp}/xdg`;

      const exec = await run([...vde, "exec", host, "ip", "-br", "link", "show", "eth0"], bounded);
      assert.equal(exec.code, 1, exec.stderr);
      const line = `runuser -u ${user} -- ${env} vde exec ${name}/${host} ip -br link show eth0`;
      assert.equal(exec.stderr, `vde: ${whose}\`${line}\`\n`);
      // The line, as root types it (with the machine's vde on the PATH): the host's eth0.
      const typed = await run(["sh", "-c", line], {
        ...bounded,
        env: { PATH: `${s.tmp}/bin:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin` },
      });
      assert.equal(typed.code, 0, typed.stderr);
      assert.match(typed.stdout, /^eth0\S* +\S+ +[0-9a-f:]{17} <[^>]*\bUP\b/, typed.stdout);

      // The same lab's host as LAB/HOST and LAB HOST.
      for (const words of [[`${name}/${host}`], [name, host]]) {
        const named = await run([...vde, "exec", ...words], bounded);
        assert.equal(
          named.stderr,
          `vde: ${whose}\`runuser -u ${user} -- ${env} vde exec ${name}/${host}\`\n`,
        );
      }

      const capture = await run([...vde, "capture", host, "-w", `${s.tmp}/x.pcapng`], bounded);
      assert.equal(capture.code, 1);
      // Every argument the user gave is in the line: -w FILE too, or root's capture went to stdout.
      assert.equal(
        capture.stderr,
        `vde: ${whose}\`runuser -u ${user} -- ${env} vde capture ${name}/${host} -w ${s.tmp}/x.pcapng\`\n`,
      );
      // LAB/HOST too, as vde capture and vde term name a lab's host.
      const labCapture = await run(
        [...vde, "capture", `${name}/${host}`, "-w", `${s.tmp}/x.pcapng`],
        bounded,
      );
      assert.equal(labCapture.stderr, capture.stderr);
      // A relative -w FILE is named from root's directory: the line copied elsewhere writes the same file.
      const relative = await run([...vde, "capture", host, "-w", "x.pcapng"], { ...bounded, cwd: s.tmp });
      assert.equal(relative.stderr, capture.stderr);
      for (const given of [host, `${name}/${host}`]) {
        const term = await run([...vde, "term", given], bounded);
        assert.equal(term.stderr, `vde: ${whose}\`runuser -u ${user} -- ${env} vde exec ${name}/${host}\`\n`);
      }
    } finally {
      const down = await s.as(["vde", "down", name], 60_000);
      assert.equal(down.code, 0, down.stderr);
    }

    // A user with no runtime directory (the lab in /tmp/vde-UID), root logged in with one of its own
    // (/run/user/0), which runuser keeps: the line takes root's away, or the user's vde looks there.
    const noXdg = (cmd: string[]) => s.as(["env", "-u", "XDG_RUNTIME_DIR", ...cmd], 120_000);
    const up2 = await noXdg(["vde", "up", "-d", "--rootless", "lab.yaml"]);
    assert.equal(up2.code, 0, up2.stderr);
    try {
      const rootXdg = { XDG_RUNTIME_DIR: `${s.tmp}/root-xdg` };
      const vde = [Deno.execPath(), "run", "-A", "--quiet", `${s.tmp}/bin/vde`];
      const exec = await run([...vde, "exec", host, "true"], {
        check: false,
        timeoutMs: 60_000,
        env: rootXdg,
      });
      const line = `runuser -u vderl${Deno.pid} -- env -u XDG_RUNTIME_DIR vde exec ${name}/${host} true`;
      assert.ok(exec.stderr.endsWith(`\`${line}\`\n`), exec.stderr);
      const typed = await run(["sh", "-c", line], {
        check: false,
        timeoutMs: 60_000,
        env: { ...rootXdg, PATH: `${s.tmp}/bin:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin` },
      });
      assert.equal(typed.code, 0, typed.stderr);
    } finally {
      const down = await noXdg(["vde", "down", name]);
      await Deno.remove(`/tmp/vde-${s.uid}`, { recursive: true }).catch(() => {});
      assert.equal(down.code, 0, down.stderr);
    }
  });
});
