/**
 * Root's vde:// client in another user's switch directory, which that user
 * renames away during the handshake and replaces with a link to a directory
 * of root's: the client binds, gives its mode to and unlinks its `.PID-N`
 * socket through the directory it held, so the name it bound is removed in
 * the directory it bound it in, and nothing is removed where the link leads.
 * The switch is a stand-in in this process (root's ctl in nobody's
 * directory) that swaps the directory as nobody when the request comes,
 * then refuses; the user is nobody.
 */
import assert from "node:assert/strict";
import { AS_NOBODY, run, skipUnlessRoot } from "../helpers/processes.ts";
import { renamedDirScene } from "../helpers/renamed_dir.ts";
import { openVdeLink } from "../../src/link/vde_link.ts";
import { MAX_REQUEST_LEN, parseVdeRequest } from "../../src/wire/vde_request.ts";

Deno.test("root's vde:// client whose switch directory nobody renamed away mid-handshake unlinks its socket in the directory it bound it in, not where nobody's link leads", async (t) => {
  if (skipUnlessRoot(t)) return;
  // A file of root's where nobody's link leads is what nobody would have root's client remove.
  const { tmp, shared, dir, away, target } = await renamedDirScene("vde-client-renamed-");
  // nobody's own directory in a parent of theirs, which they may rename: root refuses a switch reached
  // through a parent others may write, and binds its socket in /tmp beside a directory others may write.
  await Deno.chown(shared, 65534, 65534);
  await Deno.chmod(shared, 0o755);
  await run([...AS_NOBODY, "mkdir", "-m", "0755", dir]);
  const ctl = Deno.listen({ transport: "unix", path: `${dir}/ctl` });
  let named = "";
  const stand = (async () => {
    const conn = await ctl.accept();
    try {
      const buf = new Uint8Array(MAX_REQUEST_LEN);
      const n = await conn.read(buf);
      const req = parseVdeRequest(buf.subarray(0, n ?? 0));
      assert.ok(req.ok, "a request");
      named = req.value.socketPath;
      // Root's file named as the client's socket, where nobody's link is about to lead.
      await Deno.writeTextFile(`${target}/${named.slice(named.lastIndexOf("/") + 1)}`, "root's\n");
      await run([...AS_NOBODY, "sh", "-c", `set -e; mv '${dir}' '${away}'; ln -s '${target}' '${dir}'`]);
    } finally {
      conn.close(); // refused: the client gives up its socket
    }
  })();
  try {
    await assert.rejects(openVdeLink(dir), /refused the connection/);
    await stand;
    assert.match(
      named,
      /^.*\/net\/\.\d{5,}-\d{5,}$/,
      "the switch is told the socket by the directory's name",
    );
    const file = named.slice(named.lastIndexOf("/") + 1);
    assert.equal(
      await Deno.readTextFile(`${target}/${file}`),
      "root's\n",
      "root's file where nobody's link leads is left",
    );
    assert.deepEqual(
      [...Deno.readDirSync(away)].map((e) => e.name).filter((n) => n !== "ctl"),
      [],
      "the client's socket is removed in the directory it was bound in",
    );
  } finally {
    ctl.close();
    await stand.catch(() => {});
    await Deno.remove(tmp, { recursive: true });
  }
});
