/**
 * The IP output's frames to the guest: a download's segments are all built
 * in one buffer at one place, so the view each goes out as is made once and
 * handed out again (no object per frame), while every frame still carries
 * its own bytes at its call, and a frame built elsewhere gets a view of its
 * own place.
 */
import assert from "node:assert/strict";
import { Iface } from "../../src/slirp/iface.ts";
import { IpOutput } from "../../src/slirp/ip_output.ts";
import { GatewayGuard } from "../../src/slirp/gateway_guard.ts";
import { Neighbours } from "../../src/slirp/neighbours.ts";
import { defaultConfig } from "../../src/slirp/config.ts";
import { ETH_HLEN } from "../../src/wire/ethernet.ts";

const GUEST = (10 << 24 | 2 << 8 | 15) >>> 0;

Deno.test("send4 hands frames built at one place out as one view, each with its own bytes at the call", () => {
  const views: Uint8Array[] = [];
  const bytes: number[] = [];
  const iface = new Iface(
    defaultConfig(),
    {
      output: (f) => {
        views.push(f);
        bytes.push(f[ETH_HLEN + 20]!);
      },
      kick: () => {},
      congested: () => false,
    },
    () => 0,
    () => {},
    { 4: false, 6: false },
  );
  const neighbours = new Neighbours(iface, new GatewayGuard(iface));
  neighbours.learn4(GUEST, new Uint8Array([2, 0, 0, 0, 0, 15]), 0);
  const out = new IpOutput(iface, neighbours);
  const frame = new Uint8Array(2000);
  for (let i = 1; i <= 3; i++) {
    frame[100 + ETH_HLEN + 20] = i;
    out.send4(frame, 100, 1514, GUEST);
  }
  // Another place (a shorter frame, another offset, another buffer): a view of that place.
  out.send4(frame, 100, 60, GUEST);
  out.send4(frame, 0, 60, GUEST);
  const other = new Uint8Array(2000);
  other[ETH_HLEN + 20] = 9;
  out.send4(other, 0, 60, GUEST);
  assert.deepEqual(bytes, [1, 2, 3, 3, 0, 9]);
  assert.ok(views[0] === views[1] && views[1] === views[2], "one view for the frames built at one place");
  assert.deepEqual(views.map((v) => [v.byteOffset, v.length]), [
    [100, 1514],
    [100, 1514],
    [100, 1514],
    [100, 60],
    [0, 60],
    [0, 60],
  ]);
  assert.equal(views[5]!.buffer, other.buffer);
});
