/** Whether a recorded pid still runs: a lab's vde up, a switch's pid file. */
import assert from "node:assert/strict";
import { openFds, processAlive, untilExit } from "../../src/os/processes.ts";

Deno.test("a process killed but not yet reaped (a zombie) is not alive; a running one is", async () => {
  // A parent that kills its child and never waits for it. (Not a shell: `sh -c 'sleep 60 & kill -9 $!;
  // exec sleep 60'` let dash reap the child before the exec on a busy machine, and the test lost its zombie.)
  const parent = new Deno.Command("python3", {
    args: [
      "-c",
      "import os, time\np = os.fork()\nif p == 0:\n    time.sleep(60)\n    os._exit(0)\n" +
      // The pid and its newline in one write: print() under PYTHONUNBUFFERED=1 (set here) wrote them apart,
      // the test read the pid alone and closed the pipe, and the newline's EPIPE killed the parent and its zombie.
      "os.kill(p, 9)\nos.write(1, b'%d\\n' % p)\ntime.sleep(60)\n",
    ],
    stdout: "piped",
  }).spawn();
  try {
    const reader = parent.stdout.getReader();
    const { value } = await reader.read();
    reader.releaseLock();
    const zombie = Number(new TextDecoder().decode(value).trim());
    assert.ok(zombie > 0);
    for (let i = 0; i < 100 && !Deno.readTextFileSync(`/proc/${zombie}/stat`).includes(") Z"); i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(processAlive(zombie), false);
    assert.equal(processAlive(parent.pid), true);
  } finally {
    parent.kill("SIGKILL");
    await parent.stdout.cancel();
    await parent.status;
  }
  assert.equal(processAlive(parent.pid), false, "reaped: gone");
});

Deno.test("untilExit says false while a process outlives its bound, and true once it is gone", async () => {
  const child = new Deno.Command("sleep", { args: ["60"] }).spawn();
  try {
    assert.equal(await untilExit(child.pid, 30), false);
    child.kill("SIGKILL");
    await child.status;
    assert.equal(await untilExit(child.pid, 1000), true);
  } finally {
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
  }
});

Deno.test("openFds yields every process's descriptors with their /proc entries, passing over a process gone and an entry that is no process", async () => {
  const proc = await Deno.makeTempDir({ prefix: "vde-openfds-" });
  try {
    // A stand-in /proc: pid 100 with two descriptors, pid 200 gone (no fd directory), `self` no pid.
    await Deno.mkdir(`${proc}/100/fd`, { recursive: true });
    await Deno.symlink("/dev/null", `${proc}/100/fd/0`);
    await Deno.symlink("socket:[4242]", `${proc}/100/fd/7`);
    await Deno.mkdir(`${proc}/200`);
    await Deno.mkdir(`${proc}/self/fd`, { recursive: true });
    await Deno.symlink("/dev/null", `${proc}/self/fd/0`);
    const found = [...openFds(proc)].sort((a, b) => a.fd - b.fd);
    assert.deepEqual(found, [
      { pid: 100, fd: 0, path: `${proc}/100/fd/0` },
      { pid: 100, fd: 7, path: `${proc}/100/fd/7` },
    ]);
    assert.deepEqual([...openFds(`${proc}/none`)], []);
  } finally {
    await Deno.remove(proc, { recursive: true });
  }
});

Deno.test("openFds finds a descriptor this process holds in the real /proc", async () => {
  const file = await Deno.makeTempFile({ prefix: "vde-openfds-" });
  const held = await Deno.open(file);
  try {
    const ours = [...openFds()].filter((d) => d.pid === Deno.pid);
    assert.ok(ours.some((d) => Deno.readLinkSync(d.path) === file), "our open file is among our descriptors");
  } finally {
    held.close();
    await Deno.remove(file);
  }
});
