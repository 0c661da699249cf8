/**
 * Two unix datagram sockets bound in `dir` and connected to each other, as
 * a switch port and its client are: the test rigs of the data-plane
 * threads hold one end and give the other to the thread under test.
 */
import { UnixDgramSocket } from "../../src/io/unix_dgram.ts";

/** `ours` and `theirs`, bound at `dir/ours` and `dir/theirs`, each connected to the other. */
export function dgramPair(dir: string): { ours: UnixDgramSocket; theirs: UnixDgramSocket } {
  const ours = UnixDgramSocket.create();
  const theirs = UnixDgramSocket.create();
  ours.bind(`${dir}/ours`);
  theirs.bind(`${dir}/theirs`);
  ours.connect(`${dir}/theirs`);
  theirs.connect(`${dir}/ours`);
  return { ours, theirs };
}
