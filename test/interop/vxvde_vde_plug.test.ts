/**
 * vxvde:// against Debian's vde_plug with the same URL, both ways round,
 * unicast to learnt MACs included, and a group of three (Debian and two of
 * ours, two of them on one host).
 */
import { withNetns } from "../helpers/netns.ts";
import { skipUnless } from "../helpers/processes.ts";
import { exchange, missing, plugIn, type Side, vethPair } from "../helpers/netns_pair.ts";

for (const [sideA, sideB] of [["debian", "ours"], ["ours", "debian"]] as [Side, Side][]) {
  Deno.test(`vxvde:// ${sideA} in a, ${sideB} in b: frames cross both ways`, async (t) => {
    if (skipUnless(t, await missing(true))) return;
    await withNetns(async (lab) => {
      const p = await vethPair(lab);
      const url = "vxvde://239.199.1.1/vni=77";
      const x = plugIn(p.a, sideA, url);
      const y = plugIn(p.b, sideB, url);
      try {
        await exchange(x, y);
        await exchange(y, x, { tagBase: 5000 });
      } finally {
        await Promise.all([x.stop(), y.stop()]);
      }
    });
  });
}

Deno.test("vxvde:// three members, two on one host (Debian and ours) and ours across the veth", async (t) => {
  if (skipUnless(t, await missing(true))) return;
  await withNetns(async (lab) => {
    const p = await vethPair(lab);
    // Members on one host hear each other through multicast loop-back (vxvde leaves it on).
    const url = "vxvde://239.199.1.2";
    const debian = plugIn(p.a, "debian", url);
    const oursHere = plugIn(p.a, "ours", url);
    const oursThere = plugIn(p.b, "ours", url);
    try {
      await exchange(debian, oursHere, { tagBase: 1000 });
      await exchange(oursHere, oursThere, { tagBase: 2000 });
      await exchange(oursThere, debian, { tagBase: 3000 });
    } finally {
      await Promise.all([debian.stop(), oursHere.stop(), oursThere.stop()]);
    }
  });
});
