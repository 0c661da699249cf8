/**
 * A switch's command, or a bridge's or OVS's line for one, typed where the
 * lab takes its own is answered with the switch's line that runs it.
 */
import assert from "node:assert/strict";
import { switchWordHint } from "../../src/lab/switch_word_hint.ts";

const SWITCH_COMMANDS = new Set(["ports", "macs", "stp", "port/print", "vlan/allprint"]);
const isSwitchCommand = (path: string) => SWITCH_COMMANDS.has(path);
/** `bridge` and `ip` are programs here, as on a machine with iproute2. */
const isProgram = (name: string) => ["bridge", "ip", "ping"].includes(name);
const hint = (line: string, switches = ["sw1", "sw2"]) =>
  switchWordHint(line, switches, isSwitchCommand, isProgram);

Deno.test("a switch's command typed at the lab is answered with the first switch's line, and use", () => {
  assert.equal(
    hint("ports"),
    "ports is a switch's command: sw1 ports (`use sw1` drops the prefix; switches: sw1, sw2)",
  );
  assert.equal(
    hint(" port/print 2 "),
    "port/print is a switch's command: sw1 port/print 2 (`use sw1` drops the prefix; switches: sw1, sw2)",
  );
});

Deno.test("a bridge's or OVS's line at the lab names the switch command, bridge's too though it is a program", () => {
  assert.equal(
    hint("brctl show"),
    "brctl show here is ports, a switch's command (the ports with their counters): sw1 ports " +
      "(`use sw1` drops the prefix; switches: sw1, sw2)",
  );
  assert.match(
    hint("bridge fdb show") ?? "",
    /^fdb here is macs, a switch's command \(the MAC table\): sw1 macs /,
  );
  assert.match(hint("fdb") ?? "", /: sw1 macs /);
});

Deno.test("a program (ip link), a word of no switch, or a lab without switches gets no switch hint", () => {
  assert.equal(hint("ip link"), undefined);
  assert.equal(hint("ping 10.0.0.1"), undefined);
  assert.equal(hint("frobnicate"), undefined);
  assert.equal(hint("ports", []), undefined);
  // A bridge word whose command this switch lacks.
  assert.equal(hint("bridge mdb show"), undefined);
});

Deno.test("a switch's command that is a program's name too (shutdown) is the switch's at the lab", () => {
  const withShutdown = (path: string) => path === "shutdown" || isSwitchCommand(path);
  assert.match(
    switchWordHint("shutdown", ["sw1"], withShutdown, (name) => name === "shutdown") ?? "",
    /^shutdown is a switch's command: sw1 shutdown /,
  );
});
