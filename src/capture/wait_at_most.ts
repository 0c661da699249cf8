/**
 * A bounded wait: a capture that stops waits for the other end's last
 * records, but never on an end that left or stalled for good. The timer is
 * cleared either way, so nothing stays armed past the wait.
 */

/** Waits for `promise`, or `ms` milliseconds, whichever comes first; never throws. */
export async function waitAtMost(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([promise.catch(() => {}), new Promise((r) => timer = setTimeout(r, ms))]);
  } finally {
    clearTimeout(timer);
  }
}
