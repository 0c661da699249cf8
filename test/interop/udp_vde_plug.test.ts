/**
 * udp:// against Debian's vde_plug (vdeplug4 4.0.1) with the same URLs,
 * both ways round: frames cross between two namespaces joined by a veth.
 */
import { withNetns } from "../helpers/netns.ts";
import { skipUnless } from "../helpers/processes.ts";
import { exchange, missing, plugIn, type Side, vethPair } from "../helpers/netns_pair.ts";

for (const [sideA, sideB] of [["debian", "ours"], ["ours", "debian"]] as [Side, Side][]) {
  Deno.test(`udp:// ${sideA} in a, ${sideB} in b: frames cross both ways`, async (t) => {
    if (skipUnless(t, await missing(true))) return;
    await withNetns(async (lab) => {
      const p = await vethPair(lab);
      const x = plugIn(p.a, sideA, `udp://${p.addrA}:5001->${p.addrB}:5002`);
      const y = plugIn(p.b, sideB, `udp://5002->${p.addrA}:5001`);
      try {
        await exchange(x, y);
        await exchange(y, x, { tagBase: 5000 });
      } finally {
        await Promise.all([x.stop(), y.stop()]);
      }
    });
  });
}
