/**
 * Address conflict detection for the slirp's gateway. Every slirp (ours,
 * `vde switch --slirp`, Debian's libslirp plugin) answers as 10.0.2.2 by
 * default, for ARP, DHCP and DNS: two on one switch give guests two DHCP
 * offers and split their traffic, silently. This part makes it said.
 *
 * Theory of operation. When the stack is bound to a link, and again when
 * that link is plugged into a switch (`arm`), it probes
 * for its own addresses: `PROBES` ARP probes for the gateway (RFC 5227:
 * sender address 0.0.0.0) and neighbour solicitations for the IPv6 gateway
 * from the unspecified address (duplicate address detection, RFC 4862),
 * `PROBE_GAP_MS` apart. A slirp already there answers them as it answers
 * any guest. (A probe is not a claim: a slirp that hears one only answers;
 * a guest may probe for its router too.) While the stack runs, its inputs report each frame that claims
 * one of its addresses (`claimed`): an ARP packet whose sender is the
 * gateway (RFC 5227 section 2.4), a neighbour advertisement for one of its
 * IPv6 addresses, a DHCP offer or ack sent from the gateway address. The
 * first is said in one line, what to do included; all are counted
 * (`gatewayConflicts` in `slirp/print`). The stack keeps serving: QEMU
 * users start things in any order, and stopping would not tell the other.
 *
 * The probes leave from a MAC of their own (random, locally administered),
 * not the gateway's: every slirp of one network has the same gateway MAC
 * (52:55 and the gateway address), and a switch takes an answer to that MAC
 * to the port it last saw it on: the answering slirp's own, where it is
 * dropped. The stack takes ARP to the probe MAC as to its own MAC.
 *
 * The DNS address is probed too, with the gateway's ARP probes: it sits in
 * the guests' network (10.0.2.3), and a host given it by hand (sites
 * numbered .1, .2, .3) would have its traffic taken by the slirp's ARP
 * answers. A host that answers the probe, or sends ARP from that address
 * later, is said once (`dnsClaimed`, the line naming `vnameserver=`), and
 * from then on the slirp answers no ARP for it: the host keeps its address,
 * and is a guest like any other (`Iface.dnsHeldByHost`: the IPv4 input no
 * longer drops its packets as from one of ours).
 * While it does, the address is probed every `DNS_RECHECK_MS`; a host that
 * answers none for that long is gone (renumbered, as the line advises), and
 * the slirp says it answers for its DNS address again: otherwise its DNS
 * stayed out of reach until a restart, whatever the user did.
 * Another slirp of the network answers from our own MAC (52:55 and the
 * gateway address), libslirp from 52:55 and the DNS address: its claim is
 * the gateway's, said there.
 * The IPv6 DNS address (fd00::3, `vnameserver6=`) is probed the same way,
 * with the gateway's DAD solicitations: a host's neighbour advertisement
 * for it (`dns6Claimed`) is said once, naming `vnameserver6=`, and from
 * then on the slirp answers no solicitation for it (`Iface.dns6HeldByHost`)
 * and asks again every `DNS_RECHECK_MS`, as for IPv4.
 *
 * Our own frames: a switch does not send a frame back to its port, but a
 * loop in the network (two cables between two switches without spanning
 * tree) does. So a frame from the probe MAC is ours (and is not answered);
 * an ARP request from the gateway MAC for an address the stack solicited
 * moments ago is ours (neighbours.ts); a neighbour advertisement with our
 * MAC within `OWN_ECHO_MS` of one we sent to all nodes is ours. The stack's
 * DHCP replies go to the client's MAC, never to ours, so none comes back.
 *
 * Readiness: a `--daemon` start returns once the first probe after plugging
 * in is answered (`onProbed`): at the first claim, or `ANSWER_WAIT_MS` after
 * that probe left with none, timed from its departure (on a loaded machine
 * the probe itself leaves late) and said only after the loop has read once
 * more past that time (an answer may wait unread in the socket of a thread
 * held off its core), so a conflict is said on the terminal that started
 * the slirp.
 *
 * Cost: nothing per frame on the data path. The inputs call in only on
 * frames they already parse (ARP, neighbour discovery) or drop (a packet
 * from the gateway's own address, a frame to another MAC).
 */
import { ETH_HLEN, formatMac, macEquals } from "../wire/ethernet.ts";
import { writeArpRequestFrame } from "../wire/arp.ts";
import { formatIpv4 } from "../wire/ipv4.ts";
import { formatIpv6, IPV6_HLEN } from "../wire/ipv6.ts";
import { writeSolicitFrame } from "../wire/ndp.ts";
import type { Iface } from "./iface.ts";

/** Probes per family after the stack is bound to a link (RFC 5227's PROBE_NUM). */
export const PROBES = 3;
/** Milliseconds from binding (or plugging) to the first probe. */
export const PROBE_DELAY_MS = 100;
/** Milliseconds between probes. */
export const PROBE_GAP_MS = 1000;
/**
 * Milliseconds from the first probe's departure by which a slirp on the switch has answered it, on a
 * loaded machine too (a few ms idle): with none by then, `onProbed` is called.
 */
export const ANSWER_WAIT_MS = 200;
/** Milliseconds during which a frame like one we sent is taken for ours come back through a loop. */
export const OWN_ECHO_MS = 2000;
/** Milliseconds between probes of a DNS address a host holds; one unanswered this long frees it. */
export const DNS_RECHECK_MS = 30_000;

/** A random, locally administered unicast MAC. */
export function randomProbeMac(): Uint8Array {
  const mac = crypto.getRandomValues(new Uint8Array(6));
  mac[0] = (mac[0]! & 0xfc) | 0x02;
  return mac;
}

/**
 * A DNS address of one family a host on the switch holds: what said so (null while the slirp has it), and
 * when that host was last heard, last asked, and is asked next (see `GatewayGuard.dnsClaimed`).
 */
class HeldDns {
  taken: string | null = null;
  heardAt = -Infinity;
  askedAt = -Infinity;
  recheckAt = Infinity;
}

/** The gateway's guard against a second slirp on the same network. */
export class GatewayGuard {
  /** Where the probes come from, and their answers go to. */
  readonly probeMac: Uint8Array;
  readonly #iface: Iface;
  readonly #buf = new Uint8Array(ETH_HLEN + IPV6_HLEN + 24);
  #probesLeft = 0;
  #nextProbe = Infinity;
  #naToAllAt = -Infinity;
  #first: string | null = null;
  readonly #dns4 = new HeldDns();
  readonly #dns6 = new HeldDns();
  /** When the first probe since `arm` goes unanswered (Infinity: not sent yet, or done). */
  #answerBy = Infinity;
  /** Whether the first probe since `arm` is still to be answered (or to go unanswered). */
  #awaitingAnswer = false;
  /** Whether the answer's wait was found over once: the next `poll` says it unanswered (see `poll`). */
  #lastLook = false;
  /**
   * Called when the first probe since the last `arm` is answered (a claim) or went unanswered for
   * `ANSWER_WAIT_MS`, and at `arm` when there is nothing to probe: a `--daemon` start's readiness.
   * A re-arm (the link plugged in after binding) starts over, so set it before plugging in.
   */
  onProbed: (() => void) | null = null;

  constructor(iface: Iface, probeMac: Uint8Array = randomProbeMac()) {
    this.#iface = iface;
    this.probeMac = probeMac;
  }

  /** The stack is bound to a link: probe from now on. */
  arm(now: number): void {
    const c = this.#iface.config;
    this.#answerBy = Infinity;
    if (!c.v4 && !c.v6) {
      this.#awaitingAnswer = false;
      this.onProbed?.();
      return;
    }
    this.#awaitingAnswer = true;
    this.#lastLook = false;
    this.#probesLeft = PROBES;
    this.#nextProbe = now + PROBE_DELAY_MS;
  }

  /** When `poll` has work: a probe to send, or the first one's answer to give up on (Infinity: none). */
  get nextProbe(): number {
    return Math.min(this.#nextProbe, this.#answerBy, this.#dns4.recheckAt, this.#dns6.recheckAt);
  }

  /** Sends the probes that are due; says the first one unanswered once its wait is over. */
  poll(now: number): void {
    if (now >= this.#answerBy) {
      // A thread held off the core past the wait finds its timer due and the answer maybe in its socket,
      // unread: the owner's loop runs timers before it reads. So the first poll past the wait only looks;
      // the deadline stays due (a 0 ms timer), the loop reads what came meanwhile (a claim answers it),
      // and the next poll says it unanswered.
      if (this.#lastLook) this.#answered();
      else this.#lastLook = true;
    }
    if (now >= this.#dns4.recheckAt) this.#recheckDns(4, now);
    if (now >= this.#dns6.recheckAt) this.#recheckDns(6, now);
    if (now < this.#nextProbe) return;
    const c = this.#iface.config;
    if (c.v4) this.#arpProbe();
    if (c.v6) this.#dadProbe();
    // Timed from the probe's departure, not from plugging in: under load it leaves late.
    if (this.#awaitingAnswer && this.#answerBy === Infinity) this.#answerBy = now + ANSWER_WAIT_MS;
    this.#nextProbe = --this.#probesLeft > 0 ? now + PROBE_GAP_MS : Infinity;
  }

  /** The first probe since `arm` was answered, or went unanswered: `onProbed`, once. */
  #answered(): void {
    this.#answerBy = Infinity;
    this.#lastLook = false;
    if (!this.#awaitingAnswer) return;
    this.#awaitingAnswer = false;
    this.onProbed?.();
  }

  /** Whether the MAC at `b[off]` is the probes' (a frame to it is ours to take; from it, ours come back). */
  isProbeMac(b: Uint8Array, off: number): boolean {
    return macEquals(b, off, this.probeMac);
  }

  /** The stack sent a neighbour advertisement to all nodes (an answer to someone's duplicate address detection). */
  sentAdvertToAll(now: number): void {
    this.#naToAllAt = now;
  }

  /** Whether a neighbour advertisement with our MAC may be our own come back. */
  ownAdvert(now: number): boolean {
    return now - this.#naToAllAt < OWN_ECHO_MS;
  }

  /**
   * Another host claims one of our addresses: counted; the first is said.
   *
   * @param what the frame, naming the address (`an ARP reply for 10.0.2.2`)
   * @param family which family's option moves this slirp elsewhere
   * @param b,macOff the claimant's MAC
   */
  claimed(what: string, family: 4 | 6, b: Uint8Array, macOff: number): void {
    const iface = this.#iface;
    iface.stats.gatewayConflicts++;
    if (this.#first === null) {
      this.#first = `${what} from ${formatMac(b, macOff)}`;
      iface.log(
        `the gateway address is taken on this switch: ${this.#first} came from another port. ` +
          `Two slirps on one switch conflict (guests get two DHCP offers and split their traffic): ` +
          `run one slirp per switch, or give this one another network (slirp option ${
            this.#hint(family)
          }); ` +
          `this one keeps serving`,
        "warning",
      );
    }
    // An answer: a waiting `--daemon` start goes on, its line already said.
    this.#answered();
  }

  /**
   * A host on the switch has our DNS address (`what`: the ARP frame that says so, naming the address,
   * from the MAC at `b[macOff]`): said once; from then on `dnsTaken`, and the slirp answers no ARP for it.
   */
  dnsClaimed(what: string, b: Uint8Array, macOff: number): void {
    const c = this.#iface.config;
    this.#hostHolds(
      4,
      what,
      b,
      macOff,
      () =>
        `the DNS address ${formatIpv4(c.dns)} is taken on this switch: ${this.#dns4.taken} came from ` +
        `another port, a host that has it. This slirp answers no ARP for it while that host answers for it ` +
        `(asked every ${
          DNS_RECHECK_MS / 1000
        } s), so that host keeps its traffic, and the slirp's DNS there ` +
        `is out of reach: give this slirp another (slirp option ` +
        `vnameserver=ADDR, an address no host has, in ${formatIpv4(c.network)}/${c.prefixLength}) or that ` +
        `host another address`,
    );
  }

  /**
   * A host on the switch has our IPv6 DNS address (`what`: the neighbour advertisement that says so, from
   * the MAC at `b[macOff]`): as `dnsClaimed`, for neighbour solicitations (`dns6Taken`).
   */
  dns6Claimed(what: string, b: Uint8Array, macOff: number): void {
    const c = this.#iface.config;
    this.#hostHolds(
      6,
      what,
      b,
      macOff,
      () =>
        `the IPv6 DNS address ${formatIpv6(c.dns6)} is taken on this switch: ${this.#dns6.taken} came from ` +
        `another port, a host that has it. This slirp answers no neighbour solicitation for it while that ` +
        `host answers for it (asked every ${DNS_RECHECK_MS / 1000} s), so that host keeps its traffic, and ` +
        `the slirp's DNS there is out of reach: give this slirp another (slirp option vnameserver6=ADDR, an ` +
        `address no host has, in ${formatIpv6(c.prefix6)}/${c.prefix6Length}) or that host another address`,
    );
  }

  /** The host holding our DNS address of `family` was heard; the first time, it is said (`line`). */
  #hostHolds(family: 4 | 6, what: string, b: Uint8Array, macOff: number, line: () => string): void {
    const held = family === 4 ? this.#dns4 : this.#dns6;
    held.heardAt = this.#iface.now();
    if (held.taken !== null) return;
    held.askedAt = -Infinity;
    held.recheckAt = held.heardAt + DNS_RECHECK_MS;
    if (family === 4) this.#iface.dnsHeldByHost = true;
    else this.#iface.dns6HeldByHost = true;
    held.taken = `${what} from ${formatMac(b, macOff)}`;
    this.#iface.log(line(), "warning");
  }

  /**
   * The host holding our DNS address of `family` is asked again; one that answered nothing since it was
   * last asked is gone: the slirp answers for the address again, and says so.
   */
  #recheckDns(family: 4 | 6, now: number): void {
    const held = family === 4 ? this.#dns4 : this.#dns6;
    const c = this.#iface.config;
    if (held.askedAt > held.heardAt) {
      held.taken = null;
      held.recheckAt = Infinity;
      if (family === 4) this.#iface.dnsHeldByHost = false;
      else this.#iface.dns6HeldByHost = false;
      const [address, answers] = family === 4
        ? [`DNS address ${formatIpv4(c.dns)}`, "ARP"]
        : [`IPv6 DNS address ${formatIpv6(c.dns6)}`, "neighbour solicitations"];
      this.#iface.log(
        `the ${address} is free again (no host answered for it in ${DNS_RECHECK_MS / 1000} s): ` +
          `this slirp answers ${answers} for it`,
        "notice",
      );
      return;
    }
    const b = this.#buf;
    const l = family === 4
      ? writeArpRequestFrame(b, this.probeMac, 0, c.dns)
      : writeSolicitFrame(b, this.probeMac, null, c.dns6);
    this.#iface.emit(b.subarray(0, l));
    held.askedAt = now;
    held.recheckAt = now + DNS_RECHECK_MS;
  }

  /** Whether a host on the switch has our DNS address (see `dnsClaimed`); what said so, else null. */
  get dnsTaken(): string | null {
    return this.#dns4.taken;
  }

  /** Whether a host on the switch has our IPv6 DNS address (see `dns6Claimed`); what said so, else null. */
  get dns6Taken(): string | null {
    return this.#dns6.taken;
  }

  /** The first claim seen, for the console; null when none. */
  get conflict(): string | null {
    return this.#first;
  }

  /**
   * The options that move this slirp: the next network of the same size, for each family it runs. Both
   * where both run, whichever was claimed first: the other slirp answers for both, and moving one
   * family only met the other's line at the next start.
   */
  #hint(family: 4 | 6): string {
    const c = this.#iface.config;
    // `family` runs, or it would have sent nothing to be claimed; named for the line's order only.
    const moves = family === 4 ? [this.#nextAddr(), c.v6 ? this.#nextAddr6() : ""] : [
      c.v4 ? this.#nextAddr() : "",
      this.#nextAddr6(),
    ];
    return moves.filter((o) => o !== "").join("/");
  }

  /** `addr=` of the next IPv4 network of the same size, the gateway's host part kept. */
  #nextAddr(): string {
    const c = this.#iface.config;
    const size = 2 ** (32 - c.prefixLength);
    const next = (c.network + size) % 2 ** 32 + (c.gateway - c.network);
    return `addr=${formatIpv4(next >>> 0)}/${c.prefixLength}`;
  }

  /** `addr6=` of the next IPv6 prefix of the same length (fd00::/64: fd00:0:0:1::/64), the gateway's host part kept. */
  #nextAddr6(): string {
    const c = this.#iface.config;
    const next = c.gateway6.slice();
    // Add 1 at the prefix's last bit, carrying towards the first byte (wrapping past ffff:...).
    const last = c.prefix6Length - 1;
    let carry = 1 << (7 - (last % 8));
    for (let i = last >> 3; i >= 0 && carry !== 0; i--) {
      const sum = next[i]! + carry;
      next[i] = sum & 0xff;
      carry = sum >> 8;
    }
    return `addr6=${formatIpv6(next)}/${c.prefix6Length}`;
  }

  #arpProbe(): void {
    const b = this.#buf;
    const c = this.#iface.config;
    this.#iface.emit(b.subarray(0, writeArpRequestFrame(b, this.probeMac, 0, c.gateway)));
    if (this.#dns4.taken === null) {
      this.#iface.emit(b.subarray(0, writeArpRequestFrame(b, this.probeMac, 0, c.dns)));
    }
  }

  #dadProbe(): void {
    const b = this.#buf;
    const c = this.#iface.config;
    this.#iface.emit(b.subarray(0, writeSolicitFrame(b, this.probeMac, null, c.gateway6)));
    if (this.#dns6.taken === null) {
      this.#iface.emit(b.subarray(0, writeSolicitFrame(b, this.probeMac, null, c.dns6)));
    }
  }
}
