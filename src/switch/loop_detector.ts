/**
 * Says when a MAC address keeps moving between ports: the one sign of a
 * loop a switch without spanning tree can see (two cables between two
 * switches make a broadcast storm; the user sees only a CPU at 100%).
 *
 * Theory of operation. The engine calls `note` only from the MAC table's
 * move branch: a source MAC seen on a port other than the one it is learned
 * on (the table moved it, or kept it where it was as too recent to move).
 * In a healthy LAN that is rare (a host or VM that really moved, a bond's
 * failover), so the forwarding of a healthy switch pays nothing for this.
 * A move is counted when the MAC shows on another port than the last one
 * it was seen on here, or when its learned port saw it again (its entry's
 * time went forward) since it last showed elsewhere: a host that moved
 * counts once, however many frames it sends from its new port before the
 * table follows it; a frame circling a loop shows on the loop's ports in
 * turn and counts at every turn. Open vSwitch counts moves the same way
 * (fdb/stats-show's "Total number of moved MAC entries", the coverage
 * counter mac_learning_moved its maintainers point at when a loop eats a
 * CPU) but logs nothing; the Linux bridge logs only frames with its own
 * address as source. So here a MAC is a suspected loop when it moves more
 * than FLAP_MOVES times within FLAP_WINDOW_SECONDS, or, as the owner's
 * clock may be coarse (a data-plane thread ticks once a second, and the
 * entry's time only moves with it), when its learned port saw it again
 * between showings elsewhere in FLAP_SECONDS windows in a row: a host that
 * moved shows on its old port in the first at most. Said at most once per
 * WARN_INTERVAL_SECONDS per pair of ports (at most WARN_PAIRS pairs a
 * minute): one pair's flapping, a user's own two ports, does not silence a
 * loop on others for the minute. A storm (a MAC moving past STORM_MOVES in
 * its window, a flapping MAC whose last three showings were on three
 * ports, or STORM_MACS followed MACs flapping between one pair of ports)
 * may also take one of STORM_PAIRS further entries: a user's MACs going
 * back and forth on five pairs or more hold the first WARN_PAIRS for the
 * minute, and a loop's storm came a minute late. Back-and-forth is one MAC
 * or two at a time (a host, a bond) between two ports; a loop circles every
 * broadcast, at line rate or, slowed (a wirefilter's delay, a busy host),
 * far below STORM_MOVES, but a looped MAC shows on three ports where its
 * host is: the host's own and the loop's two, which a frame from the host
 * leaves by and comes back on in turn (the table keeps it on the host's
 * port, which sees it again, or follows it round). A MAC going back and
 * forth between two ports never shows on a third between them; a user's
 * bond of three ports (balance-rr) does, so such storms hold at most
 * WIDE_STORM_PAIRS of the storm entries, and a storm by its rate always
 * finds one. The log's bound is WARN_PAIRS + STORM_PAIRS pairs a minute.
 *
 * Memory is fixed: SLOTS candidate MACs in typed arrays, chosen by a hash
 * of the MAC seeded as the MAC table's is (nobody aims MACs at one slot).
 * Another MAC landing in a slot takes it over (its counts start again) only
 * once the slot's MAC has stopped moving for two windows: in a storm of
 * more MACs than slots every MAC circles, and MACs evicting one another at
 * every move would keep every count at one, so the storm is never said. A
 * MAC that finds its slot held is not followed; its move is counted when
 * the table really moved it (not every frame the table kept on its old
 * port). Two rules let a newcomer take a still-moving MAC's slot:
 *
 * - Rate. Each slot also follows one challenger, the last MAC other than
 *   its holder to land there, counting its moves in a window as the
 *   holder's are; a MAC that moves faster than the holder (more than
 *   TAKEOVER_MOVES, and more than twice the holder's moves in its current
 *   or last window) takes the slot, its count going on. A storm is many
 *   moves a second, a user's shuffling is not: a user with 12 ports (66
 *   pairs) moving MACs slowly held every slot under the fair share below
 *   alone, and a loop's MAC never got one. A challenger is kept against
 *   other newcomers while it keeps moving (within CHALLENGER_STILL_SECONDS
 *   of its last move, its landing counting as one), then gives way to the
 *   next: slow movers landing now and then do not reset a loop's count,
 *   nor does a flood of new MACs that each move once or twice (20,000 a
 *   second, several in every slot between two moves of a loop at 100 a
 *   second), which kept a challenger with two moves in its window for all
 *   of it, a flood's MAC nearly always. A flood's MAC holds the place for
 *   CHALLENGER_STILL_SECONDS after its last move; a loop's, once it lands
 *   first after that, for good. (On a coarse clock a tick is one instant:
 *   there a challenger is kept for the tick once it moved twice in it, as
 *   before, and such a flood still seats the loop's MAC only now and then,
 *   the chance of its two moves coming before a flood's MAC lands: one seed
 *   in 20 went unsaid for 35 s. The switch thread's engine so stamps each
 *   turn's moves with the time read at its wait, SwitchEngine.stamp.) A
 *   storm's MACs sharing a slot move at one rate, so a challenger's count
 *   stays below twice the holder's: they never evict one another.
 * - Fair share. Held slots are shared among pairs of ports, a MAC's pair
 *   being its table's port and where it showed when it took its slot: a
 *   newcomer takes a still-moving MAC's slot when that MAC's pair holds two
 *   or more slots more than the newcomer's (a scan of the slots, only when
 *   MACs of two pairs meet in one). Evictions stop once the pairs are
 *   even, and never within one pair: a user's fast storm on two ports of
 *   its own does not hold every slot against a loop elsewhere.
 *
 * Nothing allocates; the clock is the caller's (seconds).
 */

/** Moves of one MAC within FLAP_WINDOW_SECONDS beyond which a loop is suspected. */
export const FLAP_MOVES = 10;
/** The window those moves are counted in, seconds. */
export const FLAP_WINDOW_SECONDS = 1;
/** Windows in a row in which a MAC went back to its learned port and away again: a loop too. */
export const FLAP_SECONDS = 3;
/**
 * Moves within FLAP_WINDOW_SECONDS beyond which a MAC two hosts may share (QEMU's default) is a loop:
 * two VMs sharing it move it at each of their frames, a few or some hundreds a second, and flap as a
 * loop does by the counts above; a loop's storm moves it thousands of times a second, endlessly.
 */
export const STORM_MOVES = 1000;
/**
 * Moves within its window beyond which a MAC that finds its slot held takes it from a holder moving less than
 * half as fast: more than a host's move and its way back, fewer than a loop's FLAP_MOVES.
 */
export const TAKEOVER_MOVES = 3;
/**
 * A slot's challenger is kept against other newcomers until it has not moved for this long: twice the gap
 * between the moves of a loop's MAC at FLAP_MOVES a window (jitter), so a flood of MACs that each move once
 * or twice takes the place only from its own MACs, never from a MAC that keeps moving.
 */
export const CHALLENGER_STILL_SECONDS = 2 * FLAP_WINDOW_SECONDS / FLAP_MOVES;
/** The loop warning is said at most once per this many seconds per pair of ports. */
export const WARN_INTERVAL_SECONDS = 60;
/** Pairs of ports a loop warning may be said of within WARN_INTERVAL_SECONDS: the log's bound. */
export const WARN_PAIRS = 4;
/**
 * Further pairs a storm may be said of within WARN_INTERVAL_SECONDS once flapping has used WARN_PAIRS: a
 * user's MACs going back and forth on five pairs of ports must not keep a loop's storm unsaid for a minute.
 */
export const STORM_PAIRS = 4;
/**
 * Of the STORM_PAIRS entries, how many a MAC counted a storm only for showing on three ports may hold at
 * once: a user's bond of three ports (balance-rr) shows so too, and two of them took every storm entry
 * for the minute, a loop at line rate waiting for it; a storm counted by its rate always finds one.
 */
export const WIDE_STORM_PAIRS = 2;
/**
 * Followed MACs flapping between one pair of ports within two windows that make a storm, whatever their
 * rates: a loop circles every host's broadcasts, where back-and-forth is one MAC or two (a host, a bond).
 */
export const STORM_MACS = 4;

/** What `note` found. */
export const MoveVerdict = {
  /** Nothing new since the MAC last showed on this port: not a move. */
  Same: 0,
  /** A move, counted. */
  Moved: 1,
  /** A move, and the MAC keeps moving: warn now (`suspect` says about what). */
  Warn: 2,
} as const;
/** One of the `MoveVerdict` values. */
export type MoveVerdict = typeof MoveVerdict[keyof typeof MoveVerdict];

/** The MAC a warning is about, valid until the next `note`. */
export interface LoopSuspect {
  hi: number;
  lo: number;
  vlan: number;
  /** The port it was on before (learned there, or last seen), and the port it shows on now. */
  from: number;
  to: number;
  /** Its moves in the current window. */
  moves: number;
}

const SLOT_BITS = 6;
const SLOTS = 1 << SLOT_BITS;

/**
 * One MAC per slot, followed: its last port and its moves in a window (parallel typed arrays, so nothing
 * allocates). A slot's holder and its challenger are each one of these.
 */
class Followed {
  readonly hi = new Uint16Array(SLOTS);
  readonly lo = new Int32Array(SLOTS);
  /** The VLAN, or -1 for a free slot. */
  readonly vlan = new Int32Array(SLOTS).fill(-1);
  /** The port the MAC last showed on. */
  readonly lastPort = new Int32Array(SLOTS);
  /** The entry's time on its learned port when the MAC last showed elsewhere. */
  readonly mark = new Float64Array(SLOTS);
  /** Its moves in the window from windowStart. */
  readonly count = new Uint32Array(SLOTS);
  readonly windowStart = new Float64Array(SLOTS);
  /** When it last counted a move (its start counts as one): a holder or challenger is kept while it moves. */
  readonly lastMove = new Float64Array(SLOTS);

  /** Whether slot `s` follows this MAC. */
  holds(s: number, hi: number, lo: number, vlan: number): boolean {
    return this.vlan[s] === vlan && this.hi[s] === hi && this.lo[s] === (lo | 0);
  }

  /** Slot `s` follows this MAC from `now`, on `learned` as of `learnedSeen`, no moves yet. */
  start(
    s: number,
    hi: number,
    lo: number,
    vlan: number,
    learned: number,
    learnedSeen: number,
    now: number,
  ): void {
    this.hi[s] = hi;
    this.lo[s] = lo;
    this.vlan[s] = vlan;
    this.lastPort[s] = learned;
    this.mark[s] = learnedSeen;
    this.count[s] = 0;
    this.windowStart[s] = now;
    this.lastMove[s] = now;
  }
}

/** Counts MAC moves and tells when one MAC flaps between ports. */
export class LoopDetector {
  /** The slots' holders: the MACs whose moves may warn. */
  readonly #held = new Followed();
  /** 1 when the current window saw the MAC go back to its learned port and away again. */
  readonly #back = new Uint8Array(SLOTS);
  /** Windows in a row before the current one that did. */
  readonly #steady = new Uint32Array(SLOTS);
  /**
   * The pair of ports (pairKey) of the slot's MAC when it took the slot: its table's port and where it
   * showed, as a newcomer's is reckoned. Kept, not updated as it moves: a host's broadcast circling two
   * cables shows on them in turn while the table keeps its own port, so a holder's last move (the two
   * cables) and a newcomer's (its port and a cable) were two pairs for one storm, and each newcomer
   * evicted a holder before its count grew (a loop among 1000 hosts went unsaid).
   */
  readonly #pair = new Int32Array(SLOTS);
  /** The port the holder showed on before its last one (-1: none yet since it took the slot). */
  readonly #prevPort = new Int32Array(SLOTS);
  /** When the holder last showed on a third port after two others (-Infinity: never): a loop's MAC. */
  readonly #wideAt = new Float64Array(SLOTS).fill(-Infinity);
  /** The holder's moves in the window before its current one (0 when that window saw none or was not just before). */
  readonly #prevCount = new Uint32Array(SLOTS);
  /** The slots' challengers, each the last other MAC to land on its slot (see the theory); vlan -1: none. */
  readonly #challenger = new Followed();
  readonly #seed: number;
  /** The pair (pairKey) of the slot's MAC's last flapping move, and when (-Infinity: none): a storm's MACs. */
  readonly #flapPair = new Int32Array(SLOTS);
  readonly #flapAt = new Float64Array(SLOTS).fill(-Infinity);
  /**
   * The pairs (pairKey) last warned of, and when (-Infinity: a free entry): WARN_PAIRS entries for any
   * warning, then STORM_PAIRS for storms only.
   */
  readonly #warnedPair = new Int32Array(WARN_PAIRS + STORM_PAIRS);
  readonly #warnedAt = new Float64Array(WARN_PAIRS + STORM_PAIRS).fill(-Infinity);
  /** 1 where the entry was taken by a storm only on three ports (WIDE_STORM_PAIRS). */
  readonly #warnedWide = new Uint8Array(WARN_PAIRS + STORM_PAIRS);
  /** Filled in when `note` says Warn. */
  readonly suspect: LoopSuspect = { hi: 0, lo: 0, vlan: 0, from: -1, to: -1, moves: 0 };
  /**
   * When a followed MAC last moved as a loop's does (past the thresholds), said or not (seconds): a
   * storm on this switch meanwhile, for a MAC it cannot follow (its slot held by the storm's others).
   */
  lastFlapping = -Infinity;

  /** `seed` mixes into the slot hash (the engine's MAC table seed). */
  constructor(seed = 0) {
    this.#seed = seed | 0;
  }

  /**
   * A source MAC seen on `port` at `now` (seconds) while the table has it on `learned`, where it was last
   * seen at `learnedSeen`; `tableMoved` when the table moved it to `port` (false: kept it as too recent).
   * A `shared` MAC (one two hosts may both have, QEMU's default) is a loop only past STORM_MOVES: its
   * flapping at lower rates is those hosts, and no warning to use up on them.
   *
   * @returns whether it was a move, and whether to warn of a loop now
   */
  note(
    hi: number,
    lo: number,
    vlan: number,
    port: number,
    learned: number,
    learnedSeen: number,
    now: number,
    tableMoved: boolean,
    shared = false,
  ): MoveVerdict {
    let h = Math.imul(lo ^ this.#seed, 0xcc9e2d51) ^ Math.imul(hi | (vlan << 16), 0x1b873593);
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
    const s = (h >>> (32 - SLOT_BITS)) & (SLOTS - 1);
    const held = this.#held;
    if (!held.holds(s, hi, lo, vlan)) {
      // Held by a MAC still moving (a storm's, most likely): it keeps its count going, unless its pair of
      // ports holds more than its share, or this MAC moves faster.
      const challenger = this.#challenger;
      if (
        held.vlan[s] !== -1 && now - held.lastMove[s]! < 2 * FLAP_WINDOW_SECONDS &&
        !this.#overShare(this.#pair[s]!, pairKey(learned, port), now)
      ) {
        if (!this.#challenge(s, hi, lo, vlan, port, learned, learnedSeen, now)) {
          return tableMoved ? MoveVerdict.Moved : MoveVerdict.Same;
        }
        // Faster than the holder: the challenger's counts go on in the slot, this move counted below.
        held.start(s, hi, lo, vlan, challenger.lastPort[s]!, challenger.mark[s]!, challenger.windowStart[s]!);
        held.count[s] = challenger.count[s]!;
        challenger.vlan[s] = -1;
      } else {
        held.start(s, hi, lo, vlan, learned, learnedSeen, now);
        if (challenger.holds(s, hi, lo, vlan)) challenger.vlan[s] = -1;
      }
      this.#pair[s] = pairKey(learned, port);
      this.#back[s] = 0;
      this.#steady[s] = 0;
      this.#prevCount[s] = 0;
      this.#prevPort[s] = -1;
      this.#wideAt[s] = -Infinity;
    }
    const last = held.lastPort[s]!;
    const back = learnedSeen > held.mark[s]!;
    if (port === last && !back) return MoveVerdict.Same;
    if (port !== last) {
      const prev = this.#prevPort[s]!;
      if (prev !== -1 && prev !== port && prev !== last) this.#wideAt[s] = now;
      this.#prevPort[s] = last;
    }
    held.lastPort[s] = port;
    held.mark[s] = learnedSeen;
    held.lastMove[s] = now;
    const pair = pairKey(port === last ? learned : last, port);
    const start = held.windowStart[s]!;
    if (now - start >= FLAP_WINDOW_SECONDS) {
      // Only the window just before continues a run.
      const adjacent = now - start < 2 * FLAP_WINDOW_SECONDS;
      this.#steady[s] = this.#back[s] === 1 && adjacent ? this.#steady[s]! + 1 : 0;
      this.#prevCount[s] = adjacent ? held.count[s]! : 0;
      held.windowStart[s] = now;
      held.count[s] = 0;
      this.#back[s] = 0;
    }
    if (back) this.#back[s] = 1;
    const count = ++held.count[s]!;
    const flapping = shared
      ? count > STORM_MOVES
      : count > FLAP_MOVES || (back && this.#steady[s]! + 1 >= FLAP_SECONDS);
    if (!flapping) return MoveVerdict.Moved;
    this.lastFlapping = now;
    this.#flapPair[s] = pair;
    this.#flapAt[s] = now;
    const storm = count > STORM_MOVES
      ? Storm.Rate
      : now - this.#wideAt[s]! < 2 * FLAP_WINDOW_SECONDS
      ? Storm.Wide
      : Storm.None;
    if (!this.#mayWarn(pair, now, storm)) return MoveVerdict.Moved;
    const w = this.suspect;
    w.hi = hi;
    w.lo = lo;
    w.vlan = vlan;
    w.from = port === last ? learned : last;
    w.to = port;
    w.moves = count;
    return MoveVerdict.Warn;
  }

  /**
   * Follows a MAC that found slot `s` held as the slot's challenger, and tells whether this move of it makes
   * it faster than the holder: then it is to take the slot, the move not yet counted (its counts stand as
   * before it). A different challenger keeps its place while it keeps moving (CHALLENGER_STILL_SECONDS);
   * at the instant of its last move, only once it has moved twice in its window: on a coarse clock every
   * frame of a tick comes at one instant, and the first MAC to land in it held the place for the tick.
   */
  #challenge(
    s: number,
    hi: number,
    lo: number,
    vlan: number,
    port: number,
    learned: number,
    learnedSeen: number,
    now: number,
  ): boolean {
    const c = this.#challenger;
    if (!c.holds(s, hi, lo, vlan)) {
      const since = now - c.lastMove[s]!;
      if (c.vlan[s] !== -1 && since < CHALLENGER_STILL_SECONDS && (since > 0 || c.count[s]! >= 2)) {
        return false;
      }
      c.start(s, hi, lo, vlan, learned, learnedSeen, now);
    }
    const last = c.lastPort[s]!;
    const back = learnedSeen > c.mark[s]!;
    if (port === last && !back) return false;
    if (now - c.windowStart[s]! >= FLAP_WINDOW_SECONDS) {
      c.windowStart[s] = now;
      c.count[s] = 0;
    }
    const count = c.count[s]! + 1;
    const holder = Math.max(this.#held.count[s]!, this.#prevCount[s]!);
    if (count > TAKEOVER_MOVES && count > 2 * holder) return true;
    c.count[s] = count;
    c.lastMove[s] = now;
    c.lastPort[s] = port;
    c.mark[s] = learnedSeen;
    return false;
  }

  /**
   * Whether pair `held` holds at least two more of the slots still moving at `now` than pair `coming`:
   * then a MAC of `coming` may take one of them. Never within one pair (a storm's MACs do not evict one
   * another), nor one for one: two MACs of two pairs in one slot would take it from each other at
   * every move, and neither count would grow.
   */
  #overShare(held: number, coming: number, now: number): boolean {
    if (held === coming) return false;
    let balance = 0;
    for (let i = 0; i < SLOTS; i++) {
      if (this.#held.vlan[i] === -1 || now - this.#held.lastMove[i]! >= 2 * FLAP_WINDOW_SECONDS) continue;
      const p = this.#pair[i];
      if (p === held) balance++;
      else if (p === coming) balance--;
    }
    return balance > 1;
  }

  /**
   * Whether a loop between pair `pair` may be said at `now` (then noted as said), its MAC a `storm`'s (past
   * STORM_MOVES, or on three ports). Each pair once per WARN_INTERVAL_SECONDS; a storm (that, or STORM_MACS
   * MACs flapping on the pair) may also take the entries kept for storms, so flapping on other pairs, which
   * fills the first WARN_PAIRS, delays it by a move, not a minute; one on three ports alone, no more than
   * WIDE_STORM_PAIRS of them.
   */
  #mayWarn(pair: number, now: number, storm: Storm): boolean {
    // The entry of this pair, or else a free or expired one, among the first WARN_PAIRS, else among all.
    let free = -1;
    let stormFree = -1;
    for (let i = 0; i < WARN_PAIRS + STORM_PAIRS; i++) {
      const fresh = now - this.#warnedAt[i]! < WARN_INTERVAL_SECONDS;
      if (fresh && this.#warnedPair[i] === pair) return false;
      if (fresh) continue;
      if (i < WARN_PAIRS && free < 0) free = i;
      else if (i >= WARN_PAIRS && stormFree < 0) stormFree = i;
    }
    let wide = false;
    if (free < 0) {
      const many = storm !== Storm.Rate && stormFree >= 0 && this.#manyFlapping(pair, now);
      if (stormFree < 0 || (storm === Storm.None && !many)) return false;
      wide = storm === Storm.Wide && !many;
      if (wide && this.#wideEntries(now) >= WIDE_STORM_PAIRS) return false;
      free = stormFree;
    }
    this.#warnedPair[free] = pair;
    this.#warnedAt[free] = now;
    this.#warnedWide[free] = wide ? 1 : 0;
    return true;
  }

  /** The storm entries taken, still fresh at `now`, by storms on three ports alone. */
  #wideEntries(now: number): number {
    let n = 0;
    for (let i = WARN_PAIRS; i < WARN_PAIRS + STORM_PAIRS; i++) {
      if (this.#warnedWide[i] === 1 && now - this.#warnedAt[i]! < WARN_INTERVAL_SECONDS) n++;
    }
    return n;
  }

  /** Whether STORM_MACS or more followed MACs flapped between pair `pair` in the two windows to `now`. */
  #manyFlapping(pair: number, now: number): boolean {
    let n = 0;
    for (let i = 0; i < SLOTS; i++) {
      if (
        this.#flapPair[i] === pair && now - this.#flapAt[i]! < 2 * FLAP_WINDOW_SECONDS && ++n >= STORM_MACS
      ) {
        return true;
      }
    }
    return false;
  }
}

/** Whether a flapping MAC is a storm's: past STORM_MOVES (Rate), or only on three ports (Wide). */
const enum Storm {
  None,
  Wide,
  Rate,
}

/** A pair of ports as one number, whichever way the move went (ports are below 65536). */
function pairKey(a: number, b: number): number {
  return a < b ? ((a & 0xffff) << 16) | (b & 0xffff) : ((b & 0xffff) << 16) | (a & 0xffff);
}
