/**
 * The start-up notes of a slirp stack: each forward's line, the one whose host port the kernel chose
 * (port 0 asked) said as a notice, which `vde slirp -q` keeps (it drops info lines): without it a user
 * has no way to learn the port that reaches the forward.
 */
import assert from "node:assert/strict";
import { startSlirpStack } from "../../src/slirp/start.ts";
import { defaultConfig, parseForward } from "../../src/slirp/config.ts";
import type { Severity } from "../../src/os/syslog.ts";

Deno.test("a forward's line is a notice when the kernel chose its host port (port 0), kept under -q; an asked port's stays info", async () => {
  // A port free a moment ago, for the forward whose port is asked.
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const free = probe.addr.port;
  probe.close();
  const config = defaultConfig();
  config.forwards = [
    parseForward("udp:127.0.0.1:0:69", config),
    parseForward(`tcp:127.0.0.1:${free}:22`, config),
    parseForward("tcp:127.0.0.1:0:80", config),
  ];
  const lines: [string, Severity | undefined][] = [];
  const stack = await startSlirpStack(config, {
    log: (m, severity) => lines.push([m, severity]),
    resolvConf: "/nonexistent",
  });
  try {
    const forwards = lines.filter(([m]) => m.startsWith("forward "));
    assert.equal(forwards.length, 3, JSON.stringify(lines));
    // TCP's first, in their order, then UDP's.
    const [tcpFixed, tcp0, udp0] = forwards;
    assert.ok(tcpFixed![0].includes(`:${free}:`), tcpFixed![0]);
    assert.equal(tcpFixed![1] ?? "info", "info");
    assert.doesNotMatch(tcp0![0], /127\.0\.0\.1:0:/);
    assert.equal(tcp0![1], "notice");
    assert.doesNotMatch(udp0![0], /127\.0\.0\.1:0:/);
    assert.equal(udp0![1], "notice");
  } finally {
    stack.close();
  }
});
