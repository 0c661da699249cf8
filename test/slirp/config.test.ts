import assert from "node:assert/strict";
import {
  ConfigError,
  defaultConfig,
  describeConfig,
  formatForward,
  parseDnsUpstream,
  parseForward,
  parseGuestForward,
  parseSlirpOptions,
  resolversFrom,
} from "../../src/slirp/config.ts";
import { formatIpv4 } from "../../src/wire/ipv4.ts";
import { formatIpv6 } from "../../src/wire/ipv6.ts";

/** The one-line refusal of slirp:// options, or "accepted". */
function said(opts: string): string {
  try {
    parseSlirpOptions(opts);
  } catch (err) {
    assert(err instanceof ConfigError);
    return err.message;
  }
  return "accepted";
}

Deno.test("slirp:// defaults are libslirp's", () => {
  const c = parseSlirpOptions("");
  assert.equal(formatIpv4(c.gateway), "10.0.2.2");
  assert.equal(formatIpv4(c.dns), "10.0.2.3");
  assert.equal(formatIpv4(c.dhcpStart), "10.0.2.15");
  assert.equal(formatIpv6(c.gateway6), "fd00::2");
  assert.equal(formatIpv6(c.dns6), "fd00::3");
  assert.equal(c.hostLoopback, true);
  assert.equal(c.v4 && c.v6, true);
});

Deno.test("slirp:// options: addresses move with addr=, abbreviations, families, forwards", () => {
  const c = parseSlirpOptions(
    "/addr=10.1.0.2/16/addr6=fd01::1/vdnssearch=lan,example.org/vdomainname=vde.test/mtu=9000/disable_host_loopback/v4/tcpfwd=8080:10.1.0.15:80,127.0.0.1:2222:10.1.0.20:22/udpfwd=5353:10.1.0.15:53",
  );
  assert.equal(formatIpv4(c.network), "10.1.0.0");
  assert.equal(c.prefixLength, 16);
  assert.equal(formatIpv4(c.dns), "10.1.2.3"); // host parts kept
  assert.equal(formatIpv4(c.dhcpStart), "10.1.2.15");
  assert.equal(formatIpv6(c.dns6), "fd01::3");
  assert.deepEqual(c.search, ["lan", "example.org"]);
  assert.equal(c.domain, "vde.test");
  assert.equal(c.mtu, 9000);
  assert.equal(c.hostLoopback, false);
  assert.equal(c.v6, false);
  assert.equal(c.forwards.length, 3);
  assert.equal(formatForward(c.forwards[1]!, c), "tcp:127.0.0.1:2222:10.1.0.20:22");
  assert.equal(parseSlirpOptions("/vnameserver=10.0.2.53/dhcp=10.0.2.100").dhcpStart, 0x0a000264);
  assert.equal(parseSlirpOptions("/disable").hostLoopback, false); // abbreviation
});

Deno.test("a slirp:// value cut by its unquoted slashes is refused with the quoted spelling; a typo after a value is an unknown option", () => {
  assert.equal(
    said("/tftp=/srv/tftp/bootfile=boot.ipxe"),
    "tftp's value has slashes, which separate options: write each / as %2F, tftp_path=%2Fsrv%2Ftftp, " +
      "or quote it, tftp_path='/srv/tftp', inside double quotes for the shell",
  );
  assert.equal(
    said("/tftp_path=/srv/tftp"),
    "tftp_path's value has slashes, which separate options: write each / as %2F, tftp_path=%2Fsrv%2Ftftp, " +
      "or quote it, tftp_path='/srv/tftp', inside double quotes for the shell",
  );
  assert.equal(
    said("/unixfwd=5555:/run/app.sock"),
    "unixfwd's value has slashes, which separate options: write each / as %2F, unixfwd=5555:%2Frun%2Fapp.sock, " +
      "or quote it, unixfwd='5555:/run/app.sock', inside double quotes for the shell",
  );
  assert.equal(said("/tftp='/srv/tftp'/bootfile=boot.ipxe"), "accepted");
  assert.equal(said("/tftp=%2Fsrv%2Ftftp"), "accepted");
  // The %2F form the refusal gives is taken as it is given.
  assert.equal(said("/unixfwd=5555:%2Frun%2Fapp.sock"), "accepted");
  assert.equal(said("/addr=10.1.0.2/24/restricted"), "accepted");
  assert.match(said("/mtu=1500/restrictd"), /^unknown slirp option "restrictd"/);
});

Deno.test("slirp:// refuses a bad option name, an address outside the network, a bad MTU, each in one line", () => {
  const cases: [string, RegExp][] = [
    ["/nosuchoption", /unknown slirp option "nosuchoption"/],
    // A forward as `--forward` writes it, where slirp:// wants the option.
    ["/tcp:8089:80", /^"tcp:8089:80" is a forward: slirp:\/\/ says tcpfwd=8089:80$/],
    ["/udp:5353:53", /^"udp:5353:53" is a forward: slirp:\/\/ says udpfwd=5353:53$/],
    ["/8080:80", /^"8080:80" is a forward: slirp:\/\/ says tcpfwd=8080:80$/],
    [
      "tcp:8089:80/restricted",
      /^slirp:\/\/tcp:8089:80\/restricted puts .* write slirp:\/\/\/tcpfwd=8089:80\/restricted$/,
    ],
    ["/dhcp=192.168.1.5", /outside the network 10\.0\.2\.0\/24/],
    ["/vnameserver6=fd99::3", /outside the prefix/],
    ["/mtu=100", /mtu must be between/],
    ["/addr=10.0.2.0", /network or broadcast/],
    ["/tftp_path=", /tftp_path needs a value, e.g. tftp_path='\/srv\/tftp'/],
    [`/bootfile=${"x".repeat(128)}`, /bootfile must be 1-127 bytes/],
    ["/cmdfwd=cat", /must be \[SLIRPIP:\]PORT:COMMAND/],
    [
      "/cmdfwd=10.0.2.2:5555:cat",
      /^cmdfwd address 10\.0\.2\.2 is the gateway's: give another below the first DHCP/,
    ],
    ["/unixfwd=10.0.2.20:5555:x", /is DHCP's to hand out/],
    ["/unixfwd=10.9.9.9:5555:x", /outside the network/],
    ["/tcpfwd=80", /must be \[HOSTIP:\]HOSTPORT/],
    ["/tcpfwd=99999:80", /port number/],
    ["/udpfwd=5353:192.168.9.9:53", /outside the network/],
  ];
  for (const [text, re] of cases) {
    assert.throws(
      () => parseSlirpOptions(text),
      (e: Error) => e instanceof ConfigError && re.test(e.message) && !e.message.includes("\n"),
      text,
    );
  }
});

Deno.test("slirp:// TFTP options: vdeplug's tftp_path= (quoted, for the slashes), our short tftp= for the same, bootfile=, tftp_server_name=", () => {
  const c = parseSlirpOptions("/tftp_path='/srv/tftp'/bootfile=boot.ipxe/tftp_server_name=gw");
  assert.equal(c.tftpRoot, "/srv/tftp");
  // Kept for those who wrote it: the directory here, though vdeplug reads it as tftp_server_name=.
  assert.equal(parseSlirpOptions("/tftp='/srv/tftp'").tftpRoot, "/srv/tftp");
  assert.equal(c.bootfile, "boot.ipxe");
  assert.equal(c.tftpServerName, "gw");
  assert.equal(parseSlirpOptions("/tftp_path=%2Fsrv").tftpRoot, "/srv");
  assert.match(describeConfig(c), /tftp-path {5}\/srv\/tftp\nbootfile {6}boot\.ipxe/);
});

Deno.test("slirp:// guest forwards: cmdfwd= and unixfwd=, 10.0.2.4 unless an address is given", () => {
  const c = parseSlirpOptions("/cmdfwd=5555:cat/unixfwd=10.0.2.5:6000:'/run/x.sock'");
  assert.deepEqual(c.guestForwards, [
    { addr: 0x0a000204, port: 5555, kind: "cmd", target: "cat" },
    { addr: 0x0a000205, port: 6000, kind: "unix", target: "/run/x.sock" },
  ]);
  assert.deepEqual(parseGuestForward("cmd", "7:sh -c 'a:b'", defaultConfig()).target, "sh -c 'a:b'");
});

Deno.test("QEMU's guestfwd address 10.0.2.100 is answered with both ways out, and dhcp= after it in the VNL is one", () => {
  assert.throws(
    () => parseSlirpOptions("/cmdfwd=10.0.2.100:1234:cat"),
    (e: Error) =>
      e.message ===
        "cmdfwd address 10.0.2.100 is DHCP's to hand out (its leases start at 10.0.2.15): give one " +
          "below that, or start the leases above it (slirp option dhcp=10.0.2.101)",
  );
  // Forwards are checked after the other options, in whatever order they were written.
  const c = parseSlirpOptions("/cmdfwd=10.0.2.100:1234:cat/dhcp=10.0.2.101");
  assert.equal(c.guestForwards[0]!.addr, 0x0a000264);
  assert.equal(
    parseSlirpOptions("/tcpfwd=8080:80/udpfwd=5353:53/tcpfwd=8081:81").forwards.map((f) => f.hostPort).join(),
    "8080,5353,8081",
  );
});

Deno.test("a guest forward at the network's last host or broadcast is not offered a dhcp= past the last lease", () => {
  // dhcp=10.0.2.255 or 10.0.3.0 would leave the guest no lease at all, or be refused in turn.
  assert.equal(
    said("/cmdfwd=10.0.2.254:1234:cat"),
    "cmdfwd address 10.0.2.254 is DHCP's last lease: give another below the first DHCP lease 10.0.2.15",
  );
  assert.equal(
    said("/unixfwd=10.0.2.255:1234:x.sock"),
    "unixfwd address 10.0.2.255 is the network's broadcast: give another below the first DHCP lease 10.0.2.15",
  );
  assert.match(said("/cmdfwd=10.0.2.253:1234:cat"), /slirp option dhcp=10\.0\.2\.254\)$/);
});

Deno.test("--forward forms: tcp:8080:80, udp:5353:10.0.2.15:53, host address, IPv6; 8080:80 is told its protocol", () => {
  const c = defaultConfig();
  let f = parseForward("tcp:8080:80", c);
  assert.equal(f.proto, "tcp");
  assert.equal(f.hostPort, 8080);
  assert.equal(f.guestPort, 80);
  assert.equal(f.guestAddr, undefined);
  assert.equal(formatForward(f, c), "tcp:0.0.0.0:8080:10.0.2.15:80");
  f = parseForward("udp:5353:10.0.2.15:53", c);
  assert.deepEqual([...f.guestAddr!], [10, 0, 2, 15]);
  f = parseForward("tcp:127.0.0.1:8080:80", c);
  assert.deepEqual([...f.hostAddr!], [127, 0, 0, 1]);
  f = parseForward("udp:[::]:5353:[fd00::15]:53", c);
  assert.equal(f.family, 6);
  assert.equal(f.hostAddr, undefined);
  assert.throws(() => parseForward("sctp:1:2", c), /tcp: or udp:$/);
  // Docker's -p spelling gets the line to type.
  assert.throws(
    () => parseForward("8080:80", c),
    /^ConfigError: forward "8080:80" must start with tcp: or udp: \(for TCP: tcp:8080:80\)$/,
  );
  assert.throws(
    () => parseForward("tcp:8080", c),
    /^ConfigError: forward "tcp:8080" must be tcp:\[HOSTIP:\]HOSTPORT:\[GUESTIP:\]GUESTPORT/,
    "shown as written",
  );
  assert.throws(() => parseForward("tcp:[::1]:80:10.0.2.15:80", c), /mixes IPv4 and IPv6/);
});

Deno.test("slirp:// options written with commas between them are told to use slashes", () => {
  assert.throws(
    () => parseSlirpOptions("/tcpfwd=8080:80,udpfwd=5353:53"),
    /^ConfigError: tcpfwd: "udpfwd=5353:53" is another option: separate options with "\/", not ","$/,
  );
  assert.throws(
    () => parseSlirpOptions("/vdnssearch=lan,mtu=1400"),
    /vdnssearch: "mtu=1400" is another option/,
  );
  assert.equal(parseSlirpOptions("/tcpfwd=8080:80,8081:81/udpfwd=5353:53").forwards.length, 3);
});

Deno.test("DNS upstreams from text and from resolv.conf", () => {
  assert.equal(parseDnsUpstream("127.0.0.1:5353").port, 5353);
  assert.equal(parseDnsUpstream("127.0.0.1").port, 53);
  assert.equal(parseDnsUpstream("[::1]:54").family, 6);
  assert.equal(parseDnsUpstream("::1").family, 6);
  assert.throws(() => parseDnsUpstream("dns.example"), /ADDR/);
  const r = resolversFrom("# comment\nnameserver 10.255.255.53\nsearch x\nnameserver fe80::1%eth0\n");
  assert.equal(r.length, 2);
  assert.equal(r[1]!.family, 6);
});

Deno.test("a slirp:// option that takes a value refuses to stand without one, naming an example", () => {
  // Every key the parser knows (its unknown-option message lists them) but the five switches.
  let message = "";
  try {
    parseSlirpOptions("/zzz");
  } catch (e) {
    message = (e as Error).message;
  }
  const flags = ["v4", "v6", "restricted", "disable_host_loopback", "verbose"];
  const valued = /\(known: ([^)]*)\)/.exec(message)![1]!.split(", ").filter((k) => !flags.includes(k));
  assert.ok(valued.includes("tcpfwd") && valued.includes("dns_upstream") && valued.length === 21, message);
  for (const key of valued) {
    // Our short tftp= is vdeplug's tftp_server_name=: the example is the key both read as the directory.
    const as = key === "tftp" ? "tftp_path" : key;
    for (const text of [`/${key}`, `/${key}=`, `/verbose/${key}/restricted`]) {
      assert.throws(
        () => parseSlirpOptions(text),
        (e: Error) =>
          e instanceof ConfigError &&
          new RegExp(`^${key} needs a value, e\\.g\\. ${as}=\\S+$`).test(e.message),
        text,
      );
    }
  }
  // Abbreviations are named in full.
  assert.throws(
    () => parseSlirpOptions("/tcpf"),
    /^ConfigError: tcpfwd needs a value, e\.g\. tcpfwd=8080:80$/,
  );
  assert.throws(
    () => parseSlirpOptions("/tftp"),
    /^ConfigError: tftp needs a value, e\.g\. tftp_path='\/srv\/tftp'$/,
  );
  const set = parseSlirpOptions(`/${flags.join("/")}`);
  assert.deepEqual([set.restricted, set.hostLoopback, set.verbose], [true, false, true]);
});

Deno.test("slirp:// options written after two slashes (where an address goes) are refused with the three-slash spelling", () => {
  for (const rest of ["bad=1", "tcpfwd=8080:80", "verbose", "x/verbose"]) {
    assert.throws(
      () => parseSlirpOptions(rest),
      (e: Error) =>
        e instanceof ConfigError && e.message.includes(`write slirp:///${rest}`) && !e.message.includes("\n"),
      rest,
    );
  }
  assert.equal(parseSlirpOptions("/tcpfwd=8080:80").forwards.length, 1);
  assert.equal(parseSlirpOptions("").forwards.length, 0);
});

Deno.test("slirp:// options in brackets (slirp://[hostfwd=tcp::8080-:80]) are refused with the slash form, QEMU's hostfwd as tcpfwd", () => {
  const cases: [string, string][] = [
    ["[hostfwd=tcp::8080-:80]", "slirp:///tcpfwd=8080:80"],
    ["/[tcpfwd=8080:10.0.2.15:80/verbose]", "slirp:///tcpfwd=8080:10.0.2.15:80/verbose"],
    ["[hostfwd=udp:127.0.0.1:5353-10.0.2.15:53]", "slirp:///udpfwd=127.0.0.1:5353:10.0.2.15:53"],
  ];
  for (const [rest, written] of cases) {
    assert.throws(
      () => parseSlirpOptions(rest),
      (e: Error) =>
        e instanceof ConfigError &&
        e.message === `slirp:// takes its options after slashes, not in brackets: write ${written}`,
      rest,
    );
    // What it says to write is taken.
    parseSlirpOptions(written.slice("slirp://".length));
  }
});

Deno.test("a mistyped slirp:// option names the nearest one", () => {
  assert.throws(
    () => parseSlirpOptions("/vdnsearch=lan"),
    /^ConfigError: unknown slirp option "vdnsearch" \(did you mean vdnssearch\? known: /,
  );
});

Deno.test("--forward takes QEMU's hostfwd form: tcp::2222-:22, udp:127.0.0.1:5353-10.0.2.15:53", () => {
  const c = defaultConfig();
  assert.equal(formatForward(parseForward("tcp::2222-:22", c), c), "tcp:0.0.0.0:2222:10.0.2.15:22");
  assert.equal(
    formatForward(parseForward("udp:127.0.0.1:5353-10.0.2.15:53", c), c),
    "udp:127.0.0.1:5353:10.0.2.15:53",
  );
  assert.equal(parseForward("tcp:[::1]:2222-:22", c).family, 6);
  assert.throws(
    () => parseForward("tcp::70000-:22", c),
    /^ConfigError: forward host port must be a port number/,
  );
});

Deno.test("--forward given QEMU's whole hostfwd= option is told to drop the name", () => {
  assert.throws(
    () => parseForward("hostfwd=tcp::2222-:22", defaultConfig()),
    /^ConfigError: forward "hostfwd=tcp::2222-:22": drop QEMU's "hostfwd=" and give its value, tcp::2222-:22$/,
  );
});

Deno.test("tcpfwd=/udpfwd= written as --forward or QEMU's hostfwd (tcp::2222-:22) are answered with vdeplug's spelling", () => {
  const spelling =
    "is --forward's or QEMU's hostfwd spelling; slirp:// takes [HOSTIP:]HOSTPORT:[GUESTIP:]GUESTPORT " +
    "with the protocol in the option's name";
  assert.equal(said("/tcpfwd=tcp::2222-:22"), `tcpfwd: "tcp::2222-:22" ${spelling}: tcpfwd=2222:22`);
  assert.equal(said("/tcpfwd=2222-:22"), `tcpfwd: "2222-:22" ${spelling}: tcpfwd=2222:22`);
  assert.equal(said("/tcpfwd=tcp:2222:22"), `tcpfwd: "tcp:2222:22" ${spelling}: tcpfwd=2222:22`);
  assert.equal(
    said("/udpfwd=udp:127.0.0.1:5353-10.0.2.15:53"),
    `udpfwd: "udp:127.0.0.1:5353-10.0.2.15:53" ${spelling}: udpfwd=127.0.0.1:5353:10.0.2.15:53`,
  );
  // The protocol written names the option to use.
  assert.equal(said("/tcpfwd=udp::53-:53"), `tcpfwd: "udp::53-:53" ${spelling}: udpfwd=53:53`);
  assert.equal(said("/tcpfwd=2222:22,[::1]:2223:[fd00::5]:23"), "accepted");
});

Deno.test("a flag written =off (QEMU's restrict=off) is refused: vdeplug turns a flag on whatever its value, the opposite of what was meant", () => {
  assert.equal(
    said("/restrict=off"),
    "restrict=off would restrict the guest to the gateway, DNS and forwards: restricted is a flag, on when " +
      "named whatever its value (as in vdeplug); leave it out for off",
  );
  assert.match(said("/v6=off"), /^v6=off would run IPv6 only: v6 is a flag/);
  assert.match(
    said("/disable_host_loopback=no"),
    /^disable_host_loopback=no would refuse the guest's/,
  );
  for (const off of ["0", "false", "NO", "n"]) {
    assert.match(said(`/verbose=${off}`), /leave it out for off$/);
  }
  // A value meaning on is taken as vdeplug takes it.
  assert.equal(parseSlirpOptions("/restrict=on").restricted, true);
  // QEMU's ipv6=off is our v4 (IPv4 only), not v6 (IPv6 only).
  assert.equal(
    said("/ipv6=off"),
    `"ipv6" is QEMU's -netdev user option; slirp:// says v4 when it is ipv6=off (v4 runs IPv4 only)`,
  );
});

Deno.test("QEMU's -netdev user option names in slirp:// are answered with slirp://'s own (dns= is not dns_upstream)", () => {
  assert.match(
    said("/hostfwd=tcp::2222-:22"),
    /^"hostfwd" is QEMU's -netdev user option; slirp:\/\/ says tcpfwd=/,
  );
  assert.match(said("/dns=10.0.2.3"), /slirp:\/\/ says vnameserver=10\.0\.2\.3/);
  assert.match(said("/guestfwd=tcp:10.0.2.100:1234-cmd:cat"), /says cmdfwd=/);
  assert.match(said("/dhcpstart=10.0.2.20"), /says dhcp=/);
  assert.equal(said("/restrict"), "accepted", "a prefix of restricted, as in vdeplug");
});
