/**
 * vde_plug's `-l` and `-L` for `vde plug`: a session's START and STOP on
 * syslog, and with `-L` each new IP address the stream's side sends from,
 * in vde_plug's words, so the scripts and log filters of its users (a
 * `vde_plug` login shell behind ssh) read the same lines:
 *
 *   START: user USER IP SSH-CLIENT-IP
 *   user USER Real-IP SSH-CLIENT-IP has got VDE-IP4 ADDRESS on vlan N
 *   STOP: user USER IP SSH-CLIENT-IP
 *
 * on facility user, severity info, tagged vde_plug. SSH-CLIENT-IP is the
 * first word of $SSH_CLIENT, or UNKNOWN_IP_ADDRESS. As vde_plug, an
 * address is logged once per session whatever its VLAN, and only frames
 * arriving on the stream side (stdin/stdout, or a `cmd://` / `= COMMAND`
 * end) are looked at: those are the remote user's.
 *
 * Unlike vde_plug, the addresses remembered are bounded (MAX_ADDRESSES):
 * a peer sending from random sources would otherwise grow the set for
 * good; past it, one line says the rest go unlogged. They are found by
 * their exact bytes (address_set.ts): the peer chooses them, and could
 * make a hash table's lookups slow.
 */
import { type IpSource, ipSourceOf } from "../wire/ip_source.ts";
import { AddressSet } from "./address_set.ts";
import { formatIp } from "../wire/ip_address.ts";
import { SyslogSender } from "../os/syslog.ts";
import { userName } from "../os/users.ts";
import { log } from "../log.ts";

/** Addresses one session remembers (and logs) at most. */
export const MAX_ADDRESSES = 4096;
/** vde_plug's caller address when $SSH_CLIENT is not set. */
const UNKNOWN_IP = "UNKNOWN_IP_ADDRESS";

/** Who runs the session, as vde_plug names them: the user's name and the ssh client's address. */
export interface SessionOwner {
  user: string;
  ip: string;
}

/** This process's user and ssh client address (the first word of `sshClient`, at most 255 characters). */
export function sessionOwner(sshClient = Deno.env.get("SSH_CLIENT"), uid = Deno.uid() ?? 0): SessionOwner {
  const word = sshClient?.split(/\s/, 1)[0] ?? "";
  return { user: userName(uid), ip: word === "" ? UNKNOWN_IP : word.slice(0, 255) };
}

/** The START/STOP lines of one session, and with `-L` its addresses; every line goes to `say`. */
export class PlugSessionLog {
  readonly #say: (line: string) => void;
  readonly #owner: SessionOwner;
  // Made at the first frame: a session without -L looks at none.
  #seen: AddressSet | null = null;
  #full = false;
  readonly #where: IpSource = { family: 4, offset: 0, vlan: 0 };

  constructor(owner: SessionOwner, say: (line: string) => void) {
    this.#owner = owner;
    this.#say = say;
  }

  /** Says the session started. */
  start(): void {
    this.#say(`START: user ${this.#owner.user} IP ${this.#owner.ip}`);
  }

  /** Says the session stopped. */
  stop(): void {
    this.#say(`STOP: user ${this.#owner.user} IP ${this.#owner.ip}`);
  }

  /** Looks at one frame from the stream side: a source address not seen before is said once. */
  see(frame: Uint8Array): void {
    const w = this.#where;
    if (this.#full || !ipSourceOf(frame, w)) return;
    const seen = this.#seen ??= new AddressSet(MAX_ADDRESSES);
    if (seen.has(w.family, frame, w.offset)) return;
    if (!seen.add(w.family, frame, w.offset)) {
      this.#full = true;
      this.#say(
        `user ${this.#owner.user}: more than ${MAX_ADDRESSES} addresses seen; the rest are not logged`,
      );
      return;
    }
    const address = frame.subarray(w.offset, w.offset + (w.family === 4 ? 4 : 16));
    this.#say(
      `user ${this.#owner.user} Real-IP ${this.#owner.ip} has got VDE-IP${w.family} ${
        formatIp(address)
      } on vlan ${w.vlan}`,
    );
  }
}

/**
 * A session log that sends its lines to syslog as vde_plug's (facility user, tag vde_plug). Where the
 * first (START) is not taken, one line on stderr says so: the user asked for these lines, and a machine
 * without a syslog daemon (a container has no /dev/log) would drop them all without a word.
 */
export function plugSyslog(): PlugSessionLog {
  const syslog = new SyslogSender("vde_plug", undefined, "user");
  let first = true;
  return new PlugSessionLog(sessionOwner(), (line) => {
    const taken = syslog.send("info", line);
    if (first && !taken) {
      log("vde plug", `-l: no syslog takes lines at ${syslog.path}: the session's lines are not kept`);
    }
    first = false;
  });
}
