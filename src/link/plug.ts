/**
 * Joining two links: the virtual cable behind `vde plug A B`.
 */
import { discard, type Link } from "./link.ts";

/**
 * Joins `a` and `b` both ways: every frame arriving on one is sent on the
 * other. Resolves, with the reason, when either side closes; the other side
 * is closed too.
 *
 * @param a one end of the cable
 * @param b the other end
 * @returns the reason the first link to end gave
 */
export async function plug(a: Link, b: Link): Promise<string> {
  a.onFrame = (frame) => b.send(frame);
  b.onFrame = (frame) => a.send(frame);
  a.feeds?.(b);
  b.feeds?.(a);
  const reason = await Promise.race([a.closed, b.closed]);
  a.onFrame = discard;
  b.onFrame = discard;
  a.feeds?.(null);
  b.feeds?.(null);
  a.close(`plugged link closed: ${reason}`);
  b.close(`plugged link closed: ${reason}`);
  return reason;
}
