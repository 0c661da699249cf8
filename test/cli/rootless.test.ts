/**
 * `vde up --rootless` as a student on a shared machine would run it: a user
 * made for the test (removed after it), no root, the bundle as their `vde`
 * command. The lab comes up in namespaces of the user's own; their commands
 * run outside it (`vde status`, `vde term`, `vde plug` into its switch,
 * `vde down`) find and reach it; the machine gets no namespace of it. Its
 * slirp and cable nodes and its page run in the `vde up` outside, on the
 * machine's network, and end with the lab. Where the machine has no
 * /run/netns (a fresh one: root never ran `ip netns add`), the lab makes
 * its own /run, with what /run held bound back in.
 */
import assert from "node:assert/strict";
import { processAlive } from "../../src/os/processes.ts";
import { sameNamespace, userNamespaceOf } from "../../src/os/user_namespace.ts";
import { AS_NOBODY, hasCommand, hasRoot, run, skipUnless, waitFor } from "../helpers/processes.ts";
import { type Student, withStudent } from "../helpers/student.ts";
import { NO_LAB_SWITCH } from "../../src/cli/lab.ts";
import { ipv4In, ipv4sIn, staticThenDhcpLive } from "../lab/_helpers.ts";
import { assertPromtoolClean, metricValue, skipWithoutPromtool } from "../helpers/promtool.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

async function capability(): Promise<string | null> {
  const root = hasRoot();
  if (root !== null) return root;
  for (const cmd of ["useradd", "userdel", "setpriv", "unshare", "ip", "busybox"]) {
    if (!(await hasCommand(cmd))) return `${cmd} is not installed`;
  }
  return null;
}

/** Why the student may make no user namespace here (the test then skips, or fails in CI); null when they may. */
async function namespacesRefused(s: Student): Promise<string | null> {
  const r = await s.as(["unshare", "--user", "--map-root-user", "--net", "true"]);
  return r.code === 0 ? null : `no user namespaces here: ${r.stderr.trim()}`;
}

/**
 * Brings lab `name` up with --rootless as the student, checks it from outside, takes it down. Its slirp
 * is a node of the lab (`slirp: "node"`, whose outside is the lab's own network namespace) or a
 * `vde slirp` the student plugs into its switch from outside (the machine's network), which `extra` sees.
 */
async function upReachDown(
  s: Student,
  name: string,
  slirp: "node" | "outside",
  extra: (s: Student) => Promise<void>,
): Promise<void> {
  const node = slirp === "node";
  await Deno.writeTextFile(
    `${s.tmp}/home/lab.yaml`,
    `name: ${name}
topology:
  nodes:
    sw1: { kind: switch, ports: 8 }
${node ? "    nat: { kind: slirp }\n" : ""}    h1: { kind: host, address: 10.0.2.31/24, gateway: 10.0.2.2 }
    h2: { kind: host, address: 10.0.2.32/24 }
  links:
${node ? "    - endpoints: [nat, sw1]\n" : ""}    - endpoints: [h1, sw1]
    - endpoints: [h2, sw1]
`,
  );
  const plain = await s.as(["vde", "up", "lab.yaml"]);
  assert.equal(plain.code, 1);
  assert.match(plain.stderr, /needs root: .*; run vde up as root, or `vde up --rootless` for namespaces/);

  // The web view is served on the machine's loopback by the `vde up` outside the lab's namespaces.
  const up = await s.as(["vde", "up", "-d", "--rootless", "--http", "0", "lab.yaml"], 120_000);
  assert.equal(up.code, 0, up.stderr);
  assert.match(
    up.stderr,
    new RegExp(`lab ${name} is up in the background: .*${s.tmp}/xdg/vde/${name}\\.log`),
  );
  const url = /web view on (http:\/\/127\.0\.0\.1:\d+\/) /.exec(up.stderr)?.[1];
  assert.ok(url !== undefined, up.stderr);
  assert.match(await (await fetch(url)).text(), new RegExp(`<title>vde lab ${name}</title>`));
  assert.match(await (await fetch(`${url}metrics`)).text(), /vde_port_receive_bytes_total\{switch="sw1"/);
  const status = await s.as(["vde", "status", name, "--json"]);
  assert.equal(status.code, 0, status.stderr);
  const lab = JSON.parse(status.stdout);
  assert.equal(lab.state, "up");
  assert.ok(processAlive(lab.pid));
  if (!node) {
    const outside = await s.as(["vde", "slirp", "--sock", `${name}/sw1`, "-d"]);
    assert.equal(outside.code, 0, outside.stderr);
    assert.match(
      outside.stderr,
      new RegExp(`^vde slirp: on ${s.tmp}/xdg/vde/${name}/sw1: gateway 10\\.0\\.2\\.2/24`),
    );
  }
  // Host to host through the switch, and to the slirp's gateway, from a console outside the namespaces.
  const pings = await s.as([
    "vde",
    "term",
    name,
    "-c",
    "h1 ping -c 1 -W 5 10.0.2.32",
    "-c",
    "h1 ping -c 1 -W 5 10.0.2.2",
  ]);
  assert.equal(pings.code, 0, pings.stdout + pings.stderr);
  assert.equal(pings.stdout.match(/1 received/g)?.length, 2, pings.stdout);
  // The switch's socket is a file of the user's: a plug (QEMU, vde_plug) outside joins the lab.
  const plug = await s.as(["vde", "plug", "-d", `${s.tmp}/xdg/vde/${name}/sw1`, "null://"]);
  assert.equal(plug.code, 0, plug.stderr);
  const ports = await s.as(["vde", "term", `${name}/sw1`, "-c", "ports"]);
  assert.match(ports.stdout, /vdeplug: user=/, ports.stderr);
  await extra(s);
  // The machine has none of the lab's namespaces: they are the user namespace's, under its own /run/netns.
  const machines = await run(["ip", "netns", "list"], { check: false });
  assert.doesNotMatch(machines.stdout, new RegExp(`vde-${name}-`));

  const down = await s.as(["vde", "down", name]);
  assert.equal(down.code, 0, down.stderr);
  assert.equal(down.stdout, `stopped vde up (pid ${lab.pid})\nremoved lab ${name}\n`, "it stopped cleanly");
  // Nothing of the student's is left running: the plug and an outside slirp end with the lab's switch.
  await s.noneLeft("the student's processes to end");
  assert.equal(processAlive(lab.pid), false);
  const after = await s.as(["vde", "status"]);
  assert.match(after.stdout, /^no labs are up/); // root's labs, if any, are named after it
  // Then what a switch started alone is, for a bridge user's first look.
  assert.ok(after.stdout.endsWith(`${NO_LAB_SWITCH}\n`), after.stdout);
}

/**
 * Root's vde and another user's do not take the student's lab `name` down or enter it: root is told
 * whose lab the name is; another user, who may not see it, that no lab of theirs has it.
 */
async function othersCannotReach(s: Student, name: string): Promise<void> {
  const vde = [Deno.execPath(), "run", "-A", "--quiet", `${s.tmp}/bin/vde`];
  // Bounded as the student's own commands are (s.as): run's 10 s was too short for a bundle's start on a
  // loaded machine (nobody's vde term was SIGKILLed at 10 s there: code 137, not the 1 it says).
  const bounded = { check: false, timeoutMs: 60_000 };
  const whose =
    `; user vderl${Deno.pid}'s rootless lab ${name} runs in namespaces of their own \\(only their vde reaches it\\)`;
  const rootDown = await run([...vde, "down", name], bounded);
  assert.equal(rootDown.code, 0, rootDown.stderr);
  assert.match(rootDown.stdout, new RegExp(`^no lab ${name} is up.*${whose}: nothing to take down\n$`));
  const rootTerm = await run([...vde, "term", name, "-c", "ports"], bounded);
  assert.equal(rootTerm.code, 1);
  assert.match(rootTerm.stderr, new RegExp(`${whose}\n$`));
  const rootStatus = await run([...vde, "status", name], bounded);
  assert.match(rootStatus.stderr, new RegExp(whose));
  // Root's list of labs names it, as the user's, apart from root's own (which a script may take down).
  const rootList = await run([...vde, "status"], bounded);
  assert.match(
    rootList.stdout,
    new RegExp(
      `^${name} +\\d+ +up, user vderl${Deno.pid}'s rootless lab \\(their vde down takes it down\\) `,
      "m",
    ),
  );
  const rootJson = JSON.parse((await run([...vde, "status", "--json"], { timeoutMs: 60_000 })).stdout);
  assert.ok(!rootJson.labs.some((l: { name: string }) => l.name === name), "not among root's own");
  assert.deepEqual(
    rootJson.rootless.filter((l: { name: string }) => l.name === name).map((
      l: { user: string; state: string },
    ) => [l.user, l.state]),
    [[`vderl${Deno.pid}`, "up"]],
  );
  const rootCapture = await run([...vde, "capture", `${name}/sw1`, "-c", "1"], bounded);
  assert.equal(rootCapture.code, 1);
  assert.match(rootCapture.stderr, new RegExp(`^vde: ${name}/sw1: no such switch directory .*${whose}\n$`));
  // Another user (their own runtime directory, as their login has).
  const theirs = `${s.tmp}/nobody`;
  await Deno.mkdir(theirs, { mode: 0o700 });
  await Deno.chown(theirs, 65534, 65534);
  const nobody = (cmd: string[]) =>
    run([
      ...AS_NOBODY,
      "env",
      "-i",
      `XDG_RUNTIME_DIR=${theirs}`,
      "PATH=/usr/bin:/bin",
      "HOME=/",
      ...vde,
      ...cmd,
    ], bounded);
  const down = await nobody(["down", name]);
  // (Root's labs, run by others meanwhile, are named to any user.)
  assert.match(
    down.stdout,
    new RegExp(`^no lab ${name} is up(; root's labs are up .*)?: nothing to take down\n$`),
  );
  const term = await nobody(["term", name, "-c", "ports"]);
  assert.equal(term.code, 1);
  assert.match(term.stderr, /^vde: cannot open the management socket /);
  const status = await s.as(["vde", "status", name, "--json"]);
  assert.equal(JSON.parse(status.stdout).state, "up", "the lab is up still");
}

Deno.test("vde up --rootless: a user without root runs a lab that their commands outside it find and take down", async (t) => {
  if (skipUnless(t, await capability())) return;
  await withStudent([], async (s) => {
    if (skipUnless(t, await namespacesRefused(s))) return;
    // The machine's loopback, which only a slirp outside the lab's network namespace reaches.
    using server = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const said = (async () => {
      using conn = await server.accept();
      return new TextDecoder().decode(await new Response(conn.readable).arrayBuffer());
    })();
    // Awaited where the lab is up: a failure before then closes the listener, and its rejection is not the news.
    said.catch(() => {});
    await upReachDown(s, `rl${Deno.pid % 100000}`, "outside", async () => {
      const tcp = await s.as([
        "vde",
        "term",
        `rl${Deno.pid % 100000}`,
        "-c",
        `h1 bash -c 'echo hello from h1 > /dev/tcp/10.0.2.2/${server.addr.port}'`,
      ]);
      assert.equal(tcp.code, 0, tcp.stdout + tcp.stderr);
      assert.equal(await said, "hello from h1\n");
      await othersCannotReach(s, `rl${Deno.pid % 100000}`);
    });
  });
});

/** A TCP port of the machine's loopback that was free a moment ago. */
function freePort(): number {
  using l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  return l.addr.port;
}

Deno.test("a rootless lab's slirp and cable nodes reach the machine's loopback: NAT, a forward in, a cable to a listener there", async (t) => {
  if (skipUnless(t, await capability())) return;
  await withStudent([], async (s) => {
    if (skipUnless(t, await namespacesRefused(s))) return;
    const name = `rs${Deno.pid % 100000}`;
    // The machine's side: a server on its loopback, and the student's switch with a cable listener there
    // and a slirp of its own network (10.0.3.0/24) to answer across the cable.
    using server = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const said = (async () => {
      using conn = await server.accept();
      return new TextDecoder().decode(await new Response(conn.readable).arrayBuffer());
    })();
    // Awaited where the lab is up: a failure before then closes the listener, and its rejection is not the news.
    said.catch(() => {});
    const [forward, cable] = [freePort(), freePort()];
    const far = `${s.tmp}/home/far`;
    assert.equal((await s.as(["vde", "switch", "--sock", far, "-d"])).code, 0);
    const listen = await s.as([
      "sh",
      "-c",
      `vde cable listen 127.0.0.1:${cable} --sock ${far} --insecure >cable.log 2>&1 & echo $!`,
    ]);
    assert.equal(listen.code, 0, listen.stderr);
    const listener = Number(listen.stdout.trim());
    const farSlirp = await s.as(["vde", "slirp", "--sock", far, "-o", "addr=10.0.3.2/24", "-d"]);
    assert.equal(farSlirp.code, 0, farSlirp.stderr);
    // h1 asks its slirp for a lease as the lab comes up: it gets one, with the gateway as its router.
    await Deno.writeTextFile(
      `${s.tmp}/home/lab.yaml`,
      `name: ${name}
topology:
  nodes:
    sw1: { kind: switch }
    nat: { kind: slirp, forwards: ["tcp:127.0.0.1:${forward}:10.0.2.32:8080"] }
    h1: { kind: host, address: dhcp }
    h2: { kind: host, address: 10.0.2.32/24 }
    sw2: { kind: switch }
    uplink: { kind: cable, connect: "127.0.0.1:${cable}", insecure: true }
    h3: { kind: host, address: 10.0.3.31/24 }
  links:
    - endpoints: [nat, sw1]
    - endpoints: [h1, sw1]
    - endpoints: [h2, sw1]
    - endpoints: [uplink, sw2]
    - endpoints: [h3, sw2]
`,
    );
    const up = await s.as(["vde", "up", "-d", "--rootless", "lab.yaml"], 120_000);
    assert.equal(up.code, 0, up.stderr);
    const status = JSON.parse((await s.as(["vde", "status", name, "--json"])).stdout);
    const nat = status.nodes.find((n: { name: string }) => n.name === "nat");
    assert.deepEqual([nat.state, nat.outside], ["up", true]);
    const h1 = status.nodes.find((n: { name: string }) => n.name === "h1");
    assert.match(h1.interfaces[0].addresses[0], /^10\.0\.2\.\d+\/24$/, "h1 got its lease at the start");
    const r = await s.as([
      "vde",
      "term",
      name,
      "-c",
      `h1 bash -c 'echo hello from h1 > /dev/tcp/10.0.2.2/${server.addr.port}'`,
      "-c",
      "h2 sh -c 'echo hello from h2 | busybox nc -l -p 8080 >/dev/null 2>&1 &'",
      "-c",
      "h3 ping -c 1 -W 5 10.0.3.2",
    ]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(await said, "hello from h1\n");
    assert.match(r.stdout, /1 received/, "h3 reached the far slirp across the cable");
    // The forward listens on the machine's loopback and reaches h2's server.
    const answer = await waitFor(async () => {
      try {
        using conn = await Deno.connect({ hostname: "127.0.0.1", port: forward });
        const text = new TextDecoder().decode(await new Response(conn.readable).arrayBuffer());
        return text === "" ? undefined : text;
      } catch {
        return undefined;
      }
    }, { timeoutMs: 10_000, what: "h2's server through the forward" });
    assert.equal(answer, "hello from h2\n");
    // A cable added live runs outside too: it reaches the machine's loopback (the lab's own has no listener),
    // and goes with its removal.
    using added = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const add = await s.as([
      "vde",
      "term",
      name,
      "-c",
      `add cable c2 connect 127.0.0.1:${added.addr.port} insecure`,
    ]);
    assert.equal(add.code, 0, add.stdout + add.stderr);
    const cableConn = await added.accept();
    const c2 = JSON.parse((await s.as(["vde", "status", name, "--json"])).stdout).nodes
      .find((n: { name: string }) => n.name === "c2");
    assert.equal(c2?.outside, true);
    assert.equal((await s.as(["vde", "term", name, "-c", "del c2"])).code, 0);
    await new Response(cableConn.readable).arrayBuffer(); // ends once the cable outside is closed
    // A listening cable added live on port 0 shows the port it got outside, where a peer reaches it.
    const add0 = await s.as(["vde", "term", name, "-c", "add cable c3 listen 127.0.0.1:0 insecure"]);
    assert.equal(add0.code, 0, add0.stdout + add0.stderr);
    const c3 = JSON.parse((await s.as(["vde", "status", name, "--json"])).stdout).nodes
      .find((n: { name: string }) => n.name === "c3");
    const got = Number(/^127\.0\.0\.1:(\d+)$/.exec(c3?.listen ?? "")?.[1] ?? 0);
    assert.ok(got > 0, JSON.stringify(c3));
    (await Deno.connect({ hostname: "127.0.0.1", port: got })).close();
    assert.equal((await s.as(["vde", "term", name, "-c", "del c3"])).code, 0);
    // A forward added by --apply listens on the machine's loopback too, opened by the vde up outside.
    const second = freePort();
    const file = await Deno.readTextFile(`${s.tmp}/home/lab.yaml`);
    await Deno.writeTextFile(
      `${s.tmp}/home/lab.yaml`,
      file.replace(':10.0.2.32:8080"]', `:10.0.2.32:8080", "tcp:127.0.0.1:${second}:10.0.2.32:8081"]`),
    );
    const apply = await s.as(["vde", "up", "--apply", "lab.yaml"]);
    assert.equal(apply.code, 0, apply.stdout + apply.stderr);
    assert.match(
      apply.stdout,
      new RegExp(`^lab ${name}: slirp nat: forwards .* -> .*:${second}:10\\.0\\.2\\.32:8081`),
    );
    (await Deno.connect({ hostname: "127.0.0.1", port: second })).close();

    const down = await s.as(["vde", "down", name]);
    assert.equal(down.code, 0, down.stderr);
    assert.equal((await s.as(["vde", "term", far, "-c", "shutdown"])).code, 0);
    // A listener waiting for its next cable outlives its switch: it is stopped as its user would.
    Deno.kill(listener, "SIGTERM");
    await s.noneLeft("the lab, its slirp and cable outside, and the far switch to end");
    // The forward went with the lab.
    await assert.rejects(Deno.connect({ hostname: "127.0.0.1", port: forward }));
  });
});

Deno.test("a rootless lab's /metrics has its slirp nodes' vde_slirp_* (slirp = the node), run outside, one added live too, as a root lab's; promtool agrees", async (t) => {
  if (skipUnless(t, await capability())) return;
  if (await skipWithoutPromtool(t)) return;
  await withStudent([], async (s) => {
    if (skipUnless(t, await namespacesRefused(s))) return;
    const name = `rm${Deno.pid % 100000}`;
    await Deno.writeTextFile(
      `${s.tmp}/home/lab.yaml`,
      `name: ${name}
topology:
  nodes:
    sw1: { kind: switch }
    nat: { kind: slirp }
    h1: { kind: host, address: dhcp }
  links:
    - endpoints: [nat, sw1]
    - endpoints: [h1, sw1]
`,
    );
    const up = await s.as(["vde", "up", "-d", "--rootless", "--http", "0", "lab.yaml"], 120_000);
    assert.equal(up.code, 0, up.stderr);
    const url = /web view on (http:\/\/127\.0\.0\.1:\d+\/) /.exec(up.stderr)?.[1];
    assert.ok(url !== undefined, up.stderr);
    const ping = await s.as([
      "vde",
      "term",
      name,
      "-c",
      "h1 ping -c 1 -W 5 10.0.2.2",
      "-c",
      "add slirp nat2",
    ]);
    assert.equal(ping.code, 0, ping.stdout + ping.stderr);
    const text = await (await fetch(`${url}metrics`)).text();
    // h1's lease came from nat, outside the lab's namespaces, and its ping went through it.
    assert.equal(metricValue(text, 'vde_slirp_dhcp_replies_total{slirp="nat"}') >= 1, true, text);
    assert.equal(metricValue(text, 'vde_slirp_receive_packets_total{slirp="nat"}') >= 2, true, text);
    assert.equal(metricValue(text, 'vde_slirp_receive_packets_total{slirp="nat2"}'), 0);
    assert.equal(
      text.split("\n").filter((l) => l === "# TYPE vde_slirp_receive_packets_total counter").length,
      1,
    );
    assert.match(text, /^vde_port_receive_bytes_total\{switch="sw1"/m);
    await assertPromtoolClean(text);
    const down = await s.as(["vde", "down", name]);
    assert.equal(down.code, 0, down.stderr);
    await s.noneLeft("the lab and its slirps outside to end");
  });
});

Deno.test("a rootless lab and its vde up outside end together: a SIGTERM of either, in the foreground or with -d, and vde down with the one outside stopped", async (t) => {
  if (skipUnless(t, await capability())) return;
  await withStudent([], async (s) => {
    if (skipUnless(t, await namespacesRefused(s))) return;
    const name = `rt${Deno.pid % 100000}`;
    const forward = freePort();
    await Deno.writeTextFile(
      `${s.tmp}/home/lab.yaml`,
      `name: ${name}\ntopology:\n  nodes:\n    sw1: { kind: switch }\n` +
        `    nat: { kind: slirp, forwards: ["tcp:127.0.0.1:${forward}:10.0.2.31:80"] }\n` +
        `    h1: { kind: host, address: dhcp }\n    c1: { kind: cable, listen: "127.0.0.1:0", insecure: true }\n` +
        `  links:\n    - endpoints: [nat, sw1]\n    - endpoints: [h1, sw1]\n    - endpoints: [c1, sw1]\n`,
    );
    /** The lab's process (its state's pid) and the vde up outside it, once the lab serves. */
    const pids = async () => {
      const lab = await waitFor(async () => {
        const r = await s.as(["vde", "status", name, "--json"]);
        return r.code === 0 ? JSON.parse(r.stdout).pid as number : undefined;
      }, { timeoutMs: 60_000, what: "the lab to serve" });
      const ups = (await run(["pgrep", "-u", String(s.uid), "-f", "vde up"], { check: false })).stdout;
      const outside = ups.split("\n").map(Number).filter((p) => p > 0 && p !== lab);
      assert.equal(outside.length, 1, ups);
      // The lab's state names it, for vde down.
      const state = JSON.parse(await Deno.readTextFile(`${s.tmp}/xdg/vde/${name}/state.json`));
      assert.equal(state.outsideProcess?.pid, outside[0]);
      return { lab, outside: outside[0]! };
    };
    const gone = async (what: string) => {
      await s.noneLeft(what);
      assert.match((await s.as(["vde", "status"])).stdout, /^no labs are up/);
      // The forward went with the slirp outside: its port is free again.
      Deno.listen({ hostname: "127.0.0.1", port: forward }).close();
    };
    // In the foreground (as from a terminal, here in the background of a shell): SIGTERM of the vde up outside.
    const fg = await s.as(["sh", "-c", "vde up --rootless lab.yaml >up.log 2>&1 </dev/null &"]);
    assert.equal(fg.code, 0, fg.stderr);
    Deno.kill((await pids()).outside, "SIGTERM");
    await gone("a SIGTERM of the vde up outside to end the lab too");
    // With -d: SIGTERM of the lab's process, as `vde down` sends; then of the background vde up outside.
    for (const which of ["lab", "outside"] as const) {
      const up = await s.as(["vde", "up", "-d", "--rootless", "lab.yaml"], 120_000);
      assert.equal(up.code, 0, up.stderr);
      Deno.kill((await pids())[which], "SIGTERM");
      await gone(`a SIGTERM of the ${which === "lab" ? "lab" : "vde up outside"} to end both`);
    }
    // Its vde up outside stopped (Ctrl-Z, SIGSTOP): vde down ends the lab by its SIGTERM (its end waits for no
    // node's close out there), then the vde up outside; no SIGKILL after the grace.
    const up = await s.as(["vde", "up", "-d", "--rootless", "lab.yaml"], 120_000);
    assert.equal(up.code, 0, up.stderr);
    Deno.kill((await pids()).outside, "SIGSTOP");
    const down = await s.as(["vde", "down", name], 60_000);
    assert.match(down.stdout, /^stopped vde up \(pid \d+\)\nstopped vde up --rootless outside /, down.stdout);
    await gone("vde down to end a lab whose vde up outside was stopped");
  });
});

Deno.test("vde up --rootless on a machine without /run/netns makes its own /run, with what /run held bound back in", async (t) => {
  if (skipUnless(t, await capability())) return;
  // A machine whose /run has no netns: root's mount namespace of the test's own, its /run a tmpfs holding
  // one file (each command of the student's runs in a fresh one: the lab keeps the first).
  const freshRun = [
    "unshare",
    "--mount",
    "sh",
    "-c",
    'mount -t tmpfs -o mode=755 vde-test /run && echo held > /run/vde-test-file && exec "$@"',
    "sh",
  ];
  await withStudent(freshRun, async (s) => {
    if (skipUnless(t, await namespacesRefused(s))) return;
    await upReachDown(s, `rn${Deno.pid % 100000}`, "node", async () => {
      const seen = await s.as(["vde", "term", `rn${Deno.pid % 100000}`, "-c", "h1 cat /run/vde-test-file"]);
      assert.match(seen.stdout, /^held$/m, seen.stderr);
    });
  });
});

Deno.test("README's Without root block runs as written, as a user without root", async (t) => {
  if (skipUnless(t, await capability())) return;
  await withStudent([], async (s) => {
    if (skipUnless(t, await namespacesRefused(s))) return;
    const readme = await Deno.readTextFile(`${ROOT}README.md`);
    const at = readme.indexOf("## Without root");
    assert.ok(at >= 0, "README has a section Without root");
    const block = /```sh\n([\s\S]*?)```/.exec(readme.slice(at))?.[1];
    assert.ok(block !== undefined, "its shell block");
    // Only names made unique to this run: the bundle the test built (scripts/bundle.ts, as step 0's
    // `deno task bundle` builds it: the user's own DENO_DIR may reach no registry), the socket directory, the lab.
    assert.ok(block.includes("deno task bundle ~/bin/vde"), "step 0 builds the bundle from the checkout");
    const lab = `ml${Deno.pid % 100000}`;
    const script = block
      .replace("deno task bundle ~/bin/vde", `install -m 755 ${s.tmp}/bin/vde ~/bin/vde`)
      .replaceAll("/tmp/$USER-net", `${s.tmp}/home/$USER-net`)
      .replaceAll("mylan", lab);
    const r = await s.as(["bash", "-c", `set -e\n${script}`], 120_000);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    // Step 2's host and step 3's hosts each pinged: 3 of 3 received, three times.
    assert.equal(r.stdout.match(/3 packets transmitted, 3 received/g)?.length, 3, r.stdout);
    await s.noneLeft("the block's processes to end with its clean-up");
  });
});

Deno.test("a rootless lab's slirp, run outside, leases none of its LAN's static addresses: h1 on dhcp beside h2 on 10.0.2.15, a host added live, and a lease a host added live takes is leased again", async (t) => {
  if (skipUnless(t, await capability())) return;
  await withStudent([], async (s) => {
    if (skipUnless(t, await namespacesRefused(s))) return;
    const name = `rd${Deno.pid % 100000}`;
    await Deno.writeTextFile(
      `${s.tmp}/home/lab.yaml`,
      `name: ${name}\ntopology:\n  nodes:\n    sw1: { kind: switch }\n    nat: { kind: slirp }\n` +
        "    h1: { kind: host, address: dhcp }\n    h2: { kind: host, address: 10.0.2.15/24, gateway: 10.0.2.2 }\n" +
        "  links:\n    - endpoints: [nat, sw1]\n    - endpoints: [h1, sw1]\n    - endpoints: [h2, sw1]\n",
    );
    const up = await s.as(["vde", "up", "-d", "--rootless", "lab.yaml"], 120_000);
    assert.equal(up.code, 0, up.stderr);
    try {
      const addr = await s.as(["vde", "exec", "h1", "ip", "-4", "-o", "addr", "show", "dev", "eth0"]);
      const h1 = ipv4In(addr.stdout);
      assert.match(h1, /^10\.0\.2\.\d+$/, addr.stdout + addr.stderr);
      assert.notEqual(h1, "10.0.2.15", "h1's lease is h2's static address");
      const ping = await s.as(["vde", "exec", "h1", "ping", "-c", "1", "-w", "10", "10.0.2.2"]);
      assert.equal(ping.code, 0, ping.stdout + ping.stderr);
      // Live: h3 takes the address a new lease would get next; h4 on dhcp, added after it, gets another.
      const next = `10.0.2.${Number(h1.split(".")[3]) + 1}`;
      const add = await s.as(["vde", "term", name, ...staticThenDhcpLive(next)], 60_000);
      assert.equal(add.code, 0, add.stdout + add.stderr);
      const addr4 = await s.as(["vde", "exec", "h4", "ip", "-4", "-o", "addr", "show", "dev", "eth0"]);
      const h4 = ipv4In(addr4.stdout);
      assert.match(h4, /^10\.0\.2\.\d+$/, addr4.stdout + addr4.stderr);
      assert.ok(![h1, "10.0.2.15", next].includes(h4), `h4 leased ${h4}, a static address or h1's`);
      // Live: h5 on h4's lease; the slirp outside ends it, and the lab leases h4 another at once.
      const taken = await s.as([
        "vde",
        "term",
        name,
        "-c",
        `add host h5 address ${h4}/24`,
        "-c",
        "add link h5 sw1",
      ]);
      assert.equal(taken.code, 0, taken.stdout + taken.stderr);
      const again = await s.as(["vde", "exec", "h4", "ip", "-4", "-o", "addr", "show", "dev", "eth0"]);
      const h4s = ipv4sIn(again.stdout);
      assert.equal(h4s.length, 1, again.stdout + again.stderr);
      assert.ok(![h1, "10.0.2.15", next, h4].includes(h4s[0]!), `h4 holds ${h4s}, a static address or h1's`);
    } finally {
      await s.as(["vde", "down", name], 60_000);
    }
    await s.noneLeft("the lab's processes to end with vde down");
  });
});

/** The sleep a host's command leaves running behind it, as h1's settings. */
const SLEEPER = `address: 10.0.2.31/24, exec: ["sleep 1000 &"]`;

/** The student's lab.yaml: lab `name`, a switch and host h1 (with `host`'s settings) on it. */
async function writeLab(s: Student, name: string, host: string): Promise<void> {
  await Deno.writeTextFile(
    `${s.tmp}/home/lab.yaml`,
    `name: ${name}\ntopology:\n  nodes:\n    sw1: { kind: switch }\n    h1: { kind: host${
      host ? `, ${host}` : ""
    } }\n` +
      "  links:\n    - endpoints: [h1, sw1]\n",
  );
}

/** Brings up lab `name` (writeLab's) with -d --rootless as the student. */
async function upInBackground(s: Student, name: string, host: string): Promise<void> {
  await writeLab(s, name, host);
  const up = await s.as(["vde", "up", "-d", "--rootless", "lab.yaml"], 120_000);
  assert.equal(up.code, 0, up.stderr);
}

Deno.test("vde down of a rootless lab whose vde up was killed with SIGKILL ends what its hosts left running", async (t) => {
  if (skipUnless(t, await capability())) return;
  await withStudent([], async (s) => {
    if (skipUnless(t, await namespacesRefused(s))) return;
    const name = `rk${Deno.pid % 100000}`;
    await upInBackground(s, name, SLEEPER);
    const { pid } = JSON.parse((await s.as(["vde", "status", name, "--json"])).stdout);
    Deno.kill(pid, "SIGKILL");
    await waitFor(() => !processAlive(pid), { timeoutMs: 10_000, what: "the lab's vde up to die" });
    const sleeper = await run(["pgrep", "-u", String(s.uid), "-x", "sleep"], { check: false });
    assert.match(sleeper.stdout, /^\d+\n$/, "the host's sleep outlived its lab");
    // A stale record whose namespace number the kernel has since given to a stranger: the student's own
    // container (unshare -r, as podman), of the same user, in a namespace with that device and inode.
    const stranger = await s.as([
      "sh",
      "-c",
      "unshare --user --map-root-user sleep 1001 >/dev/null 2>&1 & echo $!",
    ]);
    const strangerPid = Number(stranger.stdout.trim());
    await waitFor(() =>
      userNamespaceOf(String(strangerPid)) !== null &&
      !sameNamespace(userNamespaceOf(String(strangerPid)), userNamespaceOf("self")), {
      timeoutMs: 10_000,
      what: "the stranger to enter its namespace",
    });
    const state = JSON.parse(await Deno.readTextFile(`${s.tmp}/xdg/vde/${name}/state.json`));
    assert.ok(state.rootless?.mark, "a rootless lab's state has its mark");
    const stale = `${name}s`;
    await Deno.mkdir(`${s.tmp}/xdg/vde/${stale}`);
    await Deno.writeTextFile(
      `${s.tmp}/xdg/vde/${stale}/state.json`,
      JSON.stringify({
        ...state,
        name: stale,
        rootless: { ...state.rootless, namespace: userNamespaceOf(String(strangerPid)) },
      }),
    );
    await run(["chown", "-R", `${s.uid}:${s.uid}`, `${s.tmp}/xdg/vde/${stale}`]);
    const staleDown = await s.as(["vde", "down", stale]);
    assert.equal(staleDown.code, 0, staleDown.stderr);
    assert.equal(staleDown.stdout, `removed lab ${stale}\n`);
    assert.ok(processAlive(strangerPid), "the stranger in the namespace with the lab's old number runs on");
    Deno.kill(strangerPid, "SIGKILL");
    const down = await s.as(["vde", "down", name]);
    assert.equal(down.code, 0, down.stderr);
    assert.match(down.stdout, /^killed \d+ process(es)? left in its namespaces\nremoved lab /m);
    await s.noneLeft("nothing of the lab's left running");
  });
});

Deno.test("vde up --rootless in the foreground stops on SIGINT, SIGTERM or SIGHUP sent to it alone: exit 0, nothing left", async (t) => {
  if (skipUnless(t, await capability())) return;
  await withStudent([], async (s) => {
    if (skipUnless(t, await namespacesRefused(s))) return;
    const name = `rs${Deno.pid % 100000}`;
    await writeLab(s, name, SLEEPER);
    // No terminal: a signal to this process (kill, a supervisor, timeout) reaches no other, SIGINT too.
    for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
      const [cmd, ...args] = s.argv(["vde", "up", "--rootless", "lab.yaml"]);
      // No pipes: the lab in the namespaces would hold them open past this process, were it left behind.
      const up = new Deno.Command(cmd!, {
        args,
        cwd: `${s.tmp}/home`,
        stdin: "null",
        stdout: "null",
        stderr: "null",
      })
        .spawn();
      try {
        await waitFor(
          async () =>
            JSON.parse((await s.as(["vde", "status", name, "--json"])).stdout || "{}").state === "up",
          {
            timeoutMs: 60_000,
            what: `lab ${name} to come up`,
          },
        );
        up.kill(signal);
        let timer: ReturnType<typeof setTimeout> | undefined;
        const ended = await Promise.race([
          up.status,
          new Promise<null>((r) => timer = setTimeout(() => r(null), 20_000)),
        ]);
        clearTimeout(timer);
        assert.ok(ended !== null, `vde up --rootless still runs 20 s after its ${signal}`);
        assert.equal(ended.code, 0, `${signal}: its exit status`);
        await s.noneLeft(`the lab's processes to end with its ${signal}`);
      } finally {
        try {
          up.kill("SIGKILL");
        } catch { /* ended */ }
        await up.status;
      }
    }
  });
});

Deno.test("vde up -c of a rootless lab without --rootless refuses in one line and leaves the running lab up", async (t) => {
  if (skipUnless(t, await capability())) return;
  await withStudent([], async (s) => {
    if (skipUnless(t, await namespacesRefused(s))) return;
    const name = `rc${Deno.pid % 100000}`;
    await upInBackground(s, name, "");
    const before = JSON.parse((await s.as(["vde", "status", name, "--json"])).stdout).pid;
    // As the hint of a refused `vde up --apply` reads: `vde up -c FILE`.
    const again = await s.as(["vde", "up", "-c", "lab.yaml"]);
    assert.equal(again.code, 1);
    assert.equal(again.stdout, "", "nothing was taken down");
    assert.match(
      again.stderr,
      /^vde: lab rc\d+ needs root: .*`vde up --rootless` for namespaces of your own\n$/,
    );
    const after = await s.as(["vde", "status", name, "--json"]);
    assert.equal(after.code, 0, after.stderr);
    assert.equal(JSON.parse(after.stdout).pid, before);
    assert.equal((await s.as(["vde", "down", name])).code, 0);
    await s.noneLeft("nothing of the lab's left running");
  });
});

Deno.test("a rootless vde up -d refused before it has the lab (a switch's directory at its name) makes no log", async (t) => {
  if (skipUnless(t, await capability())) return;
  await withStudent([], async (s) => {
    if (skipUnless(t, await namespacesRefused(s))) return;
    const name = `rn${Deno.pid % 100000}`;
    await writeLab(s, name, "");
    const dir = `${s.tmp}/xdg/vde/${name}`;
    assert.equal((await s.as(["mkdir", "-m", "700", `${s.tmp}/xdg/vde`])).code, 0);
    const sw = await s.as(["vde", "switch", "--sock", dir, "-d"]);
    assert.equal(sw.code, 0, sw.stderr);
    // Past the checks of the vde up typed (no lab of the name is recorded): refused by the copy inside.
    const up = await s.as(["vde", "up", "-d", "--rootless", "lab.yaml"], 120_000);
    assert.equal(up.code, 1, up.stdout);
    assert.match(up.stderr, new RegExp(`cannot use ${dir}: it is the directory of a switch that runs there`));
    assert.doesNotMatch(up.stderr, /its log/, "no log to name");
    await assert.rejects(Deno.lstat(`${dir}.log`), Deno.errors.NotFound, "no log is left behind");
    assert.equal((await s.as(["vde", "term", dir, "-c", "shutdown"])).code, 0);
    await s.noneLeft("the switch ended");
  });
});

Deno.test("vde up --rootless where user namespaces are refused says so in one line, with what the admin sets", async (t) => {
  if (skipUnless(t, await capability())) return;
  await withStudent([], async (s) => {
    // A machine that refuses them, as util-linux's unshare then says: an unshare of the test's, first on the PATH.
    await Deno.mkdir(`${s.tmp}/fake`);
    await Deno.writeTextFile(
      `${s.tmp}/fake/unshare`,
      "#!/bin/sh\necho 'unshare: unshare failed: Operation not permitted' >&2\nexit 1\n",
      { mode: 0o755 },
    );
    await Deno.chmod(`${s.tmp}/fake`, 0o755);
    await Deno.writeTextFile(
      `${s.tmp}/home/lab.yaml`,
      "name: rf\ntopology:\n  nodes:\n    h1: { kind: host }\n",
    );
    const r = await s.as([
      "env",
      `PATH=${s.tmp}/fake:${s.tmp}/bin:/usr/bin:/bin`,
      "vde",
      "up",
      "--rootless",
      "lab.yaml",
    ]);
    assert.equal(r.code, 1);
    assert.equal(
      r.stderr,
      "vde: vde up --rootless: this machine lets no user make a user namespace " +
        "(unshare: unshare failed: Operation not permitted): its admin enables them " +
        "(sysctl user.max_user_namespaces=10000; on Debian 11 and older also kernel.unprivileged_userns_clone=1), " +
        "or run vde up as root\n",
    );
    assert.equal(r.stdout, "");
  });
});

Deno.test("a rootless lab refuses an rc, key or load reached through another user's directory or symlink, in one line as outside, and reads the user's own", async (t) => {
  if (skipUnless(t, await capability())) return;
  await withStudent([], async (s) => {
    if (skipUnless(t, await namespacesRefused(s))) return;
    const name = `rv${Deno.pid % 100000}`;
    const home = `${s.tmp}/home`;
    // A directory all may add names to, as /tmp: nobody's link there to the student's home, and nobody's
    // sticky directory the student put a script in. Inside the namespace both show as the overflow uid, as
    // root's `/` does.
    const shared = `${s.tmp}/shared`;
    const unmapped = "a user this user namespace does not map (root or another)";
    await Deno.mkdir(shared, { mode: 0o1777 });
    await Deno.chmod(shared, 0o1777);
    const made = await run(
      [...AS_NOBODY, "sh", "-c", 'ln -s "$2" "$1/x" && mkdir -m 1777 "$1/theirs"', "sh", shared, home],
      { check: false },
    );
    assert.equal(made.code, 0, made.stderr);
    await Deno.writeTextFile(`${home}/sw.rc`, "vlan/create 7\n");
    await Deno.writeTextFile(`${home}/more.rc`, "vlan/create 8\n");
    const put = await s.as(["sh", "-c", `cp ${home}/more.rc ${shared}/theirs/more.rc`]);
    assert.equal(put.code, 0, put.stderr);
    await run(["chown", `${s.uid}:${s.uid}`, `${home}/sw.rc`, `${home}/more.rc`]);
    const labFile = (rc: string) =>
      `name: ${name}\ntopology:\n  nodes:\n    sw1: { kind: switch, ports: 4, rc: ${rc} }\n  links: []\n`;

    // Through nobody's link: refused before anything is made, naming the link.
    await Deno.writeTextFile(`${home}/lab.yaml`, labFile(`${shared}/x/sw.rc`));
    const refused = await s.as(["vde", "up", "-d", "--rootless", "lab.yaml"], 120_000);
    assert.equal(refused.code, 1, refused.stdout);
    assert.match(
      refused.stderr,
      new RegExp(`it is reached through ${shared}/x, a symbolic link of nobody's`),
    );

    // A cable's key so: refused too.
    await Deno.writeTextFile(`${home}/lab.key`, `${"0123456789abcdef".repeat(4)}\n`, { mode: 0o600 });
    await run(["chown", `${s.uid}:${s.uid}`, `${home}/lab.key`]);
    await Deno.writeTextFile(
      `${home}/lab.yaml`,
      `${labFile("sw.rc")}`.replace(
        "  links: []",
        `    c1: { kind: cable, listen: "127.0.0.1:0", key: ${shared}/x/lab.key }\n  links:\n` +
          "    - endpoints: [c1, sw1]",
      ),
    );
    const key = await s.as(["vde", "up", "-d", "--rootless", "lab.yaml"], 120_000);
    assert.equal(key.code, 1, key.stdout);
    assert.match(
      key.stderr,
      new RegExp(`${shared}/x/lab.key is, or leads through, a symbolic link of nobody's`),
    );

    // The user's own rc and key, under root's directories (/, /tmp, the test's): read inside.
    await Deno.writeTextFile(
      `${home}/lab.yaml`,
      labFile("sw.rc").replace(
        "  links: []",
        '    c1: { kind: cable, listen: "127.0.0.1:0", key: lab.key }\n  links:\n    - endpoints: [c1, sw1]',
      ),
    );
    const up = await s.as(["vde", "up", "-d", "--rootless", "lab.yaml"], 120_000);
    assert.equal(up.code, 0, up.stderr);
    try {
      const vlans = await s.as(["vde", "term", `${name}/sw1`, "-c", "vlan/print"]);
      assert.match(vlans.stdout, /VLAN 0007/, vlans.stderr);
      // A load typed at the switch, read inside the namespace: through nobody's link or directory in
      // root's shared one, refused; the user's own file, read.
      for (const path of [`${shared}/x/more.rc`, `${shared}/theirs/more.rc`]) {
        const load = await s.as(["vde", "term", `${name}/sw1`, "-c", `load ${path}`]);
        assert.equal(load.code, 1);
        // Said by the switch, which judged the way inside: there root's 1777 `shared`, which the host side
        // did not vouch for (it is on no way it was given), is already a stranger's. vde term outside, to
        // which it is root's and fine, named nobody's link or directory past it, or nothing at all.
        assert.equal(
          load.stderr,
          `vde: load ${path}: it is reached through ${shared}, a directory of ${unmapped}, which may lead the ` +
            "name to any file, and its lines would run as ours: give a path through directories of yours " +
            "alone (of root's, a rootless lab knows only those on the way to its lab file, the files it " +
            "names, your home, working and temporary directories)\n",
        );
      }
      const log = await Deno.readTextFile(`${s.tmp}/xdg/vde/${name}.log`).catch(() => "");
      const after = await s.as(["vde", "term", `${name}/sw1`, "-c", "vlan/print"]);
      assert.doesNotMatch(after.stdout, /VLAN 0008/, `${after.stdout}\n${log}`);
      const own = await s.as([
        "vde",
        "term",
        `${name}/sw1`,
        "-c",
        `load ${home}/more.rc`,
        "-c",
        "vlan/print",
      ]);
      assert.match(own.stdout, /VLAN 0008/, own.stderr);
    } finally {
      const down = await s.as(["vde", "down", name]);
      assert.equal(down.code, 0, down.stderr);
    }
  });
});

Deno.test("a vde run by vde exec in a rootless lab's host reads the user's own rc there, as the lab's own processes do (vouched for by vde exec outside)", async (t) => {
  if (skipUnless(t, await capability())) return;
  await withStudent([], async (s) => {
    if (skipUnless(t, await namespacesRefused(s))) return;
    const name = `rx${Deno.pid % 100000}`;
    const home = `${s.tmp}/home`;
    await Deno.writeTextFile(
      `${home}/lab.yaml`,
      `name: ${name}\ntopology:\n  nodes:\n    sw1: { kind: switch }\n    h1: { kind: host }\n` +
        "  links:\n    - endpoints: [h1, sw1]\n",
    );
    await Deno.writeTextFile(`${home}/sw.rc`, "vlan/create 7\n");
    await run(["chown", `${s.uid}:${s.uid}`, `${home}/sw.rc`]);
    const up = await s.as(["vde", "up", "-d", "--rootless", "lab.yaml"], 120_000);
    assert.equal(up.code, 0, up.stderr);
    try {
      // Read and served until the INT; refused, it says so at once: `/` (root's) was no step it trusted.
      const sw = await s.as(
        [
          "vde",
          "exec",
          name,
          "h1",
          "timeout",
          "-s",
          "INT",
          "3",
          "vde",
          "switch",
          "--sock",
          `${home}/swx`,
          "--rc",
          `${home}/sw.rc`,
        ],
        60_000,
      );
      assert.doesNotMatch(sw.stderr, /does not map|Operation not permitted|refus/, sw.stderr);
      assert.notEqual(sw.code, 1, sw.stderr);
    } finally {
      const down = await s.as(["vde", "down", name], 120_000);
      assert.equal(down.code, 0, down.stderr);
    }
  });
});
