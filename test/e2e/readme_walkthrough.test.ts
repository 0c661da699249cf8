/**
 * README's five-minute walkthrough, its namespace's DHCP lease behind a
 * slirp, its spanning tree example and its check of the library from outside
 * the repository, run as written: each shell block is taken from README.md
 * and run with bash (`set -e`), with only the names made unique to this run
 * (namespaces, directories, TCP ports, ~/bin), so a block that stops working
 * fails here.
 */
import { freedPort } from "../helpers/ports.ts";
import assert from "node:assert/strict";
import {
  hasCommand,
  processesMentioning,
  run,
  RUN_PREFIX,
  skipUnless,
  waitFor,
} from "../helpers/processes.ts";
import { labMissing } from "../helpers/netns.ts";
import { REPO_ROOT } from "../helpers/switches.ts";
import { DENO_RUN } from "../../src/cli/v8_flags.ts";
import { labsBaseDir } from "../../src/lab/names.ts";
import { isFile } from "../../src/os/paths.ts";

/** The walkthrough's step 0: `vde` in `${dir}/bin`, for a PATH. */
async function vdeOnPath(dir: string): Promise<void> {
  await Deno.mkdir(`${dir}/bin`);
  await Deno.writeTextFile(
    `${dir}/bin/vde`,
    `#!/bin/sh\nexec ${Deno.execPath()} ${DENO_RUN.join(" ")} --quiet ${REPO_ROOT}/src/cli/vde.ts "$@"\n`,
    { mode: 0o755 },
  );
}

/** Runs `script` with bash (`set -e`), `vde` on the PATH from `vdeOnPath(dir)` and HOME `dir`; it must succeed. */
async function runWithVde(dir: string, script: string) {
  const r = await run(["bash", "-c", `set -e\nexport PATH=${dir}/bin:$PATH\n${script}`], {
    check: false,
    timeoutMs: 120_000,
    env: { HOME: dir },
    input: "",
  });
  const out = `${r.stdout}\n${r.stderr}`;
  assert.equal(r.code, 0, out);
  return { r, out };
}

/** Kills what a block left running in `dir`, then removes `dir`. */
async function cleanUp(dir: string): Promise<void> {
  for (const pid of processesMentioning(dir)) {
    try {
      Deno.kill(pid, "SIGKILL");
    } catch { /* gone */ }
  }
  await Deno.remove(dir, { recursive: true }).catch(() => {});
}

/** The first shell block of README.md after the text `after`. */
async function readmeBlock(after: string): Promise<string> {
  const readme = await Deno.readTextFile(`${REPO_ROOT}/README.md`);
  const at = readme.indexOf(after);
  assert.ok(at >= 0, `README says ${after}`);
  const block = /```sh\n([\s\S]*?)```/.exec(readme.slice(at))?.[1];
  assert.ok(block !== undefined, `the shell block after ${after}`);
  return block;
}

Deno.test("README's five-minute walkthrough runs as written", async (t) => {
  if (skipUnless(t, await labMissing(["busybox"]))) return;
  const block = await readmeBlock("## Five minutes");
  const tmp = await Deno.makeTempDir({ prefix: `${RUN_PREFIX}walk-` });
  const ns = `${RUN_PREFIX}d`;
  const web = `127.0.0.1:${freedPort()}`;
  const script = block
    .replaceAll("~/bin", `${tmp}/bin`)
    .replaceAll("/tmp/", `${tmp}/`)
    .replaceAll("demo", ns)
    .replaceAll("5000", String(freedPort()))
    .replaceAll("127.0.0.1:8000", web)
    .replaceAll("8000", web.split(":")[1]!);
  try {
    const r = await run(["bash", "-c", `set -e\ncd ${REPO_ROOT}\n${script}`], {
      check: false,
      timeoutMs: 240_000,
      env: { HOME: tmp },
    });
    const out = `${r.stdout}\n${r.stderr}`;
    assert.equal(r.code, 0, out);
    assert.match(r.stdout, /3 received/, "the namespaces ping each other");
    assert.match(r.stdout, /from 10\.0\.2\.2: icmp_seq/, "the slirp gateway answers");
    assert.equal(r.stdout.includes(Deno.hostname()), true, "the host's web server is reached through NAT");
    assert.match(r.stdout, /from 10\.0\.2\.101: icmp_seq/, "the namespace behind the cable reaches demo1");
    assert.match(r.stdout, /PORT +STATE/, "vde term -c ports");
    // Step 6 cleans up everything the walkthrough started (a daemon may take a moment to exit).
    await waitFor(() => processesMentioning(tmp).length === 0 && processesMentioning(web).length === 0, {
      timeoutMs: 15_000,
      what: "no process of the walkthrough left",
    });
    for (const dir of ["net", "net2"]) {
      await assert.rejects(Deno.stat(`${tmp}/${dir}`), Deno.errors.NotFound, `${dir}'s sockets removed`);
    }
  } finally {
    for (let i = 1; i <= 3; i++) await run(["ip", "netns", "del", `${ns}${i}`], { check: false });
    await cleanUp(tmp);
  }
});

Deno.test("README's DHCP lease for a namespace behind a slirp runs as written: the lease is applied, the gateway answers", async (t) => {
  if (skipUnless(t, await labMissing(["busybox"]))) return;
  const block = await readmeBlock("A network namespace takes its lease");
  const tmp = await Deno.makeTempDir({ prefix: `${RUN_PREFIX}dhcp-` });
  const ns = `${RUN_PREFIX}l`;
  const script = block.replaceAll("/tmp/", `${tmp}/`).replaceAll("ns1", ns);
  await vdeOnPath(tmp);
  try {
    const { r, out } = await runWithVde(tmp, script);
    assert.match(r.stderr, /lease of 10\.0\.2\.15 obtained/, out);
    assert.match(r.stdout, /from 10\.0\.2\.2: icmp_seq/, "the lease's address and route were applied");
    await waitFor(() => processesMentioning(tmp).length === 0, {
      timeoutMs: 15_000,
      what: "the switch and plug gone",
    });
  } finally {
    await run(["ip", "netns", "del", ns], { check: false });
    await cleanUp(tmp);
  }
});

Deno.test("README's lab in a CI job runs as written, by two jobs of one file at once: each brings up its own lab and takes only that down", async (t) => {
  if (skipUnless(t, await labMissing(["busybox", "jq"]))) return;
  const block = await readmeBlock("A lab in a job");
  const tmp = await Deno.makeTempDir({ prefix: `${RUN_PREFIX}ci-` });
  await vdeOnPath(tmp);
  // The example LAN with NAT and DHCP, as a user's lab.yaml (its name is the one two jobs would share).
  await Deno.copyFile(`${REPO_ROOT}/examples/lan-nat.yaml`, `${tmp}/lab.yaml`);
  const job = () =>
    run(["bash", "-c", `export PATH=${tmp}/bin:$PATH\ncd ${tmp}\necho "job $$"\n${block}`], {
      check: false,
      timeoutMs: 120_000,
      env: { HOME: tmp },
      input: "",
    });
  const labs: string[] = [];
  try {
    const jobs = await Promise.all([job(), job()]);
    for (const r of jobs) {
      const lab = `ci-${/^job (\d+)$/m.exec(r.stdout)?.[1]}`;
      labs.push(lab);
      assert.equal(r.code, 0, `${lab}:\n${r.stdout}\n${r.stderr}`);
      assert.match(r.stdout, /from 10\.0\.2\.2: icmp_seq/, "its host reached the gateway");
      assert.match(r.stdout, new RegExp(`removed lab ${lab}\n`), "its trap took its own lab down");
      assert.equal(isFile(`${labsBaseDir()}/${lab}.log`), false, "nor is its log left behind");
    }
  } finally {
    for (const lab of labs) await run([`${tmp}/bin/vde`, "down", "--cleanup", lab], { check: false });
    await cleanUp(tmp);
  }
});

Deno.test("README's spanning tree block runs as written: of two cables between two switches, one port is the alternate", async (t) => {
  if (skipUnless(t, (await hasCommand("vde_plug")) ? null : "Debian's vde_plug (vdeplug) is not installed")) {
    return;
  }
  const block = await readmeBlock("### Spanning tree");
  const tmp = await Deno.makeTempDir({ prefix: `${RUN_PREFIX}stp-` });
  await vdeOnPath(tmp);
  // Proposal and agreement settle the tree in milliseconds, but the block's last line may come first:
  // the listing is asked for again until the alternate shows, as a reader would run it again.
  const script = block.replaceAll("/tmp/", `${tmp}/`) +
    `for i in $(seq 50); do vde term ${tmp}/sw1.mgmt -c stp | grep -q 'alternate *discarding' && break; sleep 0.2; done\n` +
    `vde term ${tmp}/sw1.mgmt -c stp\n`;
  try {
    const { r, out } = await runWithVde(tmp, script);
    assert.match(r.stdout, /^designated root +1000\./m, `--priority 4096 makes sw2 the root\n${out}`);
    assert.match(r.stdout, /^ +1 +8001 +root +forwarding /m, out);
    assert.match(r.stdout, /^ +2 +8002 +alternate +discarding /m, out);
  } finally {
    for (const sw of ["sw1", "sw2"]) {
      await run(["sh", "-c", `vde term ${tmp}/${sw}.mgmt -c shutdown`], {
        check: false,
        env: { PATH: `${tmp}/bin:${Deno.env.get("PATH")}` },
      });
    }
    await cleanUp(tmp);
  }
});

Deno.test("README's library check outside the repository runs as written: the script type-checks and runs", async () => {
  const block = await readmeBlock("type-checks the library by path");
  const tmp = await Deno.makeTempDir({ prefix: `${RUN_PREFIX}lib-` });
  const script = block.replaceAll("/path/to/vde", REPO_ROOT).replaceAll("/tmp/", `${tmp}/`);
  try {
    const r = await run(["bash", "-c", `set -e\ncd ${tmp}\n${script}`], { check: false, timeoutMs: 120_000 });
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.equal(r.stdout, "true\n");
  } finally {
    await cleanUp(tmp);
  }
});
