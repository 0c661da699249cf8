/** Request framing fed byte by byte: heads, Content-Length and chunked bodies, pipelining, and hostile framing. */
import assert from "node:assert/strict";
import { BEGAN, MALFORMED, MAX_LINE, RequestFraming } from "../../src/wire/http_framing.ts";

const bytes = (s: string) => new TextEncoder().encode(s);

/** Feeds `text` one byte at a time; says how many requests began and whether it ended inside one or malformed. */
function follow(text: string): { began: number; inRequest: boolean; problem: string } {
  const f = new RequestFraming();
  let began = 0;
  for (const b of bytes(text)) {
    const r = f.feed(Uint8Array.of(b));
    if (r & BEGAN) began++;
    if (r & MALFORMED) break;
  }
  return { began, inRequest: f.inRequest, problem: f.problem };
}

const CHUNKED_POST = "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";

Deno.test("request framing: a chunked body (sizes, extensions, trailers) is its request's; pipelined requests after it are each one", () => {
  const body = "5\r\nhello\r\nA;name=value;x\r\nGET / HTTP\r\n0\r\nX-Sum: 1\r\nY: 2\r\n\r\n";
  assert.deepEqual(follow(CHUNKED_POST + body), { began: 1, inRequest: false, problem: "" });
  const pipelined = CHUNKED_POST + body + "GET / HTTP/1.1\r\n\r\n" + CHUNKED_POST + "0\r\n\r\n" +
    "GET /metrics HTTP/1.1\r\n";
  assert.deepEqual(follow(pipelined), { began: 4, inRequest: true, problem: "" });
  // In one feed too: a chunk's data skipped in one step, split anywhere.
  const f = new RequestFraming();
  assert.equal(f.feed(bytes(CHUNKED_POST + "ffff\r\n")), BEGAN);
  assert.equal(f.feed(new Uint8Array(0xffff)), 0);
  assert.equal(f.feed(bytes("\r\n0\r\n\r")), 0);
  assert.ok(f.inRequest);
  assert.equal(f.feed(bytes("\n")), 0);
  assert.equal(f.inRequest, false);
});

Deno.test("request framing: the last coding decides (gzip, chunked is chunked), names and chunked in any case", () => {
  const r = follow("POST / HTTP/1.1\r\ntransfer-ENCODING:  gzip ,  ChunKed \r\n\r\n3\r\nabc\r\n0\r\n\r\nG");
  assert.deepEqual(r, { began: 2, inRequest: true, problem: "" });
  assert.equal(
    follow("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
      .inRequest,
    false,
  );
});

Deno.test("request framing: hostile framing is malformed, with a reason (RFC 9112 6.3, chunk lines)", () => {
  const cases: [string, RegExp][] = [
    [
      "POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
      /both Transfer-Encoding and Content-Length/,
    ],
    ["POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", /both/],
    ["POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", /does not end in chunked/],
    ["POST / HTTP/1.1\r\nTransfer-Encoding: chunkedx\r\n\r\n", /does not end in chunked/],
    ["POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n", /does not end/],
    ["POST / HTTP/1.1\r\nTransfer-Encoding:\r\n\r\n", /does not end in chunked/],
    ["POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", /two different Content-Lengths/],
    ["POST / HTTP/1.1\r\nContent-Length: 1 2\r\n\r\n", /not a number/],
    ["POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", /not a number/],
    ["POST / HTTP/1.1\r\nContent-Length:\r\n\r\n", /empty Content-Length/],
    ["POST / HTTP/1.1\r\nX: a\r\n Transfer-Encoding: chunked\r\n\r\n", /obs-fold/],
    [CHUNKED_POST + "\r\n", /does not begin with a hex size/],
    [CHUNKED_POST + "g\r\n", /does not begin with a hex size/],
    [CHUNKED_POST + "-1\r\n", /does not begin with a hex size/],
    [CHUNKED_POST + "10000000001\r\n", /chunk size too large/],
    [CHUNKED_POST + "ffffffffffffffffffffffffffffffff1\r\n", /chunk size too large/],
    [CHUNKED_POST + "5x\r\n", /neither an extension nor CRLF/],
    [CHUNKED_POST + "5\n", /neither an extension nor CRLF/],
    [CHUNKED_POST + "5\rX", /CR without LF/],
    [CHUNKED_POST + "5;a\n", /LF without CR/],
    [CHUNKED_POST + "3\r\nabcd", /data longer than its size/],
    [CHUNKED_POST + "3\r\nabc\rx", /not ended by CRLF/],
    [CHUNKED_POST + "0\r\nX: y\n", /LF without CR/],
    [CHUNKED_POST + "0\r\n\rx", /last CR without LF/],
    [CHUNKED_POST + "1;" + "e".repeat(MAX_LINE), /longer than 4096 bytes/],
    [CHUNKED_POST + "0\r\n" + "t".repeat(MAX_LINE + 1), /longer than 4096 bytes/],
    [CHUNKED_POST + "0".repeat(MAX_LINE + 1), /longer than 4096 bytes/],
  ];
  for (const [text, why] of cases) {
    const r = follow(text);
    assert.match(r.problem, why, JSON.stringify(text));
  }
  // Malformed stays so: nothing after it is followed.
  const f = new RequestFraming();
  assert.equal(f.feed(bytes(CHUNKED_POST + "z")), BEGAN | MALFORMED);
  assert.equal(f.feed(bytes("GET / HTTP/1.1\r\n\r\n")), MALFORMED);
});

Deno.test("request framing: empty lines before a request line are skipped; a CR not before LF is a line's byte", () => {
  assert.deepEqual(follow("\r\n\r\nGET / HTTP/1.1\r\n\r\n"), { began: 1, inRequest: false, problem: "" });
  assert.deepEqual(follow("GET / HTTP/1.1\r\n\r\r\n"), { began: 1, inRequest: true, problem: "" });
  assert.deepEqual(follow("GET / HTTP/1.1\nHost: x\n\n"), { began: 1, inRequest: false, problem: "" });
  // A Content-Length past 2^40 is followed as 2^40 (it outlives any deadline).
  assert.equal(follow("POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n").inRequest, true);
});

Deno.test("request framing: counts the messages ended and those framed by neither header, and notes a HEAD request (an answer's framing for the guard)", () => {
  const f = new RequestFraming();
  f.feed(bytes("HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nab"));
  assert.deepEqual([f.ended, f.unframed], [0, 0], "a body under way is not an end");
  f.feed(
    bytes(
      "cHTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\nHTTP/1.1 100 Continue\r\n\r\n",
    ),
  );
  assert.deepEqual([f.ended, f.unframed, f.sawHead], [3, 1, false]);
  const r = new RequestFraming();
  r.feed(bytes("HEADER / HTTP/1.1\r\n\r\nhead / HTTP/1.1\r\n\r\nGET /HEAD HTTP/1.1\r\n\r\n"));
  assert.equal(r.sawHead, false, "only a request line beginning with the method HEAD");
  r.feed(bytes("\r\nHEAD / HTTP/1.1\r\n\r\n"));
  assert.deepEqual([r.sawHead, r.ended], [true, 4]);
});
