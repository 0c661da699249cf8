import assert from "node:assert/strict";
import { GroupSignalWitness, witnessed } from "../../src/os/group_witness.ts";
import { type ManagedProcess, run, spawnManaged } from "../helpers/processes.ts";

const RIG = new URL("./_witness_rig.ts", import.meta.url).pathname;
const NONE = "0000000000000000";
const ALL_BLOCKED = "fffffffe7ffbfeff";
const status = (o: { state?: string; pending?: string; shared?: string; blocked?: string } = {}) =>
  `Name:\tcat\nState:\t${o.state ?? "S (sleeping)"}\nSigPnd:\t${o.pending ?? NONE}\nShdPnd:\t${
    o.shared ?? NONE
  }\nSigBlk:\t${o.blocked ?? ALL_BLOCKED}\nSigIgn:\t${NONE}\n`;

Deno.test("a witness says a signal was the group's when it is pending there, not when it blocks it and none is, and cannot tell when gone, dying or not blocking it", () => {
  assert.equal(witnessed(status(), "SIGINT"), false, "blocked, not pending: sent to us alone");
  assert.equal(witnessed(status({ shared: "0000000000000002" }), "SIGINT"), true);
  assert.equal(witnessed(status({ shared: "0000000000000002" }), "SIGQUIT"), false, "an INT is no QUIT");
  assert.equal(witnessed(status({ shared: "0000000000000004" }), "SIGQUIT"), true);
  assert.equal(witnessed(status({ pending: "0000000000000002" }), "SIGINT"), true, "on the thread");
  assert.equal(
    witnessed(status({ shared: "0000000000004001", pending: "0000000000000100" }), "SIGINT"),
    false,
    "a group's HUP and TERM, a KILL on its way: no INT",
  );
  assert.equal(witnessed(null, "SIGINT"), undefined, "gone");
  assert.equal(witnessed(status({ state: "Z (zombie)" }), "SIGINT"), undefined, "dead of something else");
  assert.equal(
    witnessed(status({ state: "Z (zombie)", shared: "0000000000000002" }), "SIGINT"),
    true,
    "killed by a group's INT before it blocked it",
  );
  assert.equal(witnessed(status({ blocked: NONE }), "SIGINT"), undefined, "not (yet) blocking it");
});

/** The pid of this process's child `sleep` (the witness of the test below), once it runs. */
async function sleeper(): Promise<number> {
  for (const deadline = Date.now() + 10_000; Date.now() < deadline;) {
    const pid = (await run(["pgrep", "-P", String(Deno.pid), "-x", "sleep"], { check: false })).stdout.trim();
    if (/^\d+$/.test(pid)) return Number(pid);
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error("no witness sleep");
}

Deno.test("a witness that a group's INT struck before it blocked it (the next one, in the moment before env) is told by what it died of, reaped or not; one that died of another signal, or is alive and blocks nothing, cannot tell", async () => {
  // A witness that blocks nothing (sleep) is one caught before env blocks: INT ends it.
  const witness = new GroupSignalWitness(["sleep", "30"]).start();
  try {
    const struck = async (signal: string) => {
      const pid = await sleeper();
      await run(["kill", `-${signal}`, String(pid)]);
      // Dead (a zombie, or already reaped by Deno before JavaScript is told): /proc has no INT pending.
      while (/^State:\s*[SR]/m.test(await Deno.readTextFile(`/proc/${pid}/status`).catch(() => ""))) {
        await new Promise((r) => setTimeout(r, 10));
      }
    };
    await struck("INT");
    assert.equal(await witness.sentToGroup("SIGINT"), true, "died of INT");
    await struck("INT");
    assert.equal(await witness.sentToGroup("SIGQUIT"), undefined, "an INT is no QUIT");
    await struck("TERM");
    assert.equal(await witness.sentToGroup("SIGINT"), undefined, "a group's TERM");
    await sleeper();
    assert.equal(await witness.sentToGroup("SIGINT"), undefined, "alive, blocking nothing");
  } finally {
    await witness.close();
  }
});

/** Runs the witness rig as its group's leader under `sh -c PREFIX exec setsid ...`; resolves once it listens. */
async function rigged(prefix = ""): Promise<ManagedProcess> {
  const rig = spawnManaged(["sh", "-c", `${prefix}exec setsid "$0" run -A "$1"`, Deno.execPath(), RIG], {
    name: "witness rig",
    stdin: "piped",
  });
  await rig.waitForOutput(/^ready$/m, 20_000);
  return rig;
}

/** Waits until the rig's witness (a `cat`, replaced after each group signal) blocks INT and QUIT. */
async function witnessUp(rig: ManagedProcess): Promise<number> {
  for (const deadline = Date.now() + 10_000; Date.now() < deadline;) {
    const pids = (await run(["pgrep", "-n", "-P", String(rig.pid), "-x", "cat"], { check: false })).stdout
      .split(
        "\n",
      );
    for (const pid of pids.filter((p) => p !== "")) {
      const status = await Deno.readTextFile(`/proc/${pid}/status`).catch(() => "");
      if (!/^State:\s*Z/m.test(status) && witnessed(status, "SIGINT") === false) return Number(pid);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`no witness up under the rig\n${rig.stdout}`);
}

/** Sends each signal (`-INT` to the rig alone, `-INT -` to its group, ...) and checks the line it prints. */
async function answers(
  rig: ManagedProcess,
  steps: [string, string][],
  before: ManagedProcess["stdout"] = "",
) {
  const skip = before.split("\n").filter((l) => /^SIG/.test(l)).length;
  for (const [i, [signal, said]] of steps.entries()) {
    const [name, group] = signal.split(" ");
    await witnessUp(rig);
    await run(["kill", name!, "--", group === "-" ? `-${rig.pid}` : String(rig.pid)]);
    await rig.waitForOutput(new RegExp(`(?:^SIG\\w+(?: \\w+)?\\n){${skip + i + 1}}`, "m"), 10_000);
    assert.equal(rig.stdout.trim().split("\n").at(-1), said, `${signal}: ${rig.stdout}`);
  }
}

async function closed(rig: ManagedProcess): Promise<void> {
  await rig.closeStdin();
  await rig.waitForOutput(/^closed$/m, 10_000);
}

Deno.test("a witness tells an INT or QUIT sent to the process alone from one sent to its whole group, again after each", async () => {
  const rig = await rigged();
  try {
    await answers(rig, [
      ["-INT", "SIGINT alone"],
      ["-INT -", "SIGINT group"],
      ["-QUIT -", "SIGQUIT group"],
      ["-QUIT", "SIGQUIT alone"],
      ["-INT", "SIGINT alone"],
    ]);
    await closed(rig);
  } finally {
    await rig.stop();
  }
});

Deno.test("a witness tells the group's INT and QUIT where they came ignored (a script's background job, trap '' INT QUIT)", async () => {
  const rig = await rigged("trap '' INT QUIT; ");
  try {
    await answers(rig, [["-INT -", "SIGINT group"], ["-INT", "SIGINT alone"], ["-QUIT -", "SIGQUIT group"]]);
    await closed(rig);
  } finally {
    await rig.stop();
  }
});

Deno.test("a witness that a group's HUP reached, or that was killed, is not taken for one a group's INT struck", async () => {
  const rig = await rigged();
  try {
    await answers(rig, [["-HUP -", "SIGHUP"], ["-INT", "SIGINT alone"]]);
    const cat = await witnessUp(rig);
    await run(["kill", "-KILL", String(cat)]);
    while (
      (await Deno.readTextFile(`/proc/${cat}/status`).catch(() => "State: gone")).match(/^State:\s*[SR]/m)
    ) {
      await new Promise((r) => setTimeout(r, 20));
    }
    // The dead witness cannot tell (the foreground check answers); the next one, started then, can.
    await run(["kill", "-INT", String(rig.pid)]);
    await rig.waitForOutput(/^SIGINT unknown$/m, 10_000);
    await answers(rig, [["-INT", "SIGINT alone"]], rig.stdout);
    await closed(rig);
  } finally {
    await rig.stop();
  }
});
