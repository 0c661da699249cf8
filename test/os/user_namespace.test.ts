import assert from "node:assert/strict";
import {
  idMap,
  LAB_MARK_VARIABLE,
  labProcesses,
  machineUid,
  markedProcesses,
  namespaceOverflowUid,
  rootInUserNamespace,
  sameNamespace,
  uidInside,
  uidOutside,
  userNamespaceOf,
} from "../../src/os/user_namespace.ts";
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

Deno.test("a machine uid is the namespace's uid its uid_map maps to it: a rootless lab's user is its uid 0", () => {
  assert.equal(uidInside(1000, "         0       1000          1\n"), 0);
  assert.equal(uidInside(100004, "0 1000 1\n1 100000 65536\n"), 5);
  assert.equal(uidInside(1000, "0 0 4294967295\n"), 1000);
  // A user the map does not name is no uid of the namespace's (its processes show as the overflow uid,
  // every unmapped user's): not the id as given, which names whoever has it there.
  assert.equal(uidInside(1001, "0 1000 1\n"), undefined);
  assert.equal(uidInside(65534, "0 1000 1\n"), undefined);
  assert.equal(uidInside(1001, "0 1000 1\n1 100000 65536\n"), undefined);
  // No map read (an old kernel, no /proc): ids are themselves.
  assert.equal(uidInside(7, ""), 7);
  assert.equal(uidInside(7, "garbage\n0 x 1\n"), 7);
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

/** A made-up /proc: each process a directory with ns/user (a file: its device and inode stand for the namespace's), status and environ. */
function fakeProc(procs: { pid: number; ns: string; uid: number; env: string[] }[]): string {
  const proc = Deno.makeTempDirSync({ prefix: "vde-fake-proc-" });
  const namespaces = new Map<string, string>();
  for (const p of procs) {
    Deno.mkdirSync(`${proc}/${p.pid}/ns`, { recursive: true });
    // One file per namespace, hard-linked into each process of it: one device and inode, as nsfs gives.
    let ns = namespaces.get(p.ns);
    if (ns === undefined) {
      ns = `${proc}/ns-${p.ns}`;
      Deno.writeTextFileSync(ns, "");
      namespaces.set(p.ns, ns);
    }
    Deno.linkSync(ns, `${proc}/${p.pid}/ns/user`);
    Deno.writeTextFileSync(
      `${proc}/${p.pid}/status`,
      `Name:\tsleep\nUid:\t${p.uid}\t${p.uid}\t${p.uid}\t${p.uid}\n`,
    );
    Deno.writeTextFileSync(`${proc}/${p.pid}/environ`, p.env.map((e) => `${e}\0`).join(""));
  }
  return proc;
}

Deno.test("a lab's processes are those in its namespace, of its user, that carry its mark: a namespace with its old number holds strangers", () => {
  const mark = `${LAB_MARK_VARIABLE}=lab:m1`;
  const proc = fakeProc([
    { pid: 101, ns: "lab", uid: 1000, env: ["HOME=/home/s", mark] }, // the lab's sleep
    { pid: 102, ns: "lab", uid: 1000, env: ["HOME=/home/s"] }, // entered with nsenter: no mark
    { pid: 103, ns: "lab", uid: 1001, env: [mark] }, // another user's, with the mark copied
    { pid: 104, ns: "lab", uid: 1000, env: [`${mark}x`, `X${mark}`] }, // a mark that only starts or ends alike
    { pid: 105, ns: "other", uid: 1000, env: [mark] }, // another namespace
    { pid: 106, ns: "lab", uid: 1000, env: ["A=1", mark, "B=2"] }, // the lab's, its mark among others
  ]);
  try {
    const namespace = userNamespaceOf("101", proc);
    assert.ok(namespace !== null);
    assert.deepEqual(labProcesses({ namespace, uid: 1000, mark: "lab:m1" }, proc).sort(), [101, 106]);
    // The kernel gave the lab's number to a namespace on another device (or a reused one after a
    // reboot): nothing; a lab that never had a mark (an empty one): nothing.
    assert.deepEqual(
      labProcesses({ namespace: { ...namespace, dev: namespace.dev + 1 }, uid: 1000, mark: "lab:m1" }, proc),
      [],
    );
    assert.deepEqual(labProcesses({ namespace, uid: 1000, mark: "" }, proc), []);
    assert.deepEqual(labProcesses({ namespace, uid: 1000, mark: "lab:m2" }, proc), []);
    assert.equal(userNamespaceOf("999", proc), null);
    assert.equal(sameNamespace(namespace, userNamespaceOf("106", proc)), true);
    assert.equal(sameNamespace(namespace, userNamespaceOf("105", proc)), false);
    assert.equal(sameNamespace(null, null), false);
  } finally {
    Deno.removeSync(proc, { recursive: true });
  }
});

Deno.test("the processes that carry a rootless lab's mark are found with their user and runtime directory", () => {
  const proc = fakeProc([
    { pid: 201, ns: "a", uid: 1000, env: [`${LAB_MARK_VARIABLE}=5f1e`, "XDG_RUNTIME_DIR=/run/user/1000"] },
    { pid: 203, ns: "b", uid: 1002, env: [`${LAB_MARK_VARIABLE}=77aa`] },
    { pid: 204, ns: "c", uid: 1001, env: [`${LAB_MARK_VARIABLE}=`] }, // no mark at all
    { pid: 205, ns: "d", uid: 1003, env: [`X=${LAB_MARK_VARIABLE}=1`] },
  ]);
  try {
    assert.deepEqual(markedProcesses(proc).sort((a, b) => a.pid - b.pid), [
      { pid: 201, uid: 1000, mark: "5f1e", runtimeDir: "/run/user/1000" },
      { pid: 203, uid: 1002, mark: "77aa" },
    ]);
  } finally {
    Deno.removeSync(proc, { recursive: true });
  }
});

Deno.test("an id map that cannot be read is none (the machine's namespace), an empty one a user namespace with every id unmapped", () => {
  const proc = Deno.makeTempDirSync({ prefix: "vde-fake-proc-" });
  try {
    Deno.mkdirSync(`${proc}/self`);
    Deno.mkdirSync(`${proc}/sys/kernel`, { recursive: true });
    Deno.writeTextFileSync(`${proc}/sys/kernel/overflowuid`, "65534\n");
    // No /proc (an old kernel, none mounted): no map, and no namespace.
    assert.equal(idMap("uid", proc), null);
    assert.equal(namespaceOverflowUid(proc), undefined);
    // The machine's own: the identity.
    Deno.writeTextFileSync(`${proc}/self/uid_map`, "         0          0 4294967295\n");
    assert.equal(namespaceOverflowUid(proc), undefined);
    // A namespace whose map is not written yet: empty, every file the overflow uid's.
    Deno.writeTextFileSync(`${proc}/self/uid_map`, "");
    assert.equal(idMap("uid", proc), "");
    assert.equal(namespaceOverflowUid(proc), 65534);
    // A rootless lab's.
    Deno.writeTextFileSync(`${proc}/self/uid_map`, "         0       1000          1\n");
    assert.equal(namespaceOverflowUid(proc), 65534);
    assert.equal(idMap("gid", proc), null);
  } finally {
    Deno.removeSync(proc, { recursive: true });
  }
});
