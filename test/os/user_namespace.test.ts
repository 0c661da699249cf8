import assert from "node:assert/strict";
import { machineUid, rootInUserNamespace, uidOutside } from "../../src/os/user_namespace.ts";
import { AS_NOBODY, hasCommand, run, skipUnless, skipUnlessRoot } from "../helpers/processes.ts";

Deno.test("a uid inside a user namespace is the uid its uid_map maps it to outside; unmapped or in the machine's, itself", () => {
  // `unshare --user --map-root-user` run by uid 1000.
  assert.equal(uidOutside(0, "         0       1000          1\n"), 1000);
  // A range (podman's subordinate ids): uid 5 inside is 100004 outside.
  assert.equal(uidOutside(5, "0 1000 1\n1 100000 65536\n"), 100004);
  // The machine's own namespace: the identity.
  assert.equal(uidOutside(0, "         0          0 4294967295\n"), 0);
  assert.equal(uidOutside(1000, "         0          0 4294967295\n"), 1000);
  // Not mapped (the overflow uid), an empty or garbled map: the uid as given.
  assert.equal(uidOutside(7, "0 1000 1\n"), 7);
  assert.equal(uidOutside(0, ""), 0);
  assert.equal(uidOutside(0, "0 x 1\n0 -5 1\n"), 0);
});

Deno.test("root of a user namespace that a user made with unshare --map-root-user knows it is that user", async (t) => {
  if (skipUnlessRoot(t)) return;
  if (skipUnless(t, (await hasCommand("unshare")) ? null : "util-linux's unshare is not installed")) return;
  assert.equal(machineUid(), 0, "outside a user namespace, root is itself");
  assert.equal(rootInUserNamespace(), false);
  const mod = new URL("../../src/os/user_namespace.ts", import.meta.url).href;
  const code = `import { machineUid, rootInUserNamespace } from "${mod}";\n` +
    "console.log(Deno.uid(), machineUid(), rootInUserNamespace());";
  const r = await run([...AS_NOBODY, "unshare", "--user", "--map-root-user", Deno.execPath(), "eval", code], {
    check: false,
  });
  if (skipUnless(t, r.code === 0 || !/unshare failed/.test(r.stderr) ? null : r.stderr.trim())) return;
  assert.equal(r.stdout, "0 65534 true\n", r.stderr);
});
