import assert from "node:assert/strict";
import { syslogLine, SyslogSender } from "../../src/os/syslog.ts";
import { standIn } from "./_syslog_stand_in.ts";

Deno.test("a syslog line is RFC 3164 as logger writes it: facility daemon, err or info, the day space-padded, one line", () => {
  const at = new Date(2026, 11, 6, 9, 5, 7);
  assert.equal(
    syslogLine("err", "vde", 42, "switch: ended", at),
    "<27>Dec  6 09:05:07 vde[42]: switch: ended",
  );
  assert.equal(
    syslogLine("info", "vde", 42, "a\nforged\r\nline", at),
    "<30>Dec  6 09:05:07 vde[42]: a forged line",
  );
});

Deno.test("a syslog line of facility user (vde plug -l's session lines, as vde_plug's) has priority 8 + severity", () => {
  const at = new Date(2026, 11, 6, 9, 5, 7);
  assert.equal(
    syslogLine("info", "vde_plug", 42, "START: user root IP UNKNOWN_IP_ADDRESS", at, "user"),
    "<14>Dec  6 09:05:07 vde_plug[42]: START: user root IP UNKNOWN_IP_ADDRESS",
  );
});

Deno.test("the syslog sender delivers a line to the socket it is pointed at, drops lines where none listens or its queue is full, and never throws", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const missing = new SyslogSender("vde", `${dir}/none`);
    assert.equal(missing.send("err", "nobody hears this"), false);
    const log = standIn(dir);
    try {
      const sender = new SyslogSender("vde", log.path);
      assert.equal(sender.send("err", "switch: ended: it died"), true);
      assert.match(
        log.lines()[0]!,
        new RegExp(
          `^<27>\\w{3} [ \\d]\\d \\d\\d:\\d\\d:\\d\\d vde\\[${Deno.pid}\\]: switch: ended: it died$`,
        ),
      );
      // Nobody reads: the queue fills and lines are dropped, at once, not waited on.
      const started = performance.now();
      let sent = 0;
      for (let i = 0; i < 5000; i++) if (sender.send("info", "x".repeat(900))) sent++;
      assert.ok(sent < 5000, "some were dropped");
      assert.ok(performance.now() - started < 5000);
      sender.close();
    } finally {
      log.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
