/**
 * The bytes of vde_switch's management protocol (spec section 5.1): the
 * banner, the prompt, the `0000 DATA END WITH '.'` listing frame, the
 * `1000 Success` / `1NNN <strerror>` result line, `9999 END OF SESSION`
 * and the `3TTT` debug lines. Every front end (socket, stdin, `vde term`)
 * builds its text here, so the framing lives in one place.
 */

/** Linux errno values the console answers with. */
export const Errno = {
  EPERM: 1,
  ENOENT: 2,
  EIO: 5,
  ENXIO: 6,
  E2BIG: 7,
  EBADF: 9,
  EACCES: 13,
  EBUSY: 16,
  EEXIST: 17,
  ENODEV: 19,
  EISDIR: 21,
  EINVAL: 22,
  ENOSPC: 28,
  ENOSYS: 38,
  ELOOP: 40,
  EOPNOTSUPP: 95,
  EADDRINUSE: 98,
  ETIMEDOUT: 110,
} as const;

// glibc's strerror() texts: clients show them and scripts may match them.
const MESSAGES: Record<number, string> = {
  1: "Operation not permitted",
  2: "No such file or directory",
  5: "Input/output error",
  6: "No such device or address",
  7: "Argument list too long",
  9: "Bad file descriptor",
  13: "Permission denied",
  16: "Device or resource busy",
  17: "File exists",
  19: "No such device",
  21: "Is a directory",
  22: "Invalid argument",
  28: "No space left on device",
  38: "Function not implemented",
  40: "Too many levels of symbolic links",
  95: "Operation not supported",
  98: "Address already in use",
  110: "Connection timed out",
};

/** The strerror() text of an errno; "Unknown error N" for one not in the table. */
export function errorText(code: number): string {
  return MESSAGES[code] ?? `Unknown error ${code}`;
}

/** First line of a listing. */
export const DATA_START = "0000 DATA END WITH '.'";
/** Last line of a listing. */
export const DATA_END = ".";
/** What `logout` and `shutdown` write before closing: no newline, no prompt. */
export const END_OF_SESSION = "9999 END OF SESSION";
/** The prompt after every reply on a management socket. */
export const PROMPT = "vde$ ";

/**
 * The two banner lines. The first is vde_switch's, so clients that look for
 * it keep working; the second names this program instead of claiming to be
 * the C switch.
 */
export const BANNER_LINES: readonly string[] = [
  "VDE switch V.2.3.2",
  "vde for Deno - speaks vde_switch 2.3.2's console protocol",
];

/** What a management client reads on connect: banner, blank line, prompt. */
export const GREETING = `${BANNER_LINES.join("\n")}\n\n${PROMPT}`;

/**
 * The result line: `1000 Success` or `1NNN <strerror>` (errno zero-padded to
 * three digits).
 */
export function resultLine(code: number): string {
  if (code === 0) return "1000 Success";
  return `1${String(code).padStart(3, "0")} ${errorText(code)}`;
}

/** A command's answer before framing. */
export interface Reply {
  /** 0 for success, else an errno. */
  code: number;
  /**
   * The listing, for commands that produce one; present (possibly empty)
   * whenever the command is a listing command, even when it failed,
   * because vde_switch frames a failed listing too.
   */
  lines?: string[];
  /**
   * The listing already encoded: ASCII lines, each ending in a newline, in
   * chunks. Used instead of `lines` where a listing is too big to build as
   * strings (`hash/print` of a full table); the management socket writes
   * the chunks as they are.
   */
  body?: Uint8Array[];
  /**
   * The listing as `body`'s chunks, made over time: a session that streams
   * listings (the management socket) writes the header at once and each
   * chunk as it comes, and stops asking for more once its client has gone;
   * the registry reads it into `body` for every other session.
   */
  chunks?: AsyncIterable<Uint8Array>;
  /** Unframed text written before the result (`load` echoes its script here). */
  raw?: string;
  /**
   * The session ends with this reply (`logout`, `shutdown`): the client
   * gets `9999 END OF SESSION` instead of a result line and no prompt.
   */
  endSession?: boolean;
  /** Run once the reply has been written (`shutdown` stops the switch only then). */
  afterSend?: () => void;
  /**
   * A `shutdown` was run and ignored (a switch's script's, as vde_switch's runscript drops it), here or
   * in a script this `load` ran: a startup script logs it, as nobody sees its replies.
   */
  shutdownIgnored?: boolean;
}

/** Formats a reply as vde_switch writes it, without the prompt. */
export function formatReply(reply: Reply): string {
  if (reply.endSession) return END_OF_SESSION;
  let out = reply.raw ?? "";
  if (reply.body !== undefined) {
    out += `${DATA_START}\n${bodyText(reply.body)}${DATA_END}\n`;
  } else if (reply.lines !== undefined) {
    out += `${DATA_START}\n`;
    for (const line of reply.lines) out += `${line}\n`;
    out += `${DATA_END}\n`;
  }
  return `${out}${resultLine(reply.code)}\n`;
}

/**
 * `formatReply` in pieces, with an encoded listing (`body`) left as its
 * byte chunks, so a big listing is written without becoming one string;
 * `trailer` (the prompt) ends the last piece, so a reply and its prompt
 * leave in one write.
 */
export function formatReplyParts(reply: Reply, trailer = ""): (string | Uint8Array)[] {
  if (reply.body === undefined || reply.endSession) return [formatReply(reply) + trailer];
  return [listingHead(reply), ...reply.body, listingTail(reply.code, trailer)];
}

/** What goes before an encoded listing's chunks: the reply's raw text and the `0000` header. */
export function listingHead(reply: Reply): string {
  return `${reply.raw ?? ""}${DATA_START}\n`;
}

/** What goes after an encoded listing's chunks: its end, the result line for `code`, and `trailer`. */
export function listingTail(code: number, trailer = ""): string {
  return `${DATA_END}\n${resultLine(code)}\n${trailer}`;
}

/** `reply` with a listing made over time (`chunks`) read whole into `body`. */
export async function withBody(reply: Reply): Promise<Reply> {
  if (reply.chunks === undefined) return reply;
  const { chunks, ...rest } = reply;
  const body: Uint8Array[] = [];
  for await (const chunk of chunks) body.push(chunk);
  return { ...rest, body };
}

const decoder = new TextDecoder();

function bodyText(body: readonly Uint8Array[]): string {
  let text = "";
  for (const chunk of body) text += decoder.decode(chunk);
  return text;
}

/**
 * One asynchronous debug line: `3TTT <category> <text>` with TTT the
 * category's tag in three octal digits.
 */
export function formatDebugLine(tag: number, category: string, text: string): string {
  return `3${tag.toString(8).padStart(3, "0")} ${category} ${text}\n`;
}

/**
 * Replaces control characters with `?`, so text a peer chose (an endpoint
 * description, a switch's notice) cannot forge lines or terminal escapes in
 * a listing or on stderr. C1 controls count too: U+009B is a CSI to some
 * terminals.
 */
export function printable(text: string): string {
  // deno-lint-ignore no-control-regex
  return text.replace(/[\x00-\x1f\x7f-\x9f]/g, "?");
}

/** As `printable`, but keeping newlines and tabs: a whole reply's text from a server not trusted. */
export function printableLines(text: string): string {
  // deno-lint-ignore no-control-regex
  return text.replace(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/g, "?");
}

/**
 * Formats a reply for a person at a terminal: the listing lines as they are,
 * and the result line only when the command failed (silence is success).
 */
export function formatForPeople(reply: Reply): string {
  if (reply.endSession) return "";
  let out = reply.raw ?? "";
  if (reply.body !== undefined) out += bodyText(reply.body);
  else for (const line of reply.lines ?? []) out += `${line}\n`;
  if (reply.code !== 0) out += `${resultLine(reply.code)}\n`;
  return out;
}
