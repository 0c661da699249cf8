import assert from "node:assert/strict";
import { run } from "../helpers/processes.ts";
import { bindPrivately } from "../../src/os/private_socket.ts";
import { UnixDgramSocket } from "../../src/io/unix_dgram.ts";

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
    assert.match(seen, new RegExp(`^${dir}/\\.\\d+/s$`));
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
