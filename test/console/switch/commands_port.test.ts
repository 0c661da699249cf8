import assert from "node:assert/strict";
import { AS_NOBODY, hasCommand, run, skipUnless, skipUnlessRoot } from "../../helpers/processes.ts";
import { macFrame, makeConsole } from "../_helpers.ts";
import { MemoryLink } from "../../helpers/memory_link.ts";

const OK = "1000 Success\n";

Deno.test("port/sethub switches the engine between hub and switch mode", async () => {
  const tc = makeConsole();
  try {
    assert.equal(await tc.run("port/sethub 1"), OK);
    assert.equal(tc.sw.engine.hub, true);
    assert.equal(await tc.run("hub off"), "0000 DATA END WITH '.'\nhub mode is off\n.\n1000 Success\n");
    assert.equal(tc.sw.engine.hub, false);
    for (const bad of ["port/sethub", "port/sethub 2", "port/sethub yes", "hub maybe"]) {
      assert.match(await tc.run(bad), /1022 Invalid argument\n$/, bad);
    }
  } finally {
    tc.close();
  }
});

Deno.test("port/setnumports resizes unless an allocated port would be cut off", async () => {
  const tc = makeConsole(32);
  try {
    assert.equal(await tc.run("port/create 10"), OK);
    assert.equal(await tc.run("port/setnumports 4"), "1098 Address already in use\n");
    assert.equal(tc.sw.numPorts, 32);
    assert.equal(await tc.run("port/remove 10"), OK);
    assert.equal(await tc.run("port/setnumports 4"), OK);
    assert.equal(tc.sw.numPorts, 4);
    assert.equal(await tc.run("port/setnumports 0"), "1022 Invalid argument\n");
    assert.equal(await tc.run("port/setnumports x"), "1022 Invalid argument\n");
  } finally {
    tc.close();
  }
});

Deno.test("port/create, remove and allocatable keep vde_switch's errors", async () => {
  const tc = makeConsole(8);
  try {
    assert.equal(await tc.run("port/create 8"), "1022 Invalid argument\n");
    assert.equal(await tc.run("port/remove 3"), "1006 No such device or address\n");
    assert.equal(await tc.run("port/allocatable 3 1"), "1006 No such device or address\n");
    assert.equal(await tc.run("port/create 3"), OK);
    assert.equal(tc.sw.port(3)?.allocatable, false);
    // A created port is skipped by automatic requests until made allocatable.
    const link = new MemoryLink("a");
    assert.equal(tc.sw.portOfEndpoint(tc.sw.attach(link).id), 1);
    assert.equal(await tc.run("port/allocatable 3 1"), OK);
    assert.equal(tc.sw.port(3)?.allocatable, true);
    assert.equal(await tc.run("port/remove 1"), "1098 Address already in use\n");
    link.close();
    await link.closed;
    assert.equal(await tc.run("port/remove 1"), OK);
    assert.equal(tc.sw.port(1), undefined);
  } finally {
    tc.close();
  }
});

Deno.test("port/epclose closes one endpoint and the port goes inactive", async () => {
  const tc = makeConsole();
  try {
    const link = new MemoryLink("victim");
    const ep = tc.sw.attach(link, { port: 4 });
    assert.equal(await tc.run(`port/epclose 4 ${ep.id + 100}`), "1006 No such device or address\n");
    assert.equal(await tc.run("port/epclose 4"), "1022 Invalid argument\n");
    assert.equal(await tc.run(`port/epclose 4 ${ep.id}`), OK);
    assert.equal(await link.closed, "closed from the management console");
    await Promise.resolve();
    assert.equal(tc.sw.engine.isActive(4), false);
  } finally {
    tc.close();
  }
});

Deno.test("port/resetcounter zeroes one port or all", async () => {
  const tc = makeConsole();
  try {
    const a = new MemoryLink("a"), b = new MemoryLink("b");
    tc.sw.attach(a, { port: 1 });
    tc.sw.attach(b, { port: 2 });
    a.receive(macFrame("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:01", 1));
    b.receive(macFrame("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:02", 2));
    assert.equal(await tc.run("port/resetcounter 1"), OK);
    assert.equal(tc.sw.engine.portStats(1).framesIn, 0);
    assert.equal(tc.sw.engine.portStats(2).framesIn, 1);
    assert.equal(await tc.run("port/resetcounter"), OK);
    assert.equal(tc.sw.engine.portStats(2).framesIn, 0);
    assert.equal(await tc.run("port/resetcounter 99"), "1022 Invalid argument\n");
  } finally {
    tc.close();
  }
});

Deno.test("port/setvlan sets the untagged VLAN of an allocated port to an existing VLAN", async () => {
  const tc = makeConsole();
  try {
    assert.equal(
      await tc.run("port/setvlan 3 0"),
      "1006 No such device or address\n",
      "port 3 is not allocated",
    );
    await tc.run("port/create 3");
    assert.equal(
      await tc.run("port/setvlan 3 10"),
      "1006 No such device or address\n",
      "VLAN 10 does not exist",
    );
    await tc.run("vlan/create 10");
    assert.equal(await tc.run("port/setvlan 3 10"), OK);
    assert.equal(tc.sw.engine.portVlan(3), 10);
    assert.equal(await tc.run("port/setvlan 3 4096"), "1022 Invalid argument\n");
    assert.equal(await tc.run("port/setvlan 40 0"), "1022 Invalid argument\n");
    assert.match(
      await tc.run("port/allprint 3"),
      /^0000 DATA END WITH '\.'\nPort 0003 untagged_vlan=0010 INACTIVE/,
    );
  } finally {
    tc.close();
  }
});

Deno.test("port/setuser restricts who may plug in; root and NONE always pass", async () => {
  const tc = makeConsole();
  try {
    await tc.run("port/create 6");
    assert.equal(await tc.run("port/setuser 6 no-such-user-here"), "1022 Invalid argument\n");
    assert.equal(await tc.run("port/setuser 7 root"), "1006 No such device or address\n");
    assert.equal(await tc.run("port/setuser 6 4242"), OK);
    assert.throws(() => tc.sw.choosePort({ port: 6, uid: 1000 }), /reserved/);
    assert.equal(tc.sw.choosePort({ port: 6, uid: 4242 }), 6);
    assert.equal(tc.sw.choosePort({ port: 6, uid: 0 }), 6);
    assert.match(await tc.run("port/allprint 6"), /Access Control: \(User: 4242 - Group: NONE\)/);
    assert.equal(await tc.run("port/setuser 6 ANY"), OK);
    assert.equal(tc.sw.choosePort({ port: 6, uid: 1000 }), 6);
  } finally {
    tc.close();
  }
});

Deno.test("a port kept with port/setuser is given to no other user asking for any port, not even as the last free one", async () => {
  const tc = makeConsole();
  try {
    await tc.run("port/create 6");
    assert.equal(await tc.run("port/setuser 6 4242"), OK);
    // README's words: kept for root.
    await tc.run("port/create 7");
    assert.equal(await tc.run("port/setuser 7 root"), OK);
    // One user plugging in until the switch is full (README's class switch): every port but the kept one.
    const taken: number[] = [];
    for (;;) {
      let port: number;
      try {
        port = tc.sw.choosePort({ uid: 1000 });
      } catch (err) {
        assert.match((err as Error).message, /^no free port/);
        break;
      }
      taken.push(port);
      tc.sw.attach(new MemoryLink(`student ${port}`), { port, uid: 1000 });
    }
    assert.ok(taken.length > 1 && !taken.includes(6) && !taken.includes(7), `taken: ${taken}`);
    assert.equal(tc.sw.choosePort({ port: 6, uid: 4242 }), 6);
    assert.equal(tc.sw.choosePort({ port: 7, uid: 0 }), 7);
  } finally {
    tc.close();
  }
});

Deno.test("port/print shows active ports; allprint also inactive ones", async () => {
  const tc = makeConsole();
  try {
    await tc.run("port/create 9");
    const link = new MemoryLink("evil\ndescription\x1b[2J");
    tc.sw.attach(link, { port: 2 });
    const print = await tc.run("port/print");
    assert.match(print, /Port 0002 untagged_vlan=0000 ACTIVE - Unnamed Allocatable/);
    assert.doesNotMatch(print, /Port 0009/);
    // A description cannot forge lines or terminal escapes.
    assert.match(print, /: evil\?description\?\[2J\n/);
    assert.match(
      await tc.run("port/allprint"),
      /Port 0009 untagged_vlan=0000 INACTIVE - NOT Unnamed Allocatable/,
    );
    assert.equal(await tc.run("port/print 9"), "0000 DATA END WITH '.'\n.\n1006 No such device or address\n");
    assert.equal(await tc.run("port/print 2x"), "0000 DATA END WITH '.'\n.\n1022 Invalid argument\n");
  } finally {
    tc.close();
  }
});

Deno.test("ports and macs draw aligned tables", async () => {
  const tc = makeConsole();
  try {
    const a = new MemoryLink("qemu vm1"), b = new MemoryLink("laptop");
    tc.sw.attach(a, { port: 1, uid: 0 });
    tc.sw.attach(b, { port: 12, uid: 0 });
    a.receive(macFrame("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:01", 1));
    b.receive(macFrame("02:00:00:00:00:01", "02:00:00:00:00:0c", 2, 1000));
    const ports = await tc.run("ports");
    assert.equal(
      ports,
      "0000 DATA END WITH '.'\n" +
        "PORT  STATE   VLAN  USER  IN PKTS  IN BYTES  OUT PKTS  OUT BYTES  DROPS  ENDPOINTS\n" +
        `   1  active     0  root        1        60         1       1000      0  #${
          tc.sw.port(1)!.endpoints[0]!.id
        } qemu vm1\n` +
        `  12  active     0  root        1      1000         1         60      0  #${
          tc.sw.port(12)!.endpoints[0]!.id
        } laptop\n` +
        ".\n1000 Success\n",
    );
    const macs = await tc.run("macs");
    assert.match(
      macs,
      /^0000 DATA END WITH '\.'\nMAC {16}VLAN {2}PORT {2}AGE {2}ON\n02:00:00:00:00:01 {5}0 {5}1 {3}\d+s {2}qemu vm1\n02:00:00:00:00:0c {5}0 {4}12 {3}\d+s {2}laptop\n\.\n1000 Success\n$/,
    );
    assert.equal(await tc.run("ports everything"), "0000 DATA END WITH '.'\n.\n1022 Invalid argument\n");
  } finally {
    tc.close();
  }
});

Deno.test("port/setuser takes the machine's user: in a user namespace made with unshare --map-root-user its maker is uid 0 there, listed by name, and the overflow uid of users outside is not let in", async (t) => {
  if (skipUnlessRoot(t)) return;
  if (skipUnless(t, (await hasCommand("unshare")) ? null : "util-linux's unshare is not installed")) return;
  const mod = new URL("../_helpers.ts", import.meta.url).href;
  const code = `import { makeConsole } from "${mod}";\n` +
    "const tc = makeConsole();\n" +
    'await tc.run("port/create 6");\n' +
    'console.log((await tc.run("port/setuser 6 nobody")).trim());\n' +
    // Any user outside whom the map does not name is the overflow uid here (nobody's): not the port's user.
    "let outsider = 'let in';\n" +
    "try { tc.sw.choosePort({ port: 6, uid: 65534 }); } catch { outsider = 'refused'; }\n" +
    "console.log(tc.sw.port(6).accessUser, outsider);\n" +
    'console.log(/User: (\\S+) -/.exec(await tc.run("port/allprint 6"))[1]);\n' +
    // root, whom this namespace does not map, is no uid here: its id as given (0) would be nobody's.
    'console.log((await tc.run("port/setuser 6 root")).trim(), tc.sw.port(6).accessUser);\n' +
    "tc.close();";
  const r = await run([...AS_NOBODY, "unshare", "--user", "--map-root-user", Deno.execPath(), "eval", code], {
    check: false,
  });
  assert.equal(
    r.stdout,
    "1000 Success\n0 refused\nnobody\n" +
      "user root is not mapped into this switch's user namespace (/proc/self/uid_map): the switch sees its " +
      "clients as the overflow uid, as every unmapped user's\n1022 Invalid argument 0\n",
    r.stderr,
  );
});
