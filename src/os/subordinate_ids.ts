/**
 * Whose a uid is, for the caps a shared switch puts on one user (ctl
 * handshakes, console sessions, web connections): a user's subordinate uids
 * (/etc/subuid, subuid(5): `OWNER:FIRST:COUNT`, what newuidmap lets rootless
 * podman and `unshare --map-users` run processes as) are that user. Counted
 * each as a user of its own, one person's 65536 uids took every slot the
 * caps leave to other users.
 *
 * Theory of operation. The file is looked at (a stat) only when a uid of
 * another user asks, and read again only when its inode, size, mtime or
 * ctime changed: useradd and usermod rewrite it, and a caller asks at each
 * connection, never per frame. It is read as any small file is
 * (owned_file.ts: a regular file only, never a FIFO's open, at most
 * MAX_BYTES read); one longer, one a user other than root (or this program's
 * user) owns or that a group or others may write, is not believed, as a
 * writer could hand another user's uids to a victim and fill the victim's
 * share: each uid then counts as itself, as before, said once per version of
 * the file. A missing file is no ranges. A line that is not three fields
 * (an owner, then two numbers read as newuidmap reads them, the count at
 * least 1) is skipped, and how many were is said once per version.
 *
 * The owner is a name or a uid, resolved as the rest of the program resolves
 * a user (users.ts's lookupUser: NSS, then the files; a name first, as
 * chown reads one), and only for the range a uid asked about falls in: a
 * file of thousands of users costs no lookup of the others. An owner that
 * resolves to no one (a user of LDAP's while NSS is down or backing off,
 * when the files alone are read; a user removed) makes the range's uids one
 * user still, counted as its first uid: taken each as itself, one person's
 * 65536 uids were 65536 users again whenever NSS failed. Resolutions are kept
 * OWNER_CACHE_MS, so a flood of connections from one range asks NSS once.
 * The ranges are kept sorted by their first uid, each with the furthest end
 * of those up to it, so a uid is found by a binary search (a scan of 40,000
 * ranges cost half a millisecond a connection); where ranges overlap (a
 * mistake: two users could map the uid), the one starting nearest below the
 * uid names its owner.
 * In a user namespace of its own (`vde up --rootless`, a container) the
 * file is not read, nor said to be untrusted: its uids are the machine's,
 * not the ones peers show there (every user outside is the overflow uid,
 * as root's file is), so each uid counts as itself.
 * The callers count root's subordinate uids as one other user, not as root,
 * and their own user's (when not root) as another: a container's process
 * is not trusted as its owner is.
 */
import { readSmallFile } from "./owned_file.ts";
import { modeText } from "./mode_text.ts";
import { lookupUser } from "./users.ts";
import { namespaceOverflowUid } from "./user_namespace.ts";

/** The system's file of subordinate uids. */
export const SUBUID = "/etc/subuid";
/** The most of the file read: a line is some 25 bytes, so tens of thousands of users. */
export const MAX_BYTES = 1 << 20;
/** How long an owner's resolution (or that it resolves to no one) is kept. */
const OWNER_CACHE_MS = 5_000;

/** One `OWNER:FIRST:COUNT` line: uids FIRST to FIRST+COUNT-1 are OWNER's. */
export interface SubordinateRange {
  readonly owner: string;
  readonly first: number;
  readonly count: number;
}

/**
 * A subuid number as newuidmap reads it (shadow's strtoul, base 0): `0x` hex, a leading `0` octal, else
 * decimal; undefined when not wholly one. Read as decimal, `alice:0100000:65536` gave us 100000 up where
 * newuidmap gives her 32768 up: each of her real subordinate uids counted as a user of its own.
 */
function idNumber(field: string): number | undefined {
  const n = /^0[xX][0-9a-fA-F]+$/.test(field)
    ? parseInt(field.slice(2), 16)
    : /^0[0-7]*$/.test(field)
    ? parseInt(field, 8)
    : /^[1-9]\d*$/.test(field)
    ? Number(field)
    : NaN;
  return Number.isSafeInteger(n) ? n : undefined;
}

/** The well-formed lines of subuid(5) text, and how many others there were (blank and `#` lines are neither). */
export function parseSubordinateRanges(text: string): { ranges: SubordinateRange[]; malformed: number } {
  const ranges: SubordinateRange[] = [];
  let malformed = 0;
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const f = line.split(":");
    const first = idNumber(f[1] ?? "");
    const count = idNumber(f[2] ?? "");
    if (f.length !== 3 || f[0] === "" || first === undefined || count === undefined || count < 1) {
      malformed++;
      continue;
    }
    ranges.push({ owner: f[0]!, first, count });
  }
  return { ranges, malformed };
}

/** How a SubordinateIds reads and resolves (a test's file and users; the system's by default). */
export interface SubordinateIdsOptions {
  /** The file (default /etc/subuid). */
  path?: string;
  /** Where what is wrong with the file is said, once per version of it. */
  log?: (message: string) => void;
  /** An owner field to its uid, undefined when no one (default: users.ts's lookupUser). */
  resolve?: (owner: string) => number | undefined;
  /** The clock, for the owners' cache. */
  now?: () => number;
  /** Where /proc is, for whether this process is in a user namespace of its own (a test's). */
  proc?: string;
}

/** The account each uid counts as, by a subuid file read again whenever it changes. */
export class SubordinateIds {
  readonly #path: string;
  readonly #log: (message: string) => void;
  readonly #resolve: (owner: string) => number | undefined;
  readonly #now: () => number;
  readonly #self = Deno.uid() ?? 0;
  /** In a user namespace the file's uids are not the ones peers show: it is not read. */
  readonly #inUserNamespace: boolean;
  /** The file's stamp when `#ranges` were read ("" before the first look; "-" when it was missing). */
  #stamp = "";
  /** The file's ranges by their first uid. */
  #ranges: SubordinateRange[] = [];
  /** Of `#ranges[0..i]`, the furthest end (last uid + 1): where to stop looking back for one holding a uid. */
  #reach: number[] = [];
  readonly #owners = new Map<string, { uid: number | undefined; at: number }>();

  constructor(options: SubordinateIdsOptions = {}) {
    this.#path = options.path ?? SUBUID;
    this.#log = options.log ?? (() => {});
    this.#resolve = options.resolve ?? ((owner) => lookupUser(owner));
    this.#now = options.now ?? Date.now;
    this.#inUserNamespace = namespaceOverflowUid(options.proc) !== undefined;
  }

  /** The uid `uid` counts as: the owner of the range holding it (its first uid when no one), else itself. */
  accountOf(uid: number): number {
    if (this.#inUserNamespace) return uid;
    this.#refresh();
    const range = this.#holding(uid);
    if (range === undefined) return uid;
    return this.#owner(range.owner) ?? range.first;
  }

  /** The range holding `uid`: of those starting at or below it, the nearest that reaches past it. */
  #holding(uid: number): SubordinateRange | undefined {
    const ranges = this.#ranges;
    let lo = 0;
    let hi = ranges.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (ranges[mid]!.first <= uid) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo - 1; i >= 0 && this.#reach[i]! > uid; i--) {
      const r = ranges[i]!;
      if (uid - r.first < r.count) return r;
    }
    return undefined;
  }

  #owner(field: string): number | undefined {
    const now = this.#now();
    const kept = this.#owners.get(field);
    if (kept !== undefined && now - kept.at < OWNER_CACHE_MS) return kept.uid;
    const uid = this.#resolve(field);
    this.#owners.set(field, { uid, at: now });
    return uid;
  }

  /** Reads the file again when it changed (a stat each call, a read only then). */
  #refresh(): void {
    let stamp: string;
    try {
      const st = Deno.statSync(this.#path);
      stamp = `${st.dev}:${st.ino}:${st.size}:${st.mtime?.getTime()}:${st.ctime?.getTime()}`;
    } catch {
      stamp = "-";
    }
    if (stamp === this.#stamp) return;
    this.#stamp = stamp;
    this.#ranges = [];
    this.#reach = [];
    this.#owners.clear();
    if (stamp === "-") return;
    const file = readSmallFile(this.#path, MAX_BYTES);
    if (typeof file === "string") {
      this.#log(`${this.#path} not read (${file}): each subordinate uid counts as a user of its own`);
      return;
    }
    if ((file.uid !== 0 && file.uid !== this.#self) || (file.mode & 0o022) !== 0) {
      // What to do, said: the switch's user's file is believed too, but root's is what shadow makes.
      this.#log(
        `${this.#path} not believed (uid ${file.uid}'s, mode ${
          modeText(file.mode)
        }: its writers could hand ` +
          "their uids to someone else): each subordinate uid counts as a user of its own until it is root's " +
          `and no group or others may write it (chown root ${this.#path}; chmod go-w ${this.#path})`,
      );
      return;
    }
    const { ranges, malformed } = parseSubordinateRanges(file.text);
    this.#ranges = ranges.sort((a, b) => a.first - b.first);
    let reach = 0;
    this.#reach = this.#ranges.map((r) => reach = Math.max(reach, r.first + r.count));
    if (malformed > 0) {
      this.#log(`${this.#path}: ${malformed} malformed line(s) skipped (OWNER:FIRST:COUNT expected)`);
    }
  }
}
