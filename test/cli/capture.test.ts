/** `vde capture` as tcpdump users write it, and what it says of a directory that is no switch. */
import assert from "node:assert/strict";
import {
  captureLine,
  captureOptionHint,
  frameCount,
  runCapture,
  snapLength,
  strayCaptureWords,
  withCaptureHint,
} from "../../src/cli/capture.ts";
import { hasCommand, hasRoot, run, skipUnless, skipUnlessRoot, waitFor } from "../helpers/processes.ts";
import { startOurSwitch, type SwitchHandle } from "../helpers/switches.ts";
import { onFullDisk } from "../helpers/full_disk.ts";
import { ourCli, portLinesOnceListed } from "../helpers/vde_clients.ts";
import { MgmtClient } from "../../src/console/client.ts";
import { UsageError } from "../../src/cli/usage_error.ts";
import { concatBytes } from "../../src/wire/bytes.ts";
import { parsePortListing } from "../../src/console/switch/listings.ts";
import { processAlive } from "../../src/os/processes.ts";
import { framed, reap, spawnVde, testFrame, within, writeTo } from "../helpers/framed_peers.ts";

Deno.test("vde capture -s 0 keeps whole frames, as tcpdump's -s 0 does", () => {
  assert.equal(snapLength(undefined), 262144);
  assert.equal(snapLength("0"), 262144);
  assert.equal(snapLength("128"), 128);
  assert.throws(() => snapLength("262145"), /-s must be a whole number from 0 to 262144, got "262145"/);
  assert.throws(() => snapLength("-1"), /-s must be a whole number/);
});

Deno.test("the capture line given for another user to type carries every option the user gave, quoted for the shell", () => {
  assert.equal(captureLine("demo/h1"), "vde capture demo/h1");
  assert.equal(
    captureLine("demo/h1", { port: [], write: "-" }),
    "vde capture demo/h1",
    "-w - is the default",
  );
  assert.equal(
    captureLine("demo/h1", {
      port: ["2", "3"],
      vlan: "10",
      write: "/tmp/my cap's.pcapng",
      count: "5",
      snaplen: "96",
      filter: "icmp or arp",
      daemon: true,
    }),
    "vde capture demo/h1 --port 2 --port 3 --vlan 10 -w '/tmp/my cap'\\''s.pcapng' -c 5 -s 96 " +
      "--filter 'icmp or arp' -d",
  );
});

Deno.test("the capture line given for another user to type names a relative -w FILE from this directory, so it writes there from anywhere", () => {
  const here = Deno.cwd();
  const line = (write: string) => captureLine("demo/h1", { port: [], write });
  assert.equal(line("x.pcapng"), `vde capture demo/h1 -w ${here}/x.pcapng`);
  assert.equal(line("./caps/x.pcapng"), `vde capture demo/h1 -w ${here}/caps/x.pcapng`);
  assert.equal(line("../x.pcapng"), `vde capture demo/h1 -w ${here}/../x.pcapng`);
  assert.equal(line("/tmp/x.pcapng"), "vde capture demo/h1 -w /tmp/x.pcapng");
  assert.equal(line("-"), "vde capture demo/h1", "stdout is no file");
});

Deno.test("vde capture -c 0 says -c is 1 or more, not a range up to 9007199254740991", () => {
  assert.equal(frameCount(undefined), Infinity);
  assert.equal(frameCount("10"), 10);
  assert.throws(() => frameCount("0"), { message: '-c must be a whole number, 1 or more, got "0"' });
  assert.throws(() => frameCount("ten"), { message: '-c must be a whole number, 1 or more, got "ten"' });
});

Deno.test("tshark's -f, tcpdump's -i and -r are answered with --filter, --port and what reads a file", () => {
  const usage = "(run with --help for usage)\n";
  assert.equal(
    withCaptureHint(`vde: unknown option '-f'\n${usage}`),
    `vde: unknown option '-f' (tshark's capture filter -f is --filter here: --filter 'icmp')\n${usage}`,
  );
  assert.match(withCaptureHint("vde: unknown option '-i'\n"), /a port of it is --port N/);
  assert.match(withCaptureHint("vde: unknown option '--interface=eth0'\n"), /a port of it is --port N/);
  assert.match(withCaptureHint("vde: unknown option '-r'\n"), /tcpdump -r or tshark -r\)/);
  assert.equal(withCaptureHint("vde: unknown option '-Z'\n"), "vde: unknown option '-Z'\n");
});

Deno.test("tcpdump's -i N is answered with --port N, the number repeated, in each way it is written", () => {
  const said = (text: string, argv: string[]) => captureOptionHint(argv)(`vde: unknown option '${text}'\n`);
  const port3 = "its port 3 is --port 3: vde capture /tmp/net --port 3)\n";
  assert.ok(said("-i", ["capture", "/tmp/net", "-i", "3"]).endsWith(port3));
  assert.ok(said("-i3", ["capture", "/tmp/net", "-i3"]).endsWith(port3));
  assert.ok(said("--interface", ["capture", "/tmp/net", "--interface", "3"]).endsWith(port3));
  assert.ok(said("--interface=3", ["capture", "/tmp/net", "--interface=3"]).endsWith(port3));
  // Not a port number, or no value at all: the form, not a made-up number.
  assert.match(said("-i", ["capture", "/tmp/net", "-i", "eth0"]), /a port of it is --port N:/);
  assert.match(said("-i", ["capture", "/tmp/net", "-i"]), /a port of it is --port N:/);
  assert.match(said("-i", ["capture", "/tmp/net", "-i", "-c", "3"]), /a port of it is --port N:/);
  assert.match(said("-f", ["capture", "/tmp/net", "-f", "tcp port 22"]), /--filter 'tcp port 22'\)/);
});

Deno.test("tshark's and tcpdump's ring files, autostop and interface list are answered with how they are done here", () => {
  const said = (argv: string[]) => {
    const flag = argv.find((w, i) => i > 1 && w.startsWith("-") && w !== "-w")!;
    return captureOptionHint(argv)(`vde: unknown option '${flag}'\n`);
  };
  assert.ok(
    said(["capture", "/tmp/net", "-b", "filesize:100", "-w", "r.pcapng"])
      .endsWith("vde capture /tmp/net -w - | tshark -q -i - -b filesize:100 -w ring.pcapng)\n"),
  );
  // tcpdump's values carried over in tshark's units: -C is millions of bytes, filesize kB.
  for (const [flag, b] of [["-C", "filesize:5000"], ["-G", "duration:60"], ["-W", "files:4"]] as const) {
    const value = { "-C": "5", "-G": "60", "-W": "4" }[flag];
    assert.match(said(["capture", "/tmp/net", flag, value]), new RegExp(`tshark -q -i - -b ${b} -w ring`));
  }
  assert.match(said(["capture", "/tmp/net", "-C"]), /tshark -q -i - -b filesize:100000 -b files:10 -w ring/);
  assert.ok(
    said(["capture", "sw1", "-a", "duration:10"]).endsWith("timeout -s INT 10 vde capture sw1 -w FILE)\n"),
  );
  assert.ok(
    said(["capture", "sw1", "-a", "packets:5"]).endsWith("a count is -c here: vde capture sw1 -c 5)\n"),
  );
  assert.ok(said(["capture", "sw1", "-D"]).endsWith("vde term sw1 -c port/print)\n"));
});

Deno.test("tcpdump's -U, -p, -F and display flags (-nn, -e, -v) are answered: written as they come, no promiscuous mode, the reader's", () => {
  const said = (argv: string[]) =>
    captureOptionHint(argv)(`vde: unknown option '${argv.find((w) => /^-[^w]/.test(w))}'\n`);
  assert.match(said(["capture", "/tmp/net", "-U", "-w", "-"]), /written as it comes already/);
  assert.match(said(["capture", "/tmp/net", "-p"]), /no promiscuous mode/);
  assert.match(said(["capture", "/tmp/net", "-F", "pcap"]), /-w FILE\.pcap is classic pcap/);
  assert.ok(
    said(["capture", "/tmp/net", "-nn"]).endsWith(
      "(-nn is the reader's: vde capture /tmp/net -w - | tcpdump -nn -r -)\n",
    ),
  );
  assert.ok(said(["capture", "sw1", "-e"]).endsWith("vde capture sw1 -w - | tcpdump -e -r -)\n"));
  // The next word is the switch, not more flags: -v alone.
  assert.ok(
    said(["capture", "-v", "sw1"]).endsWith("(-v is the reader's: vde capture sw1 -w - | tcpdump -v -r -)\n"),
  );
});

Deno.test("tcpdump's -i is answered with the switch the user typed, wherever it stands, so the line runs as given", () => {
  const said = (argv: string[]) => captureOptionHint(argv)("vde: unknown option '-i'\n");
  assert.ok(
    said(["capture", "/run/vde/demo/sw1", "-i", "3"]).endsWith("vde capture /run/vde/demo/sw1 --port 3)\n"),
  );
  assert.ok(said(["capture", "-i", "3", "-w", "x.pcap", "sw1"]).endsWith("vde capture sw1 --port 3)\n"));
  assert.ok(
    said(["capture", "-i", "eth0", "--vlan", "10", "lab/sw2"]).endsWith("vde capture lab/sw2 --port 3)\n"),
  );
  // No switch typed: the form, not a made-up path.
  assert.ok(said(["capture", "-i", "3"]).endsWith("vde capture DIR --port 3)\n"));
});

Deno.test("a tcpdump filter after the switch (vde capture DIR port 3) is refused with --filter, and port N also with --port", async () => {
  assert.equal(
    strayCaptureWords("/tmp/net", ["not", "arp"]).message,
    "vde capture takes one switch; a tcpdump filter after it is --filter: vde capture /tmp/net --filter 'not arp'",
  );
  assert.match(
    strayCaptureWords("/tmp/net", ["port", "3"]).message,
    /--filter 'port 3'; a port of the switch is --port 3$/,
  );
  // Refused before the switch is looked for, so the line is the same with no switch there.
  const r = await run([...ourCli(), "capture", "/tmp/vde-no-such-switch", "icmp"], {
    check: false,
    timeoutMs: 30_000,
  });
  assert.equal(r.code, 1);
  assert.equal(
    r.stderr,
    "vde: vde capture takes one switch; a tcpdump filter after it is --filter: vde capture /tmp/vde-no-such-switch --filter 'icmp'\n",
  );
});

Deno.test("vde capture of a directory that holds no switch says so, before compiling its filter", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "vde-capture-cli-" });
  try {
    for (const args of [[tmp, "-c", "1"], [`${tmp}/`, "--filter", "no such (( filter"]]) {
      const r = await run([...ourCli(), "capture", ...args, "-w", "/dev/null"], {
        check: false,
        timeoutMs: 30_000,
      });
      assert.equal(r.code, 1);
      assert.equal(
        r.stderr,
        `vde: ${tmp} is not a switch's socket directory (it has no ctl socket)\n`,
        args.join(" "),
      );
    }
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("vde capture says the switch stopped when it ends under the capture, not when Ctrl-C ends it", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "vde-capture-gone-" });
  try {
    for (const how of ["switch stopped", "SIGINT"] as const) {
      const sw = await startOurSwitch(`${tmp}/sw`);
      try {
        const capture = new Deno.Command(ourCli()[0]!, {
          args: [...ourCli().slice(1), "capture", `${tmp}/sw`, "-w", `${tmp}/${how}.pcapng`],
          stdin: "null",
          stdout: "null",
          stderr: "piped",
        }).spawn();
        // The capture has connected once the pcapng header is written.
        await waitFor(
          async () => ((await Deno.stat(`${tmp}/${how}.pcapng`).catch(() => null))?.size ?? 0) > 0,
          {
            timeoutMs: 30_000,
            what: "the capture file's header",
          },
        );
        if (how === "SIGINT") capture.kill("SIGINT");
        else await sw.stop();
        const { code, stderr } = await capture.output();
        assert.equal(code, 0);
        const said = new TextDecoder().decode(stderr);
        assert.equal(
          said.startsWith("the switch stopped: 0 frames captured"),
          how === "switch stopped",
          said,
        );
        assert.match(said, /0 frames captured, 0 dropped by the switch/);
      } finally {
        await sw.stop();
      }
    }
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

/** The Enhanced Packet Blocks (type 6) of a pcapng file, walked by each block's total length. */
function pcapngPackets(bytes: Uint8Array): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let packets = 0;
  for (let at = 0; at + 8 <= bytes.length;) {
    if (view.getUint32(at, true) === 6) packets++;
    at += Math.max(12, view.getUint32(at + 4, true));
  }
  return packets;
}

/** Our switch in a fresh directory with our `vde plug` on port 1 (its stdin to write frames into), for `fn`. */
async function withPluggedSwitch(
  name: string,
  fn: (tmp: string, sw: SwitchHandle, plug: Deno.ChildProcess, mgmt: MgmtClient) => Promise<void>,
): Promise<void> {
  const tmp = await Deno.makeTempDir({ prefix: `vde-capture-${name}-${Deno.pid}-` });
  const sw = await startOurSwitch(`${tmp}/sw`);
  const plug = spawnVde(["plug", `${tmp}/sw`], { stdout: "null" });
  const mgmt = await MgmtClient.connect(`${tmp}/sw/mgmt`);
  try {
    await portLinesOnceListed(mgmt, "vdeplug:");
    await fn(tmp, sw, plug, mgmt);
  } finally {
    mgmt.close();
    await reap(plug);
    await sw.stop();
    await Deno.remove(tmp, { recursive: true });
  }
}

Deno.test("vde capture --daemon returns once the switch captures, so a frame sent right after is in the file", async () => {
  await withPluggedSwitch("daemon", async (tmp, sw, plug) => {
    const cli = [...ourCli(), "capture", `${tmp}/sw`, "--daemon"];
    const started = await run([...cli, "-w", `${tmp}/ci.pcapng`], { check: false, timeoutMs: 60_000 });
    assert.equal(started.code, 0, started.stderr);
    const pid = Number(/in the background as pid (\d+); stop: kill \1\n$/.exec(started.stderr)?.[1]);
    assert.ok(
      started.stderr.startsWith(`vde capture: every port of ${tmp}/sw into ${tmp}/ci.pcapng;`),
      started.stderr,
    );
    await writeTo(plug, framed(testFrame(1)));
    // Frames are written as they come: the one sent at once arrives (the plug and the switch forward it
    // in their own time, so the switch is stopped only after it is there, not raced against it).
    const inFile = async () => {
      try {
        return pcapngPackets(await Deno.readFile(`${tmp}/ci.pcapng`));
      } catch {
        return 0;
      }
    };
    await waitFor(async () => await inFile() >= 1, {
      timeoutMs: 30_000,
      what: "the frame sent at once in the file",
    });
    // The switch stopping ends the capture, which closes its file.
    await sw.stop();
    await waitFor(() => Promise.resolve(!processAlive(pid)), {
      timeoutMs: 30_000,
      what: "the capture to end",
    });
    assert.equal(await inFile(), 1, "the frame sent at once is there, once");
    // Nowhere to write in the background: the reason, and status 1.
    const toStdout = await run(cli, { check: false, timeoutMs: 30_000 });
    assert.equal(toStdout.code, 1);
    assert.match(toStdout.stderr, /^vde: --daemon needs -w FILE/);
  });
});

Deno.test("a capture whose output fails (a full disk) stops saying why, not as frames captured; a reader gone ends it as asked", async () => {
  await withPluggedSwitch("full", async (tmp, _sw, plug) => {
    const failures = {
      "disk full": () => new Error("No space left on device (os error 28)"),
      "reader gone": () => new Deno.errors.BrokenPipe("Broken pipe (os error 32)"),
    };
    for (const [how, failure] of Object.entries(failures)) {
      // Takes the file's first 2 KiB, then fails every write, as a full disk (or a closed pipe) does.
      let taken = 0;
      const stdout = {
        write(p: Uint8Array): Promise<number> {
          if (taken + p.length > 2048) return Promise.reject(failure());
          taken += p.length;
          return Promise.resolve(p.length);
        },
      };
      let sending: Promise<void> | undefined;
      const ended = await runCapture(`${tmp}/sw`, { port: [], write: "-" }, {
        stdout,
        onAccepted: () => {
          sending ??= (async () => {
            for (let i = 0; i < 100; i++) await writeTo(plug, framed(testFrame(i, 200)));
          })();
        },
      }).then((counts) => counts, (err: Error) => err);
      await sending;
      if (how === "disk full") {
        assert.ok(ended instanceof UsageError, `a disk full ends as ${JSON.stringify(ended)}`);
        assert.match(
          ended.message,
          /^cannot write stdout after \d+ frames?: No space left on device \(os error 28\): the filesystem is full: free some space there, or write elsewhere; the capture stopped there, its reader holding what was written before \(ring files /,
        );
      } else {
        assert.ok(!(ended instanceof Error), `a reader gone ends as ${ended}`);
        assert.ok(ended.captured > 0, "frames came before the reader went");
      }
    }
  });
});

Deno.test("vde capture -w FILE on a disk that fills stops saying why and leaves a file tshark reads to its end", async (t) => {
  if (skipUnlessRoot(t)) return;
  if (skipUnless(t, (await hasCommand("tshark")) ? null : "tshark missing (Debian tshark)")) return;
  await withPluggedSwitch("disk-full", async (tmp, _sw, plug) => {
    // A disk of 64 KiB: a few dozen of these frames fill it, the last written in part.
    const disk = `${tmp}/disk`;
    await Deno.mkdir(disk);
    await run(["mount", "-t", "tmpfs", "-o", "size=64k", "vde-test-capture-full", disk]);
    try {
      let sending: Promise<void> | undefined;
      const ended = await runCapture(`${tmp}/sw`, { port: [], write: `${disk}/c.pcapng` }, {
        onAccepted: () => {
          sending ??= (async () => {
            for (let i = 0; i < 100; i++) await writeTo(plug, framed(testFrame(i, 1400)));
          })();
        },
      }).then((counts) => counts, (err: Error) => err);
      await sending;
      assert.ok(ended instanceof UsageError, `a disk full ends as ${JSON.stringify(ended)}`);
      assert.match(ended.message, /^cannot write .*c\.pcapng after \d+ frames?: No space left on device/);
      // Cut back to its last whole record: a file ending mid-record tshark refuses as "cut short".
      const read = await run(["tshark", "-r", `${disk}/c.pcapng`, "-T", "fields", "-e", "frame.number"], {
        check: false,
      });
      assert.equal(read.code, 0, read.stderr);
      assert.ok(read.stdout.trim().split("\n").length > 10, "frames written before kept");
    } finally {
      await run(["umount", "--lazy", disk]);
    }
  });
});

/**
 * `vde capture --port PORT -w FILE` of the switch in `tmp`, once the port's interface block is in the file:
 * a port named with --port is announced at once, so it is there once the file is past its header.
 */
async function capturePort(tmp: string, port: number, file: string): Promise<Deno.ChildProcess> {
  const capture = new Deno.Command(ourCli()[0]!, {
    args: [...ourCli().slice(1), "capture", `${tmp}/sw`, "--port", String(port), "-w", file],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    await waitFor(async () => ((await Deno.stat(file).catch(() => null))?.size ?? 0) > 100, {
      timeoutMs: 30_000,
      what: `port ${port}'s interface in the file`,
    });
  } catch (err) {
    await reap(capture);
    throw err;
  }
  return capture;
}

Deno.test("a port whose client left and another took gets a new interface, same name, naming the new client (tshark)", async (t) => {
  if (skipUnless(t, (await hasCommand("tshark")) ? null : "tshark missing (Debian tshark)")) return;
  await withPluggedSwitch("newclient", async (tmp, _sw, first) => {
    const file = `${tmp}/port1.pcapng`;
    const capture = await capturePort(tmp, 1, file);
    try {
      const inFile = async () => pcapngPackets(await Deno.readFile(file).catch(() => new Uint8Array()));
      await writeTo(first, framed(testFrame(1)));
      await waitFor(async () => await inFile() >= 1, { timeoutMs: 30_000, what: "the first client's frame" });
      await reap(first);
      const second = spawnVde(["plug", `${tmp}/sw`, "--port", "1"], { stdout: "null" });
      try {
        // Written until one arrives: the plug joins the port in its own time.
        await waitFor(async () => {
          await writeTo(second, framed(testFrame(2)));
          return await inFile() >= 2;
        }, { timeoutMs: 30_000, what: "the second client's frame" });
      } finally {
        await reap(second);
      }
      capture.kill("SIGINT");
      await capture.status;
      const r = await run(
        [
          "tshark",
          "-r",
          file,
          "-T",
          "fields",
          "-e",
          "frame.interface_name",
          "-e",
          "frame.interface_description",
        ],
        { timeoutMs: 30_000 },
      );
      const rows = r.stdout.trim().split("\n").map((l) => l.split("\t"));
      const name = `${await Deno.realPath(`${tmp}/sw`)} port 1`;
      assert.equal(rows[0]![0], name);
      assert.ok(rows.every((row) => row[0] === name), r.stdout);
      assert.match(rows[0]![1]!, new RegExp(`pid=${first.pid}\\b`));
      assert.match(rows.at(-1)![1]!, new RegExp(`pid=${second.pid}\\b`));
    } finally {
      await reap(capture);
    }
  });
});

Deno.test("a --port capture of a port nothing is plugged into describes its interface as such (capinfos), never blank", async (t) => {
  if (skipUnless(t, (await hasCommand("capinfos")) ? null : "capinfos missing (Debian wireshark-common)")) {
    return;
  }
  await withPluggedSwitch("noclient", async (tmp) => {
    const file = `${tmp}/port5.pcapng`;
    const capture = await capturePort(tmp, 5, file);
    try {
      capture.kill("SIGINT");
      await capture.status;
      const r = await run(["capinfos", file], { timeoutMs: 30_000 });
      assert.match(r.stdout, /Number of interfaces in file: 1\n/, r.stdout);
      assert.match(r.stdout, /Name = \S+ port 5\n\s+Description = port 5, no client\n/, r.stdout);
    } finally {
      await reap(capture);
    }
  });
});

Deno.test("a capture whose reader stalled to the end says, at Ctrl-C, the frames the switch dropped for it (tshark reads the rest)", async (t) => {
  if (skipUnless(t, (await hasCommand("tshark")) ? null : "tshark missing (Debian tshark)")) return;
  await withPluggedSwitch("stalled", async (tmp, _sw, plug, mgmt) => {
    // stdout not read until the end: a reader that stalled (`-w - | (sleep 60; tshark -r -)`).
    const capture = new Deno.Command(ourCli()[0]!, {
      args: [...ourCli().slice(1), "capture", `${tmp}/sw`, "--port", "1", "-w", "-"],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const said = new Response(capture.stderr).text();
    const reader = capture.stdout.getReader();
    try {
      // Port 1 is announced at once: once its interface comes, the switch captures.
      const first = await within("the capture's first bytes", 30_000, reader.read());
      const chunks: Uint8Array[] = [first.value!];
      // 12 MB into the switch: past its 4 MiB queue for this capture, ours and the pipe's. Counted where the
      // switch took them in, not where we wrote them: a loaded switch reads its port late, and the plug drops
      // what its queue for the switch cannot hold (it did: 0 dropped by the switch at load 25). Bounded at 60 MB.
      let sent = 0;
      const bytesIn = async () =>
        parsePortListing((await mgmt.command("port/print 1")).lines ?? [])[0]?.bytesIn;
      while ((await bytesIn() ?? 0) < 12_000_000 && sent < 40_000) {
        for (const end = sent + 1000; sent < end; sent++) await writeTo(plug, framed(testFrame(sent, 1500)));
      }
      await new Promise((r) => setTimeout(r, 3000));
      capture.kill("SIGINT");
      for (let r = await reader.read(); !r.done; r = await reader.read()) chunks.push(r.value);
      assert.equal((await capture.status).code, 0);
      const m = /(\d+) frames captured, (\d+) dropped by the switch/.exec(await said);
      assert.ok(m !== null, await said);
      const [captured, dropped] = [Number(m[1]), Number(m[2])];
      assert.ok(dropped > 0 && captured + dropped <= sent, await said);
      // What was captured is a whole file: tshark reads every frame of it.
      await Deno.writeFile(`${tmp}/stalled.pcapng`, concatBytes(chunks));
      const r = await run(["tshark", "-r", `${tmp}/stalled.pcapng`, "-T", "fields", "-e", "frame.number"], {
        timeoutMs: 60_000,
      });
      assert.equal(r.stdout.trim().split("\n").length, captured);
    } finally {
      reader.releaseLock();
      await reap(capture);
    }
  });
});

Deno.test("vde capture -c 1 says '1 frame captured', in the singular", async () => {
  const tmp = await Deno.makeTempDir({ prefix: `vde-capture-one-${Deno.pid}-` });
  const sw = await startOurSwitch(`${tmp}/sw`);
  const plug = spawnVde(["plug", `${tmp}/sw`], { stdout: "null" });
  try {
    const capture = new Deno.Command(ourCli()[0]!, {
      args: [...ourCli().slice(1), "capture", `${tmp}/sw`, "-c", "1", "-w", `${tmp}/one.pcapng`],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    await waitFor(async () => ((await Deno.stat(`${tmp}/one.pcapng`).catch(() => null))?.size ?? 0) > 0, {
      timeoutMs: 30_000,
      what: "the capture file's header",
    });
    await writeTo(plug, framed(testFrame(1)));
    const { code, stderr } = await within("vde capture -c 1 to exit", 30_000, capture.output());
    assert.equal(code, 0);
    assert.match(new TextDecoder().decode(stderr), /^1 frame captured, 0 dropped by the switch/m);
  } finally {
    await reap(plug);
    await sw.stop();
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("a refused vde capture (a port out of range) leaves the file it names as it was, and makes none", async () => {
  const tmp = await Deno.makeTempDir({ prefix: `vde-capture-refused-${Deno.pid}-` });
  const sw = await startOurSwitch(`${tmp}/sw`);
  try {
    await Deno.writeTextFile(`${tmp}/old.pcapng`, "yesterday's capture");
    for (const file of ["old.pcapng", "new.pcapng"]) {
      const r = await run([...ourCli(), "capture", `${tmp}/sw`, "--port", "99", "-w", `${tmp}/${file}`], {
        check: false,
        timeoutMs: 30_000,
      });
      assert.equal(r.code, 1);
      assert.match(r.stderr, /^vde: port 99 is out of range \(0-\d+\)\n$/);
    }
    assert.equal(await Deno.readTextFile(`${tmp}/old.pcapng`), "yesterday's capture");
    assert.equal(await Deno.stat(`${tmp}/new.pcapng`).catch(() => null), null);
  } finally {
    await sw.stop();
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("vde capture -w into a directory that does not exist says which to make, in one line", async () => {
  const tmp = await Deno.makeTempDir({ prefix: `vde-capture-nodir-${Deno.pid}-` });
  const sw = await startOurSwitch(`${tmp}/sw`);
  try {
    const r = await run([...ourCli(), "capture", `${tmp}/sw`, "-w", `${tmp}/no/x.pcapng`], {
      check: false,
      timeoutMs: 30_000,
    });
    assert.equal(r.code, 1);
    assert.equal(
      r.stderr,
      `vde: cannot write ${tmp}/no/x.pcapng: its directory ${tmp}/no does not exist (mkdir -p ${tmp}/no first, ` +
        "or give another -w)\n",
    );
  } finally {
    await sw.stop();
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("vde capture -w onto a full disk says it cannot write, why and what to do, and exits 1, not 0 in silence", async () => {
  const tmp = await Deno.makeTempDir({ prefix: `vde-capture-full-${Deno.pid}-` });
  const sw = await startOurSwitch(`${tmp}/sw`);
  try {
    // /dev/full answers every write with ENOSPC, as a full filesystem does.
    const r = await run([...ourCli(), "capture", `${tmp}/sw`, "-w", "/dev/full"], {
      check: false,
      timeoutMs: 30_000,
    });
    assert.equal(r.code, 1, r.stderr);
    assert.equal(
      r.stderr,
      "vde: cannot write /dev/full: No space left on device (os error 28): the filesystem is full: " +
        "free some space there, or write elsewhere; the capture stopped there, the file holding what was written " +
        "before (ring files keep a capture's disk use bounded: -w - | tshark -q -i - -b filesize:100000 -b " +
        "files:10 -w ring.pcapng)\n",
    );
  } finally {
    await sw.stop();
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("vde switch --pcap onto a full disk says once that its capture stopped, and the switch forwards on", async () => {
  assert.equal(hasRoot(), null, "a filesystem of its own to fill needs root (a tmpfs in a mount namespace)");
  const tmp = await Deno.makeTempDir({ prefix: `vde-capture-pcap-full-${Deno.pid}-` });
  await Deno.mkdir(`${tmp}/full`);
  const sw = await startOurSwitch(`${tmp}/sw`, {
    // A full disk at full/ in the switch's own mount namespace; its sockets are outside it.
    prefix: onFullDisk(`${tmp}/full`),
    extraArgs: ["--pcap", `${tmp}/full/all.pcapng`],
  });
  const plug = spawnVde(["plug", `${tmp}/sw`], { stdout: "null" });
  try {
    for (let i = 1; i <= 200; i++) await writeTo(plug, framed(testFrame(i, 1000)));
    const said = () => sw.stderr().split("\n").filter((l) => l.includes("--pcap"));
    await waitFor(() => said().length > 0, {
      timeoutMs: 10_000,
      what: "the switch to say its capture stopped",
    });
    // The switch forwards on: it took every frame of the plug's.
    const mgmt = await MgmtClient.connect(`${tmp}/sw/mgmt`);
    try {
      await waitFor(async () => {
        const lines = (await mgmt.command("port/print")).lines ?? [];
        return lines.some((l) => /IN:\s+pkts\s+200\b/.test(l));
      }, { timeoutMs: 20_000, what: "the plug's 200 frames counted in" });
    } finally {
      mgmt.close();
    }
    assert.deepEqual(said(), [
      `vde switch: --pcap ${tmp}/full/all.pcapng: cannot write: No space left on device (os error 28): the ` +
      "filesystem is full: free some space there, or write elsewhere; the capture stopped there, the file " +
      "holding what was written before; the switch forwards on",
    ]);
    assert.equal(sw.process.exitStatus, null, sw.stderr());
  } finally {
    await reap(plug);
    await sw.stop();
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("vde capture -w a named pipe (wireshark -k -i PIPE) writes into it: only a regular file is emptied first", async () => {
  const tmp = await Deno.makeTempDir({ prefix: `vde-capture-fifo-${Deno.pid}-` });
  const sw = await startOurSwitch(`${tmp}/sw`);
  try {
    await run(["mkfifo", `${tmp}/pipe`]);
    // The reader, as wireshark would be: the capture's open of the pipe waits for it.
    const reader = new Deno.Command("cat", { args: [`${tmp}/pipe`], stdout: "piped", stderr: "null" })
      .spawn();
    const capture = new Deno.Command(ourCli()[0]!, {
      args: [...ourCli().slice(1), "capture", `${tmp}/sw`, "-w", `${tmp}/pipe`],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    // The switch has taken the request once the pcapng header comes through the pipe.
    const chunks = reader.stdout.getReader();
    const first = await within("the pcapng header through the pipe", 30_000, chunks.read());
    assert.deepEqual([...first.value!.subarray(0, 4)], [0x0a, 0x0d, 0x0d, 0x0a], "a pcapng section header");
    capture.kill("SIGINT");
    const { code, stderr } = await within("vde capture to stop", 30_000, capture.output());
    const said = new TextDecoder().decode(stderr);
    // Was "vde: Invalid argument (os error 22)" as the switch's acceptance came: ftruncate of a pipe.
    assert.equal(code, 0, said);
    assert.match(said, /0 frames captured, 0 dropped by the switch/);
    while (!(await chunks.read()).done) { /* the rest of the file, to the capture's close */ }
    assert.equal((await reader.status).code, 0);
  } finally {
    await sw.stop();
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("vde capture --vlan of a VLAN not created yet says so at once, and captures on", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "vde-capture-vlan-" });
  const sw = await startOurSwitch(`${tmp}/sw`);
  try {
    const capture = new Deno.Command(ourCli()[0]!, {
      args: [...ourCli().slice(1), "capture", `${tmp}/sw`, "--vlan", "20", "-w", `${tmp}/v20.pcapng`],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const said: string[] = [];
    const reading = (async () => {
      for await (const text of capture.stderr.pipeThrough(new TextDecoderStream())) said.push(text);
    })();
    await waitFor(async () => ((await Deno.stat(`${tmp}/v20.pcapng`).catch(() => null))?.size ?? 0) > 0, {
      timeoutMs: 30_000,
      what: "the capture file's header",
    });
    // The notice follows the record that starts the file, maybe in a later read: Ctrl-C only once it is out.
    await waitFor(() => said.join("").includes("\n"), { timeoutMs: 30_000, what: "the notice" });
    capture.kill("SIGINT");
    const { code } = await capture.status;
    await reading;
    assert.equal(code, 0, "a notice, not a refusal");
    assert.match(
      said.join(""),
      new RegExp(
        `^vde: ${tmp}/sw: VLAN 20 does not exist yet on this switch; ` +
          `capturing its frames once it does \\(vlan/create 20\\)\n0 frames captured`,
      ),
    );
  } finally {
    await sw.stop();
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("vde capture -w - into tshark -i - -b (ring files): each file is pcapng with the switch's port, no frame lost", async (t) => {
  if (skipUnless(t, (await hasCommand("tshark")) ? null : "tshark missing (Debian tshark)")) return;
  await withPluggedSwitch("ring", async (tmp, _sw, plug) => {
    const N = 60;
    // As README writes it; -c N ends the capture, whose end of file ends tshark.
    const ring = new Deno.Command("sh", {
      args: [
        "-c",
        `"$@" -w - | tshark -q -i - -b filesize:1 -w ${tmp}/ring.pcapng`,
        "sh",
        ...ourCli(),
        "capture",
        `${tmp}/sw`,
        "--port",
        "1",
        "-c",
        String(N),
      ],
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const stderr = new Response(ring.stderr).text();
    // The port's interface comes first (--port), so tshark starts at once; frames sent after it are all kept.
    await waitFor(
      async () => (await Array.fromAsync(Deno.readDir(tmp))).some((e) => e.name.startsWith("ring")),
      {
        timeoutMs: 30_000,
        what: "tshark's first ring file",
      },
    );
    for (let i = 0; i < N; i++) await writeTo(plug, framed(testFrame(i, 200)));
    const status = await within("the capture and tshark to end", 60_000, ring.status);
    assert.equal(status.code, 0, await stderr);
    const files = (await Array.fromAsync(Deno.readDir(tmp))).map((e) => e.name).filter((n) =>
      n.startsWith("ring")
    )
      .sort();
    assert.ok(files.length >= 3, `several 1 kB files: ${files.join(" ")}`);
    let total = 0;
    for (const f of files) {
      const r = await run(["tshark", "-r", `${tmp}/${f}`, "-T", "fields", "-e", "frame.interface_name"], {
        check: false,
      });
      assert.equal(r.code, 0, `${f}: ${r.stderr}`);
      const names = r.stdout.split("\n").filter((l) => l !== "");
      // The newest file may hold no frame yet (tshark opens it as the last one fills).
      const port1 = `${await Deno.realPath(`${tmp}/sw`)} port 1`;
      assert.ok(names.every((n) => n === port1), `${f}: ${names.join(",")}`);
      total += names.length;
    }
    assert.equal(total, N);
  });
});

Deno.test("vde switch --pcap names each port's interface as vde capture does, by the switch's whole path however --sock was written", async (t) => {
  if (skipUnless(t, (await hasCommand("tshark")) ? null : "tshark missing (Debian tshark)")) return;
  const tmp = await Deno.realPath(await Deno.makeTempDir({ prefix: `vde-capture-pcap-name-${Deno.pid}-` }));
  // `/./`: a path to the switch that is not its real path, as `--sock ./sw` or a symlink would be.
  const sw = await startOurSwitch(`${tmp}/./sw`, { extraArgs: ["--pcap", `${tmp}/all.pcapng`] });
  const plug = spawnVde(["plug", `${tmp}/sw`], { stdout: "null" });
  try {
    await writeTo(plug, framed(testFrame(1)));
    await waitFor(
      async () => pcapngPackets(await Deno.readFile(`${tmp}/all.pcapng`).catch(() => new Uint8Array())) >= 1,
      {
        timeoutMs: 30_000,
        what: "the frame in the switch's --pcap file",
      },
    );
    const names = await run([
      "tshark",
      "-r",
      `${tmp}/all.pcapng`,
      "-T",
      "fields",
      "-e",
      "frame.interface_name",
    ], {
      timeoutMs: 30_000,
    });
    assert.equal(names.stdout, `${tmp}/sw port 1\n`);
  } finally {
    await reap(plug);
    await sw.stop();
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("tshark's display filter -Y is answered as the reader's, with its filter carried over, and --filter named", () => {
  const said = (text: string, argv: string[]) => captureOptionHint(argv)(`vde: unknown option '${text}'\n`);
  assert.equal(
    said("-Y", ["capture", "/tmp/net", "-Y", "ip.addr==10.0.0.1"]),
    "vde: unknown option '-Y' (tshark's display filter is the reader's: vde capture /tmp/net -w - | " +
      "tshark -r - -Y 'ip.addr==10.0.0.1'; --filter takes a capture filter, in tcpdump's words: --filter icmp)\n",
  );
  assert.match(said("--display-filter=icmp", ["capture", "demo/sw1", "--display-filter=icmp"]), /-Y 'icmp'/);
  // A filter's own quote stays inside the one shell word.
  assert.match(
    said("-Y", ["capture", "demo/sw1", "-Y", "http.host == 'x'"]),
    /tshark -r - -Y 'http\.host == '\\''x'\\'''; /,
  );
});
