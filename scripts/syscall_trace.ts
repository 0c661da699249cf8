/**
 * What a slirp's sends and reads looked like in a run, from `perf script`
 * of the syscall tracepoints `scripts/slirp_down_rig.ts` records with
 * RIG_PERF=trace: how many frames each `sendmmsg` carried and how many it
 * asked for (a send that took fewer met a full peer: EAGAIN, the frames
 * then wait for EPOLLOUT), the single `sendto`s and their failures, and
 * the host socket's read sizes. These answer "do our bursts overrun the
 * switch's socket?" and "how much does one read take?" directly, where
 * CPU and context-switch counts only hint.
 *
 * Theory of operation: perf prints one line per event; an enter line of
 * `sendmmsg` carries `vlen` (frames asked), its exit line the count sent
 * or a negative errno, both on the same thread, so the asked count is
 * kept per thread id until its exit. Lines of other events, and of other
 * threads, are ignored; a line that does not parse is skipped (a trace cut
 * short mid-line).
 */

/** The summary of one trace. */
export interface SyscallSummary {
  /** `sendmmsg` calls that returned. */
  sendmmsg: number;
  /** Frames they asked to send and frames sent. */
  framesAsked: number;
  framesSent: number;
  /** Calls that sent fewer than asked (a full peer), and calls that failed outright. */
  short: number;
  failed: number;
  /** The frames asked per call: median, 90th percentile, largest (0 without calls). */
  batchMedian: number;
  batchP90: number;
  batchMax: number;
  /** Single sends: calls, and those that failed (EAGAIN among them). */
  sendto: number;
  sendtoFailed: number;
  /** Reads that returned data, their bytes, and the median read. */
  reads: number;
  readBytes: number;
  readMedian: number;
}

const LINE = /^\s*\S.*?\s(\d+)\s+\[\d+\]\s+[\d.]+:\s+syscalls:sys_(enter|exit)_(\w+):\s*(.*)$/;

/** A perf field's value as a signed 64-bit number (perf prints return values in hex, two's complement). */
function signedHex(text: string): number {
  const v = BigInt.asIntN(64, BigInt(text));
  return Number(v);
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))]!;
}

/** Summarises `perf script` output of sys_enter_sendmmsg, sys_exit_sendmmsg, sys_exit_sendto and sys_exit_read. */
export function summariseSyscalls(text: string): SyscallSummary {
  const asked = new Map<string, number>();
  const batches: number[] = [];
  const readSizes: number[] = [];
  const s: SyscallSummary = {
    sendmmsg: 0,
    framesAsked: 0,
    framesSent: 0,
    short: 0,
    failed: 0,
    batchMedian: 0,
    batchP90: 0,
    batchMax: 0,
    sendto: 0,
    sendtoFailed: 0,
    reads: 0,
    readBytes: 0,
    readMedian: 0,
  };
  for (const line of text.split("\n")) {
    const m = LINE.exec(line);
    if (m === null) continue;
    const [, tid, dir, call, rest] = m as unknown as [string, string, string, string, string];
    if (dir === "enter") {
      if (call !== "sendmmsg") continue;
      const vlen = /vlen: (0x[0-9a-f]+)/.exec(rest);
      if (vlen !== null) asked.set(tid, Number(vlen[1]));
      continue;
    }
    const ret = /^(0x[0-9a-f]+)/.exec(rest.trim());
    if (ret === null) continue;
    const value = signedHex(ret[1]!);
    if (call === "sendmmsg") {
      const want = asked.get(tid);
      asked.delete(tid);
      if (want === undefined) continue; // Its enter was before the trace began.
      s.sendmmsg++;
      s.framesAsked += want;
      batches.push(want);
      if (value < 0) s.failed++;
      else {
        s.framesSent += value;
        if (value < want) s.short++;
      }
    } else if (call === "sendto") {
      s.sendto++;
      if (value < 0) s.sendtoFailed++;
    } else if (call === "read" && value > 0) {
      s.reads++;
      s.readBytes += value;
      readSizes.push(value);
    }
  }
  batches.sort((a, b) => a - b);
  readSizes.sort((a, b) => a - b);
  s.batchMedian = quantile(batches, 0.5);
  s.batchP90 = quantile(batches, 0.9);
  s.batchMax = batches.length === 0 ? 0 : batches[batches.length - 1]!;
  s.readMedian = quantile(readSizes, 0.5);
  return s;
}

/** One line for a run: per MB moved (`mb`), so runs of different rates compare. */
export function formatSyscalls(s: SyscallSummary, mb: number): string {
  const per = (n: number) => (mb > 0 ? n / mb : NaN).toFixed(1);
  return `sendmmsg ${
    per(s.sendmmsg)
  }/MB (frames a call: median ${s.batchMedian}, p90 ${s.batchP90}, max ${s.batchMax}; ` +
    `short ${s.short}, failed ${s.failed}), sendto ${per(s.sendto)}/MB (failed ${s.sendtoFailed}), ` +
    `host reads ${per(s.reads)}/MB (median ${(s.readMedian / 1024).toFixed(0)} KiB)`;
}
