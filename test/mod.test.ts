/**
 * The library entry's shape: importing mod.ts loads no slirp stack and no
 * command line (they load on first use), and its exports are there. Read
 * from the module graph Deno itself builds (`deno info --json`).
 */
import assert from "node:assert/strict";
import { staticClosure } from "./helpers/module_graph.ts";

const ROOT = new URL("../", import.meta.url);

Deno.test("importing the library loads neither the slirp stack nor the command line", async () => {
  const loaded = [...await staticClosure("mod.ts")];
  assert.ok(loaded.some((s) => s.endsWith("/src/link/registry.ts")), "the registry is part of the library");
  assert.deepEqual(
    loaded.filter((s) => s.includes("/src/slirp/") || s.endsWith("/src/link/slirp_link.ts")),
    [],
  );
  assert.deepEqual(loaded.filter((s) => s.includes("/src/cli/") || s.includes("commander")), []);
});

Deno.test("the registry alone loads no transport until a scheme is opened", async () => {
  const loaded = [...await staticClosure("src/link/registry.ts")];
  assert.deepEqual(loaded.filter((s) => /_link\.ts$/.test(s)), []);
  const { openLink, schemes } = await import("../src/link/registry.ts");
  assert.ok(schemes().includes("slirp") && schemes().includes("null"));
  const link = await openLink("null://");
  assert.equal(link.kind, "null");
  link.close();
});

Deno.test("a script outside the repo that imports mod.ts by absolute path type-checks and runs", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-user-script-" });
  try {
    const mod = new URL("mod.ts", ROOT).pathname;
    const slirp = new URL("src/slirp/mod.ts", ROOT).pathname;
    await Deno.writeTextFile(
      `${dir}/user.ts`,
      `import { openLink, Switch } from "${mod}";\n` +
        `import * as slirp from "${slirp}";\n` +
        `const sw: Switch = new Switch({ numPorts: 4 });\n` +
        `const link = await openLink("null://");\n` +
        `console.log(typeof sw, link.kind, typeof slirp);\n` +
        `link.close();\n`,
    );
    const deno = (args: string[]) =>
      new Deno.Command(Deno.execPath(), { args, cwd: dir, stdout: "piped", stderr: "piped" }).output();
    const check = await deno(["check", "user.ts"]);
    assert.equal(check.code, 0, new TextDecoder().decode(check.stderr));
    const ran = await deno(["run", "-A", "user.ts"]);
    assert.equal(ran.code, 0, new TextDecoder().decode(ran.stderr));
    assert.equal(new TextDecoder().decode(ran.stdout), "object null object\n");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("mod.ts run as the main module is still the vde command line", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "mod.ts", "--version"],
    cwd: ROOT.pathname,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  assert.match(new TextDecoder().decode(out.stdout), /^vde \d/);
});
