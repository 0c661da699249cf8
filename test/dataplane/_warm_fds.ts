/**
 * The warm-ups' fd calls, made for real and recorded, so a test accounts for
 * the fds one warm-up opened rather than counting /proc/self/fd, which other
 * threads of the test process change meanwhile.
 */
import assert from "node:assert/strict";
import { LIBC_FDS, type WarmFds } from "../../src/dataplane/warm_fds.ts";

/** Makes the real calls; remembers which fd numbers were opened and which closed (and whether that worked). */
export class RecordingFds implements WarmFds {
  readonly opened: number[] = [];
  readonly closed: number[] = [];
  /** Closes that failed: an fd closed twice, or never opened. */
  readonly failedCloses: number[] = [];

  pair(): [number, number] | null {
    const sv = LIBC_FDS.pair();
    if (sv !== null) this.opened.push(...sv);
    return sv;
  }

  eventfd(): number {
    const fd = LIBC_FDS.eventfd();
    if (fd >= 0) this.opened.push(fd);
    return fd;
  }

  close(fd: number): number {
    const ret = LIBC_FDS.close(fd);
    (ret === 0 ? this.closed : this.failedCloses).push(fd);
    return ret;
  }

  /** Asserts that the warm-up opened `count` fds and closed each of them exactly once, and nothing else. */
  assertAllClosed(count: number): void {
    assert.equal(this.opened.length, count, `fds opened: ${this.opened}`);
    const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
    assert.deepEqual(sorted(this.closed), sorted(this.opened), "each fd opened closed once");
    assert.deepEqual(this.failedCloses, [], "closes that failed");
  }
}
