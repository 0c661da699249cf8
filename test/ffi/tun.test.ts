import assert from "node:assert/strict";
import { interfaceExists, isTunTap } from "../../ffi/tun.ts";
import { hasCommand, run, skipUnless, skipUnlessRoot } from "../helpers/processes.ts";

Deno.test("interfaces are looked up in the process's own network namespace, not in a /sys of another (unshare --net)", async (t) => {
  if (skipUnlessRoot(t)) return;
  if (skipUnless(t, (await hasCommand("unshare")) ? null : "util-linux's unshare is not installed")) return;
  // An interface of the machine's namespace other than lo, which its /sys lists.
  const machines = [...Deno.readDirSync("/sys/class/net")].map((e) => e.name).filter((n) => n !== "lo");
  if (skipUnless(t, machines.length > 0 ? null : "the machine has no interface but lo")) return;
  const other = machines[0]!;
  assert.ok(interfaceExists(other), `${other} exists here`);
  const mod = new URL("../../ffi/tun.ts", import.meta.url).href;
  const code = `import { interfaceExists, isTunTap } from "${mod}";\n` +
    `console.log(interfaceExists("lo"), interfaceExists("${other}"), isTunTap("${other}"), ` +
    'interfaceExists("vdetest0"), isTunTap("vdetest0"), isTunTap("lo"));';
  // A new network namespace with a tap made in it; /sys stays the machine's (no mount namespace).
  const r = await run([
    "unshare",
    "--net",
    "sh",
    "-c",
    'ip tuntap add vdetest0 mode tap && exec "$@"',
    "sh",
    Deno.execPath(),
    "eval",
    code,
  ], { check: false, timeoutMs: 30_000 });
  assert.equal(r.stdout, "true false false true true false\n", r.stderr);
  assert.equal(isTunTap("vdetest0"), false, "the tap is the namespace's, which is gone");
});
