import assert from "node:assert/strict";
import { compileBpf, parseBpf, runBpf } from "../../src/capture/bpf.ts";
import { compileFilter } from "../../src/cli/capture.ts";
import { buildFrame } from "../../src/wire/ethernet.ts";
import { hasCommand, skipUnless } from "../helpers/processes.ts";

/** An IPv4 frame with protocol `proto`, a 20-byte header and `extra` bytes after it. */
function ipv4(proto: number, extra = 8, vlan?: number): Uint8Array {
  const payload = new Uint8Array(20 + extra);
  payload[0] = 0x45;
  payload[9] = proto;
  payload.set([10, 0, 0, 1], 12);
  payload.set([10, 0, 0, 2], 16);
  return buildFrame({ dst: "02:00:00:00:00:02", payload, vlan });
}

// `tcpdump -ddd -y EN10MB icmp`, as tcpdump 4.99 prints it.
const ICMP = "6\n40 0 0 12\n21 0 3 2048\n48 0 0 23\n21 0 1 1\n6 0 0 262144\n6 0 0 0\n";

Deno.test("bpf: tcpdump's icmp program keeps ICMP and drops UDP, ARP and short frames", () => {
  const program = parseBpf(ICMP);
  assert.equal(runBpf(program, ipv4(1)), 262144);
  assert.equal(runBpf(program, ipv4(17)), 0);
  assert.equal(runBpf(program, buildFrame({ type: 0x0806, payload: 28 })), 0);
  // Shorter than the byte the program loads: no match, no exception.
  assert.equal(runBpf(program, ipv4(1).subarray(0, 20)), 0);
});

Deno.test("bpf: a program jumping outside itself or not ending in a return is refused", () => {
  assert.throws(() => parseBpf("1\n21 5 5 0\n"), /jump out of the program|end with a return/);
  assert.throws(() => parseBpf("2\n5 0 0 7\n6 0 0 0\n"), /jump out of the program/);
  assert.throws(() => parseBpf("1\n40 0 0 12\n"), /end with a return/);
  assert.throws(() => parseBpf("1\n255 0 0 0\n"), /unknown opcode/);
  assert.throws(() => parseBpf("2\n40 0 0 12\n"), /expected a count/);
  assert.throws(
    () => compileBpf([{ code: 0x34, jt: 0, jf: 0, k: 0 }, { code: 6, jt: 0, jf: 0, k: 0 }]),
    /division/,
  );
});

Deno.test("bpf: arithmetic, scratch memory, index registers and returning A", () => {
  // A = 7; A *= 6; M[3] = A; X = M[3]; A = X; A -= 2; return A  (40)
  const program = compileBpf([
    { code: 0x00, jt: 0, jf: 0, k: 7 },
    { code: 0x24, jt: 0, jf: 0, k: 6 },
    { code: 0x02, jt: 0, jf: 0, k: 3 },
    { code: 0x61, jt: 0, jf: 0, k: 3 },
    { code: 0x87, jt: 0, jf: 0, k: 0 },
    { code: 0x14, jt: 0, jf: 0, k: 2 },
    { code: 0x16, jt: 0, jf: 0, k: 0 },
  ]);
  assert.equal(runBpf(program, new Uint8Array(0)), 40);
});

Deno.test("bpf: tcpdump's own programs agree with the frames they describe", async (t) => {
  if (skipUnless(t, (await hasCommand("tcpdump")) ? null : "tcpdump is not installed")) return;
  const udp53 = parseBpf(await compileFilter("udp port 53"));
  const dns = ipv4(17, 8);
  dns[14 + 20 + 2] = 0;
  dns[14 + 20 + 3] = 53;
  assert.ok(runBpf(udp53, dns) > 0);
  assert.equal(runBpf(udp53, ipv4(17, 8)), 0);
  assert.equal(runBpf(udp53, ipv4(6, 8)), 0);
  const host = parseBpf(await compileFilter("host 10.0.0.2 and icmp"));
  assert.ok(runBpf(host, ipv4(1)) > 0);
  const vlan = parseBpf(await compileFilter("vlan 7 and icmp"));
  assert.ok(runBpf(vlan, ipv4(1, 8, 7)) > 0);
  assert.equal(runBpf(vlan, ipv4(1, 8, 8)), 0);
  await assert.rejects(compileFilter("icmp and"), /--filter "icmp and": .*syntax error/);
});

Deno.test("bpf: a filter that reads as a tcpdump option is compiled as an expression, not taken as one", async (t) => {
  if (skipUnless(t, (await hasCommand("tcpdump")) ? null : "tcpdump is not installed")) return;
  const dir = await Deno.makeTempDir({ prefix: "vde-review24b-bpf-" });
  try {
    // -F FILE would have tcpdump take its filter from a file (any file its user may read), -r read frames.
    await Deno.writeTextFile(`${dir}/f`, "icmp\n");
    await assert.rejects(compileFilter(`-F${dir}/f`), /--filter "-F.*": .*syntax error/);
    await assert.rejects(compileFilter(`-r${dir}/f`), /--filter "-r.*": .*syntax error/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
