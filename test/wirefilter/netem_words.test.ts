/**
 * tc netem's words answered with vde's: wirefilter's options and console
 * commands (names and units of vde2's wirefilter) and a lab link's keys,
 * with the value converted where the units differ.
 */
import assert from "node:assert/strict";
import {
  isNetemWord,
  netemCommandLineHint,
  netemDelayForLabLink,
  netemDelayForWirefilter,
  netemForLabLink,
  netemForWirefilter,
  netemLossForLabLink,
} from "../../src/wirefilter/netem_words.ts";

Deno.test("netem's rate, duplicate, corrupt, limit and jitter are said as wirefilter's option with the value converted", () => {
  const cases: [string, string | undefined, string | undefined, RegExp][] = [
    ["rate", "1mbit", undefined, /is --band here, in bytes\/s: --band 125000$/],
    ["rate", "512kbit", undefined, /--band 64000$/],
    ["rate", "fast", undefined, /--band BYTES$/],
    // tc reads a bare rate as bits/s.
    ["rate", "1000000", undefined, /--band 125000$/],
    ["corrupt", "0.1%", undefined, /--noise 1 /],
    ["corrupt", "0%", undefined, /--noise 0 /],
    ["duplicate", "1%", undefined, /is --dup here: --dup 1$/],
    ["corrupt", "1%", undefined, /is --noise here, in damaged bits per megabyte: --noise 7 /],
    ["limit", "1000", undefined, /is --capacity here, in bytes: --capacity 1500000 /],
    ["jitter", "20ms", "100ms", /the spread of the delay here, in ms: --delay 100\+20, or 100\+20N /],
    ["jitter", "20ms", undefined, /--delay DELAY\+20,/],
    ["reorder", "25%", undefined, /is --nofifo here: .* as with --delay 100\+20$/],
  ];
  for (const [word, value, delay, expected] of cases) {
    assert.match(netemForWirefilter(word, value, "option", delay) ?? "", expected, `${word} ${value}`);
  }
});

Deno.test("on wirefilter's console netem's words are said as its commands", () => {
  assert.match(
    netemForWirefilter("rate", "10mbit", "command") ?? "",
    /is bandwidth here, .*: bandwidth 1250000$/,
  );
  assert.match(netemForWirefilter("reorder", undefined, "command") ?? "", /is fifo 0 here/);
  assert.match(netemForWirefilter("limit", "100", "command") ?? "", /chanbufsize 150000 /);
});

Deno.test("a word netem does not have, or that wirefilter calls the same, gets no netem hint", () => {
  for (const word of ["loss", "delay", "bogus", "constructor"]) {
    assert.equal(netemForWirefilter(word, "5", "option"), undefined, word);
  }
  assert.equal(netemForLabLink("rate", "1mbit"), undefined);
  assert.equal(netemForLabLink("bogus", "1"), undefined);
});

Deno.test("netem's delay TIME JITTER is wirefilter's DELAY+JITTER and a lab link's delay and jitter", () => {
  assert.equal(
    netemDelayForWirefilter("100ms", "20ms", "option"),
    "tc netem's delay 100ms 20ms (20 ms of jitter) is --delay 100+20 here",
  );
  assert.match(netemDelayForWirefilter("1s", "250us", "command") ?? "", /is delay 1000\+0.25 here$/);
  assert.equal(netemDelayForWirefilter("100ms", "/tmp/b", "option"), undefined);
  assert.equal(
    netemDelayForLabLink("100ms", "20ms"),
    "tc netem's delay 100ms 20ms is delay 100ms jitter 20ms here",
  );
  assert.equal(netemDelayForLabLink("100ms", "up"), undefined);
});

Deno.test("a lab link names netem's duplicate dup, says where corrupt and reorder are, and wirefilter's capacity its limit", () => {
  assert.equal(netemForLabLink("duplicate", "1%"), "tc netem's duplicate is dup here: dup 1%");
  assert.match(
    netemForLabLink("corrupt", "1%") ?? "",
    /^a lab link has no bit damage .* `vde wirefilter` .*--noise$/,
  );
  assert.match(netemForLabLink("reorder", "25%") ?? "", /no reordering .*--nofifo/);
  assert.equal(netemForLabLink("limit", "100"), undefined, "a lab link has netem's limit");
  assert.equal(
    netemForLabLink("capacity", "150000"),
    "wirefilter's capacity (bytes) is limit here, as tc netem's, in 1500-byte frames: limit 100",
  );
});

Deno.test("a wirefilter command line with netem's keywords or its jitter word is answered with the options", () => {
  assert.equal(
    netemCommandLineHint(["wirefilter", "/tmp/a", "/tmp/b", "--delay", "100ms", "20ms"]),
    "tc netem's delay 100ms 20ms (20 ms of jitter) is --delay 100+20 here",
  );
  assert.equal(
    netemCommandLineHint(["wirefilter", "/tmp/a", "/tmp/b", "loss", "5%"]),
    `tc netem's "loss 5%" is an option here: --loss 5%`,
  );
  assert.match(
    netemCommandLineHint(["wirefilter", "/tmp/a", "/tmp/b", "delay", "50ms", "5ms"]) ?? "",
    /--delay 50\+5/,
  );
  assert.match(
    netemCommandLineHint(["wirefilter", "/tmp/a", "/tmp/b", "rate", "1mbit"]) ?? "",
    /--band 125000$/,
  );
  assert.equal(netemCommandLineHint(["wirefilter", "/tmp/a", "/tmp/b", "/tmp/c"]), undefined);
  assert.equal(
    netemCommandLineHint(["wirefilter", "/tmp/a", "--delay", "50", "/tmp/b", "/tmp/c"]),
    undefined,
  );
});

Deno.test("netem's keywords are told from other words, wirefilter's own names among them", () => {
  for (const word of ["loss", "delay", "rate", "duplicate", "corrupt", "reorder", "jitter", "limit"]) {
    assert.ok(isNetemWord(word), word);
  }
  for (const word of ["/tmp/a", "null://", "dup", "bandwidth", "toString"]) {
    assert.ok(!isNetemWord(word), word);
  }
});

Deno.test("netem's delay in seconds is said in wirefilter's ms, and its loss correlation is said to have no match", () => {
  assert.equal(
    netemCommandLineHint(["wirefilter", "/tmp/a", "/tmp/b", "delay", "1s"]),
    `tc netem's "delay 1s" is an option here: --delay 1000`,
  );
  for (const line of [["loss", "5%", "25%"], ["--loss", "5%", "25%"], ["-l", "5", "25%"]]) {
    assert.match(
      netemCommandLineHint(["wirefilter", "/tmp/a", "/tmp/b", ...line]) ?? "",
      /^tc netem's loss 5%? 25% is --loss 5%? here; its correlation \(25%\) has no match: --lostburst N /,
      line.join(" "),
    );
  }
  assert.equal(netemCommandLineHint(["wirefilter", "--loss", "5", "/tmp/a", "/tmp/b"]), undefined);
});

Deno.test("a lab link answers netem's loss correlation as its loss without one, and names wirefilter's bursts", () => {
  assert.equal(
    netemLossForLabLink("5%", "25%"),
    "tc netem's loss 5% 25% is loss 5% here; a lab link has no loss correlation, " +
      "`vde wirefilter` between two switches has loss bursts: --lostburst N",
  );
  assert.equal(netemLossForLabLink("5%", "up"), undefined);
  assert.equal(netemLossForLabLink("many", "25%"), undefined);
});
