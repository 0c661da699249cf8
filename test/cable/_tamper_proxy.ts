/**
 * A TCP proxy for end-to-end cable tests, run as its own process inside a
 * namespace: `deno run -A _tamper_proxy.ts LISTEN_PORT TARGET_HOST TARGET_PORT`.
 * Bytes pass unchanged both ways until the process gets SIGUSR2; then the
 * last byte of the next chunk from the client (the end of a record: its
 * tag) gets one bit flipped, once per signal. Prints "ready" when
 * listening and "flipped" after each flip.
 */
const [listenPort, targetHost, targetPort] = Deno.args;
let armed = 0;
Deno.addSignalListener("SIGUSR2", () => armed++);
const listener = Deno.listen({ hostname: "0.0.0.0", port: Number(listenPort) });
console.log("ready");

async function pump(from: Deno.Conn, to: Deno.Conn, upstream: boolean): Promise<void> {
  const buf = new Uint8Array(65536);
  try {
    for (;;) {
      const n = await from.read(buf);
      if (n === null) break;
      if (upstream && armed > 0 && n > 0) {
        buf[n - 1]! ^= 0x01;
        armed--;
        console.log("flipped");
      }
      let off = 0;
      while (off < n) off += await to.write(buf.subarray(off, n));
    }
  } catch { /* a side closed */ }
  for (const c of [from, to]) {
    try {
      c.close();
    } catch { /* closed already */ }
  }
}

for await (const client of listener) {
  Deno.connect({ hostname: targetHost, port: Number(targetPort) }).then(
    (server) => {
      pump(client, server, true);
      pump(server, client, false);
    },
    () => client.close(),
  );
}
