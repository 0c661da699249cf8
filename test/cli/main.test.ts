/**
 * What every `vde` command says to a command line it cannot take: commander's
 * own errors and ours in one style (`vde: ...`, then the usage hint), and an
 * empty path option (an unset shell variable) refused before anything runs.
 */
import assert from "node:assert/strict";
import { run } from "../helpers/processes.ts";
import { ourCli } from "../helpers/vde_clients.ts";
import { vdeErrors } from "../../src/cli/main.ts";

const HINT = "(run with --help for usage)\n";

async function refused(args: string[]): Promise<string> {
  const r = await run([...ourCli(), ...args], { check: false, timeoutMs: 60_000 });
  assert.equal(r.code, 1, `${args.join(" ")}: ${r.stderr}`);
  assert.equal(r.stdout, "", args.join(" "));
  return r.stderr;
}

Deno.test("commander's errors (unknown option, missing value, missing option, unknown command, too many arguments) start vde: as ours do", async () => {
  const cases: [string[], string][] = [
    [["switch", "--bogus"], "vde: unknown option '--bogus'\n"],
    [["switch", "--sock"], "vde: option '-s, --sock <dir>' argument missing\n"],
    [["cable", "connect", "a:1"], "vde: required option '-s, --sock <vnl>' not specified\n"],
    [["cable", "lisen"], "vde: unknown command 'lisen' (did you mean listen?)\n"],
    // A command's options before its name: said in the order they are taken.
    [
      ["--sock", "/tmp/x", "switch"],
      "vde: unknown option '--sock' (options follow the command: vde switch --sock /tmp/x)\n",
    ],
    [["-s", "/tmp/x"], "vde: unknown option '-s'\n"],
    // Made after the lab commands, these once copied the program's leave to take any words (plain `vde`'s).
    [
      ["example", "lan-nat", "extra"],
      "vde: too many arguments for 'example'. Expected 1 argument but got 2.\n",
    ],
    [["graph", "a.yaml", "b.yaml"], "vde: too many arguments for 'graph'. Expected 1 argument but got 2.\n"],
  ];
  for (const [args, first] of cases) {
    const said = await refused(args);
    assert.ok(said.startsWith(first), `${args.join(" ")}: ${said}`);
    assert.ok(said.endsWith(HINT), `${args.join(" ")}: ${said}`);
    assert.doesNotMatch(said, /^error:|\n\s+at /m, "no commander prefix, no stack");
  }
});

Deno.test("an empty path option (an unset shell variable) is refused in one line naming the option, before anything starts", async () => {
  const cases: [string[], string][] = [
    [["switch", "-s", ""], "'-s, --sock <dir>' is empty: give a directory"],
    [["switch", "-s", "/nonexistent/ux", "--mgmt="], "'-M, --mgmt <path>' is empty: give a path"],
    [["slirp", "--sock", ""], "'-s, --sock <dir>' is empty: give a directory"],
    [["capture", "/nonexistent/ux", "-w", ""], "'-w, --write <file>' is empty: give a file name"],
  ];
  for (const [args, what] of cases) {
    assert.equal(
      await refused(args),
      `vde: option ${what} (an unset shell variable?)\n${HINT}`,
      args.join(" "),
    );
  }
});

Deno.test("an unknown command with --help or -h is named, with its nearest names or what to type (the help kept in it), not answered with vde's help", async () => {
  assert.equal(
    await refused(["swtich", "--help"]),
    `vde: unknown command 'swtich' (did you mean switch?)\n${HINT}`,
  );
  assert.match(
    await refused(["vde_switch", "-h", "-s", "/tmp/sw"]),
    /^vde: unknown command 'vde_switch' \(vde2's vde_switch is `vde switch` here, with its options: `vde switch -h -s \/tmp\/sw`\)\n/,
  );
  // The help a vde2 user asked for stays in the line to type.
  assert.match(await refused(["vde_switch", "--help"]), /with its options: `vde switch --help`\)\n/);
  // A command's own help is still its help.
  const help = await run([...ourCli(), "switch", "--help"], { check: false, timeoutMs: 60_000 });
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^Usage: vde switch /);
});

Deno.test("commander's guess at a mistyped option is said on the error's line, as every did-you-mean of ours", () => {
  let out = "";
  vdeErrors().outputError(
    "error: unknown option '--sokc'\n(Did you mean --sock?)\n(run with --help for usage)\n",
    (t) => out += t,
  );
  assert.equal(out, "vde: unknown option '--sokc' (did you mean --sock?)\n(run with --help for usage)\n");
  // A subcommand's own hint still sees commander's line, and both are kept.
  out = "";
  vdeErrors((t) => t.replace(/^(vde: unknown option '-i')/, "$1 (ours)")).outputError(
    "error: unknown option '-i'\n(Did you mean -I?)\n",
    (t) => out += t,
  );
  assert.equal(out, "vde: unknown option '-i' (ours) (did you mean -I?)\n");
});
