/**
 * A tiny DNS server for tests, on 127.0.0.1 (UDP and TCP on one port): it
 * answers A and AAAA queries from a fixed table, and for names in `big` it
 * sets TC over UDP and gives the full answer only over TCP. Run in-process
 * (`startDnsFixture`) or as a program: `deno run -A dns_fixture.ts PORT`.
 */
import dgram from "node:dgram";
import net from "node:net";
import { Buffer } from "node:buffer";
import { buildDnsMessage, DNS_TYPE, type DnsRecordSpec, parseDnsMessage } from "../../src/wire/dns.ts";

/** Names the fixture knows. */
export const FIXTURE_NAMES: Record<string, { a?: number[]; aaaa?: number[] }> = {
  "host.test.vde": { a: [192, 0, 2, 7], aaaa: [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7] },
  "big.test.vde": { a: [192, 0, 2, 8] },
};

/** Builds the answer to a query; `udp` answers for a big name are truncated. */
export function answer(query: Uint8Array, udp: boolean): Uint8Array | null {
  const parsed = parseDnsMessage(query);
  if (!parsed.ok || parsed.value.questions.length !== 1) return null;
  const m = parsed.value;
  const q = m.questions[0]!;
  const entry = FIXTURE_NAMES[q.name.toLowerCase()];
  const answers: DnsRecordSpec[] = [];
  if (entry !== undefined && q.type === DNS_TYPE.A && entry.a) {
    const n = q.name.startsWith("big") ? 10 : 1;
    for (let i = 0; i < n; i++) {
      answers.push({ name: q.name, type: DNS_TYPE.A, data: new Uint8Array(entry.a) });
    }
  }
  if (entry !== undefined && q.type === DNS_TYPE.AAAA && entry.aaaa) {
    answers.push({ name: q.name, type: DNS_TYPE.AAAA, data: new Uint8Array(entry.aaaa) });
  }
  const big = q.name.startsWith("big");
  return buildDnsMessage({
    id: m.header.id,
    response: true,
    ra: true,
    aa: true,
    rcode: entry === undefined ? 3 : 0,
    tc: big && udp,
    questions: [{ name: q.name, type: q.type }],
    answers: big && udp ? [] : answers,
  });
}

/** A running fixture. */
export interface DnsFixture {
  port: number;
  udpQueries: number;
  tcpQueries: number;
  close(): Promise<void>;
}

/** Starts the fixture on 127.0.0.1 (port 0: any free one, the same for UDP and TCP). */
export async function startDnsFixture(port = 0): Promise<DnsFixture> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const udp = dgram.createSocket("udp4");
    const bound = await new Promise<number>((resolve, reject) => {
      udp.once("error", reject);
      udp.bind(port, "127.0.0.1", () => resolve(udp.address().port));
    });
    const tcp = net.createServer();
    const ok = await new Promise<boolean>((resolve) => {
      tcp.once("error", () => resolve(false));
      tcp.listen(bound, "127.0.0.1", () => resolve(true));
    });
    if (!ok) {
      udp.close();
      if (port !== 0) throw new Error(`TCP port ${port} is taken`);
      continue;
    }
    const fx: DnsFixture = {
      port: bound,
      udpQueries: 0,
      tcpQueries: 0,
      close: () =>
        new Promise<void>((resolve) => {
          udp.close();
          tcp.close(() => resolve());
          for (const s of sockets) s.destroy();
        }),
    };
    const sockets = new Set<net.Socket>();
    udp.on("message", (msg, rinfo) => {
      fx.udpQueries++;
      const a = answer(new Uint8Array(msg), true);
      if (a !== null) udp.send(Buffer.from(a), rinfo.port, rinfo.address);
    });
    tcp.on("connection", (s) => {
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
      let buf = Buffer.alloc(0);
      s.on("data", (d) => {
        buf = Buffer.concat([buf, d]);
        while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
          const len = buf.readUInt16BE(0);
          const q = new Uint8Array(buf.subarray(2, 2 + len));
          buf = buf.subarray(2 + len);
          fx.tcpQueries++;
          const a = answer(q, false);
          if (a === null) continue;
          const out = Buffer.alloc(2 + a.length);
          out.writeUInt16BE(a.length, 0);
          out.set(a, 2);
          s.write(out);
        }
      });
      s.on("error", () => {});
    });
    return fx;
  }
  throw new Error("no free port for the DNS fixture");
}

if (import.meta.main) {
  const fx = await startDnsFixture(Number(Deno.args[0] ?? 0));
  console.log(`dns fixture on 127.0.0.1:${fx.port}`);
}
