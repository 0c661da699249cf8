/**
 * The lab shell's commands on a lab running in the background (`vde up -d`),
 * through `vde term LAB` (or the lab's runtime directory): the lab's console
 * is its control socket. A `link` line with a mistake in it changes nothing,
 * an unknown link is named as such, and a typo gets the nearest lab command.
 */
import assert from "node:assert/strict";
import { skipUnlessRoot } from "../helpers/processes.ts";
import { labDir } from "../../src/lab/names.ts";
import { vde, withLabFile } from "./_helpers.ts";

const TWO_SWITCHES = `name: x
topology:
  nodes:
    sw1: { kind: switch, ports: 4 }
    sw2: { kind: switch, ports: 4 }
  links:
    - endpoints: [sw1, sw2]
`;

Deno.test("vde term LAB runs the lab shell's commands on a lab in the background; a bad link line changes nothing", async (t) => {
  if (skipUnlessRoot(t)) return;
  await withLabFile({ text: TWO_SWITCHES }, async (name, file) => {
    const up = await vde(["up", "-d", file]);
    assert.equal(up.code, 0, up.stderr);

    let r = await vde(["term", name, "-c", "links", "-c", "sw1 port/showinfo"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^sw1:1-sw2:1 +up /m);
    assert.match(r.stdout, /Numports=4/);

    // The runtime directory stands for the lab too.
    r = await vde(["term", labDir(name), "-c", "link sw1-sw2 down"]);
    assert.equal(r.code, 0, r.stderr);
    r = await vde(["term", name, "-c", "link sw1-sw2 up loss 10% delay fast"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /delay: expected a duration such as 5ms or 1s, got "fast"/);
    r = await vde(["term", name, "-c", "link sw1-sw2"]);
    assert.equal(r.stdout.trim(), "sw1:1-sw2:1 down, -", "the failed line did not bring the link up");

    r = await vde(["term", name, "-c", "link sw1-sw2 up loss 10%", "-c", "link sw1-sw2"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), "sw1:1-sw2:1 up, loss 10%");

    // A listing command's failure in words comes without the listing's framing.
    r = await vde(["term", name, "-c", "exec h9 ls"]);
    assert.equal(r.stdout, "");
    assert.equal(r.stderr, "vde: exec h9 ls: no host h9 (hosts: none)\n");

    r = await vde(["term", name, "-c", "link sw1-sw9 down"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /no link sw1-sw9 \(links: sw1:1-sw2:1\)/);

    // A typo gets the nearest lab command; `ports`, which vde term emulates for switches, is no typo of itself.
    r = await vde(["term", name, "-c", "nodez"]);
    assert.equal(r.stderr, "vde: nodez: 1038 Function not implemented (did you mean nodes?)\n");
    r = await vde(["term", name, "-c", "ports"]);
    assert.equal(r.stderr, "vde: ports: 1038 Function not implemented\n");

    r = await vde(["term", name, "-c", "down"]);
    assert.equal(r.code, 0, r.stderr);
  });
});
