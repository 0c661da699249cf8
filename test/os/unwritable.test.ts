import assert from "node:assert/strict";
import { unmakeableDir, unwritable } from "../../src/os/unwritable.ts";

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

Deno.test("a refusal other than permission or a missing directory keeps the OS's words", () => {
  assert.equal(
    unwritable("/tmp/y", "--pidfile", new Error("Input/output error (os error 5)")),
    ": Input/output error (os error 5)",
  );
});

Deno.test("a read-only or full filesystem is said with the way out, for a file and for a switch's directory", () => {
  assert.equal(
    unwritable("/tmp/y", "--pidfile", new Error("Read-only file system (os error 30)")),
    ": Read-only file system (os error 30): the filesystem is read-only: write elsewhere",
  );
  assert.equal(
    unmakeableDir("/tmp/net", "--sock", new Error("No space left on device (os error 28)")),
    ": No space left on device (os error 28): the filesystem is full: free some space there, or write elsewhere",
  );
});

Deno.test("a pid or log file whose directory is missing says which directory to make, not os error 2", () => {
  const dir = `/nonexistent-${Deno.pid}/run`;
  assert.equal(
    unwritable(
      `${dir}/sw.pid`,
      "--pidfile",
      new Deno.errors.NotFound("No such file or directory (os error 2)"),
    ),
    `: its directory ${dir} does not exist (mkdir -p ${dir} first, or give another --pidfile)`,
  );
});

Deno.test("a directory a user may not make (--sock /var/run/net) names whose parent refused it and one of theirs to give", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "vde-unmakeable-" });
  try {
    await Deno.chmod(tmp, 0o755);
    assert.match(
      unmakeableDir(`${tmp}/net`, "--sock", new Deno.errors.PermissionDenied("os error 13"), 65534),
      new RegExp(
        `^: nobody may not create files in ${tmp} \\(owner \\w+, mode 755\\); ` +
          `give one in a directory of yours \\(--sock /tmp/nobody-net\\)$`,
      ),
    );
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("a directory whose parent is missing (--sock /tmp/lab/net) says which parent to make", () => {
  const parent = `/nonexistent-${Deno.pid}/lab`;
  assert.equal(
    unmakeableDir(
      `${parent}/net/`,
      "--sock",
      new Deno.errors.NotFound("No such file or directory (os error 2)"),
    ),
    `: its parent ${parent} does not exist (mkdir -p ${parent} first, or give another --sock)`,
  );
  assert.equal(
    unmakeableDir("/tmp/x", "--sock", new Deno.errors.AlreadyExists("File exists (os error 17)")),
    ": File exists (os error 17)",
    "any other refusal keeps the OS's words",
  );
});
