/**
 * The multicast menu's arguments, checked as vde_switch checks a port in
 * its own port commands: out of range is EINVAL, in range but not there is
 * ENXIO, and nothing changes either way; what the switch's state refuses is
 * said in words, with what to type.
 */
import assert from "node:assert/strict";
import { makeConsole, type TestConsole } from "../_helpers.ts";
import { MemoryLink } from "../../helpers/memory_link.ts";
import { BROADCAST, ethFrame, mac, threadWarmed, until } from "../../helpers/vde_clients.ts";
import { igmp, tagsSent, udpToGroup } from "../../helpers/igmp.ts";
import { buildIgmpQuery } from "../../../src/wire/igmp.ts";
import { formatExplained } from "../../../src/console/explain.ts";

const OK = "1000 Success\n";

Deno.test("mcast/router refuses a port that is not there with 1006, as vde_switch's port commands do, saying how to make it", async () => {
  const tc = makeConsole(8);
  try {
    assert.equal(await tc.run("mcast/snooping 1"), OK);
    assert.equal(
      await tc.run("mcast/router 5 1"),
      "no port 5 yet: it is there once something plugs in, or after port/create 5; `ports all` lists the ports\n" +
        "1006 No such device or address\n",
    );
    assert.equal(
      await tc.run("mcast/router 8 1"),
      "port 8 is past the last port: this switch's ports are 0-7\n1022 Invalid argument\n",
    );
    assert.equal(
      await tc.run("mcast/router 5 maybe"),
      "1022 Invalid argument\n",
      "malformed: the usage says it",
    );
    assert.doesNotMatch(await tc.run("mcast/print"), /router port/, "no router port was made");
    assert.equal(await tc.run("port/create 5"), OK);
    assert.equal(await tc.run("mcast/router 5 1"), OK);
    assert.match(await tc.run("mcast/print"), /\nrouter port 5 permanent\n/);
  } finally {
    tc.close();
  }
});

Deno.test("mcast/router and mcast/querier with snooping off answer 1022 saying so and what to type, which a terminal shows alone", async () => {
  const tc = makeConsole(8);
  try {
    assert.equal(await tc.run("port/create 5"), OK);
    const off = "snooping is off: type mcast/snooping 1 first, or start the switch with --mcast-snooping\n";
    assert.equal(await tc.run("mcast/router 5 1"), `${off}1022 Invalid argument\n`);
    assert.equal(await tc.run("mcast/querier 1"), `${off}1022 Invalid argument\n`);
    const reply = await tc.commands.execute("mcast/router 5 1", tc.session);
    const known = {
      syntax: (p: string) => tc.commands.lookup(p)?.syntax,
      paths: () => tc.commands.commandPaths(),
    };
    assert.equal(formatExplained("mcast/router 5 1", reply!, known), off);
  } finally {
    tc.close();
  }
});

const GROUP = [239, 1, 1, 1];

/**
 * A switch (forwarding on `dataplane`) with snooping on, a sender on port 1
 * and another querier on port 2 (asking for answers within 0.1 s), so snooping
 * governs forwarding once that delay passed (the rig waits for it): an
 * unregistered group goes to the router ports only (2, and any permanent one).
 * `reaches(link, tag)` sends the group datagram `tag` from port 1 and tells
 * whether `link` got it, once a broadcast sent after it reached `link`.
 */
async function withRouterRig(
  dataplane: "main" | "thread",
  fn: (tc: TestConsole, reaches: (link: MemoryLink, tag: number) => Promise<boolean>) => Promise<void>,
): Promise<void> {
  const tc = makeConsole(8, {}, dataplane);
  try {
    const [sender, querier] = [new MemoryLink("sender"), new MemoryLink("querier")];
    tc.sw.attach(sender, { port: 1 });
    tc.sw.attach(querier, { port: 2 });
    await threadWarmed(tc.sw);
    assert.equal(await tc.run("mcast/snooping 1"), OK);
    querier.receive(buildIgmpQuery(mac(0x44), null, 1));
    await until("port 2 is a learned router port, and its querier governs forwarding", async () => {
      const print = await tc.run("mcast/print");
      return /\nrouter port 2 temp/.test(print) && /querier active: ipv4 yes/.test(print);
    });
    await fn(tc, async (link, tag) => {
      sender.receive(udpToGroup(GROUP, tag, mac(1)));
      sender.receive(ethFrame(BROADCAST, mac(1), tag + 1000));
      await until(
        `the broadcast after datagram ${tag} reaches ${link.description}`,
        () => tagsSent(link).includes(tag + 1000),
      );
      assert.ok(tagsSent(querier).includes(tag), `the learned router port gets datagram ${tag}`);
      return tagsSent(link).includes(tag);
    });
  } finally {
    await tc.sw.close();
  }
}

for (const dataplane of ["main", "thread"] as const) {
  Deno.test(`a permanent router port ends with its client: the next client on that port is no router (${dataplane})`, async () => {
    await withRouterRig(dataplane, async (tc, reaches) => {
      const router = new MemoryLink("router");
      tc.sw.attach(router, { port: 3 });
      assert.equal(await tc.run("mcast/router 3 1"), OK);
      assert.match(await tc.run("mcast/print"), /\nrouter port 3 permanent\n/);
      assert.equal(await reaches(router, 1), true, "a permanent router port gets an unregistered group");
      router.close();
      await until("port 3 is inactive", () => !tc.sw.engine.isActive(3));
      assert.doesNotMatch(await tc.run("mcast/print"), /router port 3/);
      const next = new MemoryLink("next");
      assert.equal(tc.sw.portOfEndpoint(tc.sw.attach(next).id), 3, "the next client takes port 3");
      assert.equal(await reaches(next, 2), false, "the next client is not sent the group as a router");
    });
  });

  Deno.test(`port/remove ends a permanent router port: one re-created with its number is no router (${dataplane})`, async () => {
    await withRouterRig(dataplane, async (tc, reaches) => {
      for (const line of ["port/create 5", "mcast/router 5 1", "port/remove 5", "port/create 5"]) {
        assert.equal(await tc.run(line), OK, line);
      }
      assert.doesNotMatch(await tc.run("mcast/print"), /router port 5/);
      const client = new MemoryLink("client");
      tc.sw.attach(client, { port: 5 });
      assert.equal(await reaches(client, 3), false, "a client on the re-created port is not sent the group");
    });
  });
}

for (const dataplane of ["main", "thread"] as const) {
  Deno.test(`mcast/print counts queries seen and sent, reports and leaves seen, per family, and names the current querier (${dataplane} data plane)`, async () => {
    const tc = makeConsole(8, {}, dataplane);
    const host = new MemoryLink("host");
    try {
      tc.sw.attach(host, { port: 2 });
      await threadWarmed(tc.sw);
      assert.equal(await tc.run("mcast/snooping 1"), OK);
      host.receive(igmp(0x16, GROUP));
      host.receive(igmp(0x17, GROUP));
      assert.equal(await tc.run("mcast/querier 1"), OK);
      // Our start-up general queries, one per family, go out at the querier's first tick; another querier's
      // query is counted as seen after them (before them, ours would be silent for IPv4, as the kernel's).
      const counted = (wanted: RegExp[]) =>
        until("the counters", async () => {
          const text = await tc.run("mcast/print");
          return wanted.every((re) => re.test(text));
        });
      await counted([
        /\nigmp queries seen 0 sent [1-9]/,
        /\nmld queries seen 0 sent [1-9]/,
        /\nquerier ipv4 0\.0\.0\.0 ours\n/,
        /\nquerier ipv6 fe80::\S+ ours\n/,
      ]);
      // Another IPv4 querier (from 0.0.0.0 too) is taken: ours from 0.0.0.0 yields to any, as the kernel's.
      host.receive(buildIgmpQuery(mac(0x44), null, 100));
      await counted([
        /\nquerier ipv4 0\.0\.0\.0 port 2 temp 25\d\.\d\d\n/,
        /\nquerier ipv6 fe80::\S+ ours\n/,
        /\nigmp queries seen 1 sent [1-9]\d*, reports seen 1, leaves seen 1, malformed 0\n/,
        /\nmld queries seen 0 sent [1-9]\d*, reports seen 0, leaves seen 0, malformed 0\n/,
        /\ntable-full 0\n/,
      ]);
    } finally {
      host.close();
      tc.close();
    }
  });
}

Deno.test("a snooping knob out of its range is refused with one line saying the range, and mcast/print shows the values in force in the bridge's names and units", async () => {
  const tc = makeConsole(8);
  try {
    const off = "snooping is off: type mcast/snooping 1 first, or start the switch with --mcast-snooping\n";
    assert.equal(await tc.run("mcast/query_interval 500"), `${off}1022 Invalid argument\n`);
    assert.equal(await tc.run("mcast/snooping 1"), OK);
    assert.equal(
      await tc.run("mcast/last_member_count 0"),
      "mcast/last_member_count takes 1-255 (as ip link's mcast_last_member_count)\n1022 Invalid argument\n",
    );
    assert.equal(
      await tc.run("mcast/query_interval 5s"),
      "mcast/query_interval takes 100-8640000 centiseconds (1/100 s, as ip link's mcast_query_interval)\n" +
        "1022 Invalid argument\n",
    );
    for (const line of ["mcast/query_interval 500", "mcast/querier_interval 800", "mcast/hash_max 64"]) {
      assert.equal(await tc.run(line), OK, line);
    }
    assert.match(
      await tc.run("mcast/print"),
      /\nmcast_hash_max 64 mcast_last_member_count 2 .* mcast_querier_interval 800 mcast_query_interval 500 /,
    );
  } finally {
    tc.close();
  }
});

for (const dataplane of ["main", "thread"] as const) {
  Deno.test(`mcast/fastleave: a leave on that port stops its group reaching it at once while another querier is current; mcast/print lists it, and it ends with its client (${dataplane} data plane)`, async () => {
    await withRouterRig(dataplane, async (tc, reaches) => {
      const [fast, slow] = [new MemoryLink("fast"), new MemoryLink("slow")];
      tc.sw.attach(fast, { port: 3 });
      tc.sw.attach(slow, { port: 4 });
      assert.equal(await tc.run("mcast/fastleave 3 1"), OK);
      assert.match(await tc.run("mcast/print"), /\nfastleave ports 3\n/);
      fast.receive(igmp(0x16, GROUP, 3));
      slow.receive(igmp(0x16, GROUP, 4));
      assert.equal(await reaches(fast, 1), true, "a member");
      fast.receive(igmp(0x17, GROUP, 3));
      slow.receive(igmp(0x17, GROUP, 4));
      assert.equal(await reaches(fast, 2), false, "the fast-leave port's membership ended at its leave");
      assert.equal(await reaches(slow, 3), true, "the other querier answers port 4's leave, not us");
      fast.close();
      await until("port 3 is inactive", () => !tc.sw.engine.isActive(3));
      assert.doesNotMatch(await tc.run("mcast/print"), /fastleave/);
    });
  });

  Deno.test(`mcast/hash_max reaches the table that routes: a membership past it is refused (${dataplane} data plane)`, async () => {
    await withRouterRig(dataplane, async (tc, reaches) => {
      const [first, second] = [new MemoryLink("first"), new MemoryLink("second")];
      tc.sw.attach(first, { port: 3 });
      tc.sw.attach(second, { port: 4 });
      assert.equal(await tc.run("mcast/hash_max 1"), OK);
      first.receive(igmp(0x16, GROUP, 3));
      second.receive(igmp(0x16, GROUP, 4));
      assert.equal(await reaches(first, 1), true);
      assert.equal(await reaches(second, 2), false, "the second membership was refused");
      assert.match(await tc.run("mcast/print"), /\ntable-full 1\n/);
    });
  });

  Deno.test(`mcast/hash_max lowered below the memberships held keeps them and refuses the next; raised past the table's first size, takes it, on the table that routes (${dataplane} data plane)`, async () => {
    await withRouterRig(dataplane, async (tc, reaches) => {
      const [a, b, c] = [new MemoryLink("a"), new MemoryLink("b"), new MemoryLink("c")];
      tc.sw.attach(a, { port: 3 });
      tc.sw.attach(b, { port: 4 });
      tc.sw.attach(c, { port: 5 });
      a.receive(igmp(0x16, GROUP, 3));
      b.receive(igmp(0x16, GROUP, 4));
      assert.equal(await reaches(b, 1), true);
      assert.equal(await tc.run("mcast/hash_max 1"), OK);
      c.receive(igmp(0x16, GROUP, 5));
      assert.equal(await reaches(c, 2), false, "a third membership past the lowered bound is refused");
      assert.equal(await reaches(a, 3), true, "those held before stay");
      assert.equal(await reaches(b, 4), true);
      // 65536 is past the 4096 the table was first sized for: its buckets grow on both copies.
      assert.equal(await tc.run("mcast/hash_max 65536"), OK);
      c.receive(igmp(0x16, GROUP, 5));
      assert.equal(await reaches(c, 5), true, "taken once the bound is raised");
      assert.match(await tc.run("mcast/print"), /\ntable-full 1\nmcast_hash_max 65536 /);
    });
  });

  Deno.test(`a fast-leave port's next client, after the first left, leaves as any port's does: the querier answers it (${dataplane} data plane)`, async () => {
    await withRouterRig(dataplane, async (tc, reaches) => {
      const first = new MemoryLink("first");
      tc.sw.attach(first, { port: 3 });
      assert.equal(await tc.run("mcast/fastleave 3 1"), OK);
      first.close();
      await until("port 3 is inactive", () => !tc.sw.engine.isActive(3));
      const next = new MemoryLink("next");
      tc.sw.attach(next, { port: 3 });
      next.receive(igmp(0x16, GROUP, 3));
      assert.equal(await reaches(next, 1), true);
      next.receive(igmp(0x17, GROUP, 3));
      assert.equal(await reaches(next, 2), true, "its leave waits for the other querier, on every copy");
    });
  });
}
