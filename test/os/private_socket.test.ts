import assert from "node:assert/strict";
import { run } from "../helpers/processes.ts";
import { bindPrivately, listenPrivate, removeStaleStaging } from "../../src/os/private_socket.ts";
import { UnixDgramSocket } from "../../src/io/unix_dgram.ts";
import { libc } from "../../ffi/libc.ts";
import { parseSockaddrUn, SOCKADDR_UN_LEN } from "../../src/wire/sockaddr_un.ts";

Deno.test("a private socket is bound, 0600 and alone in its directory, by a user without root under any umask (0777 too)", async () => {
  // As a user without root (nobody), for whom a directory made 0000 by the umask refuses the bind.
  const dir = await Deno.makeTempDir({ prefix: "vde-private-" });
  try {
    await Deno.chmod(dir, 0o755);
    await Deno.mkdir(`${dir}/lab`);
    await Deno.mkdir(`${dir}/deno`);
    await run(["chown", "65534:65534", `${dir}/lab`, `${dir}/deno`]);
    const module = new URL("../../src/os/private_socket.ts", import.meta.url).href;
    const code = `import { listenPrivate } from ${JSON.stringify(module)};
      const listener = listenPrivate("${dir}/lab/n.outside");
      const st = Deno.statSync("${dir}/lab/n.outside");
      listener.close();
      console.log(JSON.stringify({ mode: st.mode & 0o777, socket: st.isSocket,
        names: [...Deno.readDirSync("${dir}/lab")].map((e) => e.name) }));`;
    for (const umask of ["077", "277", "777"]) {
      const r = await run([
        "sh",
        "-c",
        `umask ${umask} && cd "$1" && exec setpriv --reuid=65534 --regid=65534 --clear-groups env DENO_DIR="$1/deno" "$0" eval "$2"`,
        Deno.execPath(),
        dir,
        code,
      ], { check: false, timeoutMs: 60_000 });
      assert.equal(r.code, 0, `umask ${umask}: ${r.stderr}`);
      assert.deepEqual(
        JSON.parse(r.stdout),
        { mode: 0o600, socket: true, names: ["n.outside"] },
        `umask ${umask}`,
      );
      await Deno.remove(`${dir}/lab/n.outside`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("bindPrivately binds in a fresh 0700 directory beside PATH, links the name there at its mode, and never replaces a name", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-private-" });
  try {
    const path = `${dir}/cable`;
    let seen = "";
    let sock: UnixDgramSocket | null = null;
    bindPrivately(path, 0o700, (staged) => {
      seen = staged;
      // Nobody but the owner may enter where the socket is first bound (with whatever mode the umask gives).
      assert.equal(Deno.statSync(staged.slice(0, staged.lastIndexOf("/"))).mode! & 0o777, 0o700);
      sock = UnixDgramSocket.create();
      sock.bind(staged);
    });
    assert.match(seen, /^\/proc\/self\/fd\/\d+\/s$/);
    const st = await Deno.lstat(path);
    assert.equal(st.isSocket, true);
    assert.equal(st.mode! & 0o777, 0o700);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["cable"]);
    (sock as UnixDgramSocket | null)?.close(false);
    await Deno.remove(path);
    await Deno.writeTextFile(path, "mine");
    const late = UnixDgramSocket.create();
    assert.throws(() => bindPrivately(path, 0o700, (staged) => late.bind(staged)), Deno.errors.AlreadyExists);
    late.close(false);
    assert.equal(await Deno.readTextFile(path), "mine");
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["cable"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("another user who may write the directory cannot make private binds fail by making names there first", async () => {
  // A group's switch directory (--mode 660 --group G, or 666): 1777 here, every name before .100 taken by
  // nobody, as a member could take the numbered staging names .0-.99 that every bind used to need.
  const dir = await Deno.makeTempDir({ prefix: "vde-private-" });
  try {
    await Deno.chmod(dir, 0o1777);
    for (let n = 0; n < 100; n++) await Deno.mkdir(`${dir}/.${n}`);
    await run(["sh", "-c", `chown 65534:65534 "$0"/.*[0-9]`, dir]);
    const listener = listenPrivate(`${dir}/capture`, 0o600, false);
    listener.close();
    const sock = UnixDgramSocket.create();
    sock.bindPrivate(`${dir}/001.7`, 0o600);
    sock.close(false);
    assert.equal((await Deno.lstat(`${dir}/capture`)).isSocket, true);
    assert.equal((await Deno.lstat(`${dir}/001.7`)).isSocket, true);
    const names = [...Deno.readDirSync(dir)].map((e) => e.name);
    assert.equal(names.length, 102, "only the two sockets beside the hundred names: no staging left behind");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a private socket whose name fits a socket address is bound even where its staging name would not", async () => {
  const base = await Deno.makeTempDir({ prefix: "vde-private-" });
  try {
    // DIR/x is 107 bytes, the most a socket path may be; DIR/.RANDOM/s would be 112.
    const dir = `${base}/${"d".repeat(107 - base.length - 3)}`;
    await Deno.mkdir(dir);
    const path = `${dir}/x`;
    assert.equal(new TextEncoder().encode(path).length, 107);
    const listener = listenPrivate(path, 0o600, false);
    listener.close();
    const st = await Deno.lstat(path);
    assert.equal(st.isSocket, true);
    assert.equal(st.mode! & 0o777, 0o600);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["x"]);
  } finally {
    await Deno.remove(base, { recursive: true });
  }
});

Deno.test("listenPrivate on a name taken fails AlreadyExists, with its listener closed and nothing left beside the name", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-private-" });
  const sockets = () =>
    [...Deno.readDirSync("/proc/self/fd")].filter((e) => {
      try {
        return Deno.readLinkSync(`/proc/self/fd/${e.name}`).startsWith("socket:");
      } catch {
        return false;
      }
    }).length;
  try {
    await Deno.writeTextFile(`${dir}/capture`, "mine");
    const before = sockets();
    assert.throws(() => listenPrivate(`${dir}/capture`, 0o600, false), Deno.errors.AlreadyExists);
    assert.equal(sockets(), before, "the listener bound in the staging directory is closed");
    assert.equal(await Deno.readTextFile(`${dir}/capture`), "mine");
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["capture"]);
    // Replacing is the default: the name is then the socket.
    listenPrivate(`${dir}/capture`).close();
    assert.equal((await Deno.lstat(`${dir}/capture`)).isSocket, true);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the kernel names a privately bound socket by its staging directory's descriptor, not its name (what ss -x shows; README)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-private-" });
  const sock = UnixDgramSocket.create();
  try {
    sock.bindPrivate(`${dir}/001.7`, 0o600);
    const addr = new Uint8Array(SOCKADDR_UN_LEN);
    const len = new Uint32Array([SOCKADDR_UN_LEN]);
    assert.equal(libc().getsockname(sock.fd, addr, new Uint8Array(len.buffer)), 0);
    const name = parseSockaddrUn(addr);
    assert.ok(name.ok);
    assert.match(name.value, /^\/proc\/self\/fd\/\d+\/s$/);
    assert.equal((await Deno.lstat(`${dir}/001.7`)).isSocket, true);
  } finally {
    sock.close(false);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a staging directory renamed away and replaced by a link before the bind leads the bind nowhere else: the socket is made in the directory held and put at its name", async () => {
  // A directory others may write without the sticky bit (ptp:// in a directory of a user's choosing, a C
  // vde_switch's 2770): whoever may write it may rename our staging directory and put a link in its place.
  const dir = await Deno.makeTempDir({ prefix: "vde-private-" });
  try {
    await Deno.mkdir(`${dir}/elsewhere`);
    const path = `${dir}/ptp`;
    const sock = UnixDgramSocket.create();
    try {
      bindPrivately(path, 0o600, (staged) => {
        const [staging] = [...Deno.readDirSync(dir)].filter((e) => /^\.[a-z2-7]{8}$/.test(e.name));
        assert.ok(staging !== undefined, "a staging directory beside the name");
        Deno.renameSync(`${dir}/${staging.name}`, `${dir}/moved`);
        Deno.symlinkSync(`${dir}/elsewhere`, `${dir}/${staging.name}`);
        sock.bind(staged);
      });
    } finally {
      sock.close(false);
    }
    // By name, the bind made elsewhere/s, and the socket held was not the one placed (chmod failed).
    assert.deepEqual([...Deno.readDirSync(`${dir}/elsewhere`)], []);
    const st = await Deno.lstat(path);
    assert.equal(st.isSocket, true);
    assert.equal(st.mode! & 0o777, 0o600);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/**
 * A private bind at `dir`/ptp while a user who may write `dir` renames the staging directory away the
 * moment it is made, and `victim` (another directory of ours) in for it; throws what the bind throws.
 */
function bindWithDirectoryRenamedIn(dir: string, victim: string): void {
  const mkdir = Deno.mkdirSync;
  Deno.mkdirSync = (path: string | URL, options?: Deno.MkdirOptions) => {
    mkdir(path, options);
    Deno.mkdirSync = mkdir;
    Deno.renameSync(path, `${dir}/moved`);
    Deno.renameSync(victim, path);
  };
  const sock = UnixDgramSocket.create();
  try {
    bindPrivately(`${dir}/ptp`, 0o600, (staged) => sock.bind(staged));
  } finally {
    Deno.mkdirSync = mkdir;
    sock.close(false);
  }
}

Deno.test("a directory of ours renamed in for the staging directory before it is held is left as it was: not narrowed, bound in, nor removed", async () => {
  // A directory others may write without the sticky bit: a user renames our staging directory away and
  // another of our directories there (in the same directory, as rename lets them) in its place.
  const dir = await Deno.makeTempDir({ prefix: "vde-private-" });
  try {
    await Deno.mkdir(`${dir}/victim`, { mode: 0o755 });
    await Deno.chmod(`${dir}/victim`, 0o755);
    assert.throws(() => bindWithDirectoryRenamedIn(dir, `${dir}/victim`), /replaced/);
    const [swapped] = [...Deno.readDirSync(dir)].filter((e) => /^\.[a-z2-7]{8}$/.test(e.name));
    assert.ok(swapped !== undefined, "the directory renamed in is still there");
    assert.equal((await Deno.stat(`${dir}/${swapped.name}`)).mode! & 0o777, 0o755);
    assert.deepEqual([...Deno.readDirSync(`${dir}/${swapped.name}`)], []);
    assert.equal(await Deno.lstat(`${dir}/ptp`).then(() => true, () => false), false);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a private directory of ours renamed in for the staging directory keeps its file s: a bind that fails on it unlinks nothing, nor does a sweep", async () => {
  // A directory others may write without the sticky bit, holding a private 0700 directory of ours with
  // a file s in it: a user who may rename it (but not touch what is in it) renames it in for our staging.
  const dir = await Deno.makeTempDir({ prefix: "vde-private-" });
  try {
    await Deno.mkdir(`${dir}/private`, { mode: 0o700 });
    await Deno.chmod(`${dir}/private`, 0o700);
    await Deno.writeTextFile(`${dir}/private/s`, "ours\n");
    assert.throws(() => bindWithDirectoryRenamedIn(dir, `${dir}/private`));
    const [swapped] = [...Deno.readDirSync(dir)].filter((e) => /^\.[a-z2-7]{8}$/.test(e.name));
    assert.ok(swapped !== undefined, "the directory renamed in is still there");
    assert.equal(await Deno.readTextFile(`${dir}/${swapped.name}/s`), "ours\n");
    // A start's sweep of staging directories left by a kill takes a socket s only.
    assert.equal(removeStaleStaging(dir), 0);
    assert.equal(await Deno.readTextFile(`${dir}/${swapped.name}/s`), "ours\n");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
