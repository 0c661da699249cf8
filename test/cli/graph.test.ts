/**
 * `vde graph` draws a lab file; an admin of standalone switches gives it a
 * switch's directory, and is told where that switch's graph is instead of
 * the file reader's "Is a directory".
 */
import assert from "node:assert/strict";
import { vde } from "../lab/_helpers.ts";

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
