import assert from "node:assert/strict";
import { CommandRegistry, ok, parseLine } from "../../src/console/registry.ts";
import { FakeSession } from "../helpers/fake_session.ts";

Deno.test("parseLine splits the command word from its trimmed arguments", () => {
  const cases: [string, string, string][] = [
    ["port/print 3\n", "port/print", "3"],
    ["  \tport/setvlan   4   10  \r\n", "port/setvlan", "4   10"],
    ["help", "help", ""],
    ["", "", ""],
    ["\n", "", ""],
    ["   # comment", "", ""],
    ["#port/print", "", ""],
  ];
  for (const [line, name, args] of cases) {
    assert.deepEqual(parseLine(line), { name, args }, JSON.stringify(line));
  }
});

Deno.test("registry matches the whole command word, never a prefix", async () => {
  const r = new CommandRegistry();
  r.add({ path: "shutdown", syntax: "", help: "", listing: false, run: () => ok() });
  const s = new FakeSession(r);
  assert.equal((await r.execute("shutdown", s))?.code, 0);
  for (const line of ["shutdownx", "shut", "shutdown/x", "SHUTDOWN"]) {
    assert.equal((await r.execute(line, s))?.code, 38, line);
  }
});

Deno.test("registry frames a listing command's failure as a listing", async () => {
  const r = new CommandRegistry();
  r.add({ path: "l", syntax: "", help: "", listing: true, run: () => ({ code: 22 }) });
  assert.deepEqual(await r.execute("l", new FakeSession(r)), { code: 22, lines: [] });
});

Deno.test("registry turns a throwing handler into EIO and keeps serving", async () => {
  const r = new CommandRegistry();
  r.add({
    path: "boom",
    syntax: "",
    help: "",
    listing: false,
    run: () => {
      throw new Error("bug");
    },
  });
  assert.deepEqual(await r.execute("boom", new FakeSession(r)), { code: 5 });
});

Deno.test("registry refuses duplicate and blank paths", () => {
  const r = new CommandRegistry();
  r.add({ path: "a", syntax: "", help: "", listing: false, run: () => ok() });
  assert.throws(() => r.add({ path: "a", syntax: "", help: "", listing: false, run: () => ok() }));
  assert.throws(() => r.add({ path: "a b", syntax: "", help: "", listing: false, run: () => ok() }));
});

Deno.test("a child registry falls back to its parent and lists the parent first", async () => {
  const parent = new CommandRegistry().menu("m", "MENU");
  parent.add({ path: "m/x", syntax: "", help: "x", listing: false, run: () => ok() });
  const child = new CommandRegistry(parent);
  child.add({ path: "watch", syntax: "", help: "w", listing: false, run: () => ({ code: 7 }) });
  assert.deepEqual(child.entries().map((e) => e.path), ["m", "m/x", "watch"]);
  assert.deepEqual(child.commandPaths(), ["m/x", "watch"]);
  assert.equal((await child.execute("m/x", new FakeSession(child)))?.code, 0);
  assert.equal(parent.lookup("watch"), undefined);
});
