import assert from "node:assert/strict";
import { unwritable } from "../../src/os/unwritable.ts";

Deno.test("a file that exists and may not be written is to be chowned, not made again", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "vde-unwritable-" });
  try {
    await Deno.writeTextFile(`${tmp}/sw.log`, "");
    await Deno.chmod(`${tmp}/sw.log`, 0o644);
    const why = unwritable(
      `${tmp}/sw.log`,
      "--logfile",
      new Deno.errors.PermissionDenied("os error 13"),
      65534,
    );
    assert.match(why, /^: it is there and nobody may not write it \(owner \w+, mode 644\); /);
    assert.match(
      why,
      new RegExp(
        `\\(--logfile ~/sw\\.log\\), or have root make it yours first \\(chown nobody ${tmp}/sw\\.log\\)$`,
      ),
    );
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("a refusal other than permission keeps the OS's words", () => {
  assert.equal(
    unwritable("/x/y", "--pidfile", new Deno.errors.NotFound("No such file or directory (os error 2)")),
    ": No such file or directory (os error 2)",
  );
});
