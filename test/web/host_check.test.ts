/**
 * The Host header rule against DNS rebinding: names that cannot be rebound
 * are answered, any other name is refused, whatever the port.
 */
import assert from "node:assert/strict";
import {
  extraNames,
  hostAllowed,
  hostName,
  hostRefusal,
  isLoopback,
  machineNames,
  type OwnNames,
} from "../../src/web/host_check.ts";

/** The names of a machine called labhost, lab.cs.example.edu in /etc/hosts, and the user's `extra`. */
function names(extra: string[] = []): OwnNames {
  return { machine: new Set(["labhost", "labhost.cs.example.edu"]), extra: new Set(extra) };
}

Deno.test("host check: a loopback server answers IP literals and localhost names on any port, and refuses a rebound name", () => {
  const cases: [string | null, boolean][] = [
    ["127.0.0.1:9100", true],
    ["127.0.0.1", true],
    ["[::1]:9100", true],
    ["[::1]", true],
    ["localhost:9100", true],
    ["LOCALHOST:8080", true], // a tunnel's port, any case
    ["localhost.", true],
    ["app.localhost:9100", true],
    ["192.0.2.7:9100", true], // an address: nothing to rebind
    [null, true], // no browser sends no Host
    ["evil.example:9100", false],
    ["evil.example", false],
    ["localhost.evil.example", false],
    ["127.0.0.1.nip.io:9100", false],
    ["labhost:9100", false], // the machine's name: only when bound beyond the loopback
    ["", false],
    ["evil.example:9100:1", false],
    ["::1", false], // IPv6 without brackets is no Host
    ["[::1]x", false],
    ["ex ample", false],
    ["999.0.0.1", false],
    ["0x7f.1", false], // a browser's URL parser sends it as 127.0.0.1; by hand it is no name of ours
    ["2130706433", false],
    ["[::ffff:127.0.0.1]", true],
  ];
  for (const [host, allowed] of cases) {
    assert.equal(hostAllowed(host, "127.0.0.1", names()), allowed, `Host ${host}`);
    assert.equal(hostAllowed(host, "::1", names()), allowed, `Host ${host} on [::1]`);
  }
});

Deno.test("host check: a server on 0.0.0.0 or :: also answers the machine's own names, exactly, not names under them", () => {
  for (const bound of ["0.0.0.0", "::", "192.0.2.7"]) {
    assert.ok(hostAllowed("labhost:9100", bound, names()), bound);
    assert.ok(hostAllowed("LabHost.cs.example.edu.:9100", bound, names()), bound);
    assert.ok(hostAllowed("10.1.2.3:9100", bound, names()), bound);
    assert.ok(hostAllowed("[fe80::1]:9100", bound, names()), bound);
    for (
      const other of [
        "evil.example:9100",
        "labhostx.example",
        "labhost.evil.example",
        "labhost.cs.example.edu.evil",
      ]
    ) {
      assert.ok(!hostAllowed(other, bound, names()), `${other} on ${bound}`);
    }
    assert.ok(!hostAllowed("labhost", bound, { machine: new Set(), extra: new Set() }), `${bound}, no names`);
  }
});

Deno.test("host check: VDE_HTTP_HOSTS' names (a CNAME, a reverse proxy's) are answered on any server, exactly", () => {
  const { names: extra, bad } = extraNames(" vde.Example.org., lab-alias  proxy.example:443,,");
  assert.deepEqual([...extra], ["vde.example.org", "lab-alias", "proxy.example"]);
  assert.deepEqual(bad, []);
  for (const bound of ["127.0.0.1", "0.0.0.0"]) {
    assert.ok(hostAllowed("vde.example.org:9100", bound, names([...extra])), bound);
    assert.ok(!hostAllowed("x.vde.example.org", bound, names([...extra])), bound);
  }
  assert.deepEqual(extraNames("a b/c [::1 ..x -y").bad, ["b/c", "[::1", "..x", "-y"]);
  assert.deepEqual([...extraNames(undefined).names], []);
});

Deno.test("host check: the machine's names are its host name and the canonical name of /etc/hosts' lines naming it", () => {
  const hosts =
    "127.0.0.1 localhost\n# 10.0.0.9 evil.example labhost\n127.0.1.1\tlabhost.cs.example.edu labhost # the installer's\n" +
    "10.9.9.9 other.example otherhost\n";
  assert.deepEqual([...machineNames("LabHost", hosts)].sort(), ["labhost", "labhost.cs.example.edu"]);
  assert.deepEqual([...machineNames("lab1.cs.example", "")], ["lab1.cs.example"]);
  assert.deepEqual([...machineNames("", hosts)], []);
});

Deno.test("host check: a Host's name is lower case without port or dot; IPv6 keeps its brackets", () => {
  assert.equal(hostName("Example.COM.:80"), "example.com");
  assert.equal(hostName("[FE80::1]:9100"), "[fe80::1]");
  assert.equal(hostName("a b"), undefined);
  assert.ok(
    isLoopback("127.0.0.1") && isLoopback("127.1.2.3") && isLoopback("::1") && isLoopback("localhost"),
  );
  assert.ok(!isLoopback("0.0.0.0") && !isLoopback("::") && !isLoopback("10.0.0.1"));
});

Deno.test("host check: a refused Host is told what works from where its user is: localhost on a loopback server, the machine's names and addresses beyond it, and VDE_HTTP_HOSTS", () => {
  const own = { ...names(), addresses: ["127.0.0.1", "192.0.2.7", "::1", "fe80::1", "2001:db8::7"] };
  const loop = hostRefusal("evil.example", { hostname: "127.0.0.1", port: 9100 }, own);
  assert.match(
    loop,
    /browse http:\/\/localhost:9100\/ or the address itself, or list the name in VDE_HTTP_HOSTS\n$/,
  );
  assert.doesNotMatch(loop, /labhost|192\.0\.2\.7/);

  const v4 = hostRefusal("evil.example", { hostname: "0.0.0.0", port: 9100 }, own);
  assert.match(
    v4,
    /browse http:\/\/labhost:9100\/ or http:\/\/labhost\.cs\.example\.edu:9100\/ or http:\/\/192\.0\.2\.7:9100\/ or http:\/\/localhost:9100\/ on this machine, or list the name in VDE_HTTP_HOSTS\n$/,
  );
  assert.doesNotMatch(v4, /127\.0\.0\.1|2001|fe80/); // 0.0.0.0 takes no IPv6, and no remote user reaches the loopback

  const v6 = hostRefusal("evil.example", { hostname: "::", port: 80 }, {
    ...own,
    machine: new Set<string>(),
  });
  assert.match(
    v6,
    /browse http:\/\/192\.0\.2\.7:80\/ or http:\/\/\[2001:db8::7\]:80\/ or http:\/\/localhost:80\/ on this machine,/,
  );
  assert.doesNotMatch(v6, /fe80|\[::1\]/); // a link-local address needs a zone

  const one = hostRefusal("evil.example", { hostname: "192.0.2.7", port: 9100 }, own);
  assert.match(
    one,
    /browse http:\/\/labhost:9100\/ or http:\/\/labhost\.cs\.example\.edu:9100\/ or http:\/\/192\.0\.2\.7:9100\/, or list/,
  );
  assert.doesNotMatch(one, /localhost/); // a server on one address is not on the loopback
});
