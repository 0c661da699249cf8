/**
 * A stand-in for the switch thread's worker that consumes ringIn only when
 * the test says, over a BroadcastChannel: it says `{ ready: true }` once it
 * has the ring; `{ take: n }` frees n frames and answers `{ took }`; `{
 * stop: true }` makes it answer its stop (switch_thread_inlet.test.ts).
 * Commands are ignored.
 */
import { FrameRing } from "../../src/dataplane/frame_ring.ts";
import type { SwitchStart } from "../../src/dataplane/switch_layout.ts";

const scope = self as unknown as {
  onmessage: ((e: MessageEvent<SwitchStart | object>) => void) | null;
  postMessage(message: unknown): void;
};
const channel = new BroadcastChannel("switch-ring-puppet");
let ring: FrameRing | null = null;
scope.onmessage = (e) => {
  if (!("ringIn" in e.data)) return;
  ring = FrameRing.attach(e.data.ringIn);
  channel.postMessage({ ready: true });
};
channel.onmessage = (e: MessageEvent<{ take?: number; stop?: boolean }>) => {
  if (e.data.stop) {
    channel.close();
    scope.postMessage({ stopped: true });
    return;
  }
  const took = ring === null ? -1 : ring.drainTagged(() => {}, e.data.take ?? 0);
  channel.postMessage({ took });
};
