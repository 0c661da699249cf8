/**
 * What a process on the machine vouches for (src/os/host_vouched.ts) is what a process entering a rootless
 * lab's user namespace needs to read the user's own files there: root's `/` and /tmp on the way.
 */
import assert from "node:assert/strict";
import { AS_NOBODY, run } from "../helpers/processes.ts";
import { vouchedKey } from "../helpers/root_files.ts";
import { VOUCHED_VARIABLE } from "../../src/os/user_namespace.ts";

const mod = (m: string) => new URL(`../../src/os/${m}`, import.meta.url).href;

Deno.test("a user's file under root's / and /tmp is read in a user namespace of theirs entered with what their process outside vouched for, refused at / without it", async () => {
  assert.equal(Deno.uid(), 0, "run as root: it runs as nobody");
  const tmp = await Deno.makeTempDir({ prefix: "vde-host-vouched-" });
  try {
    await Deno.chmod(tmp, 0o755);
    const mine = `${tmp}/mine`;
    await Deno.mkdir(mine, { mode: 0o700 });
    await Deno.writeTextFile(`${mine}/lab.key`, "s3cret\n", { mode: 0o600 });
    await run(["chown", "-R", "65534:65534", mine]);
    // Outside, as nobody in the directory holding the file (a `vde exec` run there).
    const vouch = await run([
      ...AS_NOBODY,
      "sh",
      "-c",
      'cd "$1" && exec "$2" eval "$3"',
      "sh",
      mine,
      Deno.execPath(),
      `import { hostSideVouched } from "${mod("host_vouched.ts")}";\nconsole.log(hostSideVouched([]));`,
    ]);
    const vouched = vouch.stdout.trim();
    const key = vouchedKey;
    assert.ok(vouched.split(" ").includes(key("/")) && vouched.split(" ").includes(key(tmp)), vouched);
    const judged = async (env: string[]) => {
      const r = await run([
        ...AS_NOBODY,
        "env",
        ...env,
        "unshare",
        "--user",
        "--map-root-user",
        Deno.execPath(),
        "eval",
        `import { stepText, untrustedStep } from "${mod("trusted_path.ts")}";\n` +
        `const s = untrustedStep("${mine}/lab.key", [0]);\nconsole.log(s === undefined ? "trusted" : stepText(s));`,
      ], { check: false });
      assert.equal(r.code, 0, r.stderr);
      return r.stdout.trim();
    };
    assert.equal(await judged([`${VOUCHED_VARIABLE}=${vouched}`]), "trusted");
    assert.equal(
      await judged([]),
      "/, a directory of a user this user namespace does not map (root or another)",
    );
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
