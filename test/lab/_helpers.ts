/**
 * Rig for the lab tests: run the `vde` CLI (src/cli/vde.ts, or the bundle),
 * give each lab a name unique to this run, bring it up in the background or
 * at a terminal (tmux), and list what a lab left on the machine
 * (namespaces, interfaces, runtime directory).
 */
import assert from "node:assert/strict";
import { run, type RunResult } from "../helpers/processes.ts";
import { pingArgs, repliesIn } from "../helpers/ping_replies.ts";
import { labDir } from "../../src/lab/names.ts";
import type { Session } from "../../src/console/registry.ts";
import { labCommands } from "../../src/lab/commands.ts";
import { LabRunner } from "../../src/lab/runner.ts";
import { validateLab } from "../../src/lab/validate.ts";
import { TmuxSession } from "../console/_tmux.ts";
import { VDE_CLI } from "../helpers/switches.ts";
import { DENO_RUN } from "../../src/cli/v8_flags.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

/** The command that runs vde: the source tree, or `VDE_ENTRY` (the bundle) when set. */
export function vdeCommand(): string[] {
  const entry = Deno.env.get("VDE_ENTRY");
  return entry === undefined ? [...VDE_CLI] : [Deno.execPath(), ...DENO_RUN, entry];
}

/** Runs `vde ARGS` to completion (no throw on failure). */
export function vde(args: string[], timeoutMs = 60_000): Promise<RunResult> {
  return run([...vdeCommand(), ...args], { timeoutMs, check: false });
}

let counter = 0;

/** Runs `fn` in a new temporary directory (name starting `prefix`), removed after. */
export async function withTempDir(prefix: string, fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** A lab name unique to this process and call, short enough for tap names. */
export function uniqueLab(): string {
  return `l${Deno.pid.toString(36)}${(counter++).toString(36)}`;
}

/** Writes `text` (or an example file) with its `name:` replaced; returns the path. */
export async function labFile(name: string, source: { example?: string; text?: string }): Promise<string> {
  const text = source.text ?? await Deno.readTextFile(`${ROOT}examples/${source.example}`);
  const dir = await Deno.makeTempDir({ prefix: `${name}-` });
  const path = `${dir}/lab.yaml`;
  await Deno.writeTextFile(path, text.replace(/^name: .*$/m, `name: ${name}`));
  return path;
}

/** What lab `name` left behind: namespaces, interfaces, the runtime directory. */
export async function leftovers(name: string): Promise<string[]> {
  const out: string[] = [];
  const ns = await run(["ip", "netns", "list"], { check: false });
  out.push(
    ...ns.stdout.split("\n").filter((l) => l.startsWith(`vde-${name}-`)).map((l) =>
      `netns ${l.split(" ")[0]}`
    ),
  );
  const links = await run(["ip", "-o", "link"], { check: false });
  out.push(
    ...links.stdout.split("\n").filter((l) => l.includes(` ${name}-`)).map((l) =>
      `link ${l.split(":")[1]?.trim()}`
    ),
  );
  try {
    await Deno.stat(labDir(name));
    out.push(`dir ${labDir(name)}`);
  } catch { /* gone, as it should be */ }
  return out;
}

/** Runs `cmd` in host `node`'s namespace of lab `lab`. */
export function inHost(lab: string, node: string, cmd: string[], timeoutMs = 30_000): Promise<RunResult> {
  return run(["ip", "netns", "exec", `vde-${lab}-${node}`, ...cmd], { timeoutMs, check: false });
}

/** How many of COUNT pings from `node` to `to` (0.2 s apart) were answered, by ping_replies.ts's rule. */
export async function pingCount(lab: string, node: string, to: string, count: number): Promise<number> {
  const r = await inHost(lab, node, pingArgs(to, count));
  return repliesIn(r.stdout, count).size;
}

/** Best effort: take a lab down whatever state the test left it in. */
export async function forceDown(name: string): Promise<void> {
  await vde(["down", "--cleanup", name], 30_000);
}

/**
 * Runs `fn` with a fresh lab name and its file; afterwards the lab is taken
 * down (whatever state the test left it in) and the file removed.
 */
export async function withLabFile(
  source: { example?: string; text?: string },
  fn: (name: string, file: string) => Promise<void>,
): Promise<void> {
  const name = uniqueLab();
  const file = await labFile(name, source);
  try {
    await fn(name, file);
  } finally {
    await forceDown(name);
    await Deno.remove(file.slice(0, file.lastIndexOf("/")), { recursive: true });
  }
}

/**
 * Runs `fn` on a fresh lab brought up in the background (`vde up -d`, which
 * must succeed); afterwards it is taken down and its file removed, as in
 * withLabFile.
 */
export function withLabUp(
  source: { example?: string; text?: string },
  fn: (name: string, file: string) => Promise<void>,
): Promise<void> {
  return withLabFile(source, async (name, file) => {
    const up = await vde(["up", "-d", file]);
    assert.equal(up.code, 0, `vde up failed:\n${up.stdout}${up.stderr}`);
    await fn(name, file);
  });
}

/**
 * `vde ARGS` at a terminal (tmux), its socket and history beside lab file
 * `file` so parallel runs never share them. The caller kills the session.
 */
export function vdeAtTerminal(file: string, args: string[]): Promise<TmuxSession> {
  const dir = file.slice(0, file.lastIndexOf("/"));
  return TmuxSession.start(`${dir}/tmux.sock`, [...vdeCommand(), ...args].join(" "), {
    VDE_HISTORY: `${dir}/history`,
  });
}

/** Presses Tab twice, to list the candidates. */
export async function doubleTab(tmux: TmuxSession): Promise<void> {
  await tmux.keys("Tab");
  // Two Tabs in one read are not a double Tab: let the first one land.
  await new Promise((r) => setTimeout(r, 300));
  await tmux.keys("Tab");
}

/** One switch and nothing else. */
export const ONE_SWITCH = `name: x
topology:
  nodes:
    sw1: { kind: switch, ports: 4 }
  links: []
`;

/** A switch and two hosts on it, 10.9.0.1 and 10.9.0.2. */
export const TWO_HOSTS = `name: x
topology:
  nodes:
    sw1: { kind: switch, ports: 4 }
    h1: { kind: host, address: 10.9.0.1/24 }
    h2: { kind: host, address: 10.9.0.2/24 }
  links:
    - endpoints: [h1, sw1]
    - endpoints: [h2, sw1]
`;

/** A switch and host h1 on it, whose `exec` runs `commands` (YAML strings). */
export function hostWithExec(address: string, commands: string[]): string {
  return `name: x
topology:
  nodes:
    sw1: { kind: switch, ports: 4 }
    h1: { kind: host, address: ${address}, exec: ${JSON.stringify(commands)} }
  links:
    - endpoints: [h1, sw1]
`;
}

/** Two switches joined by a link, and no hosts. */
export const TWO_SWITCHES = `name: x
topology:
  nodes:
    sw1: { kind: switch, ports: 4 }
    sw2: { kind: switch, ports: 4 }
  links:
    - endpoints: [sw1, sw2]
`;

/** A lab file with five mistakes, one per line 4, 5, 7, 10 and 11. */
export const FIVE_MISTAKES = `name: demo
topology:
  nodes:
    sw1: { kind: switch, prots: 16 }
    h1:  { kind: host, address: 10.0.2.300/24 }
    h2:  { kind: host }
    h4:  { kind: host, mtu: 70000 }
  links:
    - endpoints: [h1, "sw1:3"]
    - endpoints: [h2, "sw1:3"]
    - endpoints: [h3, sw1]
    - endpoints: [h4, sw1]
`;

/**
 * Lab `text` run in this process (no root needed while it has no host),
 * its shell's commands, and `fn` given them: `line` runs one and says its
 * code and text. `log` gets the runner's lines; `switchThreadFile` is a
 * stand-in for the switches' data-plane thread (test/dataplane/_*_worker.ts).
 */
export async function withLabInProcess(
  text: string,
  fn: (r: LabRunner, line: (line: string) => Promise<string>, file: string) => Promise<void>,
  log?: (message: string) => void,
  peer: Pick<Session, "peerPid" | "peerUid"> = {},
  switchThreadFile?: URL,
): Promise<void> {
  const name = uniqueLab();
  const file = await labFile(name, { text });
  const { lab } = validateLab(await Deno.readTextFile(file), { stp: true });
  assert.ok(lab !== undefined);
  const r = await LabRunner.up(lab, {
    file,
    baseDir: file.slice(0, file.lastIndexOf("/")),
    log,
    switchThreadFile,
  }).catch(
    async (err) => {
      // A lab that does not come up leaves no file behind either.
      await Deno.remove(file.slice(0, file.lastIndexOf("/")), { recursive: true });
      throw err;
    },
  );
  try {
    const { commands } = labCommands(r, { down: () => {}, save: () => Promise.resolve(file) });
    const session: Session = {
      kind: "mgmt",
      debug: new Set(),
      loadDepth: 0,
      commands,
      notify: () => {},
      render: () => "",
      ...peer,
    };
    await fn(r, async (line) => {
      const reply = await commands.execute(line, session);
      return `${reply?.code} ${reply?.raw ?? (reply?.lines ?? []).join("\n")}`;
    }, file);
  } finally {
    await r.down();
    await Deno.remove(file.slice(0, file.lastIndexOf("/")), { recursive: true });
  }
}

/**
 * The shell commands (`vde term LAB ...`) that add host h3 on static address `next` and then host h4 on
 * dhcp, both on sw1: a slirp there must lease h4 neither `next` nor an address it leased before.
 */
export function staticThenDhcpLive(next: string): string[] {
  return [
    "-c",
    `add host h3 address ${next}/24`,
    "-c",
    "add link h3 sw1",
    "-c",
    "add host h4 address dhcp",
    "-c",
    "add link h4 sw1",
  ];
}

/** The IPv4 address in `ip -4 -o addr show`'s output, or "" without one. */
export function ipv4In(stdout: string): string {
  return /inet (\S+)\//.exec(stdout)?.[1] ?? "";
}

/** Every IPv4 address in `ip -4 -o addr show`'s output. */
export function ipv4sIn(stdout: string): string[] {
  return [...stdout.matchAll(/inet (\S+)\//g)].map((m) => m[1]!);
}

/**
 * `vde capture ARGS -c COUNT -w FILE` while host FROM of lab LAB pings TO once
 * at a time, until it has its frames (bounded: 20 pings, 30 s); its stderr,
 * and what tshark reads of FILE: each frame's interface name and protocols.
 */
export async function captureWhilePinging(
  lab: string,
  args: string[],
  out: string,
  { from = "h1", to = "10.9.0.2", count = 5 } = {},
): Promise<{ said: string; read: string[] }> {
  const capture = new Deno.Command(vdeCommand()[0]!, {
    args: [...vdeCommand().slice(1), "capture", ...args, "-c", String(count), "-w", out],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const bound = setTimeout(() => capture.kill(), 30_000);
  try {
    for (let i = 0; i < 20; i++) {
      await pingCount(lab, from, to, 1);
      const done = await Promise.race([capture.status, new Promise((r) => setTimeout(() => r(null), 200))]);
      if (done !== null) break;
    }
    const { code, stderr } = await capture.output();
    const said = new TextDecoder().decode(stderr);
    assert.equal(code, 0, said);
    const r = await run([
      "tshark",
      "-r",
      out,
      "-T",
      "fields",
      "-e",
      "frame.interface_name",
      "-e",
      "frame.protocols",
    ]);
    assert.equal(r.code, 0, r.stderr);
    return { said, read: r.stdout.trim().split("\n") };
  } finally {
    clearTimeout(bound);
    try {
      capture.kill();
    } catch { /* ended */ }
  }
}
