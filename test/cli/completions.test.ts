import assert from "node:assert/strict";
import { run } from "../helpers/processes.ts";
import { vde } from "../lab/_helpers.ts";

const SUBCOMMANDS = ["switch", "plug", "slirp", "cable", "wirefilter", "up", "down", "status", "completions"];

Deno.test("vde completions bash completes subcommands and their options in a real bash", async () => {
  const script = (await vde(["completions", "bash"])).stdout;
  const probe = (words: string, cword: number) =>
    run([
      "bash",
      "-c",
      `${script}\nCOMP_WORDS=(${words}); COMP_CWORD=${cword}; _vde; echo "\${COMPREPLY[@]}"`,
    ]);
  const first = (await probe("vde ''", 1)).stdout.trim().split(/\s+/);
  for (const s of SUBCOMMANDS) assert.ok(first.includes(s), `${s} in ${first}`);
  assert.deepEqual((await probe("vde st", 1)).stdout.trim(), "status");
  assert.match((await probe("vde up --", 2)).stdout, /--detach/);
  assert.match((await probe("vde switch --p", 2)).stdout, /--ports/);
});

Deno.test("vde completions zsh and fish name every subcommand; an unknown shell is refused", async () => {
  const zsh = (await vde(["completions", "zsh"])).stdout;
  assert.match(zsh, /^#compdef vde/);
  const fish = (await vde(["completions", "fish"])).stdout;
  for (const s of SUBCOMMANDS) {
    assert.match(zsh, new RegExp(`'${s}:`));
    assert.match(fish, new RegExp(`-a ${s} `));
  }
  assert.match(fish, /__fish_seen_subcommand_from up' -l detach/);
  const bad = await vde(["completions", "tcsh"]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /no completions for "tcsh"/);
});
