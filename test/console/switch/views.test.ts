/** The module column of `port/print`: read from the link's own kind, as vde_switch names its modules. */
import assert from "node:assert/strict";
import { endpointModule } from "../../../src/console/switch/views.ts";
import type { Link, LinkKind } from "../../../src/link/link.ts";
import { MemoryLink } from "../../helpers/memory_link.ts";

function endpointOf(kind: LinkKind) {
  const link: Link = Object.assign(new MemoryLink("tap t0"), { kind });
  return { id: 1, link, uid: 0, since: 0 };
}

Deno.test("endpointModule names vde_switch's modules from the link's kind, not its class or description", () => {
  assert.equal(endpointModule(endpointOf("vde")), "unix prog");
  assert.equal(endpointModule(endpointOf("tap")), "tuntap");
  assert.equal(endpointModule(endpointOf("memory")), "link", "a description starting 'tap ' is not a tap");
  assert.equal(endpointModule(endpointOf("slirp")), "link");
});
