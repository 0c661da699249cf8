/**
 * One connection at a time: connect, read until the server closes, close,
 * again, for a given time; the rate in connections/s. The bench's
 * one-at-a-time row runs it in-process against a slirp's forward; its floor
 * rows run the same loop as a program inside a namespace
 * (`deno run -A scripts/conn_rate.ts HOST PORT SECONDS` prints the rate), so
 * every variant pays the same client.
 */

/** Sequential connect-read-close to `hostname`:`port`, for `seconds`. */
export async function connectionRate(port: number, seconds: number, hostname = "127.0.0.1"): Promise<number> {
  const end = performance.now() + seconds * 1000;
  const started = performance.now();
  let n = 0;
  const buf = new Uint8Array(16);
  while (performance.now() < end) {
    const c = await Deno.connect({ hostname, port });
    const timer = setTimeout(() => c.close(), 5000);
    try {
      while ((await c.read(buf)) !== null) { /* until the server closes */ }
      n++;
    } catch {
      /* counted as a failure */
    } finally {
      clearTimeout(timer);
      try {
        c.close();
      } catch { /* closed by the timer */ }
    }
  }
  return n / ((performance.now() - started) / 1000);
}

if (import.meta.main) {
  const [host, port, seconds] = Deno.args;
  const p = Number(port);
  const s = Number(seconds);
  if (!host || !Number.isInteger(p) || p < 1 || p > 65535 || !(s > 0 && s <= 60)) {
    console.error("usage: conn_rate.ts HOST PORT SECONDS (0 < SECONDS <= 60)");
    Deno.exit(2);
  }
  console.log(`rate=${(await connectionRate(p, s, host)).toFixed(1)}`);
}
