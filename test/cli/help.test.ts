/**
 * `--help` in one style: defaults as `(default: VALUE)`, examples for every
 * command, the VNL schemes where a VNL is taken, and options that are
 * required together said so.
 */
import assert from "node:assert/strict";
import type { Command } from "commander";
import "../../src/link/schemes.ts";
import { schemes } from "../../src/link/registry.ts";
import { VNL_SCHEMES } from "../../src/cli/help.ts";
import { buildProgram } from "../../src/cli/main.ts";
import { vdeSubcommands } from "../../src/cli/subcommands.ts";
import { vde } from "../lab/_helpers.ts";

const program = buildProgram([...vdeSubcommands]);

/** Every runnable command (leaves), with its full help text as printed. */
function leaves(c: Command, prefix = ""): [string, string][] {
  const out: [string, string][] = [];
  for (const sub of c.commands) {
    const name = `${prefix}${sub.name()}`;
    if (sub.commands.length > 0) out.push(...leaves(sub, `${name} `));
    else {
      let text = "";
      sub.configureOutput({ writeOut: (s) => (text += s) });
      sub.outputHelp();
      out.push([name, text]);
    }
  }
  return out;
}

const helps = leaves(program);

Deno.test("every command's --help writes defaults one way, an empty one by its meaning, and shows examples", () => {
  assert.ok(helps.length >= 10);
  for (const [name, text] of helps) {
    assert.doesNotMatch(text, /\(default: "/, `${name}: a quoted default`);
    assert.doesNotMatch(text, /\(default: \[\]\)/, `${name}: an empty list as a default`);
    // An empty default said by its meaning (plug's vnl: the default switch), not as "(default: )".
    assert.doesNotMatch(text, /\(default: \)/, `${name}: an empty default`);
    assert.doesNotMatch(text, /\(default [^:]/, `${name}: a default without a colon`);
    assert.match(text, /\nExamples:\n {2}(eval "\$\()?vde /, `${name}: no examples`);
  }
});

Deno.test("--help lists the VNL schemes where a VNL is taken, every registered scheme among them", () => {
  const listed = new Set(VNL_SCHEMES.map(([s]) => s));
  for (const s of schemes()) assert.ok(listed.has(s), `scheme ${s} missing from the help`);
  for (const name of ["plug", "switch", "wirefilter"]) {
    const text = helps.find(([n]) => n === name)![1];
    assert.match(text, /VNLs \(where a VNL is taken\):/, name);
    assert.match(text, /tap:\/\/NAME/, name);
    assert.match(text, /slirp:\/\//, name);
  }
});

Deno.test("cable --help says that --key or --insecure is required", () => {
  for (const name of ["cable listen", "cable connect"]) {
    const text = helps.find(([n]) => n === name)![1];
    assert.match(text, /Required: --sock, and either --key FILE or --insecure/, name);
  }
});

Deno.test("vde help COMMAND SUBCOMMAND shows the subcommand's help; a word that is no command is named with the nearest", async () => {
  const nested = await vde(["help", "tap", "create"]);
  assert.equal(nested.code, 0);
  assert.match(nested.stdout, /^Usage: vde tap create /);
  const top = await vde(["help", "swich"]);
  assert.equal(top.code, 1);
  assert.match(top.stderr, /^vde: unknown command 'swich' \(did you mean switch\?\)\n/);
  assert.equal(top.stdout, "", "no page of help instead of the mistake");
  const sub = await vde(["help", "cable", "lisen"]);
  assert.equal(sub.code, 1);
  assert.match(sub.stderr, /^vde: unknown command 'lisen' of vde cable \(did you mean listen\?\)\n/);
  const itself = await vde(["help", "help"]);
  assert.equal(itself.code, 0);
  assert.match(itself.stdout, /^Usage: vde /);
});
