import assert from "node:assert/strict";
import { concatBytes } from "../../src/wire/bytes.ts";
import { buildTftpError, buildTftpRequest, TFTP_ERR, TFTP_OP } from "../../src/wire/tftp.ts";
import { buildDhcp, DHCP_MSG, DHCP_OPT, parseDhcp } from "../../src/wire/dhcp.ts";
import { newIpv4Header, parseIpv4 } from "../../src/wire/ipv4.ts";
import { newUdpHeader, parseUdp } from "../../src/wire/udp.ts";
import { testStack, udp4Frame } from "./helpers.ts";
import { MAX_RETRIES, TftpServer, unsafeTftpName } from "../../src/slirp/tftp_server.ts";

function udpOf(frame: Uint8Array) {
  const h = newIpv4Header();
  assert.equal(parseIpv4(frame, 14, frame.length - 14, h), null);
  const u = newUdpHeader();
  assert.equal(parseUdp(frame, h.payloadOffset, h.payloadLength, u), null);
  return { h, u, payload: frame.slice(u.payloadOffset, u.payloadOffset + u.payloadLength) };
}

function dhcpDiscover(): Uint8Array {
  const msg = buildDhcp({
    op: 1,
    xid: 7,
    chaddr: new Uint8Array([2, 0, 0, 0, 0, 0x15]),
    options: [[DHCP_OPT.MESSAGE_TYPE, new Uint8Array([DHCP_MSG.DISCOVER])]],
  });
  return udp4Frame([0, 0, 0, 0], 68, [255, 255, 255, 255], 67, msg, { dstMac: "ff:ff:ff:ff:ff:ff" });
}

interface Sent {
  port: number;
  data: Uint8Array;
}

async function rig(files: Record<string, Uint8Array>) {
  const root = await Deno.makeTempDir({ prefix: "vde-tftp-test-" });
  for (const [name, data] of Object.entries(files)) {
    const path = `${root}/${name}`;
    await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
    await Deno.writeFile(path, data);
  }
  const sent: Sent[] = [];
  const logs: string[] = [];
  let clock = 0;
  const server = new TftpServer(
    root,
    (_f, _g, port, b, off, len) => sent.push({ port, data: b.slice(off, off + len) }),
    () => clock,
    (m) => logs.push(m),
    1432,
  );
  const guest = new Uint8Array([10, 0, 2, 15]);
  return {
    root,
    server,
    sent,
    logs,
    send(port: number, b: Uint8Array) {
      server.input(4, guest, port, b, 0, b.length);
    },
    ack(port: number, block: number) {
      server.input(4, guest, port, new Uint8Array([0, 4, block >> 8, block & 255]), 0, 4);
    },
    advance(ms: number) {
      clock += ms;
      server.poll(clock);
    },
    async [Symbol.asyncDispose]() {
      server.close();
      await Deno.remove(root, { recursive: true });
    },
  };
}

function opOf(p: Sent): number {
  return (p.data[0]! << 8) | p.data[1]!;
}

function pattern(n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 7 + (i >> 9)) & 0xff;
  return b;
}

/** Runs a whole transfer, ACKing every block; answers the bytes received. */
function fetch(r: Awaited<ReturnType<typeof rig>>, port: number, req: Uint8Array): Uint8Array {
  r.sent.length = 0;
  r.send(port, req);
  const parts: Uint8Array[] = [];
  for (let i = 0; i < 100_000; i++) {
    const p = r.sent.shift();
    if (p === undefined) break;
    assert.equal(p.port, port);
    const op = opOf(p);
    if (op === TFTP_OP.OACK) {
      r.ack(port, 0);
      continue;
    }
    assert.equal(op, TFTP_OP.DATA, new TextDecoder().decode(p.data.subarray(4)));
    parts.push(p.data.subarray(4));
    r.ack(port, (p.data[2]! << 8) | p.data[3]!);
  }
  return concatBytes(parts);
}

Deno.test("TFTP serves a file in 512-byte blocks, and with blksize/tsize after an OACK; a last empty block when needed", async () => {
  const data = pattern(5000);
  await using r = await rig({ "boot.bin": data, "even.bin": pattern(1024) });
  assert.deepEqual(fetch(r, 1000, buildTftpRequest(TFTP_OP.RRQ, "boot.bin")), data);
  r.sent.length = 0;
  r.send(1001, buildTftpRequest(TFTP_OP.RRQ, "boot.bin", "octet", [["blksize", "9000"], ["tsize", "0"]]));
  const oack = new TextDecoder().decode(r.sent[0]!.data.subarray(2));
  assert.equal(oack, "blksize\x001432\x00tsize\x005000\x00");
  assert.deepEqual(
    fetch(r, 1002, buildTftpRequest(TFTP_OP.RRQ, "boot.bin", "octet", [["blksize", "1432"]])),
    data,
  );
  // 1024 = 2 x 512: the end is a third, empty block.
  r.sent.length = 0;
  r.send(1003, buildTftpRequest(TFTP_OP.RRQ, "even.bin"));
  r.ack(1003, 1);
  r.ack(1003, 2);
  assert.equal(r.sent.at(-1)!.data.length, 4);
  r.ack(1003, 3);
  assert.equal(r.server.transferCount, 1); // 1001 is still waiting for the ACK of its OACK
  assert.match(r.logs.join("\n"), /sent even\.bin \(1024 bytes\) to 10\.0\.2\.15/);
});

Deno.test("TFTP refuses .., symlinks out of the root, writes and other modes; a leading / is the root's", async () => {
  await using r = await rig({ "ok.bin": pattern(10) });
  await Deno.symlink("/etc/hostname", `${r.root}/escape`);
  const cases: [Uint8Array, number][] = [
    [buildTftpRequest(TFTP_OP.RRQ, "../etc/passwd"), TFTP_ERR.ACCESS],
    [buildTftpRequest(TFTP_OP.RRQ, "sub/../../x"), TFTP_ERR.ACCESS],
    // As libslirp, which joins the name to its directory: /etc/passwd is DIR/etc/passwd, not there.
    [buildTftpRequest(TFTP_OP.RRQ, "/etc/passwd"), TFTP_ERR.NOT_FOUND],
    [buildTftpRequest(TFTP_OP.RRQ, "/../etc/passwd"), TFTP_ERR.ACCESS],
    [buildTftpRequest(TFTP_OP.RRQ, "//etc/passwd"), TFTP_ERR.NOT_FOUND],
    [buildTftpRequest(TFTP_OP.RRQ, "escape"), TFTP_ERR.ACCESS],
    // The leading / joined to the root does not skip the symlink check, nor make the root itself a file.
    [buildTftpRequest(TFTP_OP.RRQ, "//escape"), TFTP_ERR.ACCESS],
    [buildTftpRequest(TFTP_OP.RRQ, "/"), TFTP_ERR.ACCESS],
    [buildTftpRequest(TFTP_OP.RRQ, "missing.bin"), TFTP_ERR.NOT_FOUND],
    [buildTftpRequest(TFTP_OP.WRQ, "ok.bin"), TFTP_ERR.ACCESS],
    [buildTftpRequest(TFTP_OP.RRQ, "ok.bin", "netascii"), TFTP_ERR.ILLEGAL_OP],
  ];
  for (const [req, code] of cases) {
    r.sent.length = 0;
    r.send(2000, req);
    assert.equal(opOf(r.sent[0]!), TFTP_OP.ERROR);
    assert.equal((r.sent[0]!.data[2]! << 8) | r.sent[0]!.data[3]!, code);
  }
  assert.equal(r.server.transferCount, 0);
  assert.equal(unsafeTftpName("a/b..c"), null);
  assert.match(unsafeTftpName("a\\..\\b")!, /backslash/);
});

Deno.test("a name with a leading / (QEMU's bootfile=/pxelinux.0) is served from the root, as libslirp serves it", async () => {
  await using r = await rig({ "pxelinux.0": pattern(100) });
  r.send(2200, buildTftpRequest(TFTP_OP.RRQ, "/pxelinux.0"));
  assert.equal(opOf(r.sent[0]!), TFTP_OP.DATA);
  assert.deepEqual(r.sent[0]!.data.subarray(4), pattern(100));
  r.ack(2200, 1);
  assert.match(r.logs.join("\n"), /sent \/pxelinux\.0 \(100 bytes\) to 10\.0\.2\.15/);
  assert.equal(r.server.cannotServe("/pxelinux.0"), null);
  assert.equal(r.server.cannotServe("pxelinux.1"), "not found");
});

Deno.test("a FIFO in the directory served, or a link to one, is not found, answered at once rather than waited on", async () => {
  await using r = await rig({ "ok.bin": pattern(10) });
  assert.ok((await new Deno.Command("mkfifo", { args: [`${r.root}/pipe`] }).output()).success);
  await Deno.symlink("pipe", `${r.root}/link.bin`);
  for (const name of ["pipe", "link.bin"]) {
    r.sent.length = 0;
    // A plain open of it waited for a writer, and the whole stack with it.
    r.send(2100, buildTftpRequest(TFTP_OP.RRQ, name));
    assert.equal(opOf(r.sent[0]!), TFTP_OP.ERROR);
    assert.equal((r.sent[0]!.data[2]! << 8) | r.sent[0]!.data[3]!, TFTP_ERR.NOT_FOUND);
  }
  assert.equal(r.server.transferCount, 0);
  assert.deepEqual(fetch(r, 2101, buildTftpRequest(TFTP_OP.RRQ, "ok.bin")), pattern(10));
});

Deno.test("a file the guest asks for in vain is logged once, naming the directory served", async () => {
  await using r = await rig({ "ok.bin": pattern(10) });
  for (let i = 0; i < 3; i++) r.send(2000 + i, buildTftpRequest(TFTP_OP.RRQ, "boot.ipxe"));
  assert.deepEqual(r.logs, [`tftp: "boot.ipxe" asked by 10.0.2.15: not found in ${r.root}`]);
  // A guest asking for name after name fills a bounded list, not the log.
  for (let i = 0; i < 100; i++) r.send(3000, buildTftpRequest(TFTP_OP.RRQ, `x${i}`));
  assert.equal(r.logs.length, 32);
  // ...for a minute: the next boot's real miss is still said.
  r.advance(60_000);
  r.send(4000, buildTftpRequest(TFTP_OP.RRQ, "vmlinuz"));
  assert.equal(r.logs.length, 33);
  assert.match(r.logs[32]!, /"vmlinuz"/);
});

Deno.test("pxelinux's config-name probes are not logged as missing files", async () => {
  await using r = await rig({ "pxelinux.cfg/default": pattern(10) });
  // The last as pxelinux asks behind QEMU's bootfile=/pxelinux.0: in the directory of its own name.
  for (
    const name of [
      "pxelinux.cfg/01-52-54-00-12-34-56",
      "pxelinux.cfg/0A00020F",
      "pxelinux.cfg/0A",
      "/pxelinux.cfg/0",
    ]
  ) {
    r.send(2000, buildTftpRequest(TFTP_OP.RRQ, name));
    assert.equal(opOf(r.sent.at(-1)!), TFTP_OP.ERROR);
  }
  assert.deepEqual(r.logs, []);
});

Deno.test("TFTP resends a block after the timeout, ignores duplicate ACKs, gives up after MAX_RETRIES", async () => {
  await using r = await rig({ "f.bin": pattern(2000) });
  r.send(3000, buildTftpRequest(TFTP_OP.RRQ, "f.bin"));
  r.ack(3000, 1);
  assert.equal(r.sent.length, 2);
  r.ack(3000, 1); // duplicate: no second copy of block 2
  assert.equal(r.sent.length, 2);
  r.advance(999);
  assert.equal(r.sent.length, 2);
  r.advance(1);
  assert.equal(r.sent.length, 3);
  assert.deepEqual(r.sent[2]!.data, r.sent[1]!.data);
  for (let i = 0; i < MAX_RETRIES + 1; i++) r.advance(1000);
  assert.equal(r.server.transferCount, 0);
  assert.match(r.logs.join("\n"), /timed out/);
  // An ACK for no transfer: "unknown transfer ID".
  r.sent.length = 0;
  r.ack(3999, 1);
  assert.equal((r.sent[0]!.data[2]! << 8) | r.sent[0]!.data[3]!, TFTP_ERR.UNKNOWN_TID);
});

Deno.test("a missing TFTP directory is a one-line error in words, without the OS's error number", () => {
  assert.throws(
    () => new TftpServer("/nonexistent/vde-tftp", () => {}, () => 0, () => {}, 512),
    { message: "tftp directory /nonexistent/vde-tftp: no such directory" },
  );
  assert.throws(
    () => new TftpServer("/etc/passwd", () => {}, () => 0, () => {}, 512),
    { message: "tftp directory /etc/passwd: not a directory" },
  );
});

Deno.test("through the stack: DHCP names the boot file, and the gateway's port 69 serves it from port 69", async () => {
  const root = await Deno.makeTempDir({ prefix: "vde-tftp-test-" });
  try {
    await Deno.writeFile(`${root}/boot.ipxe`, new TextEncoder().encode("#!ipxe\n"));
    const t = testStack({ tftpRoot: root, bootfile: "boot.ipxe" });
    t.stack.input(dhcpDiscover());
    const offer = udpOf(t.take()[0]!).payload;
    const parsed = parseDhcp(offer);
    assert.ok(parsed.ok);
    const m = parsed.value;
    assert.equal(new TextDecoder().decode(m.options.get(DHCP_OPT.BOOTFILE)), "boot.ipxe");
    assert.equal(m.siaddr, 0x0a000202);
    // The BOOTP file field (offset 108), NUL-terminated.
    assert.equal(new TextDecoder().decode(offer.subarray(108, 118)), "boot.ipxe\0");
    t.stack.input(
      udp4Frame([10, 0, 2, 15], 2070, [10, 0, 2, 2], 69, buildTftpRequest(TFTP_OP.RRQ, "boot.ipxe")),
    );
    const { h, u, payload } = udpOf(t.take()[0]!);
    assert.equal(h.src, 0x0a000202);
    assert.equal(u.srcPort, 69);
    assert.equal(u.dstPort, 2070);
    assert.deepEqual([...payload.subarray(0, 4)], [0, TFTP_OP.DATA, 0, 1]);
    assert.equal(new TextDecoder().decode(payload.subarray(4)), "#!ipxe\n");
    const tftpLine = () => t.stack.describe().find((l) => l.startsWith("TFTP from"));
    assert.equal(tftpLine(), `TFTP from ${root}: transfers 1 in progress, 0 finished`);
    t.stack.input(udp4Frame([10, 0, 2, 15], 2070, [10, 0, 2, 2], 69, new Uint8Array([0, TFTP_OP.ACK, 0, 1])));
    assert.equal(tftpLine(), `TFTP from ${root}: transfers 0 in progress, 1 finished`);
    t.stack.close();
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("a guest's file names reach the log with no control character, C1 ones (U+009B, a CSI) included, and refused names are logged once each within the same bound as missing ones", async () => {
  await using r = await rig({ "ok.bin": pattern(10) });
  r.send(2000, buildTftpRequest(TFTP_OP.RRQ, "a\u009b2Jb"));
  assert.equal(opOf(r.sent.at(-1)!), TFTP_OP.ERROR);
  assert.deepEqual(r.logs, ['tftp: refused "a\\u009b2Jb" (a backslash or control character)']);
  // A guest sending refused name after name, or one name again and again, fills the bounded list only.
  for (let i = 0; i < 100; i++) r.send(3000, buildTftpRequest(TFTP_OP.RRQ, `../x${i % 50}`));
  assert.equal(r.logs.length, 32);
  // deno-lint-ignore no-control-regex
  for (const line of r.logs) assert.doesNotMatch(line, /[\x00-\x1f\x7f-\x9f]/);
});

Deno.test("a guest fetching a file again and again logs it once a minute, the further transfers said as a count when the minute ends", async () => {
  await using r = await rig({ "tiny.ipxe": pattern(10) });
  for (let i = 0; i < 500; i++) fetch(r, 2000 + i, buildTftpRequest(TFTP_OP.RRQ, "tiny.ipxe"));
  assert.equal(r.server.completed, 500);
  assert.equal(r.logs.length, 1);
  assert.match(r.logs[0]!, /^tftp: sent tiny\.ipxe \(10 bytes\) to 10\.0\.2\.15 in \d+ ms/);
  assert.equal(r.server.nextDeadline(), 60_000);
  r.advance(60_000);
  assert.deepEqual(r.logs.slice(1), [
    "tftp: 499 more transfers sent in the last minute (names logged once a minute)",
  ]);
  // The next minute says the file again.
  fetch(r, 3000, buildTftpRequest(TFTP_OP.RRQ, "tiny.ipxe"));
  assert.equal(r.logs.length, 3);
  assert.match(r.logs[2]!, /^tftp: sent tiny\.ipxe/);
});

Deno.test("a guest failing transfers again and again (stopped, restarted, timed out) logs each name once a minute, the rest as a count", async () => {
  await using r = await rig({ "big.bin": pattern(5000) });
  const stop = buildTftpError(TFTP_ERR.UNDEFINED, "user abort");
  for (let i = 0; i < 300; i++) {
    r.send(2000 + i, buildTftpRequest(TFTP_OP.RRQ, "big.bin"));
    r.send(2000 + i, stop);
    // The same port asking again restarts its transfer; then that one times out.
    r.send(4000, buildTftpRequest(TFTP_OP.RRQ, "big.bin"));
  }
  for (let i = 0; i < MAX_RETRIES + 1; i++) r.advance(1000);
  assert.equal(r.server.transferCount, 0);
  assert.equal(r.logs.length, 1, r.logs.join("\n"));
  assert.match(r.logs[0]!, /^tftp: big\.bin to 10\.0\.2\.15: stopped by the client: user abort$/);
  r.advance(60_000);
  assert.deepEqual(r.logs.slice(1), [
    "tftp: 599 more transfers failed in the last minute (names logged once a minute)",
  ]);
  // The next minute says the name again.
  r.send(5000, buildTftpRequest(TFTP_OP.RRQ, "big.bin"));
  r.send(5000, stop);
  assert.equal(r.logs.length, 3);
  assert.match(r.logs[2]!, /stopped by the client/);
});
