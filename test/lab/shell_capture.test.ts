/**
 * The lab shell's `capture` at a real terminal (tmux): it records a host's
 * port into a file, or shows a switch's frames through tcpdump, until
 * Ctrl-C, which gives the prompt back with the counts and leaves the lab up;
 * in a user's rootless lab too, whose shell runs as root of its namespace.
 */
import assert from "node:assert/strict";
import { hasCommand, run, skipUnless, skipUnlessRoot } from "../helpers/processes.ts";
import { tmuxMissing, TmuxSession } from "../console/_tmux.ts";
import { withStudent } from "../helpers/student.ts";
import { shellQuoted } from "../../src/shell_quote.ts";
import { pingCount, TWO_HOSTS, vde, vdeAtTerminal, withLabFile } from "./_helpers.ts";
import { readState } from "../../src/lab/state.ts";

/** The commands of the processes whose parent is `pid`. */
function childrenOf(pid: number): string[] {
  const out: string[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      // comm may hold spaces and parentheses: the fields after its last ")" are state, ppid.
      const stat = Deno.readTextFileSync(`/proc/${e.name}/stat`);
      const close = stat.lastIndexOf(")");
      if (Number(stat.slice(close + 2).split(" ")[1]) === pid) {
        out.push(stat.slice(stat.indexOf("(") + 1, close));
      }
    } catch { /* gone meanwhile */ }
  }
  return out;
}

Deno.test("capture in the lab shell records a host into a file or shows a switch's frames, until Ctrl-C gives the prompt back", async (t) => {
  if (skipUnlessRoot(t) || skipUnless(t, await tmuxMissing())) return;
  await withLabFile({ text: TWO_HOSTS }, async (name, file) => {
    const dir = file.slice(0, file.lastIndexOf("/"));
    const tmux = await vdeAtTerminal(file, ["up", file]);
    const prompt = `lab[${name}]$`;
    try {
      await tmux.waitFor((s) => s.endsWith(prompt), "the lab shell", 60_000);

      // Into a file: h1's port of sw1, until Ctrl-C.
      await tmux.keys("-l", `capture h1 -w ${dir}/h1.pcapng`);
      await tmux.keys("Enter");
      await tmux.waitFor(
        (s) => s.includes(`${name}/h1 (port 1 of ${name}/sw1) into ${dir}/h1.pcapng; any key stops it`),
        "the capture to start",
        20_000,
      );
      assert.equal(await pingCount(name, "h1", "10.9.0.2", 3), 3);
      await tmux.keys("C-c");
      let screen = await tmux.waitFor(
        (s) => /\d+ frames captured, 0 dropped by the switch \(slow reader\)\n\S+\$$/.test(s),
        "the counts and the prompt after Ctrl-C",
        20_000,
      );
      assert.doesNotMatch(screen, /Ctrl-C again/, "the Ctrl-C was the capture's, not the shell's");
      const read = await run(["tshark", "-r", `${dir}/h1.pcapng`, "-T", "fields", "-e", "frame.protocols"]);
      assert.ok(
        read.stdout.split("\n").filter((l) => /:ip:icmp(:|$)/.test(l)).length >= 6,
        `h1's 3 pings and their replies:\n${read.stdout}`,
      );
      assert.equal((await vde(["status", name])).code, 0, "the lab is still up");

      // Live, through tcpdump: the switch's frames, kept to ICMP by the filter.
      await tmux.keys("-l", "capture sw1 --filter 'icmp'");
      await tmux.keys("Enter");
      await tmux.waitFor(
        (s) => s.includes("shown by tcpdump -n); any key stops it"),
        "the live capture",
        20_000,
      );
      assert.equal(await pingCount(name, "h2", "10.9.0.1", 2), 2);
      await tmux.waitFor(
        (s) => /IP 10\.9\.0\.2 > 10\.9\.0\.1: ICMP echo request/.test(s),
        "tcpdump's line for h2's ping",
        20_000,
      );
      const lab = readState(name)!.pid;
      assert.ok(childrenOf(lab).includes("tcpdump"), "tcpdump runs as the lab's child");
      await tmux.keys("q");
      screen = await tmux.waitFor(
        (s) => /\d+ frames captured, 0 dropped by the switch \(slow reader\)\n\S+\$$/.test(s),
        "the counts and the prompt after a key",
        20_000,
      );
      assert.doesNotMatch(screen, /reading from file -/, "tcpdump's own first line is not shown");
      // The counts come once tcpdump has ended: none is left to the lab.
      assert.deepEqual(childrenOf(lab).filter((c) => c === "tcpdump"), []);

      // A name the lab does not have is said, and the shell goes on.
      await tmux.keys("-l", "capture h9");
      await tmux.keys("Enter");
      await tmux.waitFor((s) => /no switch h9 \(switches: sw1\)\n\S+\$$/.test(s), "h9 refused");
      // A filter tcpdump cannot compile is the capture's one line, with no tcpdump's complaint of no input.
      await tmux.keys("-l", "capture sw1 --filter icmp and");
      await tmux.keys("Enter");
      screen = await tmux.waitFor(
        (s) => /--filter "icmp and": [^\n]+\n\S+\$$/.test(s),
        "the filter refused",
      );
      assert.doesNotMatch(screen, /truncated dump file/, "no tcpdump started for a capture refused");
    } finally {
      await tmux.kill();
    }
  });
});

Deno.test("capture in a rootless lab's shell, as its user, records into a file and shows frames through tcpdump", async (t) => {
  if (skipUnlessRoot(t) || skipUnless(t, await tmuxMissing())) return;
  if (skipUnless(t, (await hasCommand("setpriv")) ? null : "setpriv is not installed")) return;
  const name = `sc${Deno.pid.toString(36)}`;
  await withStudent([], async (s) => {
    const home = `${s.tmp}/home`;
    await Deno.writeTextFile(`${home}/lab.yaml`, TWO_HOSTS.replace(/^name: .*$/m, `name: ${name}`));
    const tmux = await TmuxSession.start(
      `${s.tmp}/tmux.sock`,
      s.argv(["vde", "up", "--rootless", `${home}/lab.yaml`]).map(shellQuoted).join(" "),
    );
    const prompt = `lab[${name}]$`;
    const ping = async (from: string, to: string) => {
      const r = await s.as(["vde", "exec", `${name}/${from}`, "ping", "-c", "3", "-i", "0.2", "-W", "2", to]);
      assert.equal(r.code, 0, r.stdout + r.stderr);
    };
    try {
      await tmux.waitFor((sc) => sc.endsWith(prompt), "the rootless lab's shell", 120_000);
      await tmux.keys("-l", `capture h1 -w ${home}/h1.pcapng`);
      await tmux.keys("Enter");
      await tmux.waitFor((sc) => sc.includes("h1.pcapng; any key stops it"), "the capture to start", 20_000);
      await ping("h1", "10.9.0.2");
      await tmux.keys("C-c");
      await tmux.waitFor(
        (sc) => /\d+ frames captured, 0 dropped by the switch \(slow reader\)\n\S+\$$/.test(sc),
        "the counts and the prompt after Ctrl-C",
        20_000,
      );
      const read = await run(["tshark", "-r", `${home}/h1.pcapng`, "-T", "fields", "-e", "frame.protocols"]);
      assert.ok(read.stdout.split("\n").filter((l) => /:ip:icmp(:|$)/.test(l)).length >= 6, read.stdout);

      await tmux.keys("-l", "capture sw1 --filter icmp");
      await tmux.keys("Enter");
      await tmux.waitFor((sc) => sc.includes("any key stops it"), "the live capture", 20_000);
      await ping("h2", "10.9.0.1");
      await tmux.waitFor(
        (sc) => /IP 10\.9\.0\.2 > 10\.9\.0\.1: ICMP echo request/.test(sc),
        "tcpdump's line for h2's ping, in the user's namespace",
        20_000,
      );
      await tmux.keys("q");
      await tmux.waitFor(
        (sc) => /\d+ frames captured, 0 dropped by the switch \(slow reader\)\n\S+\$$/.test(sc),
        "the counts and the prompt after a key",
        20_000,
      );
    } finally {
      await tmux.kill();
      await s.as(["vde", "down", name], 60_000);
    }
  });
});
