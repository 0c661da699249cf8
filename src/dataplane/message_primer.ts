/**
 * Runs, once per thread, what the first postMessage changes in V8, so that
 * it happens before a warm-up rather than after it.
 *
 * Theory of operation: the first message a Deno thread posts (a Worker's
 * `postMessage`, a MessagePort's) changes the prototype chain that
 * optimized code reading a typed array (its `length`, its elements)
 * depends on; `--trace-deopt` shows every such function thrown away
 * ("dependent prototype chain changed"), and only the first time. The switch
 * thread posts its first message ("warmed") right after its warm-up, so
 * every function the warm-up had optimized (the engine's MAC readers, the
 * receive and send loops) ran unoptimized again for the first real frames,
 * and between pings 10 ms apart it took hundreds of pings to optimize them
 * again; the slirp thread's first message ("ready") did the same to its
 * warmed checksum and TCP code. A message posted on a throwaway channel
 * before warming does the same change while nothing is optimized yet.
 * `structuredClone` alone does not.
 */

/** Posts one message on a throwaway channel (see above); cheap, and harmless when repeated. */
export function primeMessaging(): void {
  const channel = new MessageChannel();
  try {
    channel.port1.postMessage(0);
  } finally {
    channel.port1.close();
    channel.port2.close();
  }
}
