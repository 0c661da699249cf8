/**
 * `vde switch` options a Linux bridge or Open vSwitch admin looks for
 * (`--vlan`, `--ageing-time`, `--forward-delay`) are console commands
 * here: the "unknown option" line names the one an --rc file runs.
 */
import assert from "node:assert/strict";
import { portsText, stpOffClause, withSwitchHint } from "../../src/cli/switch.ts";

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
  assert.match(
    withSwitchHint("vde: unknown option '--mcast-querier-interval=800'\n"),
    /: mcast\/querier_interval CENTISECONDS \(with --mcast-snooping\)\)\n$/,
  );
  // ip link's words for a port's fast leave too, as the knobs are answered in either spelling.
  for (const w of ["--fast-leave", "--fastleave", "--mcast_fast_leave", "--multicast_fast_leave"]) {
    assert.match(
      withSwitchHint(`vde: unknown option '${w}'\n`),
      /: mcast\/fastleave PORT 1 \(with --mcast-snooping\)\)\n$/,
      w,
    );
  }
  // Any other unknown option is left as commander says it.
  assert.equal(
    withSwitchHint(`vde: unknown option '--bogus'\n${usage}`),
    `vde: unknown option '--bogus'\n${usage}`,
  );
});

Deno.test("a bridge's or OVS's name for an option this switch has (--stp-priority, --rstp) names ours", () => {
  assert.equal(
    withSwitchHint("vde: unknown option '--stp-priority'\n"),
    "vde: unknown option '--stp-priority' (it is --priority N (0-61440 in steps of 4096, with --stp) here)\n",
  );
  assert.match(withSwitchHint("vde: unknown option '--rstp'\n"), /\(it is --stp here\)\n$/);
  assert.match(
    withSwitchHint("vde: unknown option '--igmp-snooping'\n"),
    /\(it is --mcast-snooping here\)\n$/,
  );
});

Deno.test("a switch of --ports 1, port 0 alone, says at start that nothing can plug in and what to give", () => {
  assert.equal(
    portsText(1),
    "1 port (port 0, for management clients only: nothing can plug in; --ports 2 gives one)",
  );
  assert.equal(portsText(2), "2 ports");
  assert.equal(portsText(32), "32 ports");
});

Deno.test("a switch given --priority without --stp says at start that spanning tree is off, and what starts it", () => {
  assert.equal(
    stpOffClause("4096"),
    ", spanning tree off (--priority 4096 is used once --stp or fstp/setfstp 1 starts it)",
  );
  assert.equal(stpOffClause(undefined), "");
});
