/**
 * What importing a module loads, read from the module graph Deno itself
 * builds (`deno info --json`): for tests that pin which code a command or
 * the library keeps in memory.
 */
import assert from "node:assert/strict";

const ROOT = new URL("../../", import.meta.url);

interface Dep {
  code?: { specifier: string };
  isDynamic?: boolean;
}
interface GraphModule {
  specifier: string;
  dependencies?: Dep[];
}

/** The modules evaluated when `entry` is imported: static code edges only. */
export async function staticClosure(entry: string): Promise<Set<string>> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", entry],
    cwd: ROOT.pathname,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  const graph = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    roots: string[];
    modules: GraphModule[];
  };
  const bySpecifier = new Map(graph.modules.map((m) => [m.specifier, m]));
  const seen = new Set<string>();
  const todo = [...graph.roots];
  while (todo.length > 0) {
    const s = todo.pop()!;
    if (seen.has(s)) continue;
    seen.add(s);
    for (const d of bySpecifier.get(s)?.dependencies ?? []) {
      if (d.code !== undefined && d.isDynamic !== true) todo.push(d.code.specifier);
    }
  }
  return seen;
}
