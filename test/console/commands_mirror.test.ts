import assert from "node:assert/strict";
import { macFrame, makeConsole } from "./_helpers.ts";
import { MemoryLink } from "../helpers/memory_link.ts";

const OK = "1000 Success\n";
const A = "02:00:00:00:00:0a";
const B = "02:00:00:00:00:0b";
const M = "02:00:00:00:00:0d";

Deno.test("a mirror port sees others' unicast only while mirrored, and its own frames go nowhere", async () => {
  const tc = makeConsole(8);
  try {
    const [a, b, m] = [new MemoryLink("a"), new MemoryLink("b"), new MemoryLink("monitor")];
    for (const link of [a, b, m]) tc.sw.attach(link);
    a.receive(macFrame("ff:ff:ff:ff:ff:ff", A, 1));
    b.receive(macFrame("ff:ff:ff:ff:ff:ff", B, 2));
    m.sent.length = 0;
    a.receive(macFrame(B, A, 3));
    assert.equal(m.sent.length, 0, "no copies without a mirror");

    assert.equal(await tc.run("mirror/add 3"), OK);
    a.receive(macFrame(B, A, 4));
    b.receive(macFrame(A, B, 5));
    assert.equal(m.sent.length, 2);
    const before = [a.sent.length, b.sent.length];
    m.receive(macFrame("ff:ff:ff:ff:ff:ff", M, 6));
    m.receive(macFrame(A, M, 7));
    assert.deepEqual([a.sent.length, b.sent.length], before, "the mirror port's frames are not forwarded");
    assert.equal(
      await tc.run("mirror/print"),
      "0000 DATA END WITH '.'\nMirror to port 0003 from all ports\n.\n1000 Success\n",
    );

    assert.equal(await tc.run("mirror/del 3"), OK);
    m.sent.length = 0;
    a.receive(macFrame(B, A, 8));
    assert.equal(m.sent.length, 0, "mirror/del stops the copies");
    assert.equal(await tc.run("mirror/del 3"), "1006 No such device or address\n");
  } finally {
    tc.close();
  }
});

Deno.test("mirror/add of chosen ports survives the output's client reconnecting", async () => {
  const tc = makeConsole(8);
  try {
    const [a, b] = [new MemoryLink("a"), new MemoryLink("b")];
    tc.sw.attach(a);
    tc.sw.attach(b);
    b.receive(macFrame("ff:ff:ff:ff:ff:ff", B, 1));
    assert.equal(await tc.run("mirror/add 5 1"), OK);
    assert.equal(
      await tc.run("mirror/print"),
      "0000 DATA END WITH '.'\nMirror to port 0005 from ports 1\n.\n1000 Success\n",
    );
    const first = new MemoryLink("monitor");
    tc.sw.attach(first, { port: 5 });
    a.receive(macFrame(B, A, 2));
    assert.equal(first.sent.length, 1);
    first.close();
    await first.closed;
    const second = new MemoryLink("monitor again");
    tc.sw.attach(second, { port: 5 });
    a.receive(macFrame(B, A, 3));
    assert.equal(second.sent.length, 1);
    for (const bad of ["mirror/add", "mirror/add 9", "mirror/add 5 5", "mirror/add x", "mirror/del y"]) {
      assert.match(await tc.run(bad), /1022 Invalid argument\n$/, bad);
    }
    // A well-formed line that is refused says why before its result.
    assert.equal(
      await tc.run("mirror/add 5 1 5"),
      "port 5 cannot mirror itself: leave it out of the source ports\n1022 Invalid argument\n",
    );
    assert.match(
      await tc.run("mirror/add 5 99"),
      /^port 99 is past the last port \(port\/showinfo says Numports\)\n1022/,
    );
  } finally {
    tc.close();
  }
});
