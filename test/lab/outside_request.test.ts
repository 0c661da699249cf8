/**
 * A rootless lab's request for a node added live is checked by the process
 * outside with the lab file's own validator before anything opens.
 */
import assert from "node:assert/strict";
import { checkedRequest } from "../../src/lab/outside_request.ts";

Deno.test("a request's settings are the lab file's: a slirp or cable node comes back as the validator makes it", () => {
  assert.deepEqual(
    checkedRequest("t", "nat", { kind: "slirp", name: "nat", forwards: ["tcp:8080:10.0.2.15:80"] }, "/"),
    {
      kind: "slirp",
      name: "nat",
      forwards: ["tcp:8080:10.0.2.15:80"],
      options: undefined,
      mtu: undefined,
    },
  );
  const cable = checkedRequest("t", "wan", { kind: "cable", name: "wan", listen: "0", insecure: true }, "/");
  assert.equal(cable.kind, "cable");
});

Deno.test("a request the lab file's checks refuse is refused in one line with the validator's words", () => {
  const refused = (asked: unknown) => {
    try {
      checkedRequest("t", "nat", asked, "/");
    } catch (err) {
      return (err as Error).message;
    }
    assert.fail("taken");
  };
  const said = refused({ kind: "slirp", name: "nat", forwards: ["tcp:nonsense"], mtu: 5 });
  assert.match(said, /^nat: forwards: .*; nat: mtu must be a whole number from 1280 to 65520, got 5$/);
  assert.doesNotMatch(said, /\n/);
  assert.match(
    refused({ kind: "slirp", name: "nat", forwards: [], command: "rm -rf ~" }),
    /unknown key "command"/,
  );
  assert.match(refused({ kind: "cable", name: "nat", listen: "0" }), /needs a `key` file/);
  assert.match(refused({ kind: "cable", name: "nat", connect: "h:1", key: "/nonexistent/k" }), /nat: key: /);
  for (const asked of [null, [], "nat", { kind: "host", name: "nat" }, { kind: "slirp", name: "other" }]) {
    assert.equal(refused(asked), "nat: no slirp or cable node asked for");
  }
});

Deno.test("a rootless lab's cable asked for with a key file the cable would refuse (/dev/zero) is refused by the outside's check, before it opens", () => {
  assert.throws(
    () => checkedRequest("t", "wan", { kind: "cable", name: "wan", listen: "0", key: "/dev/zero" }, "/"),
    { message: "wan: key: cannot read key file /dev/zero: it is a character device, not a regular file" },
  );
});
