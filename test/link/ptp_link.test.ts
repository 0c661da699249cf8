/**
 * ptp:// between two of our ends in one process: the link conformance
 * checks, and vdeplug4's naming rules: the first end binds PATH and waits,
 * the second binds PATH+, each removes its own name, a stale name is taken
 * over, a file that is not a socket is left alone and refused on one line,
 * and a third end is refused.
 */
import assert from "node:assert/strict";
import { openLink } from "../../src/link/registry.ts";
import { probePtpName } from "../../src/link/ptp_link.ts";
import { UnixDgramSocket } from "../../src/io/unix_dgram.ts";
import type { Link } from "../../src/link/link.ts";
import { conformance } from "../helpers/link_conformance.ts";
import { BROADCAST, collect, ethFrame, mac, sleep, until, within } from "../cable/_helpers.ts";
import { inTempDir } from "../helpers/temp_dir.ts";
import { AS_NOBODY, run, skipUnlessRoot } from "../helpers/processes.ts";

/** Runs `fn` with a ptp:// path in a fresh directory, removed after it. */
function withPlace<T>(fn: (p: { path: string }) => Promise<T>): Promise<T> {
  return inTempDir("vde-ptp-", (dir) => fn({ path: `${dir}/cable` }));
}

/** Both ends of ptp://PATH, the first opened before the second. */
async function ends(path: string): Promise<[Link, Link]> {
  const first = openLink(`ptp://${path}`);
  await until("the first end's socket", () => probePtpName(path) === "served");
  const second = await within("the second end", 5000, openLink(`ptp://${path}`));
  return [await within("the first end", 5000, first), second];
}

/** Sends one frame from `from` and waits until `to` has it. */
async function carries(from: Link, to: Link, tag: number): Promise<void> {
  const got = collect(to);
  from.send(ethFrame(BROADCAST, mac(1), tag));
  await until(`frame ${tag} from ${from.description}`, () => got.length === 1);
}

async function closeAll(...links: Link[]): Promise<void> {
  for (const l of links) l.close();
  await Promise.all(links.map((l) => l.closed));
}

conformance("ptp://", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-ptp-" });
  const [a, b] = await ends(`${dir}/cable`);
  return {
    a,
    b,
    closePropagates: false,
    cleanup: async () => {
      await closeAll(a, b);
      await Deno.remove(dir, { recursive: true });
    },
  };
});

Deno.test("ptp:// ends own PATH (the first) and PATH+ (the second), and remove them when they close", async () => {
  await withPlace(async (p) => {
    const [a, b] = await ends(p.path);
    assert.equal((await Deno.lstat(p.path)).isSocket, true);
    assert.equal((await Deno.lstat(`${p.path}+`)).isSocket, true);
    await carries(b, a, 1);
    a.close();
    await a.closed;
    await assert.rejects(Deno.lstat(p.path), Deno.errors.NotFound);
    b.close();
    await b.closed;
    await assert.rejects(Deno.lstat(`${p.path}+`), Deno.errors.NotFound);
  });
});

Deno.test("a ptp:// end whose peer has gone closes on its next send", async () => {
  await withPlace(async (p) => {
    const [a, b] = await ends(p.path);
    a.close();
    await a.closed;
    b.send(ethFrame(BROADCAST, mac(1), 1));
    assert.equal(await within("the second end's close", 5000, b.closed), "peer socket is gone");
  });
});

Deno.test("a stale ptp:// path (a socket no one serves) is taken over, PATH and PATH+ alike", async () => {
  await withPlace(async (p) => {
    for (const name of [p.path, `${p.path}+`]) {
      const dead = UnixDgramSocket.create();
      dead.bind(name);
      dead.close(false);
      assert.equal(probePtpName(name), "stale");
    }
    const [a, b] = await ends(p.path);
    await carries(a, b, 2);
    await closeAll(a, b);
  });
});

Deno.test("a ptp:// path that is not a socket is refused on one line and left alone", async () => {
  await withPlace(async (p) => {
    await Deno.writeTextFile(p.path, "mine");
    await assert.rejects(openLink(`ptp://${p.path}`), (err: Error) => {
      assert.equal(
        err.message,
        `${p.path} exists and is not a socket; give ptp:// a path of its own`,
      );
      return true;
    });
    assert.equal(await Deno.readTextFile(p.path), "mine");
  });
});

Deno.test("a third ptp:// end is refused while both ends are there", async () => {
  await withPlace(async (p) => {
    const [a, b] = await ends(p.path);
    await assert.rejects(openLink(`ptp://${p.path}`), /has both its ends already \(a third cannot join\)$/);
    // The refused one removed nothing: the two still carry frames.
    await carries(b, a, 3);
    await closeAll(a, b);
  });
});

Deno.test("a first ptp:// end stops waiting when its open is aborted, and removes PATH", async () => {
  await withPlace(async (p) => {
    const stop = new AbortController();
    const first = openLink(`ptp://${p.path}`, { signal: stop.signal });
    await until("the first end's socket", () => probePtpName(p.path) === "served");
    await sleep(50);
    stop.abort();
    await assert.rejects(within("the aborted open", 5000, first), /stopped while waiting for the other end$/);
    await assert.rejects(Deno.lstat(p.path), Deno.errors.NotFound);
  });
});

Deno.test("ptp:// with no PATH says what it needs", async () => {
  await assert.rejects(openLink("ptp://"), (err: Error) => {
    assert.equal(err.message, "ptp:// needs a PATH, the same at both ends: ptp:///tmp/cable");
    return true;
  });
});

Deno.test("a ptp:// path whose PATH+ would not fit a socket address is refused before anything is bound", async () => {
  await withPlace(async (p) => {
    const long = `${p.path}${"x".repeat(107 - p.path.length)}`;
    await assert.rejects(openLink(`ptp://${long}`), /the limit is 107/);
    await assert.rejects(Deno.lstat(long), Deno.errors.NotFound);
  });
});

Deno.test("a ptp:// path that is a stream socket (a switch's) is refused and left alone", async () => {
  await withPlace(async (p) => {
    const listener = Deno.listen({ transport: "unix", path: p.path });
    try {
      await assert.rejects(openLink(`ptp://${p.path}`), (err: Error) => {
        assert.match(
          err.message,
          /is a stream socket \(a switch's\?\), not a ptp:\/\/ end; plug into a switch with vde:\/\/$/,
        );
        return true;
      });
      assert.equal((await Deno.lstat(p.path)).isSocket, true);
    } finally {
      listener.close();
    }
  });
});

/** A served datagram socket at `path` owned by nobody (uid 65534), put there whole (renamed in). */
function othersSocket(path: string): UnixDgramSocket {
  const sock = UnixDgramSocket.create();
  const staged = `${path}.staged`;
  sock.bind(staged);
  Deno.chownSync(staged, 65534, 65534);
  Deno.renameSync(staged, path);
  return sock;
}

Deno.test("a ptp:// end does not join a PATH another user serves (its owner would have the frames)", async () => {
  await withPlace(async (p) => {
    const theirs = othersSocket(p.path);
    try {
      await assert.rejects(openLink(`ptp://${p.path}`), (err: Error) => {
        assert.equal(
          err.message,
          `${p.path} is nobody's socket, not root's: not joined (its owner would have this end's frames)`,
        );
        return true;
      });
      await assert.rejects(Deno.lstat(`${p.path}+`), Deno.errors.NotFound);
    } finally {
      theirs.close(false);
    }
  });
});

Deno.test("a first ptp:// end does not connect to a PATH+ another user serves, and removes PATH", async () => {
  await withPlace(async (p) => {
    const first = openLink(`ptp://${p.path}`);
    await until("the first end's socket", () => probePtpName(p.path) === "served");
    const theirs = othersSocket(`${p.path}+`);
    try {
      await assert.rejects(within("the first end", 5000, first), (err: Error) => {
        assert.equal(
          err.message,
          `${p.path}+ is nobody's socket, not root's: not joined (its owner would have this end's frames)`,
        );
        return true;
      });
      await assert.rejects(Deno.lstat(p.path), Deno.errors.NotFound);
    } finally {
      theirs.close(false);
    }
  });
});

Deno.test("a first ptp:// end's socket is bound in a private directory and linked onto PATH (0700 from its first moment, whatever the umask)", async () => {
  await withPlace(async (p) => {
    const stop = new AbortController();
    const first = openLink(`ptp://${p.path}`, { signal: stop.signal });
    await until("the first end's socket", () => probePtpName(p.path) === "served");
    // The kernel lists a socket under the name it was bound to: bound at PATH, it was there, with the
    // umask's mode, before its chmod, and whoever connected then could queue frames for it. Ours (this
    // process's sockets, by inode) were bound in the staging directory, through its descriptor.
    const ours = new Set(
      [...Deno.readDirSync("/proc/self/fd")].map((e) => {
        try {
          return /^socket:\[(\d+)\]$/.exec(Deno.readLinkSync(`/proc/self/fd/${e.name}`))?.[1];
        } catch {
          return undefined;
        }
      }),
    );
    const bound = (await Deno.readTextFile("/proc/net/unix")).split("\n").map((l) => l.trim().split(/\s+/))
      .filter((f) => f.length >= 8 && ours.has(f[6])).map((f) => f[7]);
    assert.equal(bound.includes(p.path), false);
    assert.equal(bound.some((name) => /^\/proc\/self\/fd\/\d+\/s$/.test(name ?? "")), true, bound.join());
    assert.equal((await Deno.lstat(p.path)).mode! & 0o777, 0o700);
    stop.abort();
    await assert.rejects(within("the aborted open", 5000, first), /stopped while waiting/);
  });
});

Deno.test("a first ptp:// end that waits long looks for the second end less and less often, and still finds it", async () => {
  await withPlace(async (p) => {
    // Counts the first end's sleeps between two looks (its setTimeout calls), not the test's own.
    const original = globalThis.setTimeout;
    const looks: number[] = [];
    globalThis.setTimeout = ((fn: () => void, ms?: number) => {
      if (new Error().stack?.includes("pollForSecond") === true) looks.push(ms ?? 0);
      return original(fn, ms);
    }) as typeof setTimeout;
    let first: Promise<Link>;
    try {
      first = openLink(`ptp://${p.path}`);
      await sleep(2000);
    } finally {
      globalThis.setTimeout = original;
    }
    // Every 20 ms, that was about 100 looks; at most 4 a second once it has waited a while.
    assert.ok(looks.length <= 15, `${looks.length} looks in 2 s`);
    assert.equal(Math.max(...looks), 250);
    const b = await within("the second end", 5000, openLink(`ptp://${p.path}`));
    const a = await within("the first end", 5000, first);
    await carries(a, b, 4);
    await closeAll(a, b);
  });
});

Deno.test("a first ptp:// end restarted while the old second end is still there waits for a new second end", async () => {
  await withPlace(async (p) => {
    const [a, b] = await ends(p.path);
    a.close();
    await a.closed;
    // PATH+ is still served, by an end joined to the first end that went: not refused, waited out.
    const first = openLink(`ptp://${p.path}`);
    await until("the new first end's socket", () => probePtpName(p.path) === "served");
    await sleep(100);
    b.send(ethFrame(BROADCAST, mac(1), 5));
    assert.equal(await within("the old second end's close", 5000, b.closed), "peer socket is gone");
    const b2 = await within("the new second end", 5000, openLink(`ptp://${p.path}`));
    const a2 = await within("the new first end", 5000, first);
    await carries(a2, b2, 6);
    await carries(b2, a2, 7);
    await closeAll(a2, b2);
  });
});

Deno.test("a ptp:// PATH in a directory that does not exist is refused on one line that names PATH", async () => {
  await withPlace(async (p) => {
    await assert.rejects(openLink(`ptp://${p.path}/no/x`), (err: Error) => {
      assert.equal(err.message, `cannot bind ${p.path}/no/x: No such file or directory`);
      return true;
    });
  });
});

Deno.test("a second ptp:// end coming before the first has let go of a second end that went is told so, not that it is a third", async () => {
  await withPlace(async (p) => {
    const [a, b] = await ends(p.path);
    b.close();
    await b.closed;
    await assert.rejects(openLink(`ptp://${p.path}`), (err: Error) => {
      assert.equal(
        err.message,
        `the end at ${p.path} is still joined to a second end that has gone; it lets go when it next sends: try again then`,
      );
      return true;
    });
    a.send(ethFrame(BROADCAST, mac(1), 8));
    assert.equal(await within("the first end's close", 5000, a.closed), "peer socket is gone");
    const [a2, b2] = await ends(p.path);
    await carries(a2, b2, 9);
    await closeAll(a2, b2);
  });
});

Deno.test("a second ptp:// end's PATH+ is 0700 as it is bound: a link put at its name once bound leads no chmod to another file", async () => {
  await withPlace(async (p) => {
    const dir = p.path.slice(0, p.path.lastIndexOf("/"));
    await Deno.writeTextFile(`${dir}/victim`, "");
    await Deno.chmod(`${dir}/victim`, 0o644);
    const bind = UnixDgramSocket.prototype.bind;
    // As a user who may write the directory (no sticky bit) would: the moment a socket is at PATH+, it is
    // renamed away and a link to another file put there.
    UnixDgramSocket.prototype.bind = function (path: string): void {
      bind.call(this, path);
      try {
        Deno.renameSync(`${p.path}+`, `${dir}/moved`);
        Deno.symlinkSync(`${dir}/victim`, `${p.path}+`);
      } catch { /* nothing at PATH+ yet */ }
    };
    let links: Link[] = [];
    try {
      // Before, the first end then refused the link at PATH+ (not a socket), after the second end's chmod.
      links = await ends(p.path).catch(() => []);
    } finally {
      UnixDgramSocket.prototype.bind = bind;
      for (const link of links) link.close();
    }
    assert.equal((await Deno.stat(`${dir}/victim`)).mode! & 0o777, 0o644);
    assert.equal(links.length, 2, "the ends joined");
  });
});

Deno.test("root's ptp:// ends whose directory nobody renamed away and replaced keep carrying and, closed, remove nothing in nobody's", async (t) => {
  if (skipUnlessRoot(t)) return;
  await inTempDir("vde-ptp-renamed-", async (tmp) => {
    await Deno.chmod(tmp, 0o755);
    const shared = `${tmp}/shared`;
    await Deno.mkdir(`${shared}/net`, { recursive: true });
    await Deno.chmod(shared, 0o777); // others may write it, without the sticky bit
    const path = `${shared}/net/cable`;
    const [a, b] = await ends(path);
    try {
      // Theirs at the directory's name, with files named as both ends' sockets (each end unlinks its own).
      const script = `set -e; cd '${shared}'; mv net away; mkdir net; : > net/cable; : > net/cable+`;
      await run([...AS_NOBODY, "sh", "-c", script]);
      await carries(a, b, 1);
      await carries(b, a, 2);
    } finally {
      await closeAll(a, b);
    }
    await Promise.all([a, b].map((l) => (l as Link & { released: Promise<void> }).released));
    const theirs = [...Deno.readDirSync(`${shared}/net`)].map((e) => e.name).sort();
    assert.deepEqual(theirs, ["cable", "cable+"], "nobody's files stay");
    assert.deepEqual(
      [...Deno.readDirSync(`${shared}/away`)],
      [],
      "the ends removed their sockets where they are",
    );
  });
});
