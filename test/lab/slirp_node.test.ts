/**
 * A lab's slirp node as it runs: its log lines name it, since a lab may run
 * several slirps and `vde slirp:` alone says which of them nowhere.
 */
import assert from "node:assert/strict";
import { openSlirpNode } from "../../src/lab/slirp_node.ts";
import { setLogWriter } from "../../src/log.ts";
import { buildDhcp, DHCP_MSG, DHCP_OPT, parseDhcp } from "../../src/wire/dhcp.ts";
import { valueOf } from "../helpers/parsed.ts";

Deno.test("a lab slirp's DHCP log line names its node: vde slirp: nat: DHCP: ...", async () => {
  const said: string[] = [];
  setLogWriter((line) => void said.push(line));
  // Every address of the pool (10.0.2.15 .. .254) a static host's: a DISCOVER finds none free.
  const pool = Array.from({ length: 240 }, (_, i) => 0x0a00020f + i);
  const nat = await openSlirpNode({ kind: "slirp", name: "nat", forwards: [] }, pool);
  try {
    const discover = valueOf(parseDhcp(buildDhcp({
      op: 1,
      xid: 1,
      chaddr: new Uint8Array([2, 0, 0, 0, 1, 1]),
      options: [[DHCP_OPT.MESSAGE_TYPE, new Uint8Array([DHCP_MSG.DISCOVER])]],
    })));
    assert.equal(nat.stack.dhcp.handle(discover, 0), null);
  } finally {
    setLogWriter(null);
    nat.close();
    await nat.released;
  }
  assert.deepEqual(said.filter((l) => l.includes("DHCP")), [
    "vde slirp: nat: DHCP: no free address for 02:00:00:00:01:01 in 10.0.2.15-10.0.2.254 (0 leased, " +
    "240 reserved for static hosts, 0 declined): it gets no lease\n",
  ]);
});
