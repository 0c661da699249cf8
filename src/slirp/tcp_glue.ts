/**
 * Starting the TCP engine (src/slirp/tcp/engine.ts) for a stack: the
 * options derived from the slirp configuration, DNS-over-TCP to the
 * virtual DNS address redirected to the first upstream, guest forwards
 * (guest_forward.ts) to their commands and sockets, and the forward
 * control the stack and console use.
 */
import { type DnsUpstream, forwardHostText, type ForwardSpec, type SlirpConfig } from "./config.ts";
import type { TcpForwardControl } from "./stack.ts";
import type { TcpCoreSide } from "./tcp/api.ts";
import { createTcpEngine, type SlirpTcpEngine, type TcpEngineOptions } from "./tcp/engine.ts";
import { prefixMask } from "../wire/ipv4.ts";
import { ipv6Equal } from "../wire/ipv6.ts";
import { formatIp, ipv4FromU32 } from "../wire/ip_address.ts";
import { guestForwardIndex, guestForwardTarget, withGuestForwards } from "./guest_forward.ts";
import { denoHostNet, type HostNet } from "./tcp/host.ts";

/** The engine options for a configuration. */
export function tcpOptions(
  c: SlirpConfig,
  dnsUpstream: DnsUpstream[],
  hostNet: HostNet = denoHostNet,
): TcpEngineOptions {
  const dns4 = ipv4FromU32(c.dns);
  const dns6 = c.dns6;
  return {
    hostLoopback: c.hostLoopback,
    gateway: { v4: ipv4FromU32(c.gateway), v6: c.gateway6.slice() },
    network: {
      v4: { addr: ipv4FromU32((c.network & prefixMask(c.prefixLength)) >>> 0), length: c.prefixLength },
      v6: { addr: c.prefix6.slice(), length: c.prefix6Length },
    },
    // Guest forwards open through the wrapped host network (guest_forward.ts).
    hostNet: withGuestForwards(hostNet, c.guestForwards),
    mapOutbound: (dst) => {
      const fwd = guestForwardIndex(c.guestForwards, dst.addr, dst.port);
      if (fwd >= 0) return guestForwardTarget(fwd, dst.port);
      const isDns = dst.addr.length === 4
        ? dst.addr[0] === dns4[0] && dst.addr[1] === dns4[1] && dst.addr[2] === dns4[2] &&
          dst.addr[3] === dns4[3]
        : ipv6Equal(dst.addr, 0, dns6, 0);
      if (!isDns) return undefined;
      const up = dnsUpstream[0];
      if (dst.port !== 53 || up === undefined) return null;
      return { hostname: formatIp(up.addr), port: up.port };
    },
  };
}

/** A started engine with the forward control the stack uses. */
export interface StartedTcp {
  engine: SlirpTcpEngine;
  control: TcpForwardControl;
}

/**
 * Creates the engine for `core`. `guestAddress` answers the guest address
 * of a forward that names none; `switchQueueFrames` is what the switch
 * queues for us (tcp/tcb.ts, 0: unknown).
 */
export function startTcpEngine(
  core: TcpCoreSide,
  c: SlirpConfig,
  dnsUpstream: DnsUpstream[],
  guestAddress: (family: 4 | 6) => Uint8Array | null,
  hostNet?: HostNet,
  switchQueueFrames = 0,
): StartedTcp {
  const engine = createTcpEngine(core, {
    ...tcpOptions(c, dnsUpstream, hostNet),
    tcp: { switchQueueFrames },
  });
  const control: TcpForwardControl = {
    async addForward(f: ForwardSpec): Promise<number> {
      const guest = f.guestAddr ?? guestAddress(f.family);
      if (guest === null) {
        throw new Error("no IPv6 address of the guest is known yet: name the guest address in the forward");
      }
      const info = await engine.addForward({
        hostAddr: forwardHostText(f),
        hostPort: f.hostPort,
        guestAddr: guest,
        guestPort: f.guestPort,
        v6: f.family === 6,
      });
      return info.hostPort;
    },
    removeForward(f: ForwardSpec): boolean {
      return engine.removeForward({ hostAddr: forwardHostText(f), hostPort: f.hostPort, v6: f.family === 6 });
    },
  };
  return { engine, control };
}
