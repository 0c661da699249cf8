import assert from "node:assert/strict";
import { macFrame, makeConsole } from "../_helpers.ts";
import { MemoryLink } from "../../helpers/memory_link.ts";
import { parseHelpListing } from "../../../src/console/switch/remote_console.ts";

const OK = "1000 Success\n";

Deno.test("hash setters change the engine's timers and refuse nonsense", async () => {
  const tc = makeConsole();
  try {
    assert.equal(await tc.run("hash/setgcint 5"), OK);
    assert.equal(await tc.run("hash/setexpire 30"), OK);
    assert.equal(await tc.run("hash/setminper 1"), OK);
    assert.equal(tc.sw.engine.gcIntervalSeconds, 5);
    assert.equal(tc.sw.engine.expireSeconds, 30);
    assert.equal(tc.sw.engine.minPersistenceSeconds, 1);
    assert.equal(
      await tc.run("hash/showinfo"),
      "0000 DATA END WITH '.'\nHash size 128\nGC interval 5 secs\nGC expire 30 secs\nMin persistence 1 secs\n.\n1000 Success\n",
    );
    for (const bad of ["hash/setgcint -1", "hash/setexpire x", "hash/setminper", "hash/setsize -4"]) {
      assert.equal(await tc.run(bad), "1022 Invalid argument\n", bad);
    }
  } finally {
    tc.close();
  }
});

Deno.test("hash/setsize rounds up to a power of two and empties the table", async () => {
  const tc = makeConsole();
  try {
    const a = new MemoryLink("a");
    tc.sw.attach(a, { port: 1 });
    a.receive(macFrame("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:01", 1));
    assert.equal(tc.sw.engine.macTable.size, 1);
    assert.equal(await tc.run("hash/setsize 100"), OK);
    assert.equal(tc.sw.engine.macTable.size, 0);
    assert.match(await tc.run("hash/showinfo"), /Hash size 128\n/);
    assert.equal(await tc.run("hash/setsize 200"), OK);
    a.receive(macFrame("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:01", 2));
    // 02:00:00:00:00:01 VLAN 0 hashes to 43 of 128 (spec 6.1), 171 of 256.
    assert.match(
      await tc.run("hash/print"),
      /^0000 DATA END WITH '\.'\nHash: 0171 Addr: 02:00:00:00:00:01 VLAN 0000/,
    );
  } finally {
    tc.close();
  }
});

Deno.test("hash/find looks up a MAC in a VLAN and prints its real port", async () => {
  const tc = makeConsole();
  try {
    const a = new MemoryLink("a");
    tc.sw.attach(a, { port: 7 });
    a.receive(macFrame("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:01", 1));
    assert.match(
      await tc.run("hash/find 2:0:0:0:0:1"),
      /^0000 DATA END WITH '\.'\nHash: 0043 Addr: 02:00:00:00:00:01 VLAN 0000 to port: 007 {2}age \d+ secs\n\.\n1000 Success\n$/,
    );
    assert.equal(
      await tc.run("hash/find 02:00:00:00:00:01 10"),
      "0000 DATA END WITH '.'\n.\n1019 No such device\n",
    );
    for (
      const bad of [
        "hash/find",
        "hash/find zz",
        "hash/find 02:00:00:00:00:01 5000",
        "hash/find 02:00:00:00:00:01 1 2",
      ]
    ) {
      assert.equal(await tc.run(bad), "0000 DATA END WITH '.'\n.\n1022 Invalid argument\n", bad);
    }
  } finally {
    tc.close();
  }
});

Deno.test("hash/flush forgets the whole table, one port's or one VLAN's MACs, and refuses anything else", async () => {
  const tc = makeConsole();
  try {
    const a = new MemoryLink("a"), b = new MemoryLink("b");
    tc.sw.attach(a, { port: 1 });
    tc.sw.attach(b, { port: 2 });
    assert.equal(await tc.run("vlan/create 10"), OK);
    assert.equal(await tc.run("port/setvlan 2 10"), OK);
    const learn = () => {
      a.receive(macFrame("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:01", 1));
      a.receive(macFrame("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:03", 2));
      b.receive(macFrame("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:02", 3));
    };
    const entries = () =>
      [...tc.sw.engine.macTable.entries()].map((e) => `${e.port}/${e.vlan}`).sort().join(" ");
    learn();
    assert.equal(entries(), "1/0 1/0 2/10");
    assert.equal(await tc.run("hash/flush port 1"), OK);
    assert.equal(entries(), "2/10");
    learn();
    assert.equal(await tc.run("hash/flush vlan 10"), OK);
    assert.equal(entries(), "1/0 1/0");
    assert.equal(await tc.run("hash/flush vlan 0 port 2"), OK);
    assert.equal(entries(), "1/0 1/0");
    learn();
    assert.equal(await tc.run("hash/flush"), OK);
    assert.equal(entries(), "");
    // Its syntax fits help's column, from which vde term reads the usage.
    const [row] = parseHelpListing((await tc.run("help hash/flush")).split("\n").slice(1, -3));
    assert.deepEqual([row?.path, row?.syntax], ["hash/flush", "[port N|vlan V]"]);
    for (
      const bad of [
        "hash/flush 1",
        "hash/flush port",
        "hash/flush port x",
        "hash/flush port -1",
        "hash/flush vlan 4096",
        "hash/flush port 1 port 2",
        "hash/flush dev br0",
      ]
    ) {
      assert.equal(await tc.run(bad), "1022 Invalid argument\n", bad);
    }
    // Well formed, but no such port: said in words, as the port commands say it.
    assert.equal(
      await tc.run("hash/flush port 99"),
      "port 99 is past the last port (port/showinfo says Numports)\n1022 Invalid argument\n",
    );
    assert.equal(await tc.run("hash/flush vlan 10 port 99"), await tc.run("hash/flush port 99"));
  } finally {
    tc.close();
  }
});
