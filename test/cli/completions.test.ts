import assert from "node:assert/strict";
import { hasCommand, run, skipUnless } from "../helpers/processes.ts";
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
  // Commands of commands, then their options.
  assert.equal((await probe("vde tap ''", 2)).stdout.trim(), "create delete list --help");
  assert.equal((await probe("vde cable k", 2)).stdout.trim(), "keygen");
  assert.match((await probe("vde cable listen --k", 3)).stdout, /^--key$/m);
  assert.match((await probe("vde tap create --", 3)).stdout, /--user/);
});

Deno.test("vde completions bash offers running labs' names to down, status and term, and nothing else of their directory", async () => {
  const script = (await vde(["completions", "bash"])).stdout;
  const runtime = await Deno.makeTempDir({ prefix: "vde-compl-" });
  try {
    await Deno.mkdir(`${runtime}/vde/complab`, { recursive: true });
    await Deno.writeTextFile(`${runtime}/vde/complab.log`, "");
    for (const sub of ["down", "status", "term"]) {
      const r = await run([
        "bash",
        "-c",
        `${script}\nCOMP_WORDS=(vde ${sub} ''); COMP_CWORD=2; _vde; printf '%s\\n' "\${COMPREPLY[@]}"`,
      ], { env: { XDG_RUNTIME_DIR: runtime }, cwd: runtime });
      const offered = r.stdout.trim().split("\n");
      assert.ok(offered.includes("complab"), `${sub}: ${offered}`);
      // `ls` of two directories put their `DIR:` headers among the names.
      assert.deepEqual(
        offered.filter((w) => w.endsWith(":") || w.endsWith(".log")),
        [],
        `${sub}: ${offered}`,
      );
    }
  } finally {
    await Deno.remove(runtime, { recursive: true });
  }
});

Deno.test("vde completions bash without XDG_RUNTIME_DIR offers the labs under /tmp/vde-UID, where a user's labs then are", async () => {
  const script = (await vde(["completions", "bash"])).stdout;
  const bin = await Deno.makeTempDir({ prefix: "vde-compl-id-" });
  // A uid of nobody's: `id` is stood in for, since a test cannot be another user without root.
  const uid = 3_000_000_000 + Math.floor(Math.random() * 1_000_000);
  const labs = `/tmp/vde-${uid}`;
  try {
    await Deno.writeTextFile(`${bin}/id`, `#!/bin/sh\necho ${uid}\n`, { mode: 0o755 });
    await Deno.mkdir(`${labs}/complab`, { recursive: true });
    const r = await run([
      "env",
      "-u",
      "XDG_RUNTIME_DIR",
      `PATH=${bin}:${Deno.env.get("PATH") ?? "/usr/bin:/bin"}`,
      "bash",
      "-c",
      `${script}\nCOMP_WORDS=(vde down ''); COMP_CWORD=2; _vde; printf '%s\\n' "\${COMPREPLY[@]}"`,
    ], { cwd: bin });
    assert.ok(r.stdout.trim().split("\n").includes("complab"), r.stdout);
  } finally {
    await Deno.remove(bin, { recursive: true });
    await Deno.remove(labs, { recursive: true });
  }
});

Deno.test("vde completions zsh and fish name every subcommand; an unknown shell is refused, and none names the three", async () => {
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
  const none = await vde(["completions"]);
  assert.equal(none.code, 1);
  assert.equal(
    none.stderr,
    'vde: vde completions needs a shell: bash, zsh or fish, e.g. eval "$(vde completions bash)"\n',
  );
});

Deno.test("vde completions fish completes running labs, tap and cable subcommands and their options in a real fish", async (t) => {
  if (skipUnless(t, (await hasCommand("fish")) ? null : "needs fish (apt-get install -y fish)")) return;
  const runtime = await Deno.makeTempDir({ prefix: "vde-compl-fish-" });
  try {
    await Deno.writeTextFile(`${runtime}/vde.fish`, (await vde(["completions", "fish"])).stdout);
    await Deno.mkdir(`${runtime}/vde/complab`, { recursive: true });
    await Deno.writeTextFile(`${runtime}/vde/complab.log`, "");
    const offered = async (line: string) => {
      const r = await run(
        ["fish", "--no-config", "-c", `source ${runtime}/vde.fish; complete -C '${line}'`],
        {
          env: { XDG_RUNTIME_DIR: runtime },
          cwd: runtime,
        },
      );
      assert.equal(r.stderr, "", `${line}: ${r.stderr}`);
      return r.stdout.trim().split("\n").map((l) => l.split("\t")[0]!);
    };
    // The lab names were a syntax error in fish (bash's ${VAR:-default}).
    for (const sub of ["down", "status", "term"]) {
      const names = await offered(`vde ${sub} `);
      assert.ok(names.includes("complab"), `${sub}: ${names}`);
      assert.deepEqual(names.filter((w) => w.endsWith(":") || w.endsWith(".log")), [], `${sub}: ${names}`);
    }
    assert.deepEqual(await offered("vde tap "), ["create", "delete", "list"]);
    assert.deepEqual(await offered("vde cable listen --k"), ["--key"]);
    assert.ok((await offered("vde tap create --")).includes("--user"));
  } finally {
    await Deno.remove(runtime, { recursive: true });
  }
});

Deno.test("vde completions zsh offers running labs to down, status and term, and tap and cable their subcommands", async (t) => {
  if (skipUnless(t, (await hasCommand("zsh")) ? null : "needs zsh (apt-get install -y zsh)")) return;
  const runtime = await Deno.makeTempDir({ prefix: "vde-compl-zsh-" });
  try {
    await Deno.writeTextFile(`${runtime}/_vde`, (await vde(["completions", "zsh"])).stdout);
    await Deno.mkdir(`${runtime}/vde/complab`, { recursive: true });
    await Deno.writeTextFile(`${runtime}/vde/complab.log`, "");
    // compsys's functions stand-ins: each prints what it was given to offer.
    const stubs = [
      'compadd() { [[ $1 == -- ]] && shift; print -l -- "$@" }',
      '_arguments() { print -l -- "$@" }',
      "_describe() { print -l -- ${(P)2} }",
      "compdef() { : }",
    ].join("\n");
    const offered = async (...words: string[]) => {
      const r = await run([
        "zsh",
        "-f",
        "-c",
        `${stubs}\nsource ${runtime}/_vde\nwords=(${
          words.map((w) => `'${w}'`).join(" ")
        }); CURRENT=${words.length}; _vde`,
      ], { env: { XDG_RUNTIME_DIR: runtime } });
      assert.equal(r.stderr, "", r.stderr);
      return r.stdout.trim().split("\n");
    };
    for (const sub of ["down", "status", "term"]) {
      const names = await offered("vde", sub, "");
      assert.ok(names.includes("complab"), `${sub}: ${names}`);
      assert.ok(!names.includes("complab.log"), `${sub}: ${names}`);
    }
    assert.deepEqual(await offered("vde", "tap", ""), ["create", "delete", "list"]);
    assert.ok((await offered("vde", "cable", "listen", "--")).includes("--key"));
  } finally {
    await Deno.remove(runtime, { recursive: true });
  }
});

Deno.test("vde completions zsh registers itself where compinit ran, and says to run compinit where it did not", async (t) => {
  if (skipUnless(t, (await hasCommand("zsh")) ? null : "needs zsh (apt-get install -y zsh)")) return;
  const dir = await Deno.makeTempDir({ prefix: "vde-compl-zsh-init-" });
  try {
    await Deno.writeTextFile(`${dir}/vde.zsh`, (await vde(["completions", "zsh"])).stdout);
    const bare = await run(["zsh", "-f", "-c", `source ${dir}/vde.zsh`]);
    assert.equal(bare.code, 0, bare.stderr);
    assert.equal(
      bare.stderr,
      "vde completions: zsh's completion system is off: put 'autoload -Uz compinit && compinit' first in ~/.zshrc\n",
    );
    const ready = await run([
      "zsh",
      "-f",
      "-c",
      `autoload -Uz compinit && compinit -u -d ${dir}/zcompdump; source ${dir}/vde.zsh; print $_comps[vde]`,
    ]);
    assert.equal(ready.stderr, "");
    assert.equal(ready.stdout.trim(), "_vde");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
