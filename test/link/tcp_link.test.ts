/**
 * tcp:// as a VNL: parsing, and the link conformance checks for an
 * encrypted and a plain cable opened through openLink (the listening form
 * and the connecting form joined on loopback).
 */
import assert from "node:assert/strict";
import { generateKeyFile } from "../../src/cable/key.ts";
import { isListeningVnl, parseTcpVnl, sessionIdFor } from "../../src/link/tcp_link.ts";
import { openLink } from "../../src/link/registry.ts";
import { conformance } from "../helpers/link_conformance.ts";
import { until, within } from "../cable/_helpers.ts";
import type { CableClient } from "../../src/cable/client.ts";
import type { CableSession } from "../../src/cable/session.ts";

Deno.test("parseTcpVnl reads host, port, listen and options", () => {
  assert.deepEqual(parseTcpVnl("lab2:5000/key=/etc/vde/k/retry=10/session=a/once"), {
    hostname: "lab2",
    port: 5000,
    listen: false,
    insecure: false,
    once: true,
    keyFile: "/etc/vde/k",
    session: "a",
    retryMaxMs: 10_000,
  });
  const l = parseTcpVnl(":5000/listen/insecure/grace=2.5");
  assert.equal(l.hostname, "0.0.0.0");
  assert.equal(l.listen, true);
  assert.equal(l.insecure, true);
  assert.equal(l.graceMs, 2500);
  assert.equal(parseTcpVnl("[::1]:7/l").hostname, "::1");
  assert.equal(parseTcpVnl("10.0.0.1:7/k='/a/b'").keyFile, "/a/b");
  assert.ok(isListeningVnl("tcp://:1/listen"));
  assert.equal(parseTcpVnl("127.0.0.1:0/listen").port, 0, "a listener may let the kernel pick its port");
  assert.ok(!isListeningVnl("tcp://h:1"));
  assert.ok(!isListeningVnl("udp://1->h:2"));
});

Deno.test("parseTcpVnl refuses what it cannot use, saying why", () => {
  const cases: [string, RegExp][] = [
    ["host", /needs HOST:PORT/],
    [":5000", /needs a host to connect to/],
    ["h:0", /port must be 1-65535/],
    ["h:1/key=k/insecure", /not both/],
    ["h:1/colour=red", /unknown tcp:\/\/ option "colour"/],
    ["h:1/retry=soon", /retry must be a number of seconds/],
    ["h:1/key=", /key= needs a file name/],
  ];
  for (const [vnl, why] of cases) assert.throws(() => parseTcpVnl(vnl), why, vnl);
});

Deno.test("a tcp:// cable without key= or insecure is refused before connecting", async () => {
  await assert.rejects(() => openLink("tcp://127.0.0.1:9"), /needs key=FILE/);
});

let portSeq = 0;

function tcpPair(insecure: boolean) {
  return async () => {
    const dir = await Deno.makeTempDir({ prefix: "vde-tcp-" });
    const port = 20000 + ((Deno.pid * 7 + portSeq++ * 13) % 20000);
    if (!insecure) await generateKeyFile(`${dir}/k`);
    const opt = insecure ? "/insecure" : `/key=${dir}/k`;
    const listening = openLink(`tcp://127.0.0.1:${port}/listen${opt}/grace=1`);
    const a = await openLink(`tcp://127.0.0.1:${port}${opt}/session=${portSeq}`);
    const b = await within("the first cable", 5000, listening);
    // Frames sent before a connection is up are dropped (as on any cable): wait for both ends.
    await within("the client's connection", 5000, (a as CableClient).firstConnection);
    await until("the listener's connection", () => (b as CableSession).connection !== null);
    return {
      a,
      b,
      closePropagates: false,
      cleanup: async () => {
        a.close();
        b.close();
        await Promise.all([a.closed, b.closed]);
        await Deno.remove(dir, { recursive: true });
      },
    };
  };
}

conformance("tcp:// encrypted", tcpPair(false));
conformance("tcp:// plain", tcpPair(true));

Deno.test("sessionIdFor: stable for one cable, named sessions do not depend on the listener's address", async () => {
  const hex = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  const id = async (vnl: string, local = "/tmp/net", host = "labA") =>
    hex(await sessionIdFor(parseTcpVnl(vnl), local, host));
  assert.equal(await id("10.0.0.1:5000/insecure"), await id("10.0.0.1:5000/insecure"));
  assert.notEqual(await id("10.0.0.1:5000/insecure"), await id("10.0.0.2:5000/insecure"));
  assert.notEqual(await id("10.0.0.1:5000/insecure"), await id("10.0.0.1:5000/insecure", "/tmp/other"));
  assert.notEqual(await id("10.0.0.1:5000/insecure"), await id("10.0.0.1:5000/insecure", "/tmp/net", "labB"));
  assert.equal(await id("10.0.0.1:5000/session=lab"), await id("192.168.0.1:6000/session=lab"));
  assert.notEqual(await id("10.0.0.1:5000/session=lab"), await id("10.0.0.1:5000/session=lab2"));
});
