/**
 * `vde graph` draws a lab file; an admin of standalone switches gives it a
 * switch's directory, and is told where that switch's graph is instead of
 * the file reader's "Is a directory".
 */
import assert from "node:assert/strict";
import { vde, vdeCommand } from "../lab/_helpers.ts";
import { skipWithout } from "../helpers/processes.ts";
import { binaryToTerminal, graphFormat } from "../../src/cli/graph.ts";

Deno.test("vde graph of a directory says it draws a lab file and where a running switch's graph is", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-graph-dir-" });
  try {
    const r = await vde(["graph", dir]);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, "");
    assert.equal(
      r.stderr,
      `vde: vde graph draws a lab file, and ${dir} is a directory; a running switch's graph is on its web view ` +
        "(vde switch --http PORT): curl -s http://127.0.0.1:PORT/topology.dot | dot -Tsvg > net.svg\n",
    );
  } finally {
    await Deno.remove(dir);
  }
});

Deno.test("vde graph --name that no lab may have is said of the option, as vde up says it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-graph-name-" });
  try {
    await Deno.writeTextFile(`${dir}/lab.yaml`, "name: g\ntopology:\n  nodes:\n    sw1: { kind: switch }\n");
    for (const args of [["graph", `${dir}/lab.yaml`, "--name", "a b"], ["graph", "--name", "a b"]]) {
      const r = await vde(args);
      assert.equal(r.code, 1);
      assert.equal(r.stdout, "");
      assert.equal(
        r.stderr,
        'vde: --name "a b" may hold only letters, digits, "-" and "_", starting with a letter or digit\n',
        args.join(" "),
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("vde graph -T and -o format the graph as dot -T and -o do: -o FILE's extension is the format, .dot the text", () => {
  assert.equal(graphFormat(undefined, undefined), "dot");
  assert.equal(graphFormat(undefined, "lab.SVG"), "svg");
  assert.equal(graphFormat(undefined, "lab.gv"), "dot");
  assert.equal(graphFormat(undefined, "lab"), "dot");
  assert.equal(graphFormat("png", "lab.svg"), "png");
});

Deno.test("vde graph -o lab.svg and -Tpng draw the lab with Graphviz, -o lab.dot writes the text; a format dot lacks is one line", async (t) => {
  if (await skipWithout(t, { dot: "graphviz" })) return;
  const dir = await Deno.makeTempDir({ prefix: "vde-graph-out-" });
  try {
    await Deno.writeTextFile(`${dir}/lab.yaml`, "name: g\ntopology:\n  nodes:\n    sw1: { kind: switch }\n");
    const svg = await vde(["graph", `${dir}/lab.yaml`, "-o", `${dir}/lab.svg`]);
    assert.equal(svg.code, 0, svg.stderr);
    assert.match(await Deno.readTextFile(`${dir}/lab.svg`), /<svg[\s\S]*sw1/);
    const [exe, ...args] = vdeCommand();
    const png = await new Deno.Command(exe!, {
      args: [...args, "graph", `${dir}/lab.yaml`, "-Tpng"],
      stdin: "null",
    })
      .output();
    assert.equal(png.code, 0);
    assert.equal(new TextDecoder().decode(png.stdout.subarray(1, 4)), "PNG");
    assert.equal((await vde(["graph", `${dir}/lab.yaml`, "-o", `${dir}/lab.dot`])).code, 0);
    assert.match(await Deno.readTextFile(`${dir}/lab.dot`), /^graph "g" \{\n/);
    const bad = await vde(["graph", `${dir}/lab.yaml`, "-T", "nosuch"]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^vde: dot -Tnosuch: Format: "nosuch" not recognized\. Use one of: .*\n$/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("vde graph -T png to a terminal is refused with where it goes instead; to a pipe, a file or as text it is written", () => {
  assert.equal(
    binaryToTerminal("png", undefined, true),
    "refusing to write png to a terminal: -o lab.png writes it to a file, or redirect it (> lab.png); " +
      "-T svg and the DOT text (no -T) are text",
  );
  assert.match(binaryToTerminal("pdf", "-", true) ?? "", /^refusing to write pdf to a terminal/);
  assert.equal(binaryToTerminal("png", undefined, false), undefined);
  assert.equal(binaryToTerminal("png", "lab.png", true), undefined);
  assert.equal(binaryToTerminal("svg", undefined, true), undefined);
  // Gzipped svg is bytes, whatever its name.
  assert.match(binaryToTerminal("svgz", undefined, true) ?? "", /^refusing to write svgz to a terminal/);
  assert.equal(binaryToTerminal("dot", undefined, true), undefined);
});
