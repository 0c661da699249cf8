/**
 * A syslog stand-in for tests: a unix datagram socket bound where the code
 * under test is pointed (VDE_SYSLOG_SOCKET), read without waiting.
 */
import { UnixDgramSocket } from "../../src/io/unix_dgram.ts";

/** A syslog stand-in: a unix datagram socket bound in a temp directory, and the lines it has received. */
export function standIn(dir: string): { path: string; lines: () => string[]; close: () => void } {
  const path = `${dir}/log`;
  const socket = UnixDgramSocket.create();
  socket.bind(path);
  const got: string[] = [];
  const decoder = new TextDecoder();
  return {
    path,
    lines: () => {
      while (socket.recvBatch((frame) => got.push(decoder.decode(frame)), { oversize: 0 }) > 0) {
        /* drain */
      }
      return got;
    },
    close: () => socket.close(),
  };
}
