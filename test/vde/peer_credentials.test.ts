/**
 * Port ownership from the ctl connection's peer credentials (SO_PEERCRED),
 * on a switch shared by several users (`--mode 666`). An unprivileged user,
 * created for the test and removed after it, plays the attacker of issue 10
 * (naming a root-only socket to get root's reserved port) and the honest
 * user (its own socket, an ordinary port, Debian's vde_plug). A named path
 * that is a symlink, or not a socket, is refused for everyone.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { UnixDgramSocket } from "../../src/io/unix_dgram.ts";
import { buildVdeRequest, REQ_NEW_CONTROL } from "../../src/wire/vde_request.ts";
import { MAX_PENDING_PER_USER, VdeSwitchServer } from "../../src/vde/switch_server.ts";
import { Switch } from "../../src/switch/switch.ts";
import { openVdeLink } from "../../src/link/vde_link.ts";
import type { SwitchHandle } from "../helpers/switches.ts";
import {
  hasCommand,
  hasRoot,
  pathExists,
  run,
  RUN_PREFIX,
  RUN_STUDENT,
  skipUnless,
  spawnManaged,
} from "../helpers/processes.ts";
import { withStudent } from "../helpers/student.ts";
import { holdAs } from "../helpers/euid_holder.ts";
import { withOwnSubuid } from "../helpers/mount_namespace.ts";
import {
  BROADCAST,
  ethFrame,
  exchangeBroadcasts,
  mac,
  ourCli,
  RawClient,
  StdioClient,
  until,
  waitUntilAccepting,
  within,
  withSwitch,
} from "../helpers/vde_clients.ts";

/** Debian's own Python: a user without a home cannot run a root-installed shim. */
const PYTHON = "/usr/bin/python3";
const HELPER = fileURLToPath(new URL("./peer_client.py", import.meta.url));
const HOLDER = fileURLToPath(new URL("./ctl_holder.py", import.meta.url));

async function capability(): Promise<string | null> {
  const root = hasRoot();
  if (root !== null) return root;
  for (const cmd of ["useradd", "userdel", "setpriv", "vde_plug"]) {
    if (!(await hasCommand(cmd))) return `${cmd} is not installed`;
  }
  return (await pathExists(PYTHON)) ? null : `${PYTHON} is not installed`;
}

/** Runs `fn` with a fresh unprivileged user (uid, gid, and a command prefix that runs as it); removes it after. */
async function withUser(
  fn: (u: { name: string; uid: number; gid: number; as: string[] }) => Promise<void>,
): Promise<void> {
  const name = `vdesec${Deno.pid}`;
  const made = await run([
    "useradd",
    "--no-create-home",
    "--user-group",
    "--shell",
    "/usr/sbin/nologin",
    name,
  ]);
  assert.equal(made.code, 0, `useradd ${name}: ${made.stderr}`);
  try {
    const uid = Number((await run(["id", "-u", name])).stdout.trim());
    const gid = Number((await run(["id", "-g", name])).stdout.trim());
    assert.ok(uid > 0 && gid > 0, `user ${name} has uid ${uid}, gid ${gid}`);
    await fn({ name, uid, gid, as: ["setpriv", `--reuid=${uid}`, `--regid=${gid}`, "--clear-groups"] });
  } finally {
    await run(["userdel", name]);
  }
}

Deno.test("--mode 666: who a client is comes from the ctl connection, not from the socket it names", async (t) => {
  if (skipUnless(t, await capability())) return;
  await withUser(async (user) => {
    const rcDir = await Deno.makeTempDir({ prefix: "vde-test-rc-" });
    const rc = `${rcDir}/setuser.rc`;
    await Deno.writeTextFile(rc, "port/create 7\nport/setuser 7 root\n");
    try {
      await withSwitch(
        "ours",
        { extraArgs: ["--mode", "666", "-f", rc] },
        async ({ sw, dir, tmp, clients }) => {
          await Deno.chmod(tmp, 0o755);
          const ctl = `${dir}/ctl`;
          // The helper where the user can read it (the repository may be in a private directory).
          const helper = `${tmp}/peer_client.py`;
          await Deno.copyFile(HELPER, helper);
          await Deno.chmod(helper, 0o644);

          // The victim: a root-only socket, as /dev/log or journald's would be.
          const victimPath = `${tmp}/root-only.sock`;
          const victim = UnixDgramSocket.create();
          victim.bind(victimPath);
          await Deno.chmod(victimPath, 0o600);
          try {
            // The attack of the issue: root's reserved port, naming root's socket. Refused, with both uids in the log.
            const attack = await run([...user.as, PYTHON, helper, ctl, "name", victimPath, "7"]);
            assert.match(attack.stdout, /^refused$/m, `attacker: ${attack.stdout} ${attack.stderr}`);
            await until(
              "the refusal's log line",
              () =>
                new RegExp(`client uid ${user.uid} .*named socket ${victimPath} owned by uid 0`).test(
                  sw.stderr(),
                ),
            );
            // Any port, same socket: refused too (the socket is not the client's).
            const anyPort = await run([...user.as, PYTHON, helper, ctl, "name", victimPath, "0"]);
            assert.match(anyPort.stdout, /^refused$/m);

            // Its own socket does not buy it root's reserved port: port/setuser goes by its uid.
            const userDir = `${tmp}/user`;
            await Deno.mkdir(userDir);
            await Deno.chown(userDir, user.uid, user.gid);
            const reserved = await run([...user.as, PYTHON, helper, ctl, "own", `${userDir}/own7.sock`, "7"]);
            assert.match(reserved.stdout, /^refused$/m);
            assert.match(sw.stderr(), /port 7 is reserved .* for another user/);

            // Root's own clients still work, root's reserved port included.
            const a = await clients.raw(dir);
            const b = await RawClient.open(dir, 7);
            try {
              await exchangeBroadcasts(a, b, 300);
              // Nothing reached the victim's socket.
              let got = 0;
              victim.recvBatch(() => got++, { oversize: 0 });
              assert.equal(got, 0, "the root-only socket received frames");

              // The user's own socket on an ordinary port works both ways.
              const honest = spawnManaged(
                [...user.as, PYTHON, helper, ctl, "own", `${userDir}/own.sock`, "0"],
                { name: "peer client (own socket)" },
              );
              try {
                await honest.waitForOutput(/^reply /m, 10_000);
                await a.waitTag(402);
                assert.equal(a.send(ethFrame(BROADCAST, mac(401), 401)), 0);
                // It exits once it has the frame (or after 5 s); its output is complete once its status is in.
                await within("the peer client to finish", 15_000, honest.status);
                assert.match(honest.stdout, /^frame 401$/m, honest.stdout + honest.stderr);
              } finally {
                await honest.stop();
              }
              // Debian's vde_plug run as that user still connects.
              const plug = new StdioClient([...user.as, "vde_plug", dir], "vde_plug as an unprivileged user");
              try {
                await plug.send(ethFrame(BROADCAST, mac(501), 501));
                await a.waitTag(501, 10_000);
                assert.equal(a.send(ethFrame(BROADCAST, mac(502), 502)), 0);
                await plug.waitTag(502, 10_000);
              } finally {
                await plug.stop();
              }
            } finally {
              await b.close();
            }
          } finally {
            victim.close(true);
          }
        },
      );
    } finally {
      await Deno.remove(rcDir, { recursive: true }).catch(() => {});
    }
  });
});

/**
 * Runs `fn` while a user floods the `--mode 666` switch's ctl with `count` connections that never speak,
 * each one the switch closes opened again `delayMs` later; then the holder's output.
 */
async function whileHeld(
  count: number,
  delayMs: number,
  fn: (ctx: { sw: SwitchHandle; dir: string; user: string }) => Promise<void>,
): Promise<string> {
  let out = "";
  await withUser(async (user) => {
    await withSwitch("ours", { extraArgs: ["--mode", "666"] }, async ({ sw, dir, tmp }) => {
      await Deno.chmod(tmp, 0o755);
      const holder = `${tmp}/ctl_holder.py`;
      await Deno.copyFile(HOLDER, holder);
      await Deno.chmod(holder, 0o644);
      const flood = spawnManaged([
        ...user.as,
        PYTHON,
        holder,
        `${dir}/ctl`,
        String(count),
        "6",
        String(delayMs),
      ], {
        name: "ctl holder",
      });
      try {
        await flood.waitForOutput(/^holding$/m, 10_000);
        await fn({ sw, dir, user: user.name });
        await within("the holder to finish", 20_000, flood.status);
        out = flood.stdout + flood.stderr;
      } finally {
        await flood.stop();
      }
    });
  });
  return out;
}

/** Root's plug, as `vde plug` opens it, in and out: throws what it would say. */
async function plugInAndOut(dir: string): Promise<void> {
  const link = await openVdeLink(dir);
  link.close();
  await link.closed;
}

Deno.test("--mode 666: a user holding hundreds of silent ctl connections leaves root's clients plugging in", async (t) => {
  if (skipUnless(t, await capability())) return;
  let name = "";
  const out = await whileHeld(300, 50, async ({ sw, dir, user }) => {
    name = user;
    // One after another while the user holds every handshake they may (each expires after 2 s).
    for (let i = 0; i < 3; i++) await plugInAndOut(dir);
    await until("the refusal's log line", () => sw.stderr().includes(`refused a client: ${user} has `));
  });
  assert.match(
    out,
    new RegExp(`^refusal ${name} has ${MAX_PENDING_PER_USER} handshakes under way here`, "m"),
    out,
  );
});

Deno.test("--mode 666: a user keeping the ctl's listen backlog full does not turn root's plug away", async (t) => {
  if (skipUnless(t, await capability())) return;
  await whileHeld(900, 0, async ({ dir }) => {
    for (let i = 0; i < 5; i++) await plugInAndOut(dir);
  });
});

Deno.test("a request naming a symlink or a file that is not a socket is refused with the reason", async () => {
  await withSwitch("ours", {}, async ({ sw, dir, tmp }) => {
    const target = await RawClient.connect(dir);
    try {
      const link = `${tmp}/link.sock`;
      await Deno.symlink(target.dataPath, link);
      const plain = `${tmp}/plain-file`;
      await Deno.writeTextFile(plain, "");
      for (const [path, why] of [[link, "a symbolic link"], [plain, "which is not a socket"]] as const) {
        const c = await RawClient.connect(dir);
        try {
          await c.sendRaw(
            buildVdeRequest({ kind: REQ_NEW_CONTROL, port: 0, socketPath: path, description: "" }),
          );
          assert.equal((await c.awaitReply(5000)).type, "eof");
          await until(`the refusal of ${path}`, () => sw.stderr().includes(`named ${path}, ${why}`));
        } finally {
          await c.close();
        }
      }
      // The socket itself, named directly, is fine.
      assert.match(await target.handshake(), /\/\d{3}\.\d+$/);
    } finally {
      await target.close();
    }
  });
});

/** A subordinate range for the tests' student, well past any uid passwd gives (none of its uids has a name). */
const SUB_FIRST = 600_000;
const SUB_COUNT = 65_536;
/** A range of root's (the switch's user's in the tests), past the student's. */
const ROOTS_FIRST = 700_000;

/**
 * Holds 6 silent handshakes on `ctl` from each of: the student's uid, the first and the last uid of their
 * range, one past the range; asserts the range's are the student's (16 of their 18 taken, the last two
 * refused in the student's name) and the uid past it its own. The switch refuses at once and closes a
 * silent one after 2 s: what is open after 1 s was taken.
 */
async function assertRangeIsTheStudents(ctl: string, studentUid: number): Promise<void> {
  const last = SUB_FIRST + SUB_COUNT - 1;
  const outside = SUB_FIRST + SUB_COUNT;
  const { by, out } = await holdAs(`unix:${ctl}`, 1, [[studentUid, 6], [SUB_FIRST, 6], [last, 6], [
    outside,
    6,
  ]]);
  // The user's own uid and their range's first uid: 12 of the 16 the user may have.
  assert.deepEqual(by.get(studentUid), { held: 6, refused: [] }, out);
  assert.deepEqual(by.get(SUB_FIRST), { held: 6, refused: [] }, out);
  // The range's last uid is the same user: 4 more, then refused in that user's name.
  assert.deepEqual(by.get(last), {
    held: MAX_PENDING_PER_USER - 12,
    refused: [`${RUN_STUDENT} has ${MAX_PENDING_PER_USER} handshakes under way here, the most one user may`],
  }, out);
  // One past the range: a uid of no one, counted as itself, as before.
  assert.deepEqual(by.get(outside), { held: 6, refused: [] }, out);
}

Deno.test("--mode 666: a user's subordinate uids (/etc/subuid) share that user's 16 ctl handshakes; a uid outside every range keeps its own; the switch user's are one other user", async (t) => {
  if (skipUnless(t, await capability())) return;
  await withStudent([], async (student) => {
    const tmp = await Deno.makeTempDir({ prefix: `${RUN_PREFIX}subuid-ctl-` });
    const sw = new Switch({ numPorts: 4 });
    const lines: string[] = [];
    try {
      await Deno.chmod(tmp, 0o755);
      const subuid = `${tmp}/subuid`;
      // Root's own range too: the switch is root's.
      await Deno.writeTextFile(subuid, `${RUN_STUDENT}:${SUB_FIRST}:${SUB_COUNT}\nroot:${ROOTS_FIRST}:10\n`, {
        mode: 0o644,
      });
      const server = await VdeSwitchServer.start(sw, {
        dir: `${tmp}/sw`,
        mode: 0o666,
        log: (m) => lines.push(m),
        subuid,
      });
      try {
        await assertRangeIsTheStudents(server.ctlPath, student.uid);
        assert.equal(server.refused.busy, 2);
        // The switch's user's subordinate uids (their containers') are not trusted as that user is: capped as
        // one other user.
        const { by, out } = await holdAs(`unix:${server.ctlPath}`, 1, [[ROOTS_FIRST, 10], [
          ROOTS_FIRST + 9,
          10,
        ]]);
        assert.deepEqual(by.get(ROOTS_FIRST), { held: 10, refused: [] }, out);
        assert.deepEqual(by.get(ROOTS_FIRST + 9), {
          held: MAX_PENDING_PER_USER - 10,
          refused: [
            `root's subordinate uids have ${MAX_PENDING_PER_USER} handshakes under way, the most one user may`,
          ],
        }, out);
        assert.deepEqual(lines.filter((l) => l.includes(subuid)), []);
      } finally {
        server.close();
      }
    } finally {
      sw.close();
      await Deno.remove(tmp, { recursive: true });
    }
  }, { bundle: false });
});

Deno.test("--mode 666: `vde switch` reads the machine's /etc/subuid (here one seen only in its private mount namespace) for its ctl cap", async (t) => {
  if (
    skipUnless(t, (await capability()) ?? (await hasCommand("unshare") ? null : "unshare is not installed"))
  ) {
    return;
  }
  await withStudent([], async (student) => {
    const tmp = await Deno.makeTempDir({ prefix: `${RUN_PREFIX}subuid-e2e-` });
    let sw: ReturnType<typeof spawnManaged> | undefined;
    try {
      await Deno.chmod(tmp, 0o755);
      // /etc/subuid as the switch reads it, in its own mount namespace: no one else sees it.
      const dir = `${tmp}/sw`;
      sw = spawnManaged(
        await withOwnSubuid(tmp, `${RUN_STUDENT}:${SUB_FIRST}:${SUB_COUNT}\n`, [
          ...ourCli(),
          "switch",
          "--sock",
          dir,
          "--mode",
          "666",
        ]),
        { name: "vde switch with a private /etc/subuid" },
      );
      await waitUntilAccepting(dir, 30_000).catch(() => {
        throw new Error(`the switch did not start: ${sw?.stderr}`);
      });
      await assertRangeIsTheStudents(`${dir}/ctl`, student.uid);
      await until(
        "the refusal's log line",
        () => sw!.stderr.includes(`refused a client: ${RUN_STUDENT} has `),
      );
    } finally {
      await sw?.stop();
      await Deno.remove(tmp, { recursive: true });
    }
  }, { bundle: false });
});
