/**
 * Whose a uid is by /etc/subuid (a test's file, its owners resolved by a
 * table): a uid in a user's range is that user, any other uid itself, and
 * a file that is missing, too long, someone else's or half garbage costs a
 * bounded read and a line said once, never a throw.
 */
import assert from "node:assert/strict";
import {
  MAX_BYTES,
  parseSubordinateRanges,
  SubordinateIds,
  type SubordinateIdsOptions,
} from "../../src/os/subordinate_ids.ts";
import { skipUnlessRoot } from "../helpers/processes.ts";

const USERS: Record<string, number> = { ann: 1001, bob: 1002 };

/** Runs `fn` with `text` as a subuid file (0644) in a directory of its own, removed after. */
async function withFile(
  text: string,
  fn: (
    path: string,
    ids: (o?: SubordinateIdsOptions) => SubordinateIds,
    lines: string[],
  ) => Promise<void> | void,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "vde-subuid-" });
  const path = `${dir}/subuid`;
  const lines: string[] = [];
  try {
    await Deno.writeTextFile(path, text);
    await Deno.chmod(path, 0o644);
    const ids = (o: SubordinateIdsOptions = {}) =>
      new SubordinateIds({ path, log: (l) => lines.push(l), resolve: (owner) => USERS[owner], ...o });
    await fn(path, ids, lines);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("subuid lines are OWNER:FIRST:COUNT; others are counted as malformed, blank and # lines are neither", () => {
  assert.deepEqual(
    parseSubordinateRanges(
      "ann:100000:65536\n\n# comment\n1002:165536:65536\r\nbad\nann:x:1\nann:1:0\n:5:5\nann:1:2:3\nann:-1:5\n",
    ),
    {
      ranges: [{ owner: "ann", first: 100000, count: 65536 }, { owner: "1002", first: 165536, count: 65536 }],
      malformed: 6,
    },
  );
});

Deno.test("subuid numbers are read as newuidmap reads them: 0x hex, a leading 0 octal, else decimal", () => {
  assert.deepEqual(
    parseSubordinateRanges("ann:0100000:010\nbob:0x186A0:0x10\nann:0:1\nann:08:1\nann:1:0x\nann:1e5:1\n"),
    {
      ranges: [
        { owner: "ann", first: 32768, count: 8 },
        { owner: "bob", first: 100000, count: 16 },
        { owner: "ann", first: 0, count: 1 },
      ],
      malformed: 3,
    },
  );
});

Deno.test("a uid in a user's subuid range counts as that user, by name or by uid; any other uid as itself", async () => {
  await withFile("ann:100000:65536\n1002:165536:10\n", (_path, ids, lines) => {
    const a = ids({ resolve: (owner) => USERS[owner] ?? (/^\d+$/.test(owner) ? Number(owner) : undefined) });
    assert.equal(a.accountOf(100000), 1001);
    assert.equal(a.accountOf(165535), 1001, "the range's last uid");
    assert.equal(a.accountOf(165536), 1002, "the next range's first, owner given as a uid");
    assert.equal(a.accountOf(165546), 165546, "past every range: itself (no passwd entry needed)");
    assert.equal(a.accountOf(99999), 99999);
    assert.equal(a.accountOf(1001), 1001);
    assert.deepEqual(lines, []);
  });
});

Deno.test("ranges in any order are found, among tens of thousands; where two overlap, the one starting nearest below the uid is the owner's", async () => {
  await withFile("bob:1300:10\nann:100:2000\nbob:150:10\n", (_path, ids) => {
    const a = ids();
    assert.equal(a.accountOf(99), 99);
    assert.equal(a.accountOf(100), 1001);
    assert.equal(a.accountOf(155), 1002, "bob's range inside ann's");
    assert.equal(a.accountOf(170), 1001, "past bob's, still ann's");
    assert.equal(a.accountOf(1309), 1002);
    assert.equal(a.accountOf(2099), 1001);
    assert.equal(a.accountOf(2100), 2100);
  });
  const n = 30_000;
  // Every other block of 10 is a user's, written last first.
  const lines = Array.from({ length: n }, (_, i) => `${i}:${100_000 + (n - 1 - i) * 20}:10`);
  await withFile(lines.join("\n") + "\n", (_path, ids) => {
    const a = ids({ resolve: (owner) => 5_000_000 + Number(owner) });
    assert.equal(a.accountOf(100_000), 5_000_000 + n - 1);
    assert.equal(a.accountOf(100_009), 5_000_000 + n - 1);
    assert.equal(a.accountOf(100_010), 100_010, "a gap between ranges");
    assert.equal(a.accountOf(100_000 + (n - 1) * 20 + 9), 5_000_000);
    assert.equal(a.accountOf(100_000 + (n - 1) * 20 + 10), 100_000 + (n - 1) * 20 + 10);
    assert.equal(a.accountOf(100_000 + 12_345 * 20 + 3), 5_000_000 + n - 1 - 12_345);
  });
});

Deno.test("a range whose owner resolves to no one (NSS down, the user in LDAP) is one user still, not 100, and the owner is asked once, not per connection", async () => {
  await withFile("gone:200000:100\nann:300000:10\n", (_path, ids) => {
    let asked = 0;
    const a = ids({
      resolve: (owner) => {
        asked++;
        return USERS[owner];
      },
    });
    for (let i = 0; i < 50; i++) assert.equal(a.accountOf(200000 + i), 200000, "the range's first uid");
    assert.equal(a.accountOf(200099), 200000);
    assert.equal(a.accountOf(200100), 200100, "past the range: itself");
    assert.equal(a.accountOf(300001), 1001, "a range whose owner is found is that owner");
    assert.equal(asked, 2);
  });
});

Deno.test("an owner added to the users after a connection is found within seconds, without the subuid file changing", async () => {
  await withFile("new:200000:100\n", (_path, ids) => {
    let clock = 0;
    const users: Record<string, number> = {};
    const a = ids({ resolve: (owner) => users[owner], now: () => clock });
    assert.equal(a.accountOf(200001), 200000, "no owner yet: the range is one user, as its first uid");
    users["new"] = 1003;
    clock += 4_000;
    assert.equal(a.accountOf(200001), 200000, "the answer kept");
    clock += 1_000;
    assert.equal(a.accountOf(200001), 1003);
  });
});

Deno.test("a missing subuid file is no ranges; made later, it is read at the next connection, and read again when rewritten", async () => {
  await withFile("", async (path, ids, lines) => {
    await Deno.remove(path);
    const a = ids();
    assert.equal(a.accountOf(100005), 100005);
    await Deno.writeTextFile(path, "ann:100000:10\n");
    await Deno.chmod(path, 0o644);
    assert.equal(a.accountOf(100005), 1001);
    // useradd and usermod rewrite it by rename: a new inode.
    await Deno.writeTextFile(`${path}.new`, "bob:100000:10\n");
    await Deno.chmod(`${path}.new`, 0o644);
    await Deno.rename(`${path}.new`, path);
    assert.equal(a.accountOf(100005), 1002);
    assert.deepEqual(lines, []);
  });
});

Deno.test("malformed subuid lines are skipped and said once per version of the file, not per connection", async () => {
  await withFile("ann:100000:10\ngarbage\nbob:x:y\n", (path, ids, lines) => {
    const a = ids();
    for (let i = 0; i < 20; i++) assert.equal(a.accountOf(100001), 1001);
    assert.deepEqual(lines, [`${path}: 2 malformed line(s) skipped (OWNER:FIRST:COUNT expected)`]);
  });
});

Deno.test("a subuid file longer than the bound is not read past it, and each uid counts as itself", async () => {
  await withFile(`ann:100000:10\n${"#".repeat(MAX_BYTES)}\n`, (path, ids, lines) => {
    const a = ids();
    assert.equal(a.accountOf(100001), 100001);
    assert.equal(a.accountOf(100002), 100002);
    assert.deepEqual(lines, [
      `${path} not read (longer than ${MAX_BYTES} bytes): each subordinate uid counts as a user of its own`,
    ]);
  });
});

Deno.test("a subuid file others may write is not believed: its writer could hand their uids to someone else", async () => {
  await withFile("ann:100000:10\n", async (path, ids, lines) => {
    await Deno.chmod(path, 0o646);
    const a = ids();
    assert.equal(a.accountOf(100001), 100001);
    assert.match(
      lines.join("\n"),
      new RegExp(
        `not believed \\(uid \\d+'s, mode 646: .*\\): .* until it is root's and no group or others may write ` +
          `it \\(chown root ${path}; chmod go-w ${path}\\)$`,
      ),
    );
  });
});

Deno.test("a subuid file owned by another user is not believed", async (t) => {
  if (skipUnlessRoot(t)) return;
  await withFile("ann:100000:10\n", async (path, ids, lines) => {
    await Deno.chown(path, 65534, 65534);
    assert.equal(ids().accountOf(100001), 100001);
    assert.match(lines.join("\n"), /not believed \(uid 65534's, mode 644/);
  });
});

Deno.test("a named pipe at the subuid path is not opened (no hang), and is said", async () => {
  await withFile("", async (path, ids, lines) => {
    await Deno.remove(path);
    const made = await new Deno.Command("mkfifo", { args: [path] }).output();
    assert.ok(made.success);
    assert.equal(ids().accountOf(100001), 100001);
    assert.match(lines.join("\n"), /not read \(it is a named pipe/);
  });
});

Deno.test("in a user namespace of its own (a rootless lab) the subuid file is not read, nor said untrusted: its uids are the machine's", async () => {
  await withFile("ann:100000:10\n", async (path, ids, lines) => {
    const proc = `${path}.proc`;
    await Deno.mkdir(`${proc}/self`, { recursive: true });
    await Deno.mkdir(`${proc}/sys/kernel`, { recursive: true });
    await Deno.writeTextFile(`${proc}/sys/kernel/overflowuid`, "65534\n");
    // `unshare --map-root-user` as uid 1000: root's file shows as the overflow uid's, peers outside as 65534.
    await Deno.writeTextFile(`${proc}/self/uid_map`, "         0       1000          1\n");
    assert.equal(ids({ proc }).accountOf(100001), 100001);
    assert.equal(ids({ proc }).accountOf(65534), 65534);
    assert.deepEqual(lines, []);
    // The machine's own namespace: the identity map, the file read.
    await Deno.writeTextFile(`${proc}/self/uid_map`, "         0          0 4294967295\n");
    assert.equal(ids({ proc }).accountOf(100001), 1001);
  });
});
