/**
 * scripts/conn_floor.ts: the bench's latency floor for one connection at a time reads ping's
 * per-reply times and turns µs a connection and the chain's RTT into round trips and a floor.
 */
import assert from "node:assert/strict";
import {
  CHAIN_ROUND_TRIPS,
  floorConnPerS,
  pingTimesMs,
  roundTripsPerConnection,
  usPerConnection,
} from "../../scripts/conn_floor.ts";

Deno.test("ping's per-reply times are read from iputils' and busybox's lines, the summary ignored", () => {
  const out = `PING 10.0.2.2 (10.0.2.2) 56(84) bytes of data.
64 bytes from 10.0.2.2: icmp_seq=1 ttl=255 time=0.210 ms
64 bytes from 10.0.2.2: icmp_seq=2 ttl=255 time=0.180 ms
64 bytes from 10.0.2.2: seq=3 ttl=64 time=0.195 ms

--- 10.0.2.2 ping statistics ---
3 packets transmitted, 3 received, 0% packet loss, time 20ms
rtt min/avg/max/mdev = 0.180/0.195/0.210/0.012 ms, ipg/ewma 0.3/0.2 ms`;
  assert.deepEqual(pingTimesMs(out), [0.21, 0.18, 0.195]);
  assert.deepEqual(pingTimesMs("From 10.0.2.15 icmp_seq=1 Destination Host Unreachable"), []);
});

Deno.test("a connection's µs over the RTT gives the round trips it lasts", () => {
  assert.equal(usPerConnection(2500), 400);
  assert.equal(usPerConnection(0), Infinity);
  assert.equal(roundTripsPerConnection(2500, 200), 2);
  assert.ok(Number.isNaN(roundTripsPerConnection(2500, 0)));
});

Deno.test("the zero-time slirp's floor is the guest part plus two chain round trips", () => {
  assert.equal(CHAIN_ROUND_TRIPS, 2);
  // 50 µs guest part + 2 x 100 µs RTT = 250 µs a connection.
  assert.equal(floorConnPerS(50, 100), 4000);
  assert.equal(floorConnPerS(50, 100, 1), 1e6 / 150);
  assert.ok(Number.isNaN(floorConnPerS(0, 0)));
});
