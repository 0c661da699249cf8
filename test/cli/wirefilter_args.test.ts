/**
 * wirefilter's single-dash long options (getopt_long_only: `-daemon`,
 * `-mgmt PATH`, `-loss 5`), as Debian's wirefilter takes them, mean under
 * `vde wirefilter` what they meant there, instead of `-d aemon`.
 */
import assert from "node:assert/strict";
import { toWirefilterLongOptions } from "../../src/cli/wirefilter_args.ts";
import { run } from "../helpers/processes.ts";
import { ourCli } from "../helpers/vde_clients.ts";

Deno.test("toWirefilterLongOptions gives wirefilter's single-dash long names two dashes, short options with values untouched", () => {
  assert.deepEqual(
    toWirefilterLongOptions([
      "wirefilter",
      "-v",
      "/tmp/a:/tmp/b",
      "-daemon",
      "-mgmt",
      "/tmp/wf",
      "-loss=5",
      "-delay",
      "100",
      "-nofifo",
      "-pidfile",
      "/tmp/wf.pid",
    ]),
    [
      "wirefilter",
      "-v",
      "/tmp/a:/tmp/b",
      "--daemon",
      "--mgmt",
      "/tmp/wf",
      "--loss=5",
      "--delay",
      "100",
      "--nofifo",
      "--pidfile",
      "/tmp/wf.pid",
    ],
  );
  // Short options, attached values and values that look like names stay as typed.
  const kept = ["wirefilter", "-d", "50", "-d50", "-lLR5", "-M", "/tmp/wf", "-N", "/tmp/a", "/tmp/b"];
  assert.deepEqual(toWirefilterLongOptions(kept), kept);
  // An abbreviation that names one option is taken; other commands are left alone.
  assert.deepEqual(toWirefilterLongOptions(["wirefilter", "-dae"]), ["wirefilter", "--daemon"]);
  assert.deepEqual(toWirefilterLongOptions(["switch", "-daemon"]), ["switch", "-daemon"]);
});

Deno.test("vde wirefilter -daemon is wirefilter's --daemon, not a delay of 'aemon'", async () => {
  const r = await run([...ourCli(), "wirefilter", "-v", "/tmp/nu-a:/tmp/nu-b", "-daemon"], {
    check: false,
    timeoutMs: 30_000,
  });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^vde: --daemon needs --mgmt/);
});

Deno.test("toWirefilterLongOptions leaves an option's value in the next argument as typed, even one like a long name", () => {
  const kept = [
    "wirefilter",
    ...["-M", "-mgmt", "-f", "-rc", "-Nd", "-daemon", "--blinkid", "-loss", "--http", "-daemon"],
    ...["-d", "-5", "-l", "-", "--mgmt", "-nofifo"],
  ];
  assert.deepEqual(toWirefilterLongOptions(kept), kept);
  // A value attached to its short option takes nothing after it: the next argument is an option again.
  assert.deepEqual(toWirefilterLongOptions(["wirefilter", "-d50", "-daemon"]), [
    "wirefilter",
    "-d50",
    "--daemon",
  ]);
  // After `--` nothing is an option.
  assert.deepEqual(toWirefilterLongOptions(["wirefilter", "--", "-daemon"]), ["wirefilter", "--", "-daemon"]);
});

Deno.test("toWirefilterLongOptions takes -vde-plug and its prefixes, and -ban as --band, as Debian's wirefilter does", () => {
  assert.deepEqual(
    toWirefilterLongOptions(["wirefilter", "-vde-plug", "/tmp/a:/tmp/b", "-ban", "1M"]),
    ["wirefilter", "--vde-plug", "/tmp/a:/tmp/b", "--band", "1M"],
  );
  assert.deepEqual(toWirefilterLongOptions(["wirefilter", "-vd", "a:b"]), [
    "wirefilter",
    "--vde-plug",
    "a:b",
  ]);
  // Ambiguous in wirefilter too (loss or lostburst): refused whole by the parser, not read as -l o.
  assert.deepEqual(toWirefilterLongOptions(["wirefilter", "-lo", "5"]), ["wirefilter", "--lo", "5"]);
});

Deno.test("vde wirefilter -delay 50 --jitter 10 hints --delay 50+10, the delay given with one dash", async () => {
  const r = await run(
    [...ourCli(), "wirefilter", "-v", "null://:null://", "-delay", "50", "--jitter", "10"],
    {
      check: false,
      timeoutMs: 30_000,
    },
  );
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^vde: unknown option '--jitter' \(.*--delay 50\+10, or 50\+10N/);
});
