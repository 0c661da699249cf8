/**
 * Local users told apart on loopback, end to end as root: a user made for the test (and removed after it)
 * holds 200 loopback connections to `vde switch --http`; root's curl and a promtool-checked scrape are
 * answered at once, and the user's connections past their share are refused and logged.
 */
import assert from "node:assert/strict";
import { hasRoot, run, spawnManaged, waitFor } from "../helpers/processes.ts";
import { spawnHttpSwitch } from "../helpers/switches.ts";
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
