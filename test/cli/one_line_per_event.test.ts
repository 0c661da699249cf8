/**
 * One line per event: a failed `vde cable connect --once` says its failure
 * once, a slirp start does not warn about ICMP before any guest pings, and a
 * missing file is named once.
 */
import assert from "node:assert/strict";
import { run } from "../helpers/processes.ts";
import { startOurSwitch } from "../helpers/switches.ts";
import { noLabsSeen, ourCli } from "../helpers/vde_clients.ts";

/** Runs each command line of `cases` at once: each must exit 1 saying only `vde: ` and its line. */
async function refusedInOneLine(cases: [string[], string][], prefix: string[] = []): Promise<void> {
  const results = await Promise.all(
    cases.map(([args]) => run([...prefix, ...ourCli(), ...args], { check: false, timeoutMs: 60_000 })),
  );
  for (const [i, r] of results.entries()) {
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.stderr, `vde: ${cases[i]![1]}\n`);
  }
}

Deno.test("a failed vde cable connect --once reports the failure in one line and exits 1", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "vde-once-" });
  const sw = await startOurSwitch(`${tmp}/sw`);
  try {
    // A port nothing listens on: bound, then released.
    const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (l.addr as Deno.NetAddr).port;
    l.close();
    const r = await run([
      ...ourCli(),
      "cable",
      "connect",
      "--insecure",
      "--once",
      "-s",
      `${tmp}/sw`,
      `127.0.0.1:${port}`,
    ], {
      check: false,
      timeoutMs: 30_000,
    });
    assert.equal(r.code, 1, r.stderr);
    const failures = r.stderr.split("\n").filter((line) => /refused/i.test(line));
    assert.deepEqual(failures, [
      `vde: cannot connect to 127.0.0.1:${port}: connection refused (is \`vde cable listen\` running there, on that port?)`,
    ]);
  } finally {
    await sw.stop();
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("a switch with --slirp starts without an ICMP warning (it comes when a guest pings, if it applies)", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "vde-once-" });
  const sw = await startOurSwitch(`${tmp}/sw`, { extraArgs: ["--slirp"] });
  try {
    const deadline = Date.now() + 20_000;
    while (!sw.stderr().includes("slirp on port") && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.match(sw.stderr(), /slirp on port 1/);
    assert.doesNotMatch(sw.stderr(), /ping_group_range/);
  } finally {
    await sw.stop();
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("a file that cannot be read or written is named once, not again with Deno's call after the reason", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "vde-nofile-" });
  const missing = `${tmp}/no/such/dir`;
  try {
    const cases: [string[], string][] = [
      [
        ["cable", "keygen", `${missing}/k.key`],
        `cannot write key file ${missing}/k.key: its directory ${missing} does not exist (mkdir -p ${missing} ` +
        "first, or give another key file)",
      ],
      [
        ["switch", "-s", `${tmp}/sw1`, "-d", "--pidfile", `${missing}/p`],
        `cannot write pid file ${missing}/p: its directory ${missing} does not exist (mkdir -p ${missing} first, ` +
        "or give another --pidfile)",
      ],
      [
        ["switch", "-s", `${tmp}/sw2`, "-d", "--logfile", `${missing}/l`],
        `cannot open the log file ${missing}/l: its directory ${missing} does not exist (mkdir -p ${missing} first, ` +
        "or give another --logfile)",
      ],
      [
        ["switch", "-s", `${tmp}/sw3`, "-d", "--http", "0", "--http-token", `${missing}/t`],
        // Read by owned_file.ts's safe reader, which words the reason itself.
        `--http-token: cannot read ${missing}/t: no such file`,
      ],
    ];
    await refusedInOneLine(cases);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("a name typed with a newline in it (--group, --mode, --sock, --mgmt, --pidfile, a VNL, a slirp's --sock) is echoed in one line, the newline as ?", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "vde-typed-newline-" });
  const missing = `${tmp}/no`;
  try {
    const cases: [string[], string][] = [
      [["switch", "-s", `${tmp}/sw1`, "--group", "a\nb"], `unknown group "a?b"`],
      [["switch", "-s", `${tmp}/sw2`, "--mode", "6\n6"], `--mode must be an octal mode like 660, got "6?6"`],
      [
        ["switch", "-s", `${missing}/a\nb`],
        `cannot create the switch directory ${missing}/a?b: its parent ${missing} does not exist ` +
        `(mkdir -p ${missing} first, or give another --sock)`,
      ],
      [
        ["switch", "-s", `${tmp}/sw3`, "--mgmt", `${missing}/a\nb`],
        `cannot serve the management socket ${missing}/a?b: the directory ${missing} does not exist`,
      ],
      [
        ["switch", "-s", `${tmp}/sw4`, "-d", "--pidfile", `${missing}/a\nb`],
        `cannot write pid file ${missing}/a?b: its directory ${missing} does not exist (mkdir -p ${missing} first, ` +
        "or give another --pidfile)",
      ],
      [["plug", `${missing}/a\nb`, "null://"], `no switch at ${missing}/a?b: the directory does not exist`],
      [["slirp", "-s", `${missing}/a\nb`], `no switch at ${missing}/a?b: the directory does not exist`],
    ];
    // Running labs (another test's, another user's) would be named after a slirp's missing switch.
    await refusedInOneLine(cases, noLabsSeen(tmp));
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
