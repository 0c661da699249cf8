/**
 * What `vde up` says while it builds a lab: a host's `exec` commands are
 * often there to be read (`exec: ["ip -br addr"]`), so each is logged with
 * what it printed. A switch node's settings reach the running switch.
 */
import assert from "node:assert/strict";
import { run, skipUnlessRoot, waitFor } from "../helpers/processes.ts";
import { labDir, labsBaseDir } from "../../src/lab/names.ts";
import { existsSync } from "node:fs";
import { Switch } from "../../src/switch/switch.ts";
import { LabRunner } from "../../src/lab/runner.ts";
import { validateLab } from "../../src/lab/validate.ts";
import { Errno } from "../../src/console/reply_format.ts";
import { buildFrame } from "../../src/wire/ethernet.ts";
import { DYING_WORDS } from "../dataplane/_dying_words.ts";
import { ourCli } from "../helpers/vde_clients.ts";
import {
  hostWithExec,
  inHost,
  leftovers,
  ONE_SWITCH,
  TWO_HOSTS,
  uniqueLab,
  vde,
  withLabInProcess,
  withLabUp,
} from "./_helpers.ts";

const EXEC_LAB = hostWithExec("10.9.1.1/24", ["echo first line; echo second line", "true"]);

Deno.test("vde up logs each exec command of a host with the lines it printed", async (t) => {
  if (skipUnlessRoot(t)) return;
  await withLabUp({ text: EXEC_LAB }, async (name) => {
    const log = await Deno.readTextFile(`${labsBaseDir()}/${name}.log`);
    const lines = log.split("\n").map((l) => l.replace(/^\S+ vde up: /, "")).filter((l) =>
      l.startsWith("h1")
    );
    assert.deepEqual(lines, [
      "h1$ echo first line; echo second line",
      "h1  first line",
      "h1  second line",
      "h1$ true",
    ]);
  });
});

const SNOOPING_LAB = `name: x
topology:
  nodes:
    sw1: { kind: switch, ports: 4, mcast_snooping: true, mcast_querier: true, mcast_query_interval: 500 }
    sw2: { kind: switch, ports: 4 }
  links: []
`;

Deno.test("a lab switch with mcast_snooping, mcast_querier and a knob snoops with it and sends queries from start-up; one without floods", async () => {
  await withLabUp({ text: SNOOPING_LAB }, async (name) => {
    const r = await vde(["term", name, "-c", "sw1 mcast/print"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^snooping on, our querier on,/);
    assert.match(r.stdout, / mcast_query_interval 500 /, "the file's knob, in force from start-up");
    // The querier's first query leaves on the switch's next timer tick.
    await waitFor(
      async () =>
        /^igmp queries seen 0 sent [1-9]/m.test(
          (await vde(["term", name, "-c", "sw1 mcast/print"])).stdout,
        ) ||
        undefined,
      { timeoutMs: 30_000, what: "the querier's start-up query" },
    );
    const off = await vde(["term", name, "-c", "sw2 mcast/querier 1"]);
    assert.equal(off.code, 1, "snooping is off unless the file asks for it");
  });
});

Deno.test("a lab host keeps its MAC address when the lab is taken down and brought up again, so peers' ARP caches stay right", async (t) => {
  if (skipUnlessRoot(t)) return;
  const macOf = async (name: string, node: string) =>
    (await inHost(name, node, ["ip", "-br", "link", "show", "eth0"])).stdout.trim().split(/\s+/)[2];
  await withLabUp({ text: TWO_HOSTS }, async (name, file) => {
    const before = await macOf(name, "h1");
    assert.match(before ?? "", /^02:/);
    assert.notEqual(await macOf(name, "h2"), before, "each host its own");
    assert.equal((await vde(["down", name])).code, 0);
    const up = await vde(["up", "-d", file]);
    assert.equal(up.code, 0, up.stderr);
    assert.equal(await macOf(name, "h1"), before);
  });
});

const TRIANGLE = `name: x
topology:
  nodes:
    sw1: { kind: switch, ports: 4, stp: true }
    sw2: { kind: switch, ports: 4, stp: true }
    sw3: { kind: switch, ports: 4, stp: true, priority: 4096 }
  links:
    - endpoints: [sw1, sw2]
    - endpoints: [sw2, sw3]
    - endpoints: [sw3, sw1]
`;

Deno.test("a lab's switch with the lowest priority becomes the spanning tree's root, whatever the MACs say", async () => {
  await withLabInProcess(TRIANGLE, async (_r, line) => {
    const root = (sw: string) => line(`${sw} stp`).then((s) => /designated root +(\S+)/.exec(s)?.[1]);
    const sw3 = await root("sw3");
    assert.match(sw3 ?? "", /^1000\./, "sw3's own bridge id carries its priority");
    for (const sw of ["sw1", "sw2"]) {
      await waitFor(async () => (await root(sw)) === sw3 || undefined, {
        timeoutMs: 30_000,
        what: `${sw} to take sw3 as root`,
      });
    }
  });
});

Deno.test("a lab host's port on a spanning-tree switch is an edge port that forwards at once: a ping right after vde up -d is answered", async (t) => {
  if (skipUnlessRoot(t)) return;
  const lab = `name: x
topology:
  nodes:
    sw1: { kind: switch, ports: 4, stp: true }
    sw2: { kind: switch, ports: 4, stp: true }
    h1: { kind: host, address: 10.9.4.1/24 }
    h2: { kind: host, address: 10.9.4.2/24 }
  links:
    - endpoints: [h1, "sw1:1"]
    - endpoints: ["sw1:2", "sw2:2"]
    - endpoints: [h2, "sw1:3"]
`;
  await withLabUp({ text: lab }, async (name) => {
    // Before the 3 s of silence that made a port an edge port.
    const sw1 = (await vde(["term", name, "-c", "sw1 stp"])).stdout;
    assert.match(sw1, /^ +1 .* forwarding .* yes \(set\) /m);
    assert.match(sw1, /^ +2 .* no +yes /m, "a switch's link is no edge");
    const ping = await inHost(name, "h1", ["ping", "-c", "1", "-W", "2", "10.9.4.2"]);
    assert.equal(ping.code, 0, ping.stdout);
  });
});

Deno.test("a lab host of two links, which may bridge them, has no edge ports: a Linux bridge joining them is cut by spanning tree before any storm", async (t) => {
  if (skipUnlessRoot(t)) return;
  const bridge = ["ip link add br0 type bridge stp_state 0", "ip link set eth0 master br0"]
    .concat(["ip link set eth1 master br0", "ip link set br0 up"]);
  const lab = `name: x
topology:
  nodes:
    sw1: { kind: switch, ports: 4, stp: true }
    h1: { kind: host, address: 10.9.5.1/24 }
    hb: { kind: host, exec: ${JSON.stringify(bridge)} }
  links:
    - endpoints: [h1, "sw1:1"]
    - endpoints: ["hb:eth0", "sw1:2"]
    - endpoints: ["hb:eth1", "sw1:3"]
`;
  await withLabUp({ text: lab }, async (name) => {
    const stp = async () => (await vde(["term", name, "-c", "sw1 stp"])).stdout;
    const first = await stp();
    assert.match(first, /^ +1 .* yes \(set\) /m, "a host of one link is an edge port");
    assert.match(first, /^ +2 .* no +yes /m, "the bridging host's first port had its edge taken back");
    assert.match(first, /^ +3 .* no +yes /m);
    // A broadcast into the loop: it circles only until a BPDU crosses the bridge and port 3 backs port 2 up.
    await inHost(name, "h1", ["ping", "-c", "1", "-W", "1", "-b", "10.9.5.255"]);
    await waitFor(async () => /^ +3 +\S+ +backup +discarding /m.test(await stp()), {
      timeoutMs: 10_000,
      what: "port 3 a backup port",
    });
    const status = (await vde(["status", name])).stdout;
    const toH1 = Number(/^h1:eth0-sw1:1 +\S+ +\d+ +(\d+)/m.exec(status)?.[1]);
    // An edge port on each forwarded the circling broadcast tens of thousands of times to h1.
    assert.ok(toH1 < 200, `h1 was sent ${toH1} frames:\n${status}`);
  });
});

Deno.test("a loop made later through two one-link hosts' edge ports storms only until the first BPDU crosses it, as on a Linux bridge", async (t) => {
  if (skipUnlessRoot(t)) return;
  const lab = `name: x
topology:
  nodes:
    sw1: { kind: switch, ports: 4, stp: true }
    h1: { kind: host, address: 10.9.7.1/24 }
    ha: { kind: host }
    hb: { kind: host }
  links:
    - endpoints: [h1, "sw1:1"]
    - endpoints: [ha, "sw1:2"]
    - endpoints: [hb, "sw1:3"]
`;
  await withLabUp({ text: lab }, async (name) => {
    const stp = async () => (await vde(["term", name, "-c", "sw1 stp"])).stdout;
    const first = await stp();
    for (const port of [1, 2, 3]) {
      assert.match(first, new RegExp(`^ +${port} .* yes \\(set\\) `, "m"), `port ${port}`);
    }
    // A cable between the two hosts, each bridging it with its link (no spanning tree in their bridges):
    // edge ports 2 and 3 close a loop, which nothing cuts until a BPDU of one crosses to the other (an
    // edge port that hears one is no edge port any more, 802.1D-2004 17.23), at the next hello at most.
    const ok = async (r: Promise<{ code: number; stderr: string }>) => {
      const done = await r;
      assert.equal(done.code, 0, done.stderr);
    };
    const ends = [
      "lpA",
      "netns",
      `vde-${name}-ha`,
      "type",
      "veth",
      "peer",
      "name",
      "lpB",
      "netns",
      `vde-${name}-hb`,
    ];
    await ok(run(["ip", "link", "add", ...ends], { check: false }));
    // The loop is cut at the first hello after it closes, and the hello timer runs on its own clock: how
    // long the bridges, tcpdump and ping take to start decides whether the ping still finds the loop open.
    // On a busy machine a hello often came first, and the broadcast crossed once. So each cable end holds
    // BPDUs back (an 802.2 frame to an htb class whose pfifo holds nothing: this kernel has no tc actions)
    // until the storm has begun; the first BPDU that crosses then must end it.
    const holdBpdus = (host: string, end: string) =>
      [
        `tc qdisc add dev ${end} root handle 1: htb default 1`,
        `tc class add dev ${end} parent 1: classid 1:1 htb rate 10gbit quantum 60000`,
        `tc class add dev ${end} parent 1: classid 1:2 htb rate 10gbit quantum 60000`,
        `tc qdisc add dev ${end} parent 1:2 handle 20: pfifo limit 0`,
        `tc filter add dev ${end} parent 1: protocol 802_2 u32 match u32 0 0 flowid 1:2`,
      ].reduce((done, cmd) => done.then(() => ok(inHost(name, host, cmd.split(" ")))), Promise.resolve());
    await holdBpdus("ha", "lpA");
    await holdBpdus("hb", "lpB");
    for (const [host, end] of [["ha", "lpA"], ["hb", "lpB"]] as const) {
      const bridge = ["ip link add br0 type bridge stp_state 0", "ip link set eth0 master br0"]
        .concat([`ip link set ${end} master br0`, `ip link set ${end} up`, "ip link set br0 up"]);
      for (const cmd of bridge) await ok(inHost(name, host, cmd.split(" ")));
    }
    // Each bridge forwards once the kernel has seen its ports' carrier (link watch: up to a second).
    for (const host of ["ha", "hb"]) {
      await waitFor(
        async () =>
          ((await inHost(name, host, ["bridge", "link", "show"])).stdout.match(/state forwarding/g)
            ?.length ===
            2) || undefined,
        { timeoutMs: 10_000, what: `${host}'s bridge forwarding on both ports` },
      );
    }
    // What crosses the hosts' cable: the storm (h1's broadcast ping) and the BPDUs of ports 2 and 3.
    const pcap = await Deno.makeTempFile({ prefix: "vde-edge-storm-", suffix: ".pcap" });
    const dump = new Deno.Command("ip", {
      args: [
        "netns",
        "exec",
        `vde-${name}-ha`,
        "tcpdump",
        "-i",
        "lpA",
        "-s",
        "96",
        "-U",
        "-w",
        pcap,
        "stp or icmp",
      ],
      stdout: "null",
      stderr: "null",
    }).spawn();
    let read: Awaited<ReturnType<typeof run>>;
    let released = 0;
    try {
      try {
        await waitFor(async () => (await Deno.stat(pcap)).size > 0 || undefined, {
          timeoutMs: 10_000,
          what: "tcpdump's file header",
        });
        await inHost(name, "h1", ["ping", "-c", "1", "-W", "1", "-b", "10.9.7.255"]);
        await Promise.all(
          [["ha", "lpA"], ["hb", "lpB"]].map(([host, end]) =>
            ok(inHost(name, host!, ["tc", "qdisc", "del", "dev", end!, "root"]))
          ),
        );
        released = Date.now() / 1000;
        await waitFor(async () => /^ +[23] +\S+ +backup +discarding /m.test(await stp()) || undefined, {
          timeoutMs: 10_000,
          what: "port 2 or 3 a backup port",
        });
        // A hello time and a half, so the capture holds the storm's end and the BPDUs after it.
        await new Promise((r) => setTimeout(r, 3000));
      } finally {
        dump.kill("SIGINT");
        await dump.status;
      }
      read = await run([
        "tshark",
        "-r",
        pcap,
        "-T",
        "fields",
        "-e",
        "frame.time_epoch",
        "-e",
        "frame.protocols",
      ], {
        timeoutMs: 60_000,
      });
    } finally {
      await Deno.remove(pcap);
    }
    const rows = read.stdout.trim().split("\n").map((l) => l.split("\t"));
    const times = (proto: string) => rows.filter((r) => r[1]?.includes(proto)).map((r) => Number(r[0]));
    const storm = times("icmp");
    assert.ok(storm.length > 2, `the broadcast circled (${storm.length} frames on the cable)`);
    const firstBpdu = times("stp").find((b) => b > storm[0]!);
    assert.ok(firstBpdu !== undefined, "a BPDU crossed the cable");
    const ms = (s: number) => `${(s * 1000).toFixed(1)} ms`;
    // Said in ms from the storm's first frame on the cable.
    const said = `BPDU at ${ms(firstBpdu - storm[0]!)}, storm's last frame at ${
      ms(storm.at(-1)! - storm[0]!)
    }, BPDUs let through at ${ms(released - storm[0]!)}`;
    assert.ok(firstBpdu - released < 2.5, `the first BPDU came after a hello time: ${said}`);
    assert.ok(storm.at(-1)! - firstBpdu < 0.1, `the storm outlived the first BPDU: ${said}`);
  });
});

Deno.test("spanning tree turned on later at a lab switch's console gives its one-link host ports edge ports, as at start; a host of two links none", async (t) => {
  if (skipUnlessRoot(t)) return;
  const lab = `name: x
topology:
  nodes:
    sw1: { kind: switch, ports: 5 }
    sw2: { kind: switch, ports: 4 }
    h1: { kind: host, address: 10.9.6.1/24 }
    hb: { kind: host }
  links:
    - endpoints: [h1, "sw1:1"]
    - endpoints: ["hb:eth0", "sw1:2"]
    - endpoints: ["hb:eth1", "sw1:3"]
    - endpoints: ["sw1:4", "sw2:1"]
`;
  await withLabInProcess(lab, async (_r, line) => {
    assert.match(await line("sw1 fstp/setfstp 1"), /^0 /);
    const stp = await line("sw1 stp");
    assert.match(stp, /^ +1 .* yes \(set\) /m, "a host of one link is an edge port");
    for (const port of [2, 3, 4]) {
      assert.match(stp, new RegExp(`^ +${port} .* no +yes `, "m"), `port ${port}`);
    }
    // Off and on again: the new tree is given them again.
    assert.match(await line("sw1 fstp/setfstp 0"), /^0 /);
    assert.match(await line("sw1 fstp/setfstp 1"), /^0 /);
    assert.match(await line("sw1 stp"), /^ +1 .* yes \(set\) /m);
    // A link removed takes its port's edge with it, as where the tree ran from the start.
    assert.match(await line("del h1-sw1"), /^0 /);
    assert.doesNotMatch(await line("sw1 stp"), /^ +1 .* yes \(set\) /m);
  });
});

Deno.test("a lab is up only once its switches' threads have warmed, so a frame sent then is not held for the warm-up", async () => {
  const text =
    "name: x\ntopology:\n  nodes:\n    sw1: { kind: switch }\n    sw2: { kind: switch }\n  links: []\n";
  await withLabInProcess(text, (r) => {
    for (const [name, s] of r.switches) {
      assert.ok(s.sw.threaded, `${name} forwards on its thread`);
      assert.notEqual(s.sw.warmedMs, null, `${name}'s thread has warmed by the time up resolves`);
    }
    return Promise.resolve();
  });
});

Deno.test("a lab switch's mode below 100 is shown as three octal digits in status and status json: 060, not 60", async () => {
  const text =
    "name: x\ntopology:\n  nodes:\n    sw1: { kind: switch, mode: 060, mgmt_mode: 006 }\n  links: []\n";
  await withLabInProcess(text, async (_r, line) => {
    const table = await line("status");
    assert.match(table, /sw1 .*\(mode 060, console 006\)/);
    const json = JSON.parse((await line("status json")).replace(/^\d+ /, ""));
    const sw1 = json.nodes.find((n: { name: string }) => n.name === "sw1");
    assert.equal(sw1.mode, "060");
    assert.equal(sw1.mgmtMode, "006");
  });
});

/**
 * Makes every switch's `warmed` the promise `warmed()` gives (a thread still warming, however long the
 * test says) until the returned function puts the real one back.
 */
function holdWarmUp(warmed: () => Promise<number | null>): () => void {
  const was = Object.getOwnPropertyDescriptor(Switch.prototype, "warmed")!;
  Object.defineProperty(Switch.prototype, "warmed", { configurable: true, get: warmed });
  return () => Object.defineProperty(Switch.prototype, "warmed", was);
}

/** What `p` settled as within `ms`: "resolved", "rejected", or "pending". */
async function settledWithin<T>(p: Promise<T>, ms: number): Promise<"resolved" | "rejected" | "pending"> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<"pending">((resolve) => timer = setTimeout(() => resolve("pending"), ms));
  try {
    return await Promise.race([p.then(() => "resolved" as const, () => "rejected" as const), late]);
  } finally {
    clearTimeout(timer);
  }
}

Deno.test("bring-up's wait for its switches' threads to warm ends at once when bring-up is aborted (vde down, a signal), and what was made is taken down", async () => {
  const name = uniqueLab();
  const { lab } = validateLab(ONE_SWITCH.replace(/^name: .*$/m, `name: ${name}`), { stp: true });
  assert.ok(lab !== undefined);
  const restore = holdWarmUp(() => new Promise(() => {}));
  try {
    const interrupt = new AbortController();
    const up = LabRunner.up(lab, { file: "", baseDir: Deno.cwd(), signal: interrupt.signal });
    up.catch(() => {});
    // Its switch is made (its console listens), and bring-up waits for the thread that never warms.
    await waitFor(() => existsSync(`${labDir(name)}/sw1.mgmt`) || undefined, {
      timeoutMs: 30_000,
      what: "sw1's console",
    });
    assert.equal(await settledWithin(up, 200), "pending", "up waits for the warm-up");
    interrupt.abort();
    assert.equal(await settledWithin(up, 5_000), "rejected", "aborted, up ends without waiting it out");
    assert.deepEqual(await leftovers(name), []);
  } finally {
    restore();
  }
});

for (
  const [how, change] of [
    ["the shell's add", (line: (l: string) => Promise<string>) => line("add link h1 sw2")],
    ["apply", (line: (l: string) => Promise<string>, file: string) => line(`apply ${file}`)],
  ] as const
) {
  Deno.test(`a switch added live (${how}) has warmed before a host joined to it is configured, as at bring-up`, async (t) => {
    if (skipUnlessRoot(t)) return;
    await withLabInProcess(ONE_SWITCH, async (r, line, file) => {
      if (how === "apply") {
        await Deno.writeTextFile(
          file,
          (await Deno.readTextFile(file)).replace(
            "  links: []\n",
            "    sw2: { kind: switch }\n    h1: { kind: host, address: 10.9.7.1/24 }\n" +
              "  links:\n    - endpoints: [h1, sw2]\n",
          ),
        );
      } else {
        assert.match(await line("add switch sw2"), /^0 /);
        assert.match(await line("add host h1 address 10.9.7.1/24"), /^0 /);
      }
      const warm = Promise.withResolvers<number | null>();
      const restore = holdWarmUp(() => warm.promise);
      try {
        const changing = change(line, file);
        assert.equal(await settledWithin(changing, 500), "pending", "the host waits for sw2's warm-up");
        const addr = () => inHost(r.lab.name, "h1", ["ip", "-br", "addr", "show"]).then((o) => o.stdout);
        assert.doesNotMatch(await addr(), /10\.9\.7\.1/, "not configured before sw2 forwards");
        warm.resolve(5);
        assert.match(await changing, /^0 /);
        assert.match(await addr(), /10\.9\.7\.1/);
      } finally {
        restore();
      }
    });
  });
}

for (
  const [how, worker] of [
    ["fails to load its worker", "_failed_load_worker.ts"],
    ["cannot start its loop", "_unstarted_worker.ts"],
  ] as const
) {
  Deno.test(`a lab whose switch's data-plane thread ${how} fails to come up, naming the switch and why, leaving nothing`, async (t) => {
    if (skipUnlessRoot(t)) return;
    const name = uniqueLab();
    const { lab } = validateLab(
      `name: ${name}\ntopology:\n  nodes:\n    sw1: { kind: switch, dataplane: main }\n    sw2: { kind: switch }\n` +
        "  links:\n    - endpoints: [sw1, sw2]\n",
    );
    assert.ok(lab !== undefined);
    const switchThreadFile = new URL(`../dataplane/${worker}`, import.meta.url);
    await assert.rejects(
      LabRunner.up(lab, { file: "", baseDir: Deno.cwd(), switchThreadFile }),
      (err: Error) => {
        assert.match(err.message, /^sw2: its data-plane thread failed: .+$/);
        if (how === "cannot start its loop") {
          assert.equal(err.message, "sw2: its data-plane thread failed: its loop could not start");
        } else assert.match(err.message, /this worker fails to load/);
        return true;
      },
    );
    assert.equal(existsSync(labDir(name)), false, "its directory was taken down");
    assert.deepEqual(await leftovers(name), []);
  });
}

Deno.test("a switch whose data-plane thread dies after the lab is up is said at once in one line, shown failed by status, refused by add link and apply; the rest of the lab runs on", async () => {
  const lines: string[] = [];
  const text = `name: x
topology:
  nodes:
    sw1: { kind: switch, ports: 4 }
    sw2: { kind: switch, ports: 4, dataplane: main }
  links:
    - endpoints: [sw1, sw2]
`;
  await withLabInProcess(
    text,
    async (r, line, file) => {
      const deadUp = (f: string) =>
        `switch sw1 is dead: its data-plane thread failed (${DYING_WORDS}), so it forwards nothing; ` +
        `\`vde up -c ${f}\` takes the lab down and brings it up again`;
      const dead = deadUp(file);
      assert.equal(r.switchFailure("sw1"), null);
      // The stand-in's trigger: a mirrored set of the engine's expireSeconds.
      r.switches.get("sw1")!.sw.engine.expireSeconds = 30;
      await waitFor(() => lines.includes(dead), {
        timeoutMs: 5000,
        what: "the dead switch's line in the log",
      });
      assert.equal(lines.filter((l) => /sw1|data-plane/.test(l)).length, 1, lines.join("\n"));
      assert.match(
        await line("status"),
        /^sw1 +switch +FAILED: its data-plane thread ended \(the switch loop threw/m,
      );
      const json = JSON.parse((await line("status json")).slice(2));
      const node = (name: string) => json.nodes.find((n: { name: string }) => n.name === name);
      assert.deepEqual([node("sw1").state, node("sw1").failure, node("sw2").state], [
        "failed",
        DYING_WORDS,
        "up",
      ]);
      assert.equal(await line("add switch sw3 ports 4"), "0 added switch sw3\n");
      assert.equal(await line("add link sw3 sw1"), `${Errno.EIO} ${dead}\n`);
      // Elsewhere the lab changes as ever: no wait for, nor trip over, the dead switch.
      assert.equal(await line("add link sw3 sw2"), "0 added link sw3:1-sw2:2\n");
      assert.equal(await line("apply"), `${Errno.EIO} ${dead}; nothing was applied\n`);
      // Another file applied: it is the one to bring up, not the one the lab ran.
      const other = `${file.slice(0, file.lastIndexOf("/"))}/other.yaml`;
      await Deno.copyFile(file, other);
      assert.equal(
        await line(`apply ${other}`),
        `${Errno.EIO} ${deadUp(Deno.realPathSync(other))}; nothing was applied\n`,
      );
    },
    (m) => lines.push(m),
    {},
    new URL("../dataplane/_dying_worker.ts", import.meta.url),
  );
});

Deno.test("a lab whose switch's data-plane thread dies while its hosts are configured fails to come up, naming the switch and why, leaving nothing", async (t) => {
  if (skipUnlessRoot(t)) return;
  const name = uniqueLab();
  // The host's exec kills the stand-in thread through the switch's console (it dies on hash/setexpire),
  // once the switches were checked forwarding; the sleep lets its last word reach the lab.
  const term = `${ourCli().join(" ")} term ${labDir(name)}/sw1.mgmt -c 'hash/setexpire 10'`;
  const { lab } = validateLab(
    hostWithExec("10.9.1.1/24", [`${term} >/dev/null 2>&1; sleep 1`]).replace("name: x", `name: ${name}`),
  );
  assert.ok(lab !== undefined);
  await assert.rejects(
    LabRunner.up(lab, {
      file: "",
      baseDir: Deno.cwd(),
      switchThreadFile: new URL("../dataplane/_dying_worker.ts", import.meta.url),
    }).then(async (r) => {
      // Up with the dead switch (the bug): taken down, so the failure leaves nothing either.
      await r.down();
      return r;
    }),
    { message: `sw1: its data-plane thread failed: ${DYING_WORDS}` },
  );
  assert.equal(existsSync(labDir(name)), false, "its directory was taken down");
  assert.deepEqual(await leftovers(name), []);
});

Deno.test("a lab switch whose MAC keeps moving says so in the lab's log, naming the switch and the lab file's stp: true", async () => {
  const lines: string[] = [];
  const text = `name: x
topology:
  nodes:
    sw1: { kind: switch, ports: 4, dataplane: main }
    sw2: { kind: switch, ports: 4 }
    sw3: { kind: switch, ports: 4 }
    sw4: { kind: switch, ports: 4 }
  links:
    - endpoints: [sw1, sw2]
    - endpoints: [sw1, sw3]
    - endpoints: [sw1, sw4]
`;
  await withLabInProcess(text, (r) => {
    const sw = r.switches.get("sw1")!.sw;
    const [home, a, b] = sw.allocatedPorts().filter((p) => (sw.port(p)?.endpoints.length ?? 0) > 0);
    // A frame to its own sender is filtered on the port it came in by: nothing leaves sw1.
    const frame = buildFrame({ dst: "02:00:00:00:00:0a", src: "02:00:00:00:00:0a" });
    sw.engine.input(home!, frame);
    for (let i = 0; i < 20; i++) sw.engine.input(i % 2 === 0 ? a! : b!, frame);
    const said = lines.filter((l) => l.includes("keeps moving"));
    assert.deepEqual(said, [
      `sw1: MAC 02:00:00:00:00:0a VLAN 0 keeps moving between ports ${b} and ${a}: loop? give it stp: true in the lab file`,
    ]);
    return Promise.resolve();
  }, (m) => lines.push(m));
});
