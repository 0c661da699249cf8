import assert from "node:assert/strict";
import { parseShellCapture } from "../../src/cli/shell_capture.ts";

Deno.test("the lab shell's capture line takes vde capture's options, --filter with the rest of the line", () => {
  assert.deepEqual(parseShellCapture(" h1 -w h1.pcap --port 3 --port 4 -c 10 --vlan 5 -s 96"), {
    name: "h1",
    o: { port: ["3", "4"], write: "h1.pcap", count: "10", vlan: "5", snaplen: "96" },
  });
  assert.deepEqual(parseShellCapture(""), { name: undefined, o: { port: [], write: "-" } });
  assert.deepEqual(parseShellCapture("sw1 --filter 'icmp and host 10.0.0.1'"), {
    name: "sw1",
    o: { port: [], write: "-", filter: "icmp and host 10.0.0.1" },
  });
  assert.equal(parseShellCapture("--filter udp port 53").o.filter, "udp port 53");
  assert.throws(() => parseShellCapture("sw1 -w"), /^Error: -w needs a value; usage: capture /);
  assert.throws(() => parseShellCapture("sw1 -i 3"), /unknown option -i; usage: capture /);
  assert.throws(() => parseShellCapture("sw1 sw2"), /takes one switch, link or host/);
  assert.throws(() => parseShellCapture("sw1 --filter"), /--filter needs an expression/);
});

Deno.test("the lab shell's capture takes a file name with spaces quoted or escaped, as a shell does, and refuses an open quote", () => {
  for (
    const line of ["h1 -w 'my cap.pcapng' -c 3", 'h1 -w "my cap.pcapng" -c 3', "h1 -w my\\ cap.pcapng -c 3"]
  ) {
    assert.deepEqual(parseShellCapture(line), {
      name: "h1",
      o: { port: [], write: "my cap.pcapng", count: "3" },
    }, line);
  }
  assert.throws(
    () => parseShellCapture("h1 -w 'my cap.pcapng"),
    /^Error: unclosed quote ' at character 7; usage: capture /,
  );
  // --filter after a quoted file name is the filter's, and a quoted "--filter" is a file's name.
  assert.deepEqual(parseShellCapture("h1 -w 'a b' --filter icmp"), {
    name: "h1",
    o: { port: [], write: "a b", filter: "icmp" },
  });
  assert.equal(parseShellCapture("h1 -w 'x --filter y'").o.write, "x --filter y");
});
