/** The module column of `port/print`: read from the link's own kind, as vde_switch names its modules. */
import assert from "node:assert/strict";
import { endpointDescription, endpointModule, NameCache } from "../../../src/console/switch/views.ts";
import { groupName, userName } from "../../../src/os/users.ts";
import { makeConsole } from "../_helpers.ts";
import { MgmtClient } from "../../../src/console/client.ts";
import { labMissing, withNetns } from "../../helpers/netns.ts";
import {
  AS_NOBODY,
  hasCommand,
  pathExists,
  run,
  skipUnless,
  skipUnlessRoot,
  waitFor,
} from "../../helpers/processes.ts";
import { listens, VDE_CLI } from "../../helpers/switches.ts";
import type { Link, LinkKind } from "../../../src/link/link.ts";
import { MemoryLink } from "../../helpers/memory_link.ts";
import { Bench, until, within } from "../../cable/_helpers.ts";
import { cableSessionName, ListenerSession } from "../../../src/cable/listener.ts";

function endpointOf(kind: LinkKind) {
  const link: Link = Object.assign(new MemoryLink("tap t0"), { kind });
  return { id: 1, link, uid: 0, since: 0 };
}

Deno.test("endpointModule names vde_switch's modules from the link's kind, not its class or description", () => {
  assert.equal(endpointModule(endpointOf("vde")), "unix prog");
  assert.equal(endpointModule(endpointOf("tap")), "tuntap");
  assert.equal(endpointModule(endpointOf("memory")), "link", "a description starting 'tap ' is not a tap");
  assert.equal(endpointModule(endpointOf("slirp")), "link");
});

Deno.test("a tap is listed by its interface name alone, as vde_switch's tuntap module lists it; the tables still say tap", async () => {
  const tc = makeConsole(8);
  // A TapLink's shape (kind "tap", the interface's name, description "tap NAME") without opening a tap.
  const tap: Link = Object.assign(new MemoryLink("tap u22t0"), { kind: "tap" as const, name: "u22t0" });
  try {
    tc.sw.attach(tap, { port: 1 });
    assert.equal(
      endpointDescription(endpointOf("tap")),
      "tap t0",
      "a tap link with no name keeps its description",
    );
    assert.match(await tc.run("port/print"), /\n {2}-- endpoint ID \d{4} module tuntap {6}: u22t0\n/);
    assert.match(await tc.run("ports"), /#\d+ tap u22t0\n/);
  } finally {
    tap.close();
    tc.close();
  }
});

Deno.test("a cable listener's session is listed with its peer's address, and the last one's while it waits for its client to come back", async () => {
  const tc = makeConsole(8);
  const bench: Bench = new Bench({
    key: null,
    onSession: (s) => {
      bench.sessions.push(s);
      return tc.sw.portOfEndpoint(tc.sw.attach(s).id);
    },
  });
  try {
    const sessionId = crypto.getRandomValues(new Uint8Array(16));
    const client = bench.client({ key: null, sessionId });
    await within("the cable's connection", 5000, client.firstConnection);
    const session = await bench.sessionCount(1);
    const from = session.remote;
    assert.match(from, /^127\.0\.0\.1:\d+$/);
    const name = `cable session ${session.idHex.slice(0, 16)}`;
    const line = (await tc.run("port/print")).split("\n").find((l) => l.includes("-- endpoint"));
    assert.equal(line, `  -- endpoint ID 0001 module link        : ${name} from ${from}`);
    assert.match(await tc.run("ports"), new RegExp(`#\\d+ ${name} from ${from}\n`));
    // Gone, its port kept for the grace: where it came from last.
    client.close("gone");
    await until("the connection's loss", () => session.connection === null);
    assert.match(await tc.run("port/print"), new RegExp(`: ${name} not connected \\(last from ${from}\\)\n`));
  } finally {
    await bench.close();
    tc.close();
  }
});

Deno.test("a cable listener's session whose first connection is still being accepted is listed as connecting from its address, not as one that lost its connection", () => {
  // Its port joins the switch before the connection is accepted: a debug console's port/descr says it then.
  const session = new ListenerSession(cableSessionName("07".repeat(16)), new Uint8Array(16).fill(7));
  session.remote = "127.0.0.1:41234";
  try {
    assert.equal(
      endpointDescription({ id: 1, link: session, uid: 0, since: 0 }),
      `cable session ${"07".repeat(8)} connecting from 127.0.0.1:41234`,
    );
  } finally {
    session.close("test over");
  }
});

Deno.test("vde switch --tap's port/print endpoint line is Debian's vde_switch -t's, the tap's name alone", async (t) => {
  if (skipUnless(t, await labMissing(["vde_switch"]))) return;
  await withNetns(async (lab) => {
    const ns = await lab.namespace("tapls");
    const tmp = await lab.tempDir();
    const endpointLine = async (kind: string, cmd: string[]) => {
      const mgmt = `${tmp}/${kind}.mgmt`;
      const sw = ns.spawn([...cmd, "-s", `${tmp}/${kind}`, "-M", mgmt, "-t", `${kind}t0`], {
        name: kind,
        stdin: "piped",
      });
      const line = await waitFor(async () => {
        if (sw.exitStatus !== null) throw new Error(`${kind} exited:\n${sw.stderr}`);
        if (!(await pathExists(mgmt, true)) || !(await listens(mgmt))) return undefined;
        // The switch runs in the namespace, whose sockets this one's /proc/net/unix does not list, so
        // `listens` cannot see the moment between bind and listen (the mode is set in between): a refused
        // connection there is a switch not yet ready, tried again.
        const console = await MgmtClient.connect(mgmt).catch((err) => {
          if (err instanceof Deno.errors.ConnectionRefused) return undefined;
          throw err;
        });
        if (console === undefined) return undefined;
        try {
          return (await console.command("port/print")).lines?.find((l) => l.includes("-- endpoint"));
        } finally {
          console.close();
        }
      }, { timeoutMs: 30_000, what: `${kind}'s tap port` });
      await sw.stop();
      return line.replace(/ID \d{4}/, "ID N");
    };
    const c = await endpointLine("c", ["vde_switch"]);
    assert.equal(c, "  -- endpoint ID N module tuntap      : ct0");
    const ours = await endpointLine("ours", [...VDE_CLI, "switch"]);
    assert.equal(ours, "  -- endpoint ID N module tuntap      : ourst0");
  });
});

Deno.test("a port's user is named as the machine knows it: in a rootless lab's user namespace uid 0 is the lab's user, not root", () => {
  // `unshare --map-root-user` as uid 1 (daemon): uid and gid 0 inside are 1 outside.
  const lab = new NameCache({ uid: "         0          1          1\n", gid: "0 1 1\n" });
  assert.equal(lab.user(0), userName(1));
  assert.notEqual(lab.user(0), "root");
  assert.equal(lab.group(0), groupName(1));
  // An id the map does not name (a client from outside: the kernel's overflow uid) is itself.
  assert.equal(lab.user(65534), userName(65534));
  assert.equal(lab.user(-1), "NONE");
  const machine = new NameCache({ uid: "0 0 4294967295\n", gid: "0 0 4294967295\n" });
  assert.equal(machine.user(0), "root");
  assert.equal(new NameCache({ uid: "", gid: "" }).user(0), "root", "no map: ids are themselves");
});

Deno.test("in a user namespace made with unshare --map-root-user, a port listing names uid 0 by the user who made it", async (t) => {
  if (skipUnlessRoot(t)) return;
  if (skipUnless(t, (await hasCommand("unshare")) ? null : "util-linux's unshare is not installed")) return;
  const mod = new URL("../../../src/console/switch/views.ts", import.meta.url).href;
  const code = `import { NameCache } from "${mod}";\nconsole.log(new NameCache().user(0));`;
  const r = await run([...AS_NOBODY, "unshare", "--user", "--map-root-user", Deno.execPath(), "eval", code], {
    check: false,
  });
  assert.equal(r.stdout, "nobody\n", r.stderr);
});
