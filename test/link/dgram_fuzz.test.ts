/**
 * Fuzz: vxlan://, vxvde:// and udp:// take datagrams from anywhere on
 * their ports. A program (_dgram_fuzz_rig.ts) in a namespace with multicast
 * on lo sends each random and mutated datagrams, then checks the links
 * count their drops, hand on only frames of a sane length, and still
 * deliver a clean frame.
 */
import assert from "node:assert/strict";
import { withNetns } from "../helpers/netns.ts";
import { skipUnless } from "../helpers/processes.ts";
import { loopbackMulticast, missing } from "../helpers/netns_pair.ts";
import { REPO_ROOT } from "../helpers/switches.ts";

Deno.test("dgram fuzz: 20,000 random and mutated datagrams at each of vxlan://, vxvde:// (group and unicast) and udp://; each counts its drops and delivers a clean frame after", async (t) => {
  if (skipUnless(t, await missing(false))) return;
  await withNetns(async (lab) => {
    const ns = await lab.namespace("a");
    await loopbackMulticast(ns);
    const r = await ns.run(["deno", "run", "-A", `${REPO_ROOT}/test/link/_dgram_fuzz_rig.ts`, "20000"], {
      check: false,
      timeoutMs: 60_000,
    });
    console.log(r.stdout.trim());
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim().split("\n").at(-1), "ok", r.stdout);
  });
});
