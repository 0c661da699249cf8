/**
 * README's five-minute walkthrough runs as written: its shell block is
 * taken from README.md and run with bash (`set -e`), with only the names
 * made unique to this run (namespaces, directories, TCP ports, ~/bin), so
 * a walkthrough that stops working fails here.
 */
import assert from "node:assert/strict";
import { processesMentioning, run, RUN_PREFIX, skipUnless, waitFor } from "../helpers/processes.ts";
import { labMissing } from "../helpers/netns.ts";
import { REPO_ROOT } from "../helpers/switches.ts";

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

Deno.test("README's five-minute walkthrough runs as written", async (t) => {
  if (skipUnless(t, await labMissing(["busybox"]))) return;
  const readme = await Deno.readTextFile(`${REPO_ROOT}/README.md`);
  const section = readme.slice(readme.indexOf("## Five minutes"));
  const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1];
  assert.ok(block !== undefined, "the walkthrough's shell block");
  const tmp = await Deno.makeTempDir({ prefix: `${RUN_PREFIX}walk-` });
  const ns = `${RUN_PREFIX}d`;
  const web = `127.0.0.1:${freePort()}`;
  const script = block
    .replaceAll("~/bin", `${tmp}/bin`)
    .replaceAll("/tmp/", `${tmp}/`)
    .replaceAll("demo", ns)
    .replaceAll("5000", String(freePort()))
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
    for (const pid of processesMentioning(tmp)) {
      try {
        Deno.kill(pid, "SIGKILL");
      } catch { /* gone */ }
    }
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
});
