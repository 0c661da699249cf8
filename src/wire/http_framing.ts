/**
 * Where one HTTP/1.1 request ends and the next begins, followed byte by byte
 * from what a client sends, as pure logic (the connection guard times each
 * request with it; web/conn_guard.ts).
 *
 * A request is a head (a request line, header lines, an empty line) and then
 * its body, framed as RFC 9112 section 6 says: `Transfer-Encoding: chunked`
 * (chunk-size lines with optional extensions, the chunk's bytes and a CRLF,
 * a zero-size last chunk, trailer lines and an empty line), else
 * `Content-Length` bytes, else none. A body's bytes are its request's, not
 * the next request's head: a guard that took a chunked body for heads timed
 * the wrong thing and read a body line as a request.
 *
 * States: the head's lines (the request line, then each header's name and,
 * for the two that frame the body, its value), then the body (a length left,
 * or the chunked states), then between requests. What can no server frame
 * alike is malformed (RFC 9112 6.3: both framing headers at once, a
 * transfer coding that does not end in chunked, differing or non-numeric
 * lengths, an obs-fold line; a chunk line that is not hex and CRLF, a size
 * past MAX_BODY, a line longer than MAX_LINE): the request cannot be
 * followed, so the connection must end with a 400, and `problem` says why.
 * No allocation per byte; a body's data is skipped in one step.
 *
 * A server's answers are framed alike (a status line for the request line),
 * so the guard follows them with it too, to put its 400 between two answers
 * (web/conn_guard.ts): it counts the messages ended, those of them framed by
 * neither header (bodiless or ended by the close: a 1xx, 204 or 304, or an
 * HTTP/1.0 stream, which it cannot tell apart), and whether a request was a
 * HEAD (whose answer has a Content-Length and no body).
 */

/** The largest body or chunk followed (2^40 bytes outlive any deadline); a chunk size past it is malformed. */
export const MAX_BODY = 2 ** 40;

/** The longest chunk-size line (with its extensions) or trailer line. */
export const MAX_LINE = 4096;

/** `feed`'s result bits: a request began in these bytes; the bytes are malformed (see `problem`). */
export const BEGAN = 1;
export const MALFORMED = 2;

const enum S {
  /** Between requests: the next byte begins one. */
  Idle,
  /** The request line. */
  RequestLine,
  /** A header line's name (or the empty line that ends the head). */
  Name,
  /** A header's value. */
  Value,
  /** A Content-Length body's bytes. */
  Body,
  /** A chunk's size digits. */
  ChunkSize,
  /** Blanks after the size digits. */
  ChunkSizeBlank,
  /** A chunk extension, up to the line's CR. */
  ChunkExt,
  /** The LF that ends a chunk-size line. */
  ChunkSizeLf,
  /** A chunk's data. */
  ChunkData,
  /** The CR after a chunk's data. */
  ChunkDataCr,
  /** The LF after a chunk's data. */
  ChunkDataLf,
  /** A trailer line's first byte, or the CR of the empty line that ends the body. */
  TrailerStart,
  /** A trailer line. */
  Trailer,
  /** The LF that ends a trailer line. */
  TrailerLf,
  /** The LF of the empty line that ends a chunked body. */
  EndLf,
  /** Malformed: nothing more is followed. */
  Broken,
}

const CONTENT_LENGTH = [..."content-length"].map((c) => c.charCodeAt(0));
const TRANSFER_ENCODING = [..."transfer-encoding"].map((c) => c.charCodeAt(0));
const CHUNKED = [..."chunked"].map((c) => c.charCodeAt(0));
const HEAD = [..."HEAD "].map((c) => c.charCodeAt(0));
const CR = 13, LF = 10, SP = 32, HT = 9, COLON = 58, COMMA = 44, SEMI = 59;

/** Which framing header a line is. */
const enum H {
  Other,
  Length,
  Encoding,
}

/** One client's requests, followed byte by byte. */
export class RequestFraming {
  #s = S.Idle;
  /** A CR seen in the head and not yet known to be a line's end. */
  #cr = false;
  /** Bytes of the current head line (after any CR) so far. */
  #lineLen = 0;
  /** Which framing header names the current line may still be (bit 1 Content-Length, 2 Transfer-Encoding). */
  #nameCand = 0;
  #header = H.Other;
  /** Content-Length: digits of this line's value (-1 none yet), a blank after them, the head's value (-1 none). */
  #digits = -1;
  #digitsEnded = false;
  #length = -1;
  /** Transfer-Encoding: seen; bytes of "chunked" matched in the current coding (-1: not chunked). */
  #encoded = false;
  #coding = 0;
  #chunkedLast = false;
  /** A body's bytes (or a chunk's) still to come; a chunk line's or trailer's bytes so far. */
  #left = 0;
  #meta = 0;
  #problem = "";
  /** Messages ended; of them, those with neither framing header. */
  #ended = 0;
  #unframed = 0;
  /** Bytes of "HEAD " matched at the request line's start; a HEAD request was seen. */
  #method = 0;
  #sawHead = false;
  /** Where in the bytes last fed the last request began (-1: in none of them). */
  #beganAt = -1;

  /** A request has begun and not yet ended (its head or body is due). */
  get inRequest(): boolean {
    return this.#s !== S.Idle;
  }

  /** Messages (requests, or a server's answers) ended so far. */
  get ended(): number {
    return this.#ended;
  }

  /** Of those, the ones framed by neither Content-Length nor Transfer-Encoding. */
  get unframed(): number {
    return this.#unframed;
  }

  /** A request line began with "HEAD " (its answer's Content-Length frames no body). */
  get sawHead(): boolean {
    return this.#sawHead;
  }

  /**
   * Where in the bytes last fed the last request that began in them began,
   * -1 when none did: once they are malformed, what comes before it is whole
   * requests (or the rest of one that began before them).
   */
  get beganAt(): number {
    return this.#beganAt;
  }

  /** Why the bytes are malformed, once they are. */
  get problem(): string {
    return this.#problem;
  }

  /** Follows `bytes`; says (BEGAN, MALFORMED bits) whether a request began in them, whether they are malformed. */
  feed(bytes: Uint8Array): number {
    let result = 0;
    const n = bytes.length;
    this.#beganAt = -1;
    for (let i = 0; i < n; i++) {
      const s = this.#s;
      if (s === S.Broken) return result | MALFORMED;
      if (s === S.Body || s === S.ChunkData) {
        // The body's data in one step.
        const take = Math.min(this.#left, n - i);
        this.#left -= take;
        i += take - 1;
        if (this.#left === 0 && s === S.Body) this.#endMessage();
        else if (this.#left === 0) this.#s = S.ChunkDataCr;
        continue;
      }
      if (s === S.Idle) {
        result |= BEGAN;
        this.#beganAt = i;
        this.#beginHead();
      }
      const b = bytes[i]!;
      if (this.#s <= S.Value) this.#head(b);
      else this.#chunked(b);
    }
    return this.#s === S.Broken ? result | MALFORMED : result;
  }

  #beginHead(): void {
    this.#s = S.RequestLine;
    this.#cr = false;
    this.#lineLen = 0;
    this.#length = -1;
    this.#encoded = false;
    this.#chunkedLast = false;
  }

  #endMessage(): void {
    this.#s = S.Idle;
    this.#ended++;
  }

  #fail(why: string): void {
    this.#s = S.Broken;
    this.#problem = why;
  }

  /** One byte of a head. A line ends at LF (with or without CR before it); a CR before another byte is the line's. */
  #head(b: number): void {
    if (b === LF) {
      this.#cr = false;
      this.#endLine();
      return;
    }
    if (this.#cr) this.#headByte(CR);
    if (b === CR) this.#cr = true;
    else {
      this.#cr = false;
      this.#headByte(b);
    }
  }

  /** One byte of a head line other than its end. */
  #headByte(b: number): void {
    const at = this.#lineLen++;
    if (this.#s === S.RequestLine) {
      if (at < HEAD.length) {
        this.#method = (at === 0 || this.#method === at) && b === HEAD[at] ? at + 1 : 0;
        if (this.#method === HEAD.length) this.#sawHead = true;
      }
      return;
    }
    if (this.#s === S.Name) {
      if (at === 0) {
        if (b === SP || b === HT) return this.#fail("a folded header line (obs-fold)");
        this.#nameCand = 3;
        this.#header = H.Other;
      }
      if (b === COLON) {
        if (this.#nameCand & 1 && at === CONTENT_LENGTH.length) this.#header = H.Length;
        else if (this.#nameCand & 2 && at === TRANSFER_ENCODING.length) this.#header = H.Encoding;
        this.#s = S.Value;
        this.#digits = -1;
        this.#digitsEnded = false;
        if (this.#header === H.Encoding) {
          this.#encoded = true;
          this.#coding = 0;
        }
        return;
      }
      const lower = b >= 65 && b <= 90 ? b + 32 : b;
      if (lower !== CONTENT_LENGTH[at]) this.#nameCand &= ~1;
      if (lower !== TRANSFER_ENCODING[at]) this.#nameCand &= ~2;
      return;
    }
    // A value.
    if (this.#header === H.Length) {
      if (b === SP || b === HT) {
        if (this.#digits >= 0) this.#digitsEnded = true;
      } else if (b >= 48 && b <= 57 && !this.#digitsEnded) {
        // Past MAX_BODY the body outlives any deadline: the value stops growing.
        const d = this.#digits < 0 ? 0 : this.#digits;
        this.#digits = d < MAX_BODY ? d * 10 + (b - 48) : d;
      } else this.#fail("a Content-Length that is not a number");
    } else if (this.#header === H.Encoding) {
      // Only whether the last coding is exactly "chunked" matters (blanks around it aside).
      if (b === COMMA) this.#coding = 0;
      else if (b === SP || b === HT) {
        if (this.#coding >= CHUNKED.length) this.#coding = CHUNKED.length + 1;
        else if (this.#coding > 0) this.#coding = -1;
      } else if (this.#coding >= 0 && this.#coding < CHUNKED.length) {
        const lower = b >= 65 && b <= 90 ? b + 32 : b;
        this.#coding = lower === CHUNKED[this.#coding] ? this.#coding + 1 : -1;
      } else this.#coding = -1;
    }
  }

  /** A head line ended. */
  #endLine(): void {
    const empty = this.#lineLen === 0;
    this.#lineLen = 0;
    if (this.#s === S.RequestLine) {
      // Empty lines before a request line are skipped (RFC 9112 2.2).
      if (!empty) this.#s = S.Name;
      return;
    }
    if (this.#s === S.Value) {
      if (this.#header === H.Length) {
        if (this.#digits < 0) return this.#fail("an empty Content-Length");
        if (this.#length >= 0 && this.#length !== this.#digits) {
          return this.#fail("two different Content-Lengths");
        }
        this.#length = this.#digits;
      } else if (this.#header === H.Encoding) {
        this.#chunkedLast = this.#coding === CHUNKED.length || this.#coding === CHUNKED.length + 1;
      }
      this.#s = S.Name;
      return;
    }
    if (!empty) return; // a header line without a colon: the server's to refuse
    // The head's end: the body's framing (RFC 9112 6.3).
    if (this.#encoded) {
      if (this.#length >= 0) return this.#fail("both Transfer-Encoding and Content-Length");
      if (!this.#chunkedLast) return this.#fail("a Transfer-Encoding that does not end in chunked");
      this.#s = S.ChunkSize;
      this.#left = 0;
      this.#meta = 0;
      this.#digits = -1;
      return;
    }
    this.#left = this.#length > 0 ? this.#length : 0;
    if (this.#length < 0) this.#unframed++;
    if (this.#left > 0) this.#s = S.Body;
    else this.#endMessage();
  }

  /** One byte of a chunked body (not of a chunk's data). */
  #chunked(b: number): void {
    switch (this.#s) {
      case S.ChunkSize: {
        const d = hexDigit(b);
        if (d >= 0) {
          this.#left = this.#left * 16 + d;
          this.#digits = 1;
          if (this.#left > MAX_BODY) return this.#fail("a chunk size too large");
          return this.#countMeta();
        }
        if (this.#digits < 0) return this.#fail("a chunk line that does not begin with a hex size");
        return this.#afterSize(b);
      }
      case S.ChunkSizeBlank:
        return this.#afterSize(b);
      case S.ChunkExt:
        if (b === CR) this.#s = S.ChunkSizeLf;
        else if (b === LF) this.#fail("a chunk line ended by LF without CR");
        else this.#countMeta();
        return;
      case S.ChunkSizeLf:
        if (b !== LF) return this.#fail("a chunk line's CR without LF");
        this.#meta = 0;
        this.#digits = -1;
        this.#s = this.#left > 0 ? S.ChunkData : S.TrailerStart;
        return;
      case S.ChunkDataCr:
        if (b !== CR) return this.#fail("a chunk's data longer than its size");
        this.#s = S.ChunkDataLf;
        return;
      case S.ChunkDataLf:
        if (b !== LF) return this.#fail("a chunk's data not ended by CRLF");
        this.#s = S.ChunkSize;
        this.#left = 0;
        return;
      case S.TrailerStart:
        if (b === CR) this.#s = S.EndLf;
        else if (b === LF) this.#fail("a trailer line ended by LF without CR");
        else {
          this.#s = S.Trailer;
          this.#countMeta();
        }
        return;
      case S.Trailer:
        if (b === CR) this.#s = S.TrailerLf;
        else if (b === LF) this.#fail("a trailer line ended by LF without CR");
        else this.#countMeta();
        return;
      case S.TrailerLf:
        if (b !== LF) return this.#fail("a trailer line's CR without LF");
        this.#meta = 0;
        this.#s = S.TrailerStart;
        return;
      case S.EndLf:
        if (b !== LF) return this.#fail("a chunked body's last CR without LF");
        return this.#endMessage();
    }
  }

  /** After a chunk size's digits: blanks, then an extension or the line's end. */
  #afterSize(b: number): void {
    this.#countMeta();
    if (b === SP || b === HT) this.#s = S.ChunkSizeBlank;
    else if (b === SEMI) this.#s = S.ChunkExt;
    else if (b === CR) this.#s = S.ChunkSizeLf;
    else this.#fail("a chunk size followed by neither an extension nor CRLF");
  }

  #countMeta(): void {
    if (++this.#meta > MAX_LINE) this.#fail(`a chunk or trailer line longer than ${MAX_LINE} bytes`);
  }
}

function hexDigit(b: number): number {
  if (b >= 48 && b <= 57) return b - 48;
  const lower = b | 0x20;
  return lower >= 97 && lower <= 102 ? lower - 87 : -1;
}
