/** `vde tap create` tells a new tap from one that was already there, and says whose it is. */
import assert from "node:assert/strict";
import { ROOT_IF_PREFIX, run, skipUnlessRoot } from "../helpers/processes.ts";
import { ourCli } from "../helpers/vde_clients.ts";

Deno.test("vde tap create says 'created' for a new tap and 'already exists' for an existing one", async (t) => {
  if (skipUnlessRoot(t)) return;
  const name = `${ROOT_IF_PREFIX}tc`;
  try {
    const first = await run([...ourCli(), "tap", "create", name], { timeoutMs: 30_000 });
    assert.equal(first.stdout, `tap ${name} created\n`);
    const again = await run([...ourCli(), "tap", "create", name], { timeoutMs: 30_000 });
    assert.equal(again.stdout, `tap ${name} already exists; kept\n`);
    // Given an owner, an existing tap takes it, and says so.
    const owned = await run([...ourCli(), "tap", "create", name, "--user", "nobody", "--group", "0"], {
      timeoutMs: 30_000,
    });
    assert.equal(owned.stdout, `tap ${name} already exists; kept, now for user nobody (uid 65534), gid 0\n`);
    assert.match((await run(["ip", "-d", "link", "show", name])).stdout, / user nobody group root /);
    await run([...ourCli(), "tap", "delete", name], { timeoutMs: 30_000 });
    // A new tap for a user named: the name, and the uid it stands for.
    const fresh = await run([...ourCli(), "tap", "create", name, "--user", "nobody"], { timeoutMs: 30_000 });
    assert.equal(fresh.stdout, `tap ${name} created for user nobody (uid 65534)\n`);
  } finally {
    await run([...ourCli(), "tap", "delete", name], { check: false, timeoutMs: 30_000 });
  }
});

Deno.test("vde tap create without CAP_NET_ADMIN says to run it as root with --user, or in a namespace of one's own, and makes nothing", async (t) => {
  if (skipUnlessRoot(t)) return;
  const name = `${ROOT_IF_PREFIX}tn`;
  // Root without CAP_NET_ADMIN is the kernel's view of an ordinary user here.
  const noCap = ["setpriv", "--bounding-set=-net_admin", "--inh-caps=-net_admin"];
  const create = await run([...noCap, ...ourCli(), "tap", "create", name], {
    check: false,
    timeoutMs: 30_000,
  });
  assert.equal(create.code, 1);
  assert.equal(
    create.stderr,
    `vde: vde tap create ${name} needs root (CAP_NET_ADMIN): run \`sudo vde tap create ${name} --user $USER\`` +
      "; without root, in a network namespace of your own (`unshare -rn`; README: Without root)\n",
  );
  const withUser = await run([...noCap, ...ourCli(), "tap", "create", name, "--user", "nobody"], {
    check: false,
    timeoutMs: 30_000,
  });
  assert.match(
    withUser.stderr,
    /run `sudo vde tap create \S+ --user nobody`; without root, in a network namespace /,
  );
  assert.equal((await run(["ip", "link", "show", name], { check: false })).code, 1, "no interface was made");
});

Deno.test("vde tap add, show and del (ip tuntap's words) create, list and delete a tap", async (t) => {
  if (skipUnlessRoot(t)) return;
  const name = `${ROOT_IF_PREFIX}ta`;
  try {
    const add = await run([...ourCli(), "tap", "add", name], { timeoutMs: 30_000 });
    assert.equal(add.stdout, `tap ${name} created\n`);
    assert.match(
      (await run([...ourCli(), "tap", "show"], { timeoutMs: 30_000 })).stdout,
      new RegExp(`^${name} `, "m"),
    );
    const del = await run([...ourCli(), "tap", "del", name], { timeoutMs: 30_000 });
    assert.equal(del.stdout, `tap ${name} deleted\n`);
    const rm = await run([...ourCli(), "tap", "rm", name], { check: false, timeoutMs: 30_000 });
    assert.equal(rm.code, 1, "gone: rm is delete too, and finds nothing");
  } finally {
    await run([...ourCli(), "tap", "delete", name], { check: false, timeoutMs: 30_000 });
  }
});

Deno.test("a machine whose /dev/net/tun is missing, or is not the tun device (a container's /dev/null bound there), is told how to get it, not 'errno 25'", async (t) => {
  if (skipUnlessRoot(t)) return;
  const name = `${ROOT_IF_PREFIX}tt`;
  const empty = await Deno.makeTempDir({ prefix: "vde-no-tun-" });
  const fix = "(modprobe tun makes it, or mknod /dev/net/tun c 10 200; in a container, give it the host's: " +
    "docker run --device /dev/net/tun --cap-add NET_ADMIN)";
  try {
    // In a mount namespace of the test's own, gone with it: the host's /dev/net/tun is not touched.
    const createUnder = (mount: string) =>
      run([
        "unshare",
        "--mount",
        "sh",
        "-c",
        `${mount} && exec "$@"`,
        "sh",
        ...ourCli(),
        "tap",
        "create",
        name,
      ], {
        check: false,
        timeoutMs: 30_000,
      });
    const notTun = await createUnder("mount --bind /dev/null /dev/net/tun");
    assert.equal(notTun.code, 1);
    assert.equal(
      notTun.stderr,
      `vde: cannot attach tap ${name}: /dev/net/tun is not the tun device ${fix}\n`,
    );
    const missing = await createUnder(`mount --bind ${empty} /dev/net`);
    assert.equal(missing.code, 1);
    assert.equal(missing.stderr, `vde: /dev/net/tun is missing ${fix}\n`);
  } finally {
    await Deno.remove(empty, { recursive: true });
  }
});
