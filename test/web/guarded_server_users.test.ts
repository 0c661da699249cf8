/**
 * Local users told apart on loopback, end to end as root: a user made for the test (and removed after it)
 * holds 200 loopback connections to `vde switch --http`; root's curl and a promtool-checked scrape are
 * answered at once, and the user's connections past their share are refused and logged.
 */
import assert from "node:assert/strict";
import { hasRoot, run, RUN_PREFIX, RUN_STUDENT, spawnManaged, waitFor } from "../helpers/processes.ts";
import { spawnHttpSwitch, VDE_CLI } from "../helpers/switches.ts";
import { withStudent } from "../helpers/student.ts";
import { withOwnSubuid } from "../helpers/mount_namespace.ts";
import { holdAs } from "../helpers/euid_holder.ts";
import { assertPromtoolClean } from "../helpers/promtool.ts";

const HOLD = `import socket, sys, time
held = [socket.create_connection(("127.0.0.1", int(sys.argv[1]))) for _ in range(200)]
print("holding", flush=True)
time.sleep(60)`;

Deno.test("guarded server: a local user holding 200 loopback connections takes their share only; root's curl and scrape are answered at once", async () => {
  const reason = hasRoot();
  if (reason !== null) throw new Error(reason);
  const name = `vdeh${Deno.pid}`;
  assert.equal(
    (await run(["useradd", "--no-create-home", "--user-group", "--shell", "/usr/sbin/nologin", name])).code,
    0,
  );
  const tmp = await Deno.makeTempDir({ prefix: "vde-users-" });
  const sw = spawnHttpSwitch(`${tmp}/sw`);
  let holder: ReturnType<typeof spawnManaged> | undefined;
  try {
    const uid = Number((await run(["id", "-u", name])).stdout.trim());
    const url = await waitFor(() => /web view on (http:\/\/\S+\/) /.exec(sw.stderr)?.[1], {
      timeoutMs: 30_000,
      what: "the switch's web view",
    });
    const port = new URL(url).port;
    holder = spawnManaged([
      "setpriv",
      `--reuid=${uid}`,
      `--regid=${uid}`,
      "--clear-groups",
      "/usr/bin/python3", // Debian's: a user without a home cannot run a root-installed shim
      "-c",
      HOLD,
      port,
    ]);
    await waitFor(() => holder!.stdout.includes("holding"), {
      timeoutMs: 10_000,
      what: "the user's 200 connections",
    });
    await waitFor(() => sw.stderr.includes("refused 1 connection: "), {
      timeoutMs: 5_000,
      what: "the refusals' line",
    });
    const curl = await run([
      "curl",
      "-sS",
      "-o",
      "/dev/null",
      "-w",
      "%{http_code} %{time_total}",
      "--max-time",
      "4",
      url,
    ]);
    const [code, seconds] = curl.stdout.split(" ");
    assert.equal(code, "200");
    assert.ok(Number(seconds) < 1, `root's curl took ${seconds} s`);
    const start = Date.now();
    const scrape = await run(["curl", "-sS", "--max-time", "4", `${url}metrics`]);
    assert.ok(Date.now() - start < 1000, `the scrape took ${Date.now() - start} ms`);
    await assertPromtoolClean(scrape.stdout);
    assert.match(sw.stderr, /refused 1 connection: at most 256 open, 64 from one address or local user/);
  } finally {
    await holder?.stop({ signal: "SIGKILL" });
    await sw.stop();
    await run(["userdel", name], { check: false });
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("guarded server: a local user's subordinate uids (/etc/subuid) share that user's 64 loopback connections; a uid outside every range has its own", async () => {
  const reason = hasRoot();
  if (reason !== null) throw new Error(reason);
  await withStudent([], async (student) => {
    const tmp = await Deno.makeTempDir({ prefix: `${RUN_PREFIX}subuid-web-` });
    const [first, count] = [600_000, 65_536];
    const sw = spawnManaged(
      await withOwnSubuid(tmp, `${RUN_STUDENT}:${first}:${count}\n`, [
        ...VDE_CLI,
        "switch",
        "--sock",
        `${tmp}/sw`,
        "--http",
        "0",
      ]),
      { name: "vde switch --http with a private /etc/subuid" },
    );
    try {
      const url = await waitFor(() => /web view on (http:\/\/\S+\/) /.exec(sw.stderr)?.[1], {
        timeoutMs: 30_000,
        what: "the switch's web view",
      });
      // Refused ones are closed at once, a silent one after 5 s: what is open after 1.5 s was let in.
      const { by, out } = await holdAs(`tcp:${new URL(url).port}`, 1.5, [
        [student.uid, 40],
        [first, 40],
        [first + count, 10],
      ]);
      // The user's own uid and a uid of their range: one peer, 64 of their 80.
      assert.equal(by.get(student.uid)!.held + by.get(first)!.held, 64, out);
      assert.equal(by.get(first + count)!.held, 10, `a uid past the range is a peer of its own: ${out}`);
      assert.match(
        sw.stderr,
        /refused \d+ connections?: at most 256 open, 64 from one address or local user/,
      );
    } finally {
      await sw.stop();
      await Deno.remove(tmp, { recursive: true });
    }
  }, { bundle: false });
});
