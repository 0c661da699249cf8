/**
 * How soon a just-started switch answers its console: the time from
 * `--daemon` returning (`vde switch --daemon`, `vde_switch -d`) to the first
 * prompt on the management socket, and to the first `port/print` answer,
 * as a vde2 script (`... --daemon && unixcmd -s S.mgmt port/print`) meets
 * it; Debian's unixcmd gives up after 1 s without a prompt.
 *
 *   deno run -A scripts/mgmt_first_answer_rig.ts ROUNDS HOGS KIND...
 *
 * A kind is `NAME=REPO` (our switch from the checkout REPO) or a bare name
 * (Debian's vde_switch); each round starts one fresh switch of every kind
 * in turn, the order alternating between rounds. HOGS busy loops (niced 0,
 * each ended after 60 s at most) load the machine while it runs.
 *
 * RIG_LINE sets the first command (default `port/print`, a read): `vlan/create 10`, a change, was
 * answered only after the data-plane thread's warm-up until the console answered changes made while
 * it had read no frame yet.
 */
import { median, rigArgs } from "./rig_args.ts";

const { pairs: rounds, seconds: hogs, kinds } = rigArgs(Deno.args, 0);
const line = Deno.env.get("RIG_LINE") ?? "port/print";
const tmp = await Deno.makeTempDir({ prefix: "mgmt1-rig-" });
const hogProcs = Array.from(
  { length: hogs },
  () => new Deno.Command("timeout", { args: ["60", "sh", "-c", "while :; do :; done"] }).spawn(),
);

/** Reads from `conn` until the bytes so far end with the prompt `$ `. */
async function untilPrompt(conn: Deno.UnixConn, deadline: number): Promise<void> {
  const buf = new Uint8Array(4096);
  let tail = "";
  while (!tail.endsWith("$ ")) {
    if (Date.now() > deadline) throw new Error("no prompt in 10 s");
    const n = await conn.read(buf);
    if (n === null) throw new Error("console closed before its prompt");
    tail = (tail + new TextDecoder().decode(buf.subarray(0, n))).slice(-2);
  }
}

/**
 * Connects to `mgmt`, again while it is refused or missing: vde_switch -d returns before its management socket
 * listens (it binds, daemonizes, then listens), so a client that connects at once may be refused.
 */
async function connectSoon(mgmt: string, deadline: number): Promise<Deno.UnixConn> {
  for (;;) {
    try {
      return await Deno.connect({ transport: "unix", path: mgmt });
    } catch (err) {
      if (Date.now() > deadline) throw err;
      refused++;
      await new Promise((r) => setTimeout(r, 1));
    }
  }
}

let refused = 0;

/** Starts one switch of `repo` (null: vde_switch) and returns its pid once --daemon returned. */
async function startDaemon(repo: string | null, sock: string, mgmt: string): Promise<number> {
  const pidFile = `${sock}.pid`;
  const cmd = repo === null ? ["vde_switch", "-d", "-s", sock, "-M", mgmt, "-p", pidFile] : [
    "deno",
    "run",
    "-A",
    "--v8-flags=--no-maglev",
    `${repo}/src/cli/vde.ts`,
    "switch",
    "--sock",
    sock,
    "--mgmt",
    mgmt,
    "--daemon",
  ];
  const out = await new Deno.Command(cmd[0]!, { args: cmd.slice(1), stdout: "piped", stderr: "piped" })
    .output();
  const text = new TextDecoder().decode(out.stderr) + new TextDecoder().decode(out.stdout);
  if (!out.success) throw new Error(`${cmd.join(" ")} failed: ${text}`);
  // vde_switch's parent returns before its child writes the pid file.
  for (let i = 0; repo === null; i++) {
    try {
      const pid = Number((await Deno.readTextFile(pidFile)).trim());
      if (pid > 0) return pid;
    } catch (err) {
      if (i > 10_000) throw err;
    }
    await new Promise((r) => setTimeout(r, 1));
  }
  const m = /as pid (\d+)/.exec(text);
  if (m === null) throw new Error(`no pid in: ${text}`);
  return Number(m[1]);
}

const results = new Map(kinds.map((k) => [k.name, { prompt: [] as number[], answer: [] as number[] }]));
try {
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? kinds : [...kinds].reverse();
    for (const kind of order) {
      const sock = `${tmp}/${kind.name}${r}`;
      const mgmt = `${sock}.mgmt`;
      const pid = await startDaemon(kind.repo, sock, mgmt);
      try {
        const t0 = performance.now();
        const deadline = Date.now() + 10_000;
        const conn = await connectSoon(mgmt, deadline);
        try {
          await untilPrompt(conn, deadline);
          const t1 = performance.now();
          await conn.write(new TextEncoder().encode(`${line}\n`));
          await untilPrompt(conn, deadline);
          const t2 = performance.now();
          results.get(kind.name)!.prompt.push(t1 - t0);
          results.get(kind.name)!.answer.push(t2 - t0);
          console.log(
            `round ${r} ${kind.name}: prompt ${(t1 - t0).toFixed(0)} ms, answer ${(t2 - t0).toFixed(0)} ms`,
          );
        } finally {
          conn.close();
        }
      } finally {
        Deno.kill(pid, "SIGTERM");
      }
    }
  }
} finally {
  for (const h of hogProcs) {
    try {
      h.kill("SIGTERM");
    } catch { /* ended */ }
    await h.status;
  }
  await new Promise((r) => setTimeout(r, 500));
  await Deno.remove(tmp, { recursive: true }).catch(() => {});
}
const ms = (xs: number[]) =>
  `median ${median(xs).toFixed(0)} (${Math.min(...xs).toFixed(0)}-${Math.max(...xs).toFixed(0)}) ms`;
if (refused > 0) console.log(`connections refused (retried): ${refused}`);
for (const [name, { prompt, answer }] of results) {
  console.log(
    `${name} (${hogs} hogs, ${prompt.length} rounds): first prompt ${ms(prompt)}; ${line} answered ${
      ms(answer)
    }`,
  );
}
