/** The connection rules on a virtual clock: admission caps, the request-head deadline, idleness, the refusal line. */
import assert from "node:assert/strict";
import {
  Admission,
  type Admitted,
  connectionKey,
  type ConnLimits,
  endpointKey,
  NEED_OWNERS,
  peerKey,
  REFUSAL_LOG_MS,
  RequestClock,
} from "../../src/web/conn_guard.ts";

const LIMITS: ConnLimits = { maxConnections: 3, maxPerPeer: 2, headerMs: 1000, idleMs: 5000 };
const bytes = (s: string) => new TextEncoder().encode(s);

Deno.test("conn guard: at most maxPerPeer from one address and maxConnections in all; a release lets one more in", () => {
  const a = new Admission(LIMITS);
  const first = a.admit("10.0.0.1");
  assert.ok(first);
  assert.ok(a.admit("10.0.0.1"));
  assert.equal(a.admit("10.0.0.1"), undefined);
  assert.ok(a.admit("10.0.0.2"));
  assert.equal(a.admit("10.0.0.3"), undefined);
  assert.deepEqual([a.open, a.refused], [3, 2]);
  a.release(first as Admitted);
  assert.ok(a.admit("10.0.0.3"));
  assert.equal(a.open, 3);
});

Deno.test("conn guard: refusals are said once at first, then at most once a minute with the count since", () => {
  const a = new Admission(LIMITS);
  assert.equal(a.refusalLine(0), undefined);
  for (let i = 0; i < 5; i++) a.admit("p");
  assert.match(
    a.refusalLine(10)!,
    /^refused 3 connections: at most 3 open, 2 from one address or local user \(3 refused in all\)$/,
  );
  a.admit("p");
  assert.equal(a.refusalLine(20), undefined);
  assert.equal(a.refusalLine(10 + REFUSAL_LOG_MS - 1), undefined);
  assert.match(a.refusalLine(10 + REFUSAL_LOG_MS)!, /^refused 1 connection: .*\(4 refused in all\)$/);
});

Deno.test("conn guard: a request head not complete within headerMs expires the connection (slowloris)", () => {
  const c = new RequestClock(0);
  c.fromClient(bytes("GET / HTTP/1.1\r\n"), 100);
  c.fromClient(bytes("X-a: b\r\n"), 900);
  assert.equal(c.expired(999, LIMITS), undefined);
  assert.equal(c.expired(1000, LIMITS), "slow request");
  // Nothing sent at all counts from the connection's opening.
  assert.equal(new RequestClock(0).expired(1000, LIMITS), "slow request");
});

Deno.test("conn guard: a head split anywhere completes; the next request's deadline starts at its first byte", () => {
  const c = new RequestClock(0);
  c.fromClient(bytes("GET / HTTP/1.1\r\nHost: x\r"), 10);
  c.fromClient(bytes("\n\r"), 20);
  c.fromClient(bytes("\n"), 30);
  assert.equal(c.expired(4000, LIMITS), undefined);
  c.fromClient(bytes("GET /metrics HTTP/1.1\r\n\r\r\n"), 4500);
  assert.equal(c.expired(5499, LIMITS), undefined);
  assert.equal(c.expired(5500, LIMITS), "slow request");
});

Deno.test("conn guard: a connection with nothing moving for idleMs expires; the server's sending keeps a feed alive", () => {
  const c = new RequestClock(0);
  c.fromClient(bytes("GET /events HTTP/1.1\r\n\r\n"), 10);
  for (let t = 250; t <= 20_000; t += 250) c.fromServer(new Uint8Array(0), t);
  assert.equal(c.expired(20_000, LIMITS), undefined);
  assert.equal(c.expired(24_999, LIMITS), undefined);
  assert.equal(c.expired(25_000, LIMITS), "idle");
});

Deno.test("conn guard: loopback addresses, one IPv6 /64 and an IPv4-mapped address each count as one peer", () => {
  const a = new Admission({ ...LIMITS, maxConnections: 100 });
  assert.ok(a.admit("127.0.0.2"));
  const second = a.admit("127.0.0.3");
  assert.ok(second);
  assert.equal(a.admit("127.9.9.9"), undefined, "a local user's other loopback addresses are the same peer");
  assert.equal(a.admit("::1"), undefined);
  assert.ok(a.admit("2001:db8:0:1::a"));
  assert.ok(a.admit("2001:db8:0:1:ffff::b"));
  assert.equal(a.admit("2001:db8::1:0:0:0:c"), undefined, "the same /64 however written");
  assert.ok(a.admit("2001:db8:0:2::a"), "another /64 is another peer");
  assert.ok(a.admit("10.0.0.1"));
  assert.ok(a.admit("::ffff:10.0.0.1"));
  assert.equal(a.admit("10.0.0.1"), undefined, "a dual-stack listener's IPv4 client is its IPv4 address");
  a.release(second as Admitted);
  assert.ok(a.admit("127.0.0.1"), "a release from one loopback address frees the loopback peer");
  assert.equal(peerKey("fe80::1%eth0"), "fe80:0:0:0::/64");
  assert.equal(peerKey("not an address"), "not an address");
});

Deno.test("conn guard: a request's body (Content-Length) is its own, due with its head, not the next head: a keep-alive after a POST goes idle, not slow", () => {
  const c = new RequestClock(0);
  c.fromClient(bytes("POST /api/hub HTTP/1.1\r\nHost: x\r\ncontent-LENGTH:  12\r\n\r\nhello"), 10);
  assert.equal(c.expired(999, LIMITS), undefined);
  assert.equal(c.expired(1000, LIMITS), "slow request", "a body trickled past the deadline is a slowloris");
  c.fromClient(bytes(" world!"), 900);
  assert.equal(
    c.expired(4000, LIMITS),
    undefined,
    "a body in time is the request's: nothing is awaited after it",
  );
  assert.equal(c.expired(5899, LIMITS), undefined);
  assert.equal(c.expired(5900, LIMITS), "idle");
  // The next request's head starts its deadline at its first byte.
  c.fromClient(bytes("GET / HTTP/1.1\r\n"), 6000);
  assert.equal(c.expired(6999, LIMITS), undefined);
  assert.equal(c.expired(7000, LIMITS), "slow request");
  // Its head has no Content-Length: what follows it is the next head at once.
  c.fromClient(bytes("\r\nGET"), 7000);
  assert.equal(c.expired(8000, LIMITS), "slow request");
});

Deno.test("conn guard: a chunked body is its request's, due with its head; after it a keep-alive goes idle; bad framing is said", () => {
  const c = new RequestClock(0);
  c.fromClient(bytes("POST /api/hub HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"), 10);
  assert.equal(c.expired(1000, LIMITS), "slow request", "a chunked body trickled past the deadline");
  assert.equal(c.fromClient(bytes("0\r\n\r\n"), 900), undefined);
  assert.equal(c.expired(4000, LIMITS), undefined, "nothing is awaited after the last chunk");
  assert.equal(c.expired(5900, LIMITS), "idle");
  c.fromClient(bytes("GET / HTTP/1.1\r\n"), 6000);
  assert.equal(c.expired(7000, LIMITS), "slow request");
  assert.match(
    c.fromClient(bytes("\r\nPOST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"), 7000)!,
    /hex size/,
  );
});

Deno.test("conn guard: past loopback's share each local user is a peer (uids from the socket owners); the server's uid and root pass a full server", () => {
  const a = new Admission({ ...LIMITS, maxConnections: 6, maxPerPeer: 2 }, 1000);
  const owners = new Map<string, number>();
  const SERVER = endpointKey("127.0.0.1", 9100);
  let port = 40000;
  /** Admits a loopback connection of `uid` (undefined: no row, another namespace), reading owners when asked. */
  const connect = (uid: number | undefined, host = "127.0.0.1") => {
    const p = port++;
    if (uid !== undefined) owners.set(connectionKey(endpointKey(host, p), SERVER), uid);
    const first = a.admit(host, p, undefined, SERVER);
    return first === NEED_OWNERS ? a.admit(host, p, owners, SERVER) : first;
  };
  // Below the share nothing is asked.
  assert.notEqual(a.admit("127.0.0.1", 1), NEED_OWNERS);
  assert.notEqual(a.admit("::1", 2), NEED_OWNERS);
  assert.equal(a.admit("127.0.0.1", 3), NEED_OWNERS, "loopback's share is full: its owners decide");
  assert.equal(a.admit("10.0.0.1", 4) !== NEED_OWNERS, true, "a remote peer is never asked about");
  assert.equal(
    connect(undefined),
    undefined,
    "the two held and this one have no row (another namespace): one peer",
  );
  assert.ok(connect(2000), "a connection with a row is its user's");
  // A local user takes their share, and no more, whatever addresses they use.
  const b = new Admission({ ...LIMITS, maxConnections: 6, maxPerPeer: 2 }, 1000);
  const viaB = (uid: number, host = "127.0.0.1") => {
    const p = port++;
    owners.set(connectionKey(endpointKey(host, p), SERVER), uid);
    const first = b.admit(host, p, undefined, SERVER);
    return first === NEED_OWNERS ? b.admit(host, p, owners, SERVER) : first;
  };
  assert.ok(viaB(2000));
  assert.ok(viaB(2000, "127.0.0.2"));
  assert.equal(viaB(2000, "::1"), undefined);
  assert.ok(viaB(3000));
  assert.ok(viaB(3000));
  assert.equal(viaB(3000), undefined);
  assert.ok(viaB(1000), "the server's own user gets in");
  assert.ok(b.admit("10.0.0.1"));
  assert.equal(b.open, 6);
  assert.equal(b.admit("10.0.0.2"), undefined, "the server is full");
  assert.equal(viaB(4000), undefined, "for another user too");
  assert.ok(viaB(1000), "not for the server's own user");
  assert.ok(viaB(0), "nor for root");
  assert.equal(viaB(0, "::1") !== undefined, true);
  assert.equal(viaB(0), undefined, "root too has its share only");
  assert.equal(b.open, 9);
  assert.match(endpointKey("::ffff:127.0.0.1", 80), /^127\.0\.0\.1:80$/);
  assert.equal(endpointKey("::1", 80), "0:0:0:0:0:0:0:1:80");
});

/** A loopback client of `uid` connecting to `a`, the owners read when it asks (as guarded_server.ts does). */
function loopbackConnector(a: Admission): (uid: number) => Admitted | undefined | typeof NEED_OWNERS {
  const owners = new Map<string, number>();
  const SERVER = endpointKey("127.0.0.1", 9100);
  let port = 40000;
  return (uid) => {
    const p = port++;
    owners.set(connectionKey(endpointKey("127.0.0.1", p), SERVER), uid);
    const first = a.admit("127.0.0.1", p, undefined, SERVER);
    return first === NEED_OWNERS ? a.admit("127.0.0.1", p, owners, SERVER) : first;
  };
}

Deno.test("conn guard: a local user's subordinate uids are that user, one peer past loopback's share; the server's user's are a peer apart from it, with no pass", () => {
  // Uids 600000 and up are 2000's subordinate uids, 700000 and up the server's user's (1000), 800000 and up root's.
  const accountOf = (uid: number) => uid >= 800_000 ? 0 : uid >= 700_000 ? 1000 : uid >= 600_000 ? 2000 : uid;
  const a = new Admission({ ...LIMITS, maxConnections: 6, maxPerPeer: 2 }, 1000, accountOf);
  const connect = loopbackConnector(a);
  assert.ok(connect(2000));
  assert.ok(connect(600_001), "held below the share, then counted as 2000's once the owners are read");
  assert.equal(connect(600_002), undefined, "2000's share is taken, whichever of their uids asks");
  assert.equal(connect(2000), undefined);
  assert.ok(connect(3000), "another user has a share of their own");
  assert.ok(connect(3000));
  assert.ok(connect(1000));
  assert.ok(a.admit("10.0.0.1"));
  assert.equal(a.open, 6);
  assert.equal(a.admit("10.0.0.2"), undefined, "the server is full");
  assert.equal(connect(4000), undefined, "for another user too");
  assert.ok(connect(1000), "the server's user passes a full server");
  assert.equal(connect(700_001), undefined, "one of their subordinate uids (a container's process) does not");
  const viaB = loopbackConnector(
    new Admission({ ...LIMITS, maxConnections: 6, maxPerPeer: 2 }, 1000, accountOf),
  );
  assert.ok(viaB(700_001));
  assert.ok(viaB(700_002));
  assert.equal(viaB(700_003), undefined, "the server's user's subordinate uids are one peer");
  assert.ok(viaB(1000), "apart from that user, whose share they do not take");
  assert.ok(viaB(1000));
  assert.ok(viaB(800_001), "root's subordinate uids are a peer of their own, apart from the server's user's");
  assert.ok(viaB(800_002));
  assert.equal(viaB(800_003), undefined, "one peer, past the server's share");
});

Deno.test("conn guard: a malformed request's 400 is due only once the requests passed on before it are answered, at an answer's end, and never after answers it cannot count", () => {
  const BAD = "POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n";
  const ok = (body: string) => `HTTP/1.1 200 OK\r\ncontent-length: ${body.length}\r\n\r\n${body}`;
  const first = new RequestClock(0);
  assert.ok(first.fromClient(bytes(BAD), 0));
  assert.deepEqual([first.wholeBytes, first.refusalDue], [0, true], "nothing was passed on: the 400 at once");
  const later = new RequestClock(0);
  assert.equal(
    later.fromClient(bytes("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"), 0),
    undefined,
  );
  assert.equal(later.wholeBytes, 47);
  assert.ok(later.fromClient(bytes("1\r\nx\r\nzz\r\n"), 0));
  assert.equal(later.wholeBytes, 0, "of a request begun before, nothing more is passed on");

  const c = new RequestClock(0);
  assert.equal(c.fromClient(bytes("GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n"), 0), undefined);
  assert.equal(c.refusalDue, false, "nothing is malformed");
  assert.ok(c.fromClient(bytes(`GET /c HTTP/1.1\r\n\r\n${BAD}`), 10));
  assert.equal(
    c.wholeBytes,
    "GET /c HTTP/1.1\r\n\r\n".length,
    "the request before the malformed one is passed on",
  );
  assert.equal(c.refusalDue, false, "three answers are owed");
  c.fromServer(bytes(ok("aa") + ok("c")), 20);
  assert.equal(c.refusalDue, false, "one is");
  const second = ok("x".repeat(100));
  c.fromServer(bytes(second.slice(0, 60)), 30);
  assert.equal(c.refusalDue, false, "the second is under way");
  c.fromServer(bytes(second.slice(60)), 40);
  assert.equal(c.refusalDue, true, "both are answered: the 400 follows");
  c.fromServer(bytes("HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n"), 50);
  assert.equal(
    c.refusalDue,
    false,
    "an answer past those owed (to the malformed one's head): no 400 after it",
  );

  const chunked = new RequestClock(0);
  chunked.fromClient(bytes("GET /feed HTTP/1.1\r\n\r\n"), 0);
  chunked.fromClient(bytes(BAD), 0);
  chunked.fromServer(bytes("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n"), 10);
  assert.equal(chunked.refusalDue, false, "a streamed answer under way");
  chunked.fromServer(bytes("0\r\n\r\n"), 20);
  assert.equal(chunked.refusalDue, true);

  const head = new RequestClock(0);
  head.fromClient(bytes("HEAD / HTTP/1.1\r\n\r\n"), 0);
  head.fromClient(bytes(BAD), 0);
  head.fromServer(bytes("HTTP/1.1 200 OK\r\ncontent-length: 6\r\n\r\n"), 10);
  assert.equal(head.refusalDue, false, "a HEAD's answer has a length and no body: never counted");
  const unframed = new RequestClock(0);
  unframed.fromClient(bytes("GET / HTTP/1.1\r\n\r\n"), 0);
  unframed.fromClient(bytes(BAD), 0);
  unframed.fromServer(bytes("HTTP/1.1 204 No Content\r\n\r\n"), 10);
  assert.equal(
    unframed.refusalDue,
    false,
    "an answer framed by neither header (204, 1xx, to the close): never counted",
  );
});
