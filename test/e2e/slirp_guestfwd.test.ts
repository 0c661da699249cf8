/**
 * End to end: guest forwards. The guest (a namespace behind our switch)
 * connects to a virtual address of the slirp network; `--cmdfwd` joins the
 * connection to a fresh `cat`, `--unixfwd` to a unix socket the test
 * listens on. Bytes go both ways and come back intact; the guest's
 * half-close ends the command's input, whose end ends the connection.
 * Root's slirp joins no guest to a socket reached through another user's
 * symlink. Root only; in CI it must run.
 */
import assert from "node:assert/strict";
import { withNetns } from "../helpers/netns.ts";
import { run, RUN_STUDENT, skipUnless, waitFor } from "../helpers/processes.ts";
import { withStudent } from "../helpers/student.ts";
import type { SwitchHandle } from "../helpers/switches.ts";
import { dhcp, HELPER, missing, setUp } from "./slirp_lab.ts";

const SIZE = 1024 * 1024;

Deno.test("slirp guest forwards: the guest talks to cat (cmdfwd) and to a unix socket (unixfwd) both ways", async (t) => {
  if (skipUnless(t, await missing())) return;
  const sw: { handle: SwitchHandle | null } = { handle: null };
  await withNetns(async (lab) => {
    lab.defer(async () => void (await sw.handle?.stop()));
    const tmp = await lab.tempDir();
    const path = `${tmp}/echo.sock`;
    // A unix echo server in this process: what it reads it writes back, and closes after the client's FIN.
    const listener = Deno.listen({ transport: "unix", path });
    const served = (async () => {
      for await (const conn of listener) {
        (async () => {
          await conn.readable.pipeTo(conn.writable).catch(() => {});
        })();
      }
    })();
    lab.defer(async () => {
      listener.close();
      await served.catch(() => {});
    });
    const s = await setUp(lab, sw, ["--cmdfwd", "5555:cat", "--unixfwd", `10.0.2.5:5556:${path}`]);
    await dhcp(s);
    const expected = (await run([...HELPER, "pattern-sha", String(SIZE), "roundtrip"])).stdout.trim();

    await t.step(
      "cmdfwd: 1 MB through cat at 10.0.2.4:5555 comes back intact, twice (a cat per connection)",
      async () => {
        for (let i = 0; i < 2; i++) {
          const r = await s.guest.run([...HELPER, "tcp-roundtrip", "10.0.2.4", "5555", String(SIZE)], {
            check: false,
            timeoutMs: 60_000,
          });
          assert.equal(r.stdout.trim(), expected, r.stderr + s.slirp.stderr);
        }
      },
    );

    await t.step("unixfwd: 1 MB through the unix socket at 10.0.2.5:5556 comes back intact", async () => {
      const r = await s.guest.run([...HELPER, "tcp-roundtrip", "10.0.2.5", "5556", String(SIZE)], {
        check: false,
        timeoutMs: 60_000,
      });
      assert.equal(r.stdout.trim(), expected, r.stderr + s.slirp.stderr);
    });

    await t.step("another port of a guest-forward address is refused at once", async () => {
      const r = await s.guest.run([...HELPER, "tcp-ask", "10.0.2.4", "5557"], {
        check: false,
        timeoutMs: 20_000,
      });
      assert.equal(r.success, false);
      assert.match(r.stderr, /refused/i);
    });
  });
});

Deno.test("root's slirp joins no guest connection to a unixfwd= socket reached through another user's symlink", async (t) => {
  if (skipUnless(t, await missing())) return;
  await withStudent([], async ({ uid }) => {
    const sw: { handle: SwitchHandle | null } = { handle: null };
    await withNetns(async (lab) => {
      lab.defer(async () => void (await sw.handle?.stop()));
      const tmp = await lab.tempDir();
      const path = `${tmp}/echo.sock`;
      const listener = Deno.listen({ transport: "unix", path });
      let accepted = 0;
      const served = (async () => {
        for await (const conn of listener) {
          accepted++;
          conn.close();
        }
      })();
      lab.defer(async () => {
        listener.close();
        await served.catch(() => {});
      });
      // The student's link to root's own socket: where it leads is theirs to change at any moment.
      const link = `${tmp}/link.sock`;
      await Deno.symlink(path, link);
      await run(["chown", "-h", `${uid}:${uid}`, link]);
      const s = await setUp(lab, sw, ["--unixfwd", `10.0.2.5:5556:${link}`]);
      await dhcp(s);
      const r = await s.guest.run([...HELPER, "tcp-ask", "10.0.2.5", "5556"], {
        check: false,
        timeoutMs: 20_000,
      });
      assert.equal(r.success, false, r.stdout);
      const said =
        `${link} is reached through ${link}, a symbolic link of ${RUN_STUDENT}'s: root does not join a ` +
        "guest's connection to a socket another user may have put at its name (give a path through " +
        "directories of yours or root's alone); not connected";
      await waitFor(() => s.slirp.stderr.includes(said), { timeoutMs: 10_000, what: "the refusal logged" });
      assert.equal(accepted, 0);
    });
  }, { bundle: false });
});
