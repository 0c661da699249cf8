import assert from "node:assert/strict";
import { argKind, complete, type CompletionSource } from "../../src/console/completer.ts";
import { localCompletionSource } from "../../src/console/switch/switch_console.ts";
import { macFrame, makeConsole } from "./_helpers.ts";
import { MemoryLink } from "../helpers/memory_link.ts";

Deno.test("argKind reads argument kinds from help syntax", () => {
  const cases: [string, string, number, string][] = [
    ["port/print", "[N]", 0, "port"],
    ["port/setvlan", "N VLAN", 0, "port"],
    ["port/setvlan", "N VLAN", 1, "none"],
    ["port/allocatable", "N 0/1", 1, "bool"],
    ["fstp/setedge", "VLAN PORT 1/0", 1, "port"],
    ["fstp/setedge", "VLAN PORT 1/0", 2, "bool"],
    ["hash/setsize", "N", 0, "none"],
    ["hash/find", "MAC [VLAN]", 0, "mac"],
    ["debug/add", "dbgpath", 0, "debug"],
    ["help", "[arg]", 0, "command"],
    ["load", "path", 0, "path"],
    ["hub", "[on|off]", 0, "onoff"],
    ["ports", "[all]", 0, "all"],
    ["port/print", "[N]", 1, "none"],
  ];
  for (const [cmd, syntax, i, kind] of cases) {
    assert.equal(argKind(cmd, syntax, i), kind, `${cmd} ${syntax} #${i}`);
  }
});

Deno.test("completion of commands and arguments from the local switch", async () => {
  const tc = makeConsole();
  try {
    const link = new MemoryLink("a");
    tc.sw.attach(link, { port: 3 });
    tc.sw.createPort(12);
    link.receive(macFrame("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:01", 1));
    const source = localCompletionSource(tc.commands, tc.ctx);
    assert.deepEqual(await complete("port/pr", source), [["port/print"], "port/pr"]);
    assert.deepEqual(await complete("port/se", source), [
      ["port/setnumports", "port/sethub", "port/setvlan", "port/setuser", "port/setgroup"],
      "port/se",
    ]);
    assert.deepEqual(await complete("port/print ", source), [["3", "12"], ""]);
    assert.deepEqual(await complete("port/print 1", source), [["12"], "1"]);
    assert.deepEqual(await complete("port/sethub ", source), [["0", "1"], ""]);
    assert.deepEqual(await complete("hash/find 02", source), [["02:00:00:00:00:01"], "02"]);
    assert.deepEqual(await complete("debug/add port/e", source), [["port/ep/+", "port/ep/-"], "port/e"]);
    assert.deepEqual(await complete("hub o", source), [["on", "off"], "o"]);
    assert.deepEqual(await complete("help hash/s", source), [[
      "hash/showinfo",
      "hash/setsize",
      "hash/setgcint",
      "hash/setexpire",
      "hash/setminper",
    ], "hash/s"]);
    assert.deepEqual(await complete("nosuch ", source), [[], ""]);
  } finally {
    tc.close();
  }
});

Deno.test("completion of load offers file names", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-complete-" });
  try {
    await Deno.writeTextFile(`${dir}/switch.rc`, "");
    await Deno.mkdir(`${dir}/sub`);
    const source: CompletionSource = {
      commands: () => Promise.resolve(["load"]),
      syntax: () => Promise.resolve("path"),
      ports: () => Promise.resolve([]),
      macs: () => Promise.resolve([]),
      debugCategories: () => Promise.resolve([]),
    };
    assert.deepEqual(await complete(`load ${dir}/s`, source), [
      [`${dir}/sub/`, `${dir}/switch.rc`],
      `${dir}/s`,
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
