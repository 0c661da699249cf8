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
