/**
 * `vde switch` options a Linux bridge or Open vSwitch admin looks for
 * (`--vlan`, `--ageing-time`, `--forward-delay`) are console commands
 * here: the "unknown option" line names the one an --rc file runs.
 */
import assert from "node:assert/strict";
import { withSwitchHint } from "../../src/cli/switch.ts";

Deno.test("a bridge's setting given as a vde switch option names the console command an --rc file runs", () => {
  const usage = "(run with --help for usage)\n";
  assert.equal(
    withSwitchHint(`vde: unknown option '--vlan'\n${usage}`),
    "vde: unknown option '--vlan' (a console command here, in an --rc FILE to run at start: " +
      `vlan/create 10, port/setvlan 2 10, vlan/addport 10 1)\n${usage}`,
  );
  assert.match(withSwitchHint("vde: unknown option '--ageing-time=30'\n"), /: hash\/setexpire SECONDS\)\n$/);
  assert.match(
    withSwitchHint("vde: unknown option '--forward-delay'\n"),
    /: stp\/settimers HELLO MAXAGE FWDDELAY/,
  );
  // Any other unknown option is left as commander says it.
  assert.equal(
    withSwitchHint(`vde: unknown option '--bogus'\n${usage}`),
    `vde: unknown option '--bogus'\n${usage}`,
  );
});
