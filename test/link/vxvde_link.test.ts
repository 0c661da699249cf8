/**
 * vxvde:// (spec 3.8): option parsing (grp= rewrites the group address),
 * several of ours on one host and across a veth, the leave notice a member
 * sends to the group when it closes, the Link conformance suite across a
 * veth, and a port shared by two VNIs in one process (no trap there, unlike
 * vxlan://) but not with a socket that does not share it.
 */
import assert from "node:assert/strict";
import { parseVxVnl } from "../../src/link/vxlan_link.ts";
import { formatIp } from "../../src/wire/ip_address.ts";
import { withNetns } from "../helpers/netns.ts";
import { hasCommand, run, skipUnless, spawnManaged, waitFor } from "../helpers/processes.ts";
import { exchange, missing, netnsLinks, plugIn, vethPair } from "../helpers/netns_pair.ts";
import { BROADCAST, ethFrame, mac, ourCli, tagOf } from "../helpers/vde_clients.ts";
import type { CmdLink } from "../../src/link/cmd_link.ts";
import { conformance } from "../helpers/link_conformance.ts";
import { sleep, within } from "../cable/_helpers.ts";

const VXVDE = {
  scheme: "vxvde" as const,
  port: 14789,
  keys: ["port", "vni", "grp", "ttl", "rcvbuf", "v4", "v6", "hashsize", "expiretime", "if", "bind"],
};

Deno.test("parseVxVnl: vxvde defaults, grp= and bind=", () => {
  const d = parseVxVnl("", VXVDE);
  assert.equal(formatIp(d.group), "239.0.0.1");
  assert.equal(d.port, 14789);
  // grp=N sets the VNI and the group's last three bytes (vdeplug4).
  const g = parseVxVnl("239.0.0.1/grp=70000", VXVDE);
  assert.equal(g.vni, 70000);
  assert.equal(formatIp(g.group), "239.1.17.112");
  const both = parseVxVnl("/vni=5/grp=0", VXVDE);
  assert.equal(both.vni, 5);
  assert.equal(formatIp(both.group), "239.0.0.0");
  assert.equal(parseVxVnl("/grp=root", VXVDE).vni, 0);
  assert.equal(formatIp(parseVxVnl("/bind=10.1.2.3", VXVDE).bind!), "10.1.2.3");
  assert.throws(() => parseVxVnl("/bind=::1", VXVDE), /bind must be/);
  assert.throws(() => parseVxVnl("/grp=no-such-group-here", VXVDE), /no group/);
});

Deno.test("vxvde:// ours: two on one host and one across a veth switch frames among them", async (t) => {
  if (skipUnless(t, await missing(false))) return;
  await withNetns(async (lab) => {
    const p = await vethPair(lab);
    const url = "vxvde://239.199.3.1/vni=12";
    const x = plugIn(p.a, "ours", url);
    const y = plugIn(p.a, "ours", url);
    const z = plugIn(p.b, "ours", url);
    try {
      await exchange(x, y, { tagBase: 1000 });
      await exchange(y, z, { tagBase: 2000 });
      await exchange(z, x, { tagBase: 3000 });
    } finally {
      await Promise.all([x.stop(), y.stop(), z.stop()]);
    }
  });
});

Deno.test("vxvde:// a member that closes sends the header alone to the group", async (t) => {
  if (skipUnless(t, await missing(false))) return;
  if (skipUnless(t, (await hasCommand("tcpdump")) ? null : "tcpdump is not installed")) return;
  await withNetns(async (lab) => {
    const p = await vethPair(lab);
    // UDP length 16: the 8-byte UDP header and the 8-byte VXLAN header, no frame.
    const dump = p.b.spawn(
      ["tcpdump", "-ni", "v0", "-c", "1", "-l", "-x", "udp dst port 14789 and udp[4:2] = 16"],
      { name: "tcpdump" },
    );
    await dump.waitForOutput(/listening on/, 10_000, "stderr");
    const closer = spawnManaged(
      p.a.exec([...ourCli(), "plug", "vxvde://239.199.3.2/vni=4660", "-"]),
      { name: "vde plug (stdin closes)", stdin: "piped" },
    );
    await sleep(1500);
    await closer.closeStdin();
    await within("the member to leave", 10_000, closer.status);
    await within("tcpdump", 10_000, dump.status);
    // The IP header (20 bytes), the UDP header (8), then the VXLAN header of vni 4660.
    const hex = dump.stdout.split("\n").filter((l) => /^\s+0x/.test(l)).map((l) =>
      l.replace(/^\s+0x\S+:\s+/, "")
    )
      .join(" ").replace(/\s+/g, "");
    assert.equal(hex.slice(56), "0800000000123400", dump.stdout);
  });
});

Deno.test("vxvde:// over IPv6: two of ours across a veth", async (t) => {
  if (skipUnless(t, await missing(false))) return;
  await withNetns(async (lab) => {
    const p = await vethPair(lab);
    // Link-local addresses come with the veth; wait until duplicate detection is over.
    for (const ns of [p.a, p.b]) {
      await waitFor(async () => {
        const r = await ns.run(["ip", "-6", "addr", "show", "dev", "v0", "scope", "link"], { check: false });
        return r.stdout.includes("inet6") && !r.stdout.includes("tentative");
      }, { timeoutMs: 10_000, what: `an IPv6 link-local address on v0 in ${ns.short}` });
    }
    const url = "vxvde://ff05::199:1/vni=6";
    const x = plugIn(p.a, "ours", url);
    const y = plugIn(p.b, "ours", url);
    try {
      await exchange(x, y, { tagBase: 1000 });
    } finally {
      await Promise.all([x.stop(), y.stop()]);
    }
  });
});

Deno.test("vxvde:// a burst from a member that was stalled arrives whole: the receive buffer holds it", async (t) => {
  if (skipUnless(t, await missing(false))) return;
  const p = await netnsLinks("vxvde://239.199.3.10/vni=14");
  try {
    const got: number[] = [];
    p.b.onFrame = (f) => got.push(tagOf(f));
    // A loaded machine deschedules the sending plug; on waking it sends everything that piled
    // up in its stdin at once. 1000 small datagrams are more than the kernel's default buffer.
    const sender = (p.a as CmdLink).pid;
    const written = p.a.stats.framesOut;
    Deno.kill(sender, "SIGSTOP");
    try {
      // Sent in one turn, so they leave in one 62,000-byte write that the stopped plug's stdin holds
      // whole (a pipe has 16 pages; smaller writes each start a page of their own and fill it sooner).
      for (let i = 0; i < 1000; i++) p.a.send(ethFrame(BROADCAST, mac(0x401), i, 60));
      await waitFor(() => p.a.stats.framesOut - written >= 1000, {
        timeoutMs: 20_000,
        what: "the 1000 frames written into the stopped plug's stdin",
      });
    } finally {
      Deno.kill(sender, "SIGCONT");
    }
    // Bounded: a frame lost in the receiver's kernel never comes, so the count stays short.
    await waitFor(() => got.length >= 1000, { timeoutMs: 20_000, what: "1000 frames" }).catch(() => {});
    assert.equal(got.length, 1000, `${1000 - got.length} of 1000 frames lost`);
    assert.deepEqual(got, Array.from({ length: 1000 }, (_, i) => i));
  } finally {
    await p.cleanup();
  }
});

conformance(
  "vxvde:// between two namespaces",
  () => netnsLinks("vxvde://239.199.3.9/vni=13"),
  async (t) => skipUnless(t, await missing(false)),
);

Deno.test("vxvde:// two VNIs on one port in one process bridge members of each; a vxlan:// on the port keeps it", async (t) => {
  if (skipUnless(t, await missing(false))) return;
  await withNetns(async (lab) => {
    const p = await vethPair(lab);
    const g = "vxvde://239.199.3.7";
    p.a.spawn([...ourCli(), "plug", `${g}/vni=1`, `${g}/vni=2`], { name: "vde plug two VNIs" });
    const x = plugIn(p.b, "ours", `${g}/vni=1`);
    const y = plugIn(p.b, "ours", `${g}/vni=2`);
    try {
      await exchange(x, y);
    } finally {
      await Promise.all([x.stop(), y.stop()]);
    }
    p.b.spawn([...ourCli(), "plug", "vxlan://239.199.3.8/port=14790", "null://"], { name: "vxlan on 14790" });
    await waitFor(async () => (await p.b.run(["ss", "-Hunl", "sport = :14790"])).stdout.includes(":14790"), {
      timeoutMs: 20_000,
      what: "the vxlan:// plug to bind port 14790",
    });
    const r = await run(p.b.exec([...ourCli(), "plug", `${g}/port=14790`, "null://"]), {
      check: false,
      timeoutMs: 30_000,
    });
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      r.stderr,
      /^vde: .*vxvde:\/\/ UDP port 14790 is held on this host by a socket that does not share it .*\n$/,
    );
  });
});
