import assert from "node:assert/strict";
import { MgmtClient } from "../../src/console/client.ts";
import {
  loadFromHere,
  parseHelpListing,
  RemoteConsole,
  transcriptForPeople,
} from "../../src/console/switch/remote_console.ts";
import { CommandRegistry } from "../../src/console/registry.ts";
import { Errno, type Reply } from "../../src/console/reply_format.ts";
import { addCoreCommands } from "../../src/console/switch/commands_core.ts";
import { addPortCommands } from "../../src/console/switch/commands_port.ts";
import { addHashCommands } from "../../src/console/switch/commands_hash.ts";
import { MgmtServer } from "../../src/console/mgmt_server.ts";
import { macFrame, makeConsole, tempDir, withMgmtServer } from "./_helpers.ts";
import { skipUnlessRoot, waitFor } from "../helpers/processes.ts";
import { MemoryLink } from "../helpers/memory_link.ts";

Deno.test("client reads the banner and prompt, then replies with their listings and codes", async () => {
  await withMgmtServer(async ({ path }) => {
    const client = await MgmtClient.connect(path, { timeoutMs: 5000 });
    try {
      assert.deepEqual(client.banner, [
        "VDE switch V.2.3.2",
        "vde for Deno - speaks vde_switch 2.3.2's console protocol",
      ]);
      assert.equal(client.prompt, "vde$ ");
      const info = await client.command("port/showinfo");
      assert.deepEqual(info, {
        code: 0,
        lines: ["Numports=32", "HUB=false", "counters=true"],
        result: "1000 Success",
      });
      assert.deepEqual(await client.command("port/print 99"), {
        code: 22,
        lines: [],
        result: "1022 Invalid argument",
      });
      assert.deepEqual(await client.command("foo"), { code: 38, result: "1038 Function not implemented" });
      assert.deepEqual(await client.command("  # not sent"), { code: 0, result: "" });
      assert.deepEqual(await client.command("port/sethub 0"), { code: 0, result: "1000 Success" });
      const out = await client.command("logout");
      assert.equal(out.endSession, true);
      await client.closed;
    } finally {
      client.close();
    }
  });
});

Deno.test("client keeps load's echoed script as raw text and takes the last result", async () => {
  await withMgmtServer(async ({ path, dir }) => {
    await Deno.writeTextFile(`${dir}/s.rc`, "port/showinfo\nfoo\n");
    const client = await MgmtClient.connect(path);
    try {
      const r = await client.command(`load ${dir}/s.rc`);
      assert.equal(r.code, 0);
      assert.equal(r.lines, undefined);
      assert.equal(
        r.raw,
        `vde[${dir}/s.rc]: port/showinfo\n0000 DATA END WITH '.'\nNumports=32\nHUB=false\ncounters=true\n.\n1000 Success\n` +
          `vde[${dir}/s.rc]: foo\n1038 Function not implemented\n`,
      );
    } finally {
      client.close();
    }
  });
});

Deno.test("client hands debug lines to onEvent, between and before replies", async () => {
  await withMgmtServer(async ({ path, tc }) => {
    const client = await MgmtClient.connect(path);
    const events: string[] = [];
    client.onEvent = (line) => events.push(line);
    try {
      assert.equal((await client.command("debug/add port/")).code, 0);
      const link = new MemoryLink("x");
      tc.sw.attach(link, { port: 2 });
      const deadline = Date.now() + 5000;
      while (events.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      assert.deepEqual(events.slice(0, 1), ["3021 port/+ 02"]);
      link.close();
      const r = await client.command("port/showinfo");
      assert.deepEqual(r.lines, ["Numports=32", "HUB=false", "counters=true"]);
      assert.ok(events.includes("3022 port/- 02"), events.join("|"));
    } finally {
      client.close();
    }
  });
});

Deno.test("client gives up on a socket that never prompts, within its timeout", async () => {
  const tmp = await tempDir("vde-client-");
  const listener = Deno.listen({ transport: "unix", path: `${tmp.path}/silent` });
  const conns: Deno.Conn[] = [];
  (async () => {
    for await (const c of listener) conns.push(c);
  })();
  try {
    const started = Date.now();
    await assert.rejects(MgmtClient.connect(`${tmp.path}/silent`, { timeoutMs: 300 }), /no prompt/);
    assert.ok(Date.now() - started < 3000);
  } finally {
    listener.close();
    for (const c of conns) c.close();
    await tmp.cleanup();
  }
});

Deno.test("remote console emulates ports, macs and hub on a switch that lacks them", async () => {
  const tmp = await tempDir("vde-remote-");
  const tc = makeConsole();
  // Only vde_switch's own commands: what a C vde_switch offers.
  const plain = new CommandRegistry();
  addCoreCommands(plain, tc.ctx);
  addHashCommands(plain, tc.ctx);
  addPortCommands(plain, tc.ctx);
  const server = await MgmtServer.start(plain, tc.ctx, { path: `${tmp.path}/m`, log: () => {} });
  const a = new MemoryLink("vm one");
  tc.sw.attach(a, { port: 3 });
  a.receive(macFrame("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:03", 1));
  const client = await MgmtClient.connect(`${tmp.path}/m`);
  const remote = new RemoteConsole(client);
  try {
    await remote.learnCommands();
    const paths = remote.commands().map((c) => c.path);
    assert.ok(paths.includes("port/print") && paths.includes("ports") && paths.includes("watch"));
    const ports = await remote.execute("ports");
    assert.equal(ports?.code, 0);
    assert.match(ports!.lines![1]!, /^ {3}3 {2}active {5}0 {2}- .* vm one$/);
    const macs = await remote.execute("macs");
    assert.match(macs!.lines![1]!, /^02:00:00:00:00:03 +0 +3 +\d+s {2}vm one$/);
    assert.deepEqual((await remote.execute("hub on"))?.lines, ["hub mode is on"]);
    assert.equal(tc.sw.engine.hub, true);
    assert.deepEqual((await remote.execute("hub"))?.lines, ["hub mode is on"]);
    assert.equal((await remote.execute("hub sideways"))?.code, 22);
    const source = remote.completionSource();
    assert.deepEqual(await source.ports(), [3]);
    assert.deepEqual(await source.macs(), ["02:00:00:00:00:03"]);
    assert.equal(await source.syntax("port/setvlan"), "N VLAN");
  } finally {
    client.close();
    server.close();
    tc.close();
    await tmp.cleanup();
  }
});

Deno.test("a help listing is read with vde_switch's two-line header, or without one as a lab's console gives it", () => {
  const vdeSwitch = [
    "COMMAND PATH       SYNTAX          HELP",
    "------------       --------------  ------------",
    "ds                 ============    DATA SOCKET MENU",
    "port/print         [N]             print the port/endpoint table",
    "stp/settimers      HELLO MAXAGE FWDDELAY timers in seconds used while this switch is root (default 2 20 15)",
  ];
  assert.deepEqual(parseHelpListing(vdeSwitch).map((c) => [c.path, c.syntax, c.help.split(" ")[0]]), [
    ["port/print", "[N]", "print"],
    // A syntax wider than its column is still the syntax (vde term -c answered its usage as "takes no arguments").
    ["stp/settimers", "HELLO MAXAGE FWDDELAY", "timers"],
  ]);
  const lab = [
    "help                           this list",
    "nodes                          the lab's nodes",
    "links                          the lab's links with their counters",
  ];
  assert.deepEqual(parseHelpListing(lab).map((c) => c.path), ["help", "nodes", "links"]);
});

Deno.test("a help row whose path passes the 18-column field (mcast/query_response_interval) keeps its syntax, as our help lines it up and as vde_switch's format would push it", async () => {
  const tc = makeConsole(8);
  try {
    const reply = await tc.run("help mcast");
    const lines = reply.split("\n");
    const parsed = parseHelpListing(lines.slice(1, lines.indexOf(".")));
    const syntax = (path: string) => parsed.find((c) => c.path === path)?.syntax;
    assert.equal(syntax("mcast/query_response_interval"), "CENTISECONDS");
    assert.equal(syntax("mcast/last_member_count"), "N");
    assert.equal(syntax("mcast/fastleave"), "PORT 0/1");
    assert.match(parsed.find((c) => c.path === "mcast/last_member_count")!.help, /^group-specific queries/);
    // The whole help: vde_switch's menus at 18 columns, the mcast menu at its own width, under an 18-column header.
    const all = (await tc.run("help")).split("\n");
    const every = parseHelpListing(all.slice(1, all.indexOf(".")));
    const of = (path: string) => every.find((c) => c.path === path);
    assert.deepEqual([of("mcast/fastleave")?.syntax, of("mcast/print")?.syntax, of("port/print")?.syntax], [
      "PORT 0/1",
      "",
      "[N]",
    ]);
    assert.match(of("mcast/fastleave")!.help, /^a leave on PORT/);
    assert.equal(of("mcast/startup_query_interval")?.syntax, "CENTISECONDS");
  } finally {
    tc.close();
  }
  // vde_switch's own `%-18s %-15s %s` of a long path: the rest pushed right by the path's overflow.
  const pushed = parseHelpListing([
    "COMMAND PATH       SYNTAX          HELP",
    "------------       --------------  ------------",
    "mcast/last_member_count N               group-specific queries our querier sends after a leave",
  ]);
  assert.deepEqual(pushed.map((c) => [c.path, c.syntax, c.help]), [
    ["mcast/last_member_count", "N", "group-specific queries our querier sends after a leave"],
  ]);
});

Deno.test("wirefilter's help listing, which shows no syntax for its value commands, leaves their syntax unknown rather than none", () => {
  const wirefilter = [
    "COMMAND      HELP",
    "------------ ------------",
    "loss         set loss percentage",
    "markov-numnodes n  markov mode: set number of states",
    "markov-name n,name markov mode: set state's name",
  ];
  assert.deepEqual(parseHelpListing(wirefilter).map((c) => [c.path, c.syntax, c.help]), [
    ["loss", undefined, "set loss percentage"],
    ["markov-numnodes", "n", "markov mode: set number of states"],
    ["markov-name", "n,name", "markov mode: set state's name"],
  ]);
});

/** Runs `body` with a client of a management socket serving `commands` alone, waiting `timeoutMs` for replies. */
async function withCommandsServed(
  commands: CommandRegistry,
  timeoutMs: number,
  body: (client: MgmtClient) => Promise<void>,
): Promise<void> {
  const tmp = await tempDir("vde-client-served-");
  const server = await MgmtServer.start(commands, { debug: { detach: () => {} } }, {
    path: `${tmp.path}/ctl`,
  });
  const client = await MgmtClient.connect(`${tmp.path}/ctl`, { timeoutMs });
  try {
    await body(client);
  } finally {
    client.close();
    server.close();
    await tmp.cleanup();
  }
}

/** A listing command that answers `lines` after `ms`. */
function slowListing(path: string, ms: number, lines: string[]) {
  const run = () => new Promise<Reply>((resolve) => setTimeout(() => resolve({ code: 0, lines }), ms));
  return { path, syntax: "", help: "", listing: true, run };
}

Deno.test("client takes text before a listing as the reply's words, and the listing as its lines", async () => {
  const commands = new CommandRegistry().add({
    path: "exec",
    syntax: "HOST COMMAND...",
    help: "",
    listing: true,
    run: () => ({ code: Errno.EINVAL, raw: "no host h9 (hosts: h1)\n" }),
  });
  await withCommandsServed(commands, 10_000, async (client) => {
    // On the wire: the words, then the listing framing every listing command has, then the result.
    assert.deepEqual(await client.command("exec h9 ls"), {
      code: Errno.EINVAL,
      raw: "no host h9 (hosts: h1)\n",
      lines: [],
      result: "1022 Invalid argument",
    });
  });
});

Deno.test("vde term waits for a lab host's exec as long as the lab lets it run, not only --timeout's seconds", async () => {
  // A lab's console: its own commands in `help`; a host's name (h1) runs a command there, and is no command.
  const help = [
    "help                           this list",
    "exec HOST COMMAND...           run",
    "nodes  the nodes",
  ];
  const commands = new CommandRegistry().add(slowListing("exec", 600, ["done"])).add(
    slowListing("h1", 600, ["done"]),
  ).add(slowListing("nodes", 600, ["done"])).add(slowListing("help", 0, help));
  await withCommandsServed(commands, 200, async (client) => {
    const remote = new RemoteConsole(client, { lab: true });
    // `vde term LAB -c 'exec h1 ping -c 20 ...'` said "no reply within 10000 ms" while the ping ran on.
    assert.deepEqual((await remote.execute("exec h1 sleep 0.6"))?.lines, ["done"]);
    // The same by the host's name.
    assert.deepEqual((await remote.execute("h1 sleep 0.6"))?.lines, ["done"]);
    // The lab's own commands keep --timeout: a hung lab is reported in its seconds, not exec's 130.
    await assert.rejects(remote.execute("nodes"), /no reply to "nodes" within 200 ms/);
  });
  await withCommandsServed(commands, 200, async (client) => {
    // A switch's console keeps the bound it was given.
    await assert.rejects(new RemoteConsole(client).execute("nodes"), /no reply to "nodes" within 200 ms/);
  });
});

Deno.test("client that gave up on a slow reply pairs the next command with its own reply, not the late one", async () => {
  const commands = new CommandRegistry().add(slowListing("slow", 400, ["late"])).add({
    path: "fast",
    syntax: "",
    help: "",
    listing: true,
    run: () => ({ code: 0, lines: ["mine"] }),
  });
  await withCommandsServed(commands, 150, async (client) => {
    // An interactive vde term goes on after a timeout: the next command is sent while the late reply is
    // still to come, and once it has come.
    await assert.rejects(client.command("slow"), /no reply to "slow" within 150 ms/);
    assert.deepEqual((await client.command("fast", 2000)).lines, ["mine"]);
    await assert.rejects(client.command("slow"), /no reply to "slow" within 150 ms/);
    await new Promise((r) => setTimeout(r, 500));
    // Time to answer on a loaded machine (the late reply then still to come is the case above again).
    assert.deepEqual((await client.command("fast", 2000)).lines, ["mine"]);
    assert.deepEqual((await client.command("slow", 2000)).lines, ["late"]);
  });
});

Deno.test("vde term sends load of a relative file beside the user as its full path, since the switch opens it where it runs", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-load-here-" });
  try {
    await Deno.writeTextFile(`${dir}/my.rc`, "hub on\n");
    assert.equal(loadFromHere("my.rc", dir), `load ${dir}/my.rc`);
    assert.equal(loadFromHere("missing.rc", dir), "load missing.rc", "a file not here goes as typed");
    assert.equal(loadFromHere("/etc/x.rc", dir), "load /etc/x.rc");
    assert.equal(loadFromHere("", dir), "load");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("vde term shows a load's transcript as the switch's terminal does, without the protocol's framing", () => {
  const raw = "vde[/r.rc]: hub on\n0000 DATA END WITH '.'\nhub mode is on\n.\n1000 Success\n" +
    "vde[/r.rc]: bogus\n1038 Function not implemented\n";
  assert.equal(
    transcriptForPeople(raw),
    "vde[/r.rc]: hub on\nhub mode is on\nvde[/r.rc]: bogus\n1038 Function not implemented\n",
  );
});

Deno.test("client finds a reply's end when a long prompt comes split across reads", async () => {
  const tmp = await tempDir("vde-client-long-prompt-");
  // A lab's prompt carries its name (lab[NAME]$ ), and a name may be long.
  const prompt = `lab[${"a".repeat(90)}]$ `;
  const listener = Deno.listen({ transport: "unix", path: `${tmp.path}/ctl` });
  const serving = (async () => {
    using conn = await listener.accept();
    await conn.write(new TextEncoder().encode(`banner\n${prompt}`));
    await conn.read(new Uint8Array(256));
    // The end of the reply in two writes, the first with more of the prompt than a look back of 64 covered.
    const reply = `1000 Success\n\n${prompt}`;
    await conn.write(new TextEncoder().encode(reply.slice(0, 80)));
    await new Promise((r) => setTimeout(r, 100));
    await conn.write(new TextEncoder().encode(reply.slice(80)));
    await conn.read(new Uint8Array(256));
  })();
  const client = await MgmtClient.connect(`${tmp.path}/ctl`, { timeoutMs: 5000 });
  try {
    assert.equal(client.prompt, prompt);
    assert.deepEqual(await client.command("port/sethub 0"), { code: 0, result: "1000 Success" });
  } finally {
    client.close();
    await serving;
    listener.close();
    await tmp.cleanup();
  }
});

/** A console that records the bytes it reads and answers each line with `1000 Success` and its prompt. */
async function withRecordingConsole(
  fn: (path: string, received: () => string) => Promise<void>,
): Promise<void> {
  const dir = await tempDir("vde-rec-");
  const path = `${dir.path}/mgmt`;
  const listener = Deno.listen({ transport: "unix", path });
  let received = "";
  const served = (async () => {
    const conn = await listener.accept();
    const enc = new TextEncoder();
    await conn.write(enc.encode("lab console\nlab$ "));
    const buf = new Uint8Array(4096);
    const dec = new TextDecoder();
    for (;;) {
      const n = await conn.read(buf).catch(() => null);
      if (n === null) break;
      const text = dec.decode(buf.subarray(0, n));
      received += text;
      for (const ch of text) {
        if (ch === "\n") await conn.write(enc.encode("1000 Success\n\nlab$ ")).catch(() => {});
      }
    }
    conn.close();
  })();
  try {
    await fn(path, () => received);
  } finally {
    listener.close();
    await served;
    await dir.cleanup();
  }
}

Deno.test("a Ctrl-C that comes while a lab line is still on its way is sent after that line, not before it", async () => {
  await withRecordingConsole(async (path, received) => {
    const client = await MgmtClient.connect(path, { timeoutMs: 5000 });
    try {
      const remote = new RemoteConsole(client, { lab: true });
      // `h1 ...` may name a host: the console learns its command set (`help`) before it sends the line.
      const running = remote.execute("h1 ping 10.0.0.2");
      await remote.interrupt();
      assert.equal((await running)?.code, 0);
      await waitFor(() => received().includes("\x03"), { timeoutMs: 5000, what: "the Ctrl-C" });
      assert.equal(received(), "help\nh1 ping 10.0.0.2\n\x03");
    } finally {
      client.close();
    }
  });
});

/** A console at a socket owned by `uid`, whose greeting and every reply carry terminal escapes. */
async function withEscapingConsole(uid: number, fn: (path: string) => Promise<void>): Promise<void> {
  const dir = await tempDir("vde-esc-");
  const path = `${dir.path}/mgmt`;
  const listener = Deno.listen({ transport: "unix", path });
  await Deno.chown(path, uid, null);
  const served = (async () => {
    const conn = await listener.accept();
    const enc = new TextEncoder();
    await conn.write(enc.encode("fake\x1b]0;pwned\x07\nvde$ "));
    const buf = new Uint8Array(4096);
    while ((await conn.read(buf).catch(() => null)) !== null) {
      await conn.write(enc.encode("0000 DATA END WITH '.'\na\x1b[2Jb\tc\u009b31m\n.\n1000 Success\n\nvde$ "))
        .catch(() => {});
    }
    conn.close();
  })();
  try {
    await fn(path);
  } finally {
    listener.close();
    await served;
    await dir.cleanup();
  }
}

Deno.test("another user's console cannot write terminal escapes through vde term, by its name or our own symlink to it: its control characters are shown as ?", async (t) => {
  if (skipUnlessRoot(t)) return; // a socket of another user's is made by chown
  // Judged by the socket connected to, not its name: our symlink's owner says nothing of whose server it is.
  for (const name of [(path: string) => path, (path: string) => `${path}.link`]) {
    await withEscapingConsole(65534, async (path) => {
      if (name(path) !== path) await Deno.symlink(path, name(path));
      const client = await MgmtClient.connect(name(path), { timeoutMs: 5000 });
      try {
        assert.deepEqual(client.banner, ["fake?]0;pwned?"]);
        assert.deepEqual((await client.command("showinfo")).lines, ["a?[2Jb\tc?31m"]);
      } finally {
        client.close();
      }
    });
  }
  // Our own (or root's) console is trusted: a lab's exec output keeps its colours.
  await withEscapingConsole(0, async (path) => {
    const client = await MgmtClient.connect(path, { timeoutMs: 5000 });
    try {
      assert.deepEqual((await client.command("showinfo")).lines, ["a\x1b[2Jb\tc\u009b31m"]);
    } finally {
      client.close();
    }
  });
});

Deno.test("an idle client drops the lines a console sends unasked, hands on its events, and the next reply holds only itself", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-client-unasked-" });
  const listener = Deno.listen({ transport: "unix", path: `${dir}/mgmt` });
  const enc = new TextEncoder();
  const serving = (async () => {
    const conn = await listener.accept();
    const write = async (b: Uint8Array) => {
      for (let off = 0; off < b.length;) off += await conn.write(b.subarray(off));
    };
    try {
      await write(enc.encode("VDE switch\n\nvde$ "));
      await new Promise((r) => setTimeout(r, 100));
      // 4 MiB of lines, a line of 200 KiB (past what is held of one), events among them.
      const junk = enc.encode("junk line\n".repeat(6000));
      for (let sent = 0; sent < 4 << 20; sent += junk.length) await write(junk);
      await write(enc.encode(`3001 first\n${"x".repeat(200 * 1024)}\n3002 second\n`));
      await conn.read(new Uint8Array(100));
      await write(enc.encode("0000 DATA END WITH '.'\nmine\n.\n1000 Success\n\nvde$ "));
      await conn.read(new Uint8Array(100));
    } finally {
      conn.close();
    }
  })();
  const client = await MgmtClient.connect(`${dir}/mgmt`, { timeoutMs: 20_000 });
  try {
    const events: string[] = [];
    client.onEvent = (line) => events.push(line);
    await waitFor(() => events.length === 2, { timeoutMs: 20_000, what: "both events" });
    assert.deepEqual(events, ["3001 first", "3002 second"]);
    assert.ok(client.unaskedLines > 400_000, `${client.unaskedLines}`);
    assert.deepEqual(await client.command("x"), { code: 0, lines: ["mine"], result: "1000 Success" });
  } finally {
    client.close();
    await client.closed;
    await serving;
    listener.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a reply that never ends is refused at the 64 MiB bound in seconds, and one whose end trickles in a byte at a time completes", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-client-long-" });
  const listener = Deno.listen({ transport: "unix", path: `${dir}/mgmt` });
  const enc = new TextEncoder();
  const serving = (async () => {
    for (let n = 0; n < 2; n++) {
      const conn = await listener.accept();
      const write = async (b: Uint8Array) => {
        for (let off = 0; off < b.length;) off += await conn.write(b.subarray(off));
      };
      try {
        await write(enc.encode("VDE switch\n\nvde$ "));
        await conn.read(new Uint8Array(100));
        // Lines that end as a reply's do, but with no result line before the prompt.
        const chunk = enc.encode("Numports=32\n\nvde$ x\n".repeat(3000));
        if (n === 0) { for (;;) await write(chunk); }
        for (let i = 0; i < 100; i++) await write(chunk);
        for (const b of enc.encode("0000 DATA END WITH '.'\nmine\n.\n1000 Success\n\nvde$ ")) {
          await write(Uint8Array.of(b));
        }
        await conn.read(new Uint8Array(100));
      } catch {
        /* the client left */
      } finally {
        conn.close();
      }
    }
  })();
  try {
    const endless = await MgmtClient.connect(`${dir}/mgmt`, { timeoutMs: 60_000 });
    const began = Date.now();
    await assert.rejects(endless.command("x"), /reply larger than 67108864 bytes/);
    // Each read looked at all the reply held: 46 s on this machine, unloaded.
    assert.ok(Date.now() - began < 20_000, `${Date.now() - began} ms`);
    endless.close();
    await endless.closed;
    const slow = await MgmtClient.connect(`${dir}/mgmt`, { timeoutMs: 60_000 });
    const reply = await slow.command("x");
    assert.equal(reply.result, "1000 Success");
    assert.deepEqual(reply.lines, ["mine"]);
    slow.close();
    await slow.closed;
  } finally {
    listener.close();
    await serving;
    await Deno.remove(dir, { recursive: true });
  }
});
