/**
 * Free loopback ports for the bench's servers that cannot listen on port 0
 * and say which they got (iperf3, cable listeners, slirp forwards).
 *
 * A fixed port made two bench runs at once collide: the second run's iperf3
 * server failed to bind, and its rows read 0 Mbit/s. The kernel picks a free
 * port for a probe socket, which is closed and its number handed on. Another
 * process can take the port in between; that window is short, unlike a fixed
 * port's, which is taken for the whole run.
 */
import { createSocket } from "node:dgram";

/** A port on 127.0.0.1 that was free for `transport` a moment ago. */
export async function freeLoopbackPort(transport: "tcp" | "udp" = "tcp"): Promise<number> {
  if (transport === "tcp") {
    const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = probe.addr.port;
    probe.close();
    return port;
  }
  // Deno's own UDP listener needs an unstable flag; node:dgram does not.
  const probe = createSocket("udp4");
  try {
    await new Promise<void>((resolve, reject) => {
      probe.once("error", reject);
      probe.bind(0, "127.0.0.1", () => resolve());
    });
    return probe.address().port;
  } finally {
    probe.close();
  }
}
