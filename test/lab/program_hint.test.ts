/** A program typed where the lab takes its own commands is answered with the host's line that runs it. */
import assert from "node:assert/strict";
import { programHint } from "../../src/lab/program_hint.ts";

Deno.test("a program typed as a lab command (ping, tcpdump, ip netns exec NS ...) is said as a host's line", () => {
  const hosts = new Map([["h1", { ns: "vde-demo-h1" }], ["h2", { ns: "vde-demo-h2" }]]);
  const programs = (name: string) => ["ping", "tcpdump", "ip"].includes(name);
  assert.equal(
    programHint("ping -c 3 10.9.0.2", hosts, programs),
    "ping: no such command in the lab shell; a program runs in a host: h1 ping -c 3 10.9.0.2 " +
      "(or exec HOST ...; hosts: h1, h2)\n",
  );
  assert.match(
    programHint("ip netns exec vde-demo-h2 tcpdump -i eth0", hosts, programs) ?? "",
    /^tcpdump: .* a program runs in a host: h2 tcpdump -i eth0 \(/,
  );
  assert.equal(
    programHint("ip netns exec other-ns ip -br addr", hosts, programs),
    "other-ns is no namespace of this lab (its hosts' are h1 vde-demo-h1, h2 vde-demo-h2); " +
      "a program runs in a host: h1 ip -br addr\n",
  );
  assert.equal(programHint("lnik sw1-sw2 down", hosts, programs), undefined, "a typo is no program");
  assert.equal(programHint("ping 10.9.0.2", new Map(), programs), undefined, "no host to run it in");
});

Deno.test("shutdown, reboot, poweroff and halt at the lab are never offered as a host's line: they act on the machine", () => {
  const hosts = new Map([["h1", { ns: "vde-demo-h1" }]]);
  for (const line of ["reboot", "/sbin/poweroff -f", "halt", "shutdown -h now"]) {
    const said = programHint(line, hosts, () => true) ?? "";
    assert.match(said, /acts on this whole machine, .*: the lab stops with `down`\n$/, line);
    assert.doesNotMatch(said, /h1 /, line);
  }
});
