/**
 * The record cryptography: both AES-GCM implementations (OpenSSL and
 * WebCrypto) seal and open each other's records; a flipped bit anywhere, a
 * replayed, dropped or reordered record fails; the proofs need the key; key
 * files and key ids.
 */
import assert from "node:assert/strict";
import {
  checkProof,
  deriveConnectionKeys,
  makeProof,
  OpensslOpener,
  OpensslSealer,
  type RecordOpener,
  type RecordSealer,
  WebCryptoOpener,
  WebCryptoSealer,
} from "../../src/cable/crypto.ts";
import { opensslAvailable, OpensslGcm } from "../../src/cable/openssl_gcm.ts";
import { generateKeyFile, KeyError, keyFromBytes, loadKey, parseKeyText } from "../../src/cable/key.ts";
import { RECORD_HEADER_SIZE, RecordType } from "../../src/wire/cable_record.ts";
import { skipUnless } from "../helpers/processes.ts";

const KEY: Uint8Array = new Uint8Array(32).map((_, i) => i * 7);

async function webSealer(key = KEY): Promise<RecordSealer> {
  return new WebCryptoSealer(
    await crypto.subtle.importKey("raw", key.slice(), "AES-GCM", false, ["encrypt"]),
  );
}
async function webOpener(key = KEY): Promise<RecordOpener> {
  return new WebCryptoOpener(
    await crypto.subtle.importKey("raw", key.slice(), "AES-GCM", false, ["decrypt"]),
  );
}
function sslSealer(key = KEY): RecordSealer {
  return new OpensslSealer(OpensslGcm.create(key, "encrypt")!);
}
function sslOpener(key = KEY): RecordOpener {
  return new OpensslOpener(OpensslGcm.create(key, "decrypt")!);
}

async function open(o: RecordOpener, record: Uint8Array): Promise<Uint8Array | null> {
  const r = await o.open(record.subarray(0, RECORD_HEADER_SIZE), record.subarray(RECORD_HEADER_SIZE));
  return r === null ? null : r.slice();
}

const bodies = [new Uint8Array(0), new Uint8Array([1, 2, 3]), new Uint8Array(256 * 1024).map((_, i) => i)];

type Maker = [
  string,
  (key?: Uint8Array) => Promise<RecordSealer> | RecordSealer,
  (key?: Uint8Array) => Promise<RecordOpener> | RecordOpener,
];
const makers: Maker[] = [
  ["webcrypto", webSealer, webOpener],
  ["openssl", sslSealer, sslOpener],
];

for (const [sName, mkSealer] of makers) {
  for (const [oName, , mkOpener] of makers) {
    Deno.test(`${sName} records open with ${oName}, in order`, async (t) => {
      if (
        (sName === "openssl" || oName === "openssl") &&
        skipUnless(t, opensslAvailable() ? null : "no libcrypto")
      ) {
        return;
      }
      const s = await mkSealer();
      const o = await mkOpener();
      for (const body of bodies) {
        const rec = (await s.seal(RecordType.frames, body)).slice();
        assert.equal(rec.length, RECORD_HEADER_SIZE + body.length + 16);
        assert.deepEqual(await open(o, rec), body);
      }
      assert.equal(s.count, 3);
      assert.equal(o.count, 3);
      s.dispose();
      o.dispose();
    });
  }
}

for (const [name, mkSealer, mkOpener] of makers) {
  Deno.test(`${name}: a flipped bit in header, ciphertext or tag fails to open`, async (t) => {
    if (name === "openssl" && skipUnless(t, opensslAvailable() ? null : "no libcrypto")) return;
    const s = await mkSealer();
    const rec = (await s.seal(RecordType.frames, new Uint8Array(100).fill(5))).slice();
    for (const at of [0, 3, RECORD_HEADER_SIZE, RECORD_HEADER_SIZE + 50, rec.length - 1]) {
      const bad = rec.slice();
      bad[at]! ^= 0x10;
      const o = await mkOpener();
      assert.equal(await open(o, bad), null, `bit flipped at ${at}`);
      // The untouched record still opens (as record 0).
      assert.equal(await open(await mkOpener(), rec) !== null, true);
    }
  });

  Deno.test(`${name}: replayed, dropped and reordered records fail`, async (t) => {
    if (name === "openssl" && skipUnless(t, opensslAvailable() ? null : "no libcrypto")) return;
    const s = await mkSealer();
    const r0 = (await s.seal(RecordType.frames, new Uint8Array([0]))).slice();
    const r1 = (await s.seal(RecordType.frames, new Uint8Array([1]))).slice();
    const r2 = (await s.seal(RecordType.frames, new Uint8Array([2]))).slice();
    const replay = await mkOpener();
    assert.deepEqual(await open(replay, r0), new Uint8Array([0]));
    assert.equal(replay.failure, null);
    assert.equal(await open(replay, r0), null, "replay of record 0 as record 1");
    assert.equal(replay.failure, "replay of record 0", "the opener says what the bad record was");
    const reorder = await mkOpener();
    assert.equal(await open(reorder, r1), null, "record 1 first");
    assert.match(reorder.failure ?? "", /^tampered or out of order/);
    const drop = await mkOpener();
    assert.deepEqual(await open(drop, r0), new Uint8Array([0]));
    assert.equal(await open(drop, r2), null, "record 2 after 0");
    const otherKey = await mkOpener(new Uint8Array(32));
    assert.equal(await open(otherKey, r0), null, "another key");
  });
}

Deno.test("deriveConnectionKeys: both sides agree; the proofs need the key and the transcript", async () => {
  const ch = crypto.getRandomValues(new Uint8Array(64));
  const sh = crypto.getRandomValues(new Uint8Array(40));
  const nc = ch.slice(8, 40);
  const ns = sh.slice(8, 40);
  const a = await deriveConnectionKeys(KEY, ch, sh, nc, ns);
  const b = await deriveConnectionKeys(KEY, ch, sh, nc, ns);
  assert.deepEqual(a.clientToServer, b.clientToServer);
  assert.notDeepEqual(a.clientToServer, a.serverToClient);
  const proof = await makeProof(a, "server", ch, sh);
  assert.ok(await checkProof(b, "server", ch, sh, proof));
  assert.ok(!(await checkProof(b, "client", ch, sh, proof)), "a server proof is not a client proof");
  const wrong = await deriveConnectionKeys(new Uint8Array(32), ch, sh, nc, ns);
  assert.ok(!(await checkProof(wrong, "server", ch, sh, proof)), "another key");
  const sh2 = sh.slice();
  sh2[39]! ^= 1;
  assert.ok(!(await checkProof(b, "server", ch, sh2, proof)), "another transcript");
  const fresh = await deriveConnectionKeys(KEY, ch, sh, nc, new Uint8Array(32));
  assert.notDeepEqual(fresh.clientToServer, a.clientToServer, "a new nonce gives new keys");
});

Deno.test("keys: keygen writes 64 hex digits with mode 0600; load and key id", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-key-" });
  try {
    const path = `${dir}/k`;
    const made = await generateKeyFile(path);
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
    assert.match(await Deno.readTextFile(path), /^[0-9a-f]{64}\n$/);
    const loaded = await loadKey(path);
    assert.equal(loaded.idHex, made.idHex);
    assert.equal(loaded.idHex.length, 16);
    await assert.rejects(() => generateKeyFile(path), /exists already/);
    await generateKeyFile(path, true);
    assert.notEqual((await loadKey(path)).idHex, made.idHex);
    await Deno.writeTextFile(`${dir}/bad`, "not a key\n");
    await assert.rejects(() => loadKey(`${dir}/bad`), KeyError);
    await assert.rejects(() => loadKey(`${dir}/missing`), /cannot read key file/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("keys: keygen will not write a key through a directory others may write, which every reader refuses, and says the chmod; a sticky one (/tmp) is fine", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-keygen-" });
  try {
    await Deno.mkdir(`${dir}/open`);
    await Deno.chmod(`${dir}/open`, 0o777);
    await Deno.mkdir(`${dir}/sticky`);
    await Deno.chmod(`${dir}/sticky`, 0o1777);
    await assert.rejects(
      () => generateKeyFile(`${dir}/open/lab.key`),
      new KeyError(
        `will not write key file ${dir}/open/lab.key: it would be reached through ${dir}/open, a directory ` +
          "anyone may write (mode 0777), where another user could swap it for a key they know (and every " +
          `command reading it would refuse it): chmod o-w ${dir}/open (or +t), or give a path through ` +
          "directories of yours or root's alone",
      ),
    );
    assert.equal(
      await Deno.stat(`${dir}/open/lab.key`).then(() => true, () => false),
      false,
      "nothing written",
    );
    const made = await generateKeyFile(`${dir}/sticky/lab.key`);
    assert.equal((await loadKey(`${dir}/sticky/lab.key`)).idHex, made.idHex);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("keys: a key file group or others may read or write is refused in one line naming the file, how it is open and chmod 600, as ssh does", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-key-" });
  try {
    const path = `${dir}/k`;
    await generateKeyFile(path);
    for (const mode of [0o644, 0o640, 0o604]) {
      await Deno.chmod(path, mode);
      await assert.rejects(
        () => loadKey(path),
        new KeyError(
          `key file ${path} is readable by group or others (mode 0${mode.toString(8)}): chmod 600 ${path}`,
        ),
      );
    }
    // Said as the mode is: one others may write, not read, is not called readable.
    for (const [mode, how] of [[0o622, "writable"], [0o611, "open"]] as const) {
      await Deno.chmod(path, mode);
      await assert.rejects(
        () => loadKey(path),
        new KeyError(
          `key file ${path} is ${how} by group or others (mode 0${mode.toString(8)}): chmod 600 ${path}`,
        ),
      );
    }
    await Deno.chmod(path, 0o400);
    assert.equal((await loadKey(path)).idHex.length, 16);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("keys: the id depends on the whole key", async () => {
  const a = await keyFromBytes(new Uint8Array(32));
  const b = await keyFromBytes(new Uint8Array(32).fill(0, 0, 31).fill(1, 31));
  assert.notEqual(a.idHex, b.idHex);
  assert.equal(parseKeyText("  " + "ab".repeat(32) + "\n")?.length, 32);
  assert.equal(parseKeyText("ab".repeat(31)), null);
  await assert.rejects(() => keyFromBytes(new Uint8Array(16)), KeyError);
});

Deno.test("keys: keygen given a directory says to name the file inside it, even with --force", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-key-dir-" });
  try {
    for (const overwrite of [false, true]) {
      await assert.rejects(
        () => generateKeyFile(dir, overwrite),
        new KeyError(`${dir} is a directory: name the key file, e.g. ${dir}/lab.key`),
      );
    }
    assert.deepEqual([...Deno.readDirSync(dir)], [], "nothing written");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("keys: a link to /dev/zero at the key's name is refused at once, and another user's key is refused, readable by others or not", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-key-hostile-" });
  try {
    await Deno.symlink("/dev/zero", `${dir}/zero.key`);
    await assert.rejects(
      () => loadKey(`${dir}/zero.key`),
      new KeyError(`cannot read key file ${dir}/zero.key: it is a character device, not a regular file`),
    );
    // A key another user made first where root looks for one: its secret is theirs (and everyone's).
    await generateKeyFile(`${dir}/theirs.key`);
    await Deno.chmod(`${dir}/theirs.key`, 0o644);
    await assert.rejects(() => loadKey(`${dir}/theirs.key`), /readable by group or others \(mode 0644\)/);
    // Mode 600 does not make it root's: its owner may still read it (and wrote it).
    await Deno.chmod(`${dir}/theirs.key`, 0o600);
    await Deno.chown(`${dir}/theirs.key`, 65534, 65534);
    await assert.rejects(
      () => loadKey(`${dir}/theirs.key`),
      /theirs\.key belongs to (nobody|65534), who may read it/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
