/**
 * Which subcommands `vde ARGS` loads: a line that names a command loads that
 * command's module alone (what a switch or a lab keeps in memory), anything
 * else every command; and the table of names agrees with what the modules
 * register, so no command is reachable only through the full load.
 */
import assert from "node:assert/strict";
import type { CommanderError } from "commander";
import { buildProgram } from "../../src/cli/main.ts";
import { vdeSubcommands } from "../../src/cli/subcommands.ts";
import { commandLoaders, subcommandsFor } from "../../src/cli/command_loaders.ts";
import { staticClosure } from "../helpers/module_graph.ts";
import { VDE_CLI } from "../helpers/switches.ts";

const names = (subcommands: Parameters<typeof buildProgram>[0]) =>
  buildProgram(subcommands).commands.flatMap((c) => [c.name(), ...c.aliases()]);

Deno.test("every command of vde --help has a loader, and each loader registers the name it is listed under", async () => {
  const all = names([...vdeSubcommands]).filter((n) => n !== "help");
  assert.deepEqual([...all].sort(), Object.keys(commandLoaders).sort());
  for (const [name, load] of Object.entries(commandLoaders)) {
    assert.ok(names(await load()).includes(name), name);
  }
});

Deno.test("a line naming a command loads that command alone; help, plain vde and unknown words load them all", async () => {
  assert.deepEqual(names(await subcommandsFor(["switch", "--sock", "/tmp/x"])), ["switch"]);
  assert.deepEqual(names(await subcommandsFor(["down", "lab"])), ["up", "down", "status", "completions"]);
  // completions writes scripts that name every command.
  assert.equal((await subcommandsFor(["completions", "bash"])).length, vdeSubcommands.length);
  const everything = vdeSubcommands.length;
  for (
    const line of [[], ["--help"], ["help", "switch"], ["swich"], ["toString"], ["-s", "/tmp/x", "switch"]]
  ) {
    assert.equal((await subcommandsFor(line)).length, everything, line.join(" "));
  }
});

Deno.test("the program's -v is the version before a command only, whichever commands a line loads", async () => {
  for (const loaded of [await commandLoaders.example!(), [...vdeSubcommands]]) {
    const program = buildProgram(loaded);
    let said = "";
    program.configureOutput({ writeOut: (s) => (said += s), writeErr: (s) => (said += s) });
    for (const c of program.commands) c.configureOutput({ writeOut: () => {}, writeErr: () => {} });
    const code = await program.parseAsync(["example", "-v"], { from: "user" }).then(
      () => "parsed",
      (err: CommanderError) => err.code,
    );
    assert.equal(code, "commander.unknownOption", said);
  }
});

Deno.test("vde switch, plug and slirp load no lab code: a running lab's switch by name is read only when --sock is no path", async () => {
  for (const command of ["switch", "plug", "slirp"]) {
    const loaded = [...await staticClosure(`src/cli/${command}.ts`)];
    assert.deepEqual(loaded.filter((s) => s.includes("/src/lab/")), [], command);
  }
});

Deno.test("the vde executable loads nothing before it listens for SIGINT: its static imports are early_sigint.ts alone, which imports nothing", async () => {
  // Deno loads a module's whole static graph before it runs a line of it; the command line comes after.
  const loaded = [...await staticClosure("src/cli/vde.ts")].map((s) => s.replace(/^.*\/src\/cli\//, ""))
    .sort();
  assert.deepEqual(loaded, ["early_sigint.ts", "vde.ts"]);
});

Deno.test("the tests start vde as users do, loading nothing before it listens for SIGINT: not by mod.ts, which loads the whole library first", async () => {
  const loaded = [...await staticClosure(VDE_CLI.at(-1)!)].map((s) => s.replace(/^.*\/src\/cli\//, ""))
    .sort();
  assert.deepEqual(loaded, ["early_sigint.ts", "vde.ts"]);
});
