/**
 * `help` as vde_switch prints it (`%-18s %-15s %s`), with the one change
 * our longer command paths need: a menu whose paths pass 18 characters
 * (the snooping knobs, `mcast/query_response_interval`) lines its own rows
 * up at its longest path, and vde_switch's menus keep their bytes.
 */
import assert from "node:assert/strict";
import { makeConsole } from "../_helpers.ts";

/** The listing's lines between the 0000 line and the final dot. */
function rows(reply: string): string[] {
  const lines = reply.split("\n");
  return lines.slice(1, lines.indexOf("."));
}

Deno.test("help mcast lines its syntax and help columns up under the header though knob paths pass vde_switch's 18 columns", async () => {
  const tc = makeConsole(8);
  try {
    const lines = rows(await tc.run("help mcast"));
    assert.ok(lines.some((l) => l.startsWith("mcast/query_response_interval ")));
    const [syntax, help] = [lines[0]!.indexOf("SYNTAX"), lines[0]!.indexOf("HELP")];
    for (const l of lines.slice(2)) {
      // The path and its padding end where SYNTAX starts; the help starts where HELP does.
      assert.match(l.slice(0, syntax), /^\S+ +$/, l);
      assert.match(l.slice(help - 1, help + 1), /^ \S$/, l);
    }
  } finally {
    tc.close();
  }
});

Deno.test("help keeps vde_switch's 18-column rows for its own menus when the mcast menu is wider", async () => {
  const tc = makeConsole(8);
  try {
    const lines = rows(await tc.run("help"));
    assert.equal(lines[0], "COMMAND PATH       SYNTAX          HELP");
    assert.ok(lines.includes("port/setnumports   N               set the number of ports"));
    assert.ok(lines.includes(
      "mcast/query_interval          CENTISECONDS    " +
        "time between our general queries after start-up; " +
        "100-8640000 centiseconds (1/100 s, as ip link's mcast_query_interval)",
    ));
  } finally {
    tc.close();
  }
});
