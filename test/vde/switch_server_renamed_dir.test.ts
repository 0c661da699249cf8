/**
 * A running root switch whose directory another user renames away (a
 * parent others may write without the sticky bit) and replaces with a
 * directory of theirs: the switch keeps serving the one it started in,
 * through the descriptor it holds, and makes, renames, removes and follows
 * nothing in theirs, through its whole life: new ports, closed ports, its
 * stop. Real processes: our `vde switch` as root, the user as nobody,
 * Debian's vde_plug and our raw client as the switch's clients.
 */
import assert from "node:assert/strict";
import { AS_NOBODY, run, skipUnlessRoot } from "../helpers/processes.ts";
import { renamedDirScene } from "../helpers/renamed_dir.ts";
import { startOurSwitch } from "../helpers/switches.ts";
import {
  BROADCAST,
  ethFrame,
  mac,
  PORT_FILE,
  RawClient,
  StdioClient,
  until,
} from "../helpers/vde_clients.ts";

/** Every name in `dir` with what it is: a file's size, a link's target, or a socket or directory. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of Deno.readDirSync(dir)) {
    const at = `${dir}/${e.name}`;
    const st = Deno.lstatSync(at);
    out[e.name] = st.isSymlink
      ? `link ${Deno.readLinkSync(at)}`
      : st.isFile
      ? `file ${st.size} uid ${st.uid}`
      : st.isSocket
      ? "socket"
      : `dir uid ${st.uid}`;
  }
  return out;
}

/** The descriptor of process `pid` open on `dir` (the switch's hold on it), as /proc/PID/fd/N. */
function heldBy(pid: number, dir: string): string {
  for (const e of Deno.readDirSync(`/proc/${pid}/fd`)) {
    const fd = `/proc/${pid}/fd/${e.name}`;
    try {
      if (Deno.readLinkSync(fd) === dir) return fd;
    } catch { /* closed meanwhile */ }
  }
  throw new Error(`process ${pid} holds no descriptor of ${dir}`);
}

Deno.test("a root switch whose directory nobody renamed away and replaced keeps serving it by its descriptor and makes, removes or follows nothing in nobody's", async (t) => {
  if (skipUnlessRoot(t)) return;
  // Where nobody's links lead (target): root's, so nothing nobody could make there themself.
  const { tmp, dir, away, target } = await renamedDirScene("vde-dir-renamed-");
  const clients = `${tmp}/clients`;
  await Deno.mkdir(clients, { mode: 0o700 });
  const sw = await startOurSwitch(dir);
  const opened: (RawClient | StdioClient)[] = [];
  try {
    const a = await RawClient.open(dir, undefined, { bindDir: clients });
    opened.push(a);
    const portOfA = a.portPath!.slice(a.portPath!.lastIndexOf("/") + 1);
    assert.match(portOfA, PORT_FILE);

    // As nobody: the directory renamed away, theirs at its name with a file named as A's port (which the
    // switch unlinks when A goes), files and links named as the next ports' sockets and their staging
    // `.NNN.F.new`, a link named as ctl, capture and mgmt, and one named as a private bind's staging directory.
    const script = [
      "set -e",
      `mv '${dir}' '${away}'`,
      `mkdir '${dir}'`,
      `cd '${dir}'`,
      `: > '${portOfA}'`,
      "for p in 001 002 003 004; do for f in $(seq 3 64); do",
      `  [ -e $p.$f ] || : > $p.$f; ln -s '${target}'/new-$p.$f .$p.$f.new`,
      "done; done",
      `ln -s '${target}/ctl' ctl`,
      `ln -s '${target}/capture' capture`,
      `ln -s '${target}/mgmt' mgmt`,
      `ln -s '${target}' .abcdefgh`,
    ].join("\n");
    await run([...AS_NOBODY, "sh", "-c", script]);
    const planted = snapshot(dir);

    // New ports: Debian's vde_plug by the path the directory went to, our client by the switch's own hold.
    const plug = StdioClient.vdePlug(`vde://${away}`);
    opened.push(plug);
    const b = await RawClient.open(heldBy(sw.pid, away), undefined, { bindDir: clients });
    opened.push(b);
    assert.ok(b.portPath!.startsWith(`${away}/`), `told ${b.portPath}, not a path in ${away}`);
    await until(
      "vde_plug's port",
      () =>
        Deno.readDirSync(away).some((e) =>
          PORT_FILE.test(e.name) && e.name !== portOfA && `${away}/${e.name}` !== b.portPath
        ),
    );

    // Served: frames cross between the port from before, vde_plug's and the one made through the hold.
    const fromA = ethFrame(BROADCAST, mac(0xa), 1);
    a.send(fromA);
    await plug.waitTag(1);
    await b.waitTag(1);
    await plug.send(ethFrame(BROADCAST, mac(0xb), 2));
    await a.waitTag(2);
    b.send(ethFrame(BROADCAST, mac(0xc), 3));
    await a.waitTag(3);

    // Ports closed, then the switch stopped as a service manager would.
    await b.close();
    await plug.stop();
    await a.close();
    opened.length = 0;
    await until(
      "the ports' sockets removed",
      () => !Deno.readDirSync(away).some((e) => PORT_FILE.test(e.name)),
    );
    await sw.stop();

    assert.deepEqual(snapshot(dir), planted, "nobody's directory is as they left it");
    assert.deepEqual([...Deno.readDirSync(target)], [], "nothing was made where nobody's links lead");
    // Its own directory emptied of the switch's sockets (left where it went: its name is no longer its).
    const left = Object.entries(snapshot(away)).filter(([, what]) => what === "socket").map(([name]) => name);
    assert.deepEqual(left, [], "the switch removed its sockets in the directory it served");
    assert.match(sw.stderr(), /no longer names the directory served \(renamed to .*\/away\)/);
  } finally {
    for (const c of opened) await (c instanceof StdioClient ? c.stop() : c.close()).catch(() => {});
    await sw.stop().catch(() => {});
    await Deno.remove(tmp, { recursive: true });
  }
});
