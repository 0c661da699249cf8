/** A port's spanning-tree state in a Linux bridge's words, and RSTP's discarding where it speaks RSTP. */
import assert from "node:assert/strict";
import { Role } from "../../src/switch/rstp.ts";
import { STP_STATE_NUMBER, stpStateName } from "../../src/switch/stp_state_name.ts";

const port = { enabled: true, learning: false, forwarding: false, role: Role.Designated, rstp: false };

Deno.test("a designated port on its way up is listening, then learning, and forwarding only once it forwards", () => {
  assert.equal(stpStateName(port), "listening");
  assert.equal(stpStateName({ ...port, learning: true }), "learning");
  assert.equal(stpStateName({ ...port, learning: true, forwarding: true }), "forwarding");
  assert.equal(STP_STATE_NUMBER[stpStateName(port)], 1);
});

Deno.test("an alternate or backup 802.1D port is blocking, an RSTP one discarding, sysfs's 4 both", () => {
  assert.equal(stpStateName({ ...port, role: Role.Alternate }), "blocking");
  assert.equal(stpStateName({ ...port, role: Role.Backup }), "blocking");
  assert.equal(stpStateName({ ...port, role: Role.Alternate, rstp: true }), "discarding");
  assert.equal(stpStateName({ ...port, rstp: true }), "discarding");
  assert.equal(STP_STATE_NUMBER.discarding, STP_STATE_NUMBER.blocking);
});

Deno.test("a port not enabled, or with the disabled role, is disabled", () => {
  assert.equal(stpStateName({ ...port, enabled: false, learning: true, forwarding: true }), "disabled");
  assert.equal(stpStateName({ ...port, role: Role.Disabled }), "disabled");
});
