/**
 * What the A/B rigs (slirp_down_rig.ts, conn_rig.ts) share: their command
 * line, `PAIRS SECONDS KIND...` where a kind is `NAME=REPO` (our slirp from
 * the checkout REPO) or a bare name (the C one), and the median their
 * summaries print.
 */

/** One kind a rig runs in turn. */
export interface RigKind {
  name: string;
  /** The checkout whose slirp runs; null for the C one. */
  repo: string | null;
}

/** The rig's pairs, seconds a run (default `seconds`) and kinds from `args`. */
export function rigArgs(
  args: string[],
  seconds: number,
): { pairs: number; seconds: number; kinds: RigKind[] } {
  const [pairsArg, secondsArg, ...kindArgs] = args;
  return {
    pairs: Number(pairsArg ?? 3),
    seconds: Number(secondsArg ?? seconds),
    kinds: kindArgs.map((k) => {
      const [name, repo] = k.split("=");
      return { name: name!, repo: repo ?? null };
    }),
  };
}

/** The median of a non-empty list. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}
