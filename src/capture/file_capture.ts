/**
 * `vde switch --pcap FILE`: everything the switch forwards, from start-up,
 * written as pcapng (or classic pcap for a name ending in .pcap).
 *
 * Writes go through a bounded queue: when the disk cannot keep up, frames
 * are dropped from the file (counted, and in the closing statistics), never
 * from the switch. A write that fails (the disk full) ends the capture, said
 * once in the switch's log: the file keeps the records written whole (cut
 * back from one the disk took part of), and the switch forwards on without
 * copying frames nowhere.
 */
import {
  CAPTURE_FILE_MODE,
  CaptureFileWriter,
  DEFAULT_SNAPLEN,
  formatForPath,
  nowMicros,
} from "./file_writer.ts";
import type { CaptureHub } from "./hub.ts";
import { describePort, newClient } from "./server.ts";
import { OutputQueue } from "../console/output_queue.ts";
import { openOutputFile } from "../os/output_file.ts";
import { writeFailure } from "../os/write_failure.ts";
import { framesBefore } from "../counted.ts";
import type { Switch } from "../switch/switch.ts";
import { printable } from "../console/reply_format.ts";

/** A running file capture. */
export interface FileCapture {
  /** Frames written and dropped so far; `failed` once a write failed (the counts then say too much). */
  counts(): { captured: number; dropped: number; failed: boolean };
  /** Stops capturing, writes the statistics and closes the file. */
  close(): Promise<void>;
}

/**
 * Starts capturing every port into `path` (created or truncated); `switchName` names its interfaces, `say`
 * is the switch's log.
 */
export function startFileCapture(
  sw: Switch,
  hub: CaptureHub,
  path: string,
  switchName: string,
  say: (message: string) => void = () => {},
  maxPendingBytes = 16 << 20,
): FileCapture {
  // Not through a symlink nor into another user's file: truncating what root's `--pcap /tmp/x.pcap` led to
  // would empty any file.
  const file = openOutputFile(path, { truncate: true, mode: CAPTURE_FILE_MODE });
  // A write that fails (a full disk) ends the capture, said once; the switch forwards on. Before, the file's
  // later frames were dropped in silence, the file cut short, and the closing counts said them captured.
  let failed = false;
  const queue = new OutputQueue(file, (err) => {
    failed = true;
    stop();
    cutToWhole(file, queue.whole);
    say(
      `--pcap ${printable(path)}: cannot write${framesBefore(writer.captured)}: ${writeFailure(err)}; ` +
        "the capture stopped there, the file holding what was written before; the switch forwards on",
    );
  });
  const writer = new CaptureFileWriter(
    formatForPath(path),
    DEFAULT_SNAPLEN,
    (b) => queue.pushBytes(b),
    nowMicros(),
    switchName,
  );
  const drops = new Map<number, number>();
  // Per port, the client its interface describes: one that took a port another left is described anew.
  const described = new Map<number, number>();
  const stop = hub.add({}, (port, direction, frame) => {
    if (queue.pending > maxPendingBytes) {
      const n = (drops.get(port) ?? 0) + 1;
      drops.set(port, n);
      writer.setDropped(port, n);
      return;
    }
    if (newClient(described, sw, port)) writer.describePort(port, describePort(sw, port));
    writer.frame(port, direction, nowMicros(), frame, frame.length);
  });
  let closing: Promise<void> | undefined;
  return {
    counts: () => ({ captured: writer.captured, dropped: writer.dropped, failed }),
    close: () =>
      closing ??= (async () => {
        stop();
        if (!failed) writer.finish(nowMicros());
        await queue.below(0);
        file.close();
      })(),
  };
}

/**
 * Cuts a capture file whose write failed back to its last whole record: the disk took part of the one it
 * failed on, and a reader (tshark, Wireshark) refuses a file that ends mid-record. One that cannot be cut
 * stays as it is: the failure is said either way.
 */
export function cutToWhole(file: Deno.FsFile, whole: number): void {
  try {
    file.truncateSync(whole);
  } catch {
    // Nothing more to do: the file was said to have failed.
  }
}
