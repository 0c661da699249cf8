/**
 * One lab file, two copies side by side: `vde up FILE --name X` with the
 * file's variables from the environment (a slirp forward's host port), as a
 * teacher runs one file per student. Each copy's hosts answer inside their
 * own lab, with MACs of their own; `--apply` and `status` of a copy read the
 * file as it was brought up; `vde down --name` takes one copy down.
 */
import { freedPort } from "../helpers/ports.ts";
import assert from "node:assert/strict";
import { run, skipUnlessRoot } from "../helpers/processes.ts";
import { forceDown, inHost, leftovers, pingCount, uniqueLab, vde, vdeCommand } from "../lab/_helpers.ts";

const CLASS = `name: \${LAB:=class}
topology:
  nodes:
    sw1: { kind: switch, ports: \${PORTS:=4} }
    nat: { kind: slirp, forwards: ["tcp:127.0.0.1:\${PORT:=18080}:10.0.2.15:80"] }
    h1: { kind: host, address: 10.0.2.15/24, gateway: 10.0.2.2 }
    h2: { kind: host, address: 10.0.2.16/24 }
  links:
    - endpoints: [h1, sw1]
    - endpoints: [h2, sw1]
    - endpoints: [nat, sw1]
`;

Deno.test("two copies of one lab file run side by side under --name, each with its own forward port from a variable; each answers ping inside, with MACs of its own", async (t) => {
  if (skipUnlessRoot(t)) return;
  const dir = await Deno.makeTempDir({ prefix: "l8-copies-" });
  const file = `${dir}/class.yaml`;
  await Deno.writeTextFile(file, CLASS);
  const [a, b] = [uniqueLab(), uniqueLab()];
  const ports = { [a]: freedPort(), [b]: freedPort() };
  const up = (name: string, args: string[] = []) =>
    run([...vdeCommand(), "up", ...args, file, "--name", name], {
      check: false,
      timeoutMs: 60_000,
      env: { PORT: String(ports[name]), PORTS: "6" },
    });
  try {
    for (const name of [a, b]) {
      const r = await up(name, ["-d"]);
      assert.equal(r.code, 0, `vde up --name ${name}:\n${r.stdout}${r.stderr}`);
    }
    for (const name of [a, b]) {
      assert.equal(await pingCount(name, "h1", "10.0.2.16", 3), 3, `${name}: h1 reaches h2`);
      assert.equal(await pingCount(name, "h1", "10.0.2.2", 3), 3, `${name}: h1 reaches its slirp`);
      const status = JSON.parse((await vde(["status", name, "--json"])).stdout);
      assert.equal(status.name, name);
      assert.equal(status.file, await Deno.realPath(file), "both copies run the one file");
      const nat = status.nodes.find((n: { name: string }) => n.name === "nat");
      assert.ok(nat !== undefined);
    }
    const mac = async (name: string) =>
      (await inHost(name, "h1", ["ip", "-br", "link", "show", "eth0"])).stdout.trim().split(/\s+/)[2];
    assert.notEqual(await mac(a), await mac(b), "a copy's hosts have MACs of their own");
    // Each copy's forward is bound where its PORT said: the other copy's port is not this one's.
    for (const name of [a, b]) {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: ports[name]! });
      conn.close();
    }
    // Apply of the unchanged file with the variables empty here: the lab reads it with the values it came up with.
    const applied = await run([...vdeCommand(), "up", "--apply", file, "--name", a], {
      check: false,
      timeoutMs: 60_000,
      env: { PORT: "", PORTS: "" },
    });
    assert.equal(
      applied.stdout,
      `lab ${a}: nothing to apply: lab ${a} runs ${await Deno.realPath(file)} as it is\n`,
      applied.stderr,
    );
    // What this shell sets otherwise is said, not taken for applied.
    assert.equal(
      applied.stderr,
      `vde: lab ${a} keeps PORTS as "6" from its vde up, not this shell's "": a new value takes vde up -c\n` +
        `vde: lab ${a} keeps PORT as "${
          ports[a]
        }" from its vde up, not this shell's "": a new value takes vde up -c\n`,
    );
    const graph = await vde(["graph", a]);
    assert.equal(graph.code, 0, graph.stderr);
    // Drawn as it runs: its --name, and its PORTS from the environment it came up in (this one has none).
    assert.match(graph.stdout, new RegExp(`^graph "${a}" \\{\n[^]*switch, 6 ports`));
    const byFile = await vde(["graph", file, "--name", b]);
    assert.match(
      byFile.stdout,
      new RegExp(`^graph "${b}" \\{\n[^]*switch, 6 ports`),
      "the file as copy b runs it",
    );
    // The file's own name runs no lab: its copies are named, with the line that takes one down.
    const plain = await vde(["down", file]);
    assert.equal(plain.code, 0, plain.stderr);
    assert.match(
      plain.stdout,
      new RegExp(`nothing to take down \\(${file} runs as ${a}, ${b}: vde down ${file} --name ${a}\\)`),
    );
    const status = await vde(["status", file]);
    assert.equal(status.code, 1);
    assert.match(
      status.stderr,
      new RegExp(`\\(${file} runs as ${a}, ${b}: vde status ${file} --name ${a}\\)\n$`),
    );
    // Its values over its variables would make the file this copy's only.
    const save = await vde(["term", a, "-c", "save"]);
    assert.match(save.stdout + save.stderr, /has variables \(\$\{\.\.\.\}\), which save would replace/);
    assert.equal(await Deno.readTextFile(file), CLASS, "the file is as it was");
    const down = await vde(["down", file, "--name", a]);
    assert.equal(down.code, 0, down.stderr);
    assert.deepEqual(await leftovers(a), []);
    assert.equal(await pingCount(b, "h1", "10.0.2.16", 1), 1, "the other copy runs on");
  } finally {
    await forceDown(a);
    await forceDown(b);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("vde up of a lab file with a variable that is not set says which, at its line, and makes nothing", async () => {
  const dir = await Deno.makeTempDir({ prefix: "l8-vars-" });
  const file = `${dir}/lab.yaml`;
  await Deno.writeTextFile(
    file,
    "name: l8v\ntopology:\n  nodes:\n    sw1: { kind: switch, ports: ${L8_PORTS} }\n",
  );
  try {
    const r = await vde(["up", "-d", file]);
    assert.equal(r.code, 1);
    assert.equal(
      r.stderr,
      `${file}:4:33: variable L8_PORTS is not set (set it, or give a default: \${L8_PORTS:=VALUE})\n` +
        `vde: 1 error in ${file}; nothing was created\n`,
    );
    const named = await vde(["up", "-d", file, "--name", "a/b"]);
    assert.equal(named.code, 1);
    assert.match(named.stderr, /--name "a\/b" may hold only letters/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
