/**
 * A lab's cable node opened: a client that connects (and reconnects), or a
 * listener whose sessions come one at a time. The lab's own process opens
 * it, or, for a rootless lab, the process outside its namespaces
 * (outside.ts), where the machine's network is.
 */
import type { Link } from "../link/link.ts";
import { openCableClient, parseTcpVnl, startCableListener } from "../link/tcp_link.ts";
import { hostPort } from "../cable/client.ts";
import { KeyError } from "../cable/key.ts";
import { listenFailure } from "../os/listen_failure.ts";
import type { CableNode } from "./spec.ts";

/** A cable node's client, or its listener's bound ADDR:PORT (the port the kernel picked for `listen: 0`). */
export interface OpenedCable {
  client?: Link;
  listening?: string;
  /** Closes it; a listener's settles once its port is free again (CableListener.close), a client's at once. */
  close(): Promise<void>;
}

/**
 * Opens cable node `node`; a listener's each new session goes to `onSession`, which returns the switch port
 * it will be on (0 when none). `keyFile` is the node's key resolved, `say` its owner's log.
 *
 * @throws KeyError for a key that cannot be read, Error naming the node for a port it cannot listen on
 */
export async function openCableNode(
  node: CableNode,
  o: { keyFile?: string; localName: string; say: (m: string) => void; onSession: (session: Link) => number },
): Promise<OpenedCable> {
  const keyPart = node.insecure === true ? "/insecure" : "";
  // Its lines in the lab's log name the node: `cable open ... port 3` alone said nothing of which cable.
  const defaults = { keyFile: o.keyFile, log: (m: string) => o.say(`${node.name}: ${m}`) };
  if (node.connect !== undefined) {
    const client = await openCableClient(parseTcpVnl(`${node.connect}${keyPart}`), {
      ...defaults,
      localName: o.localName,
    });
    // A refusal no retry mends (a wrong key) ends the client without a line of its own: its owner says it.
    client.closed.then((reason) => {
      if (client.refusal !== null) o.say(`${node.name}: ${reason}; not retrying`);
    });
    return {
      client,
      close: () => {
        client.close();
        return Promise.resolve();
      },
    };
  }
  const listen = /^\d+$/.test(node.listen!) ? `:${node.listen}` : node.listen!;
  const listener = await startCableListener(
    parseTcpVnl(`${listen}/listen${keyPart}`),
    (session) => o.onSession(session),
    defaults,
  ).catch((err) => {
    // A key that cannot be read says so itself; a taken port must name the node and port.
    if (err instanceof KeyError) throw err;
    throw new Error(
      `cable ${node.name}: cannot listen on ${node.listen}${listenFailure(err, "listen:", "5000")}`,
    );
  });
  return { listening: hostPort(listener.addr.hostname, listener.addr.port), close: () => listener.close() };
}
