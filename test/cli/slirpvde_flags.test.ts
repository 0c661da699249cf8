/**
 * slirpvde's single-dash long options (getopt_long_only: `-dhcp`, `-daemon`,
 * `-socket DIR`), as its scripts write them, mean under `vde slirp` what
 * they meant to slirpvde, instead of being read as bundled short flags.
 */
import assert from "node:assert/strict";
import { slirpvdeHint, toSlirpLongOptions } from "../../src/cli/slirpvde_flags.ts";
import { run, waitForPath } from "../helpers/processes.ts";
import { startOurSwitch } from "../helpers/switches.ts";
import { ourCli } from "../helpers/vde_clients.ts";

Deno.test("toSlirpLongOptions gives slirpvde's long names two dashes and ours, values and other commands untouched", () => {
  assert.deepEqual(
    toSlirpLongOptions(["slirp", "-socket", "/tmp/net", "-dhcp", "-daemon", "-pidfile", "/tmp/s.pid"]),
    ["slirp", "--sock", "/tmp/net", "--dhcp", "--daemon", "--pidfile", "/tmp/s.pid"],
  );
  assert.deepEqual(
    toSlirpLongOptions([
      "slirp",
      "--vdesock=/tmp/net",
      "-unix",
      "/tmp/b",
      "-dhcp=10.0.2.50",
      "-tftp",
      "/srv",
    ]),
    ["slirp", "--sock=/tmp/net", "--sock", "/tmp/b", "--dhcp=10.0.2.50", "--tftp", "/srv"],
  );
  // Short flags, ours, and the names slirpvde does not have stay as typed.
  const kept = [
    "slirp",
    "-d",
    "-s",
    "/tmp/net",
    "-D",
    "-L",
    "2222:10.0.2.15:22",
    "--forward",
    "tcp:80:80",
    "-sx",
  ];
  assert.deepEqual(toSlirpLongOptions(kept), kept);
  assert.deepEqual(toSlirpLongOptions(["slirp", "-constructor"]), ["slirp", "-constructor"]);
  assert.deepEqual(toSlirpLongOptions(["switch", "-dhcp"]), ["switch", "-dhcp"]);
  // Those not taken here get two dashes, so the parser names them whole and says how they are written here.
  assert.deepEqual(toSlirpLongOptions(["slirp", "-host", "10.0.2.2/24", "-port", "3"]), [
    "slirp",
    "--host",
    "10.0.2.2/24",
    "--port",
    "3",
  ]);
});

Deno.test("toSlirpLongOptions leaves a value in the next argument as typed, even one spelt like slirpvde's long name", () => {
  const kept = ["slirp", "-s", "-sock", "--tftp", "-dhcp", "-p", "-daemon", "--logfile", "-quiet"];
  assert.deepEqual(toSlirpLongOptions(kept), kept);
  // -D's value is optional: the next argument is an option.
  assert.deepEqual(toSlirpLongOptions(["slirp", "-D", "-daemon"]), ["slirp", "-D", "--daemon"]);
});

Deno.test("vde slirp -socket DIR -dhcp -daemon -pidfile FILE, slirpvde's line, starts a slirp on the switch", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "vde-slirpvde-flags-" });
  const sw = await startOurSwitch(`${tmp}/sw`);
  try {
    const r = await run(
      [...ourCli(), "slirp", "-socket", `${tmp}/sw`, "-dhcp", "-daemon", "-pidfile", `${tmp}/slirp.pid`],
      { check: false, timeoutMs: 30_000 },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /^vde slirp: on .*\/sw: gateway 10\.0\.2\.2\/24 .* in the background as pid \d+/);
    await waitForPath(`${tmp}/slirp.pid`, 5000);
    const pid = Number((await Deno.readTextFile(`${tmp}/slirp.pid`)).trim());
    Deno.kill(pid, "SIGTERM");
  } finally {
    await sw.stop();
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
});

Deno.test("a slirpvde flag's answer closes no parenthesis of its own at the end, as the unknown-option line puts it in one", () => {
  const flags = ["x", "X"];
  for (const flag of flags) {
    const answer = slirpvdeHint(flag);
    assert.ok(answer !== undefined, flag);
    assert.doesNotMatch(answer, /\)$/, flag);
  }
});
