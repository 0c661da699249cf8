/**
 * "Did you mean": the nearest of a few known words to a mistyped one, by
 * edit distance, close enough to be a typo (a third of the word's length,
 * at least one edit), and the words an error offers them in. Shared by the
 * lab file's checks, the VNL parsers, the consoles' command suggestions and
 * the command line, so every "did you mean" reads alike.
 */

/**
 * The edit distance of two short strings: insertions, deletions,
 * substitutions and swaps of two neighbours (`kye` is one edit from `key`,
 * the commonest typo of all). Stops early, with `max + 1`, once it must
 * exceed `max`: a suggestion only cares about near words.
 */
export function editDistance(a: string, b: string, max = Infinity): number {
  if (Math.abs(a.length - b.length) > max) return max + 1;
  let prev2: number[] = [];
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    let best = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        d = Math.min(d, prev2[j - 2]! + 1);
      }
      row.push(d);
      best = Math.min(best, d);
    }
    if (best > max) return max + 1;
    prev2 = prev;
    prev = row;
  }
  return prev[b.length]!;
}

/** The closest of `candidates` to `word`, when it is close enough to be a typo. */
export function didYouMean(word: string, candidates: readonly string[]): string | undefined {
  const limit = Math.max(1, Math.ceil(word.length / 3));
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase(), limit);
    if (d < bestDistance) [best, bestDistance] = [c, d];
  }
  return bestDistance <= limit ? best : undefined;
}

/** What a user may have meant: one word, several, or none ("" or undefined). */
export type Suggested = string | readonly string[] | undefined;

/** `did you mean a, b?`, or "" when nothing is near. */
export function didYouMeanText(near: Suggested): string {
  const words = typeof near === "string" ? (near === "" ? [] : [near]) : near ?? [];
  return words.length > 0 ? `did you mean ${words.join(", ")}?` : "";
}

/** The clause an error ends with, ` (did you mean a, b?)`, or "" when nothing is near. */
export function didYouMeanClause(near: Suggested): string {
  const text = didYouMeanText(near);
  return text === "" ? "" : ` (${text})`;
}

/** `(did you mean a? known: a, b, c)`: the parenthesis an unknown option or scheme is answered with. */
export function knownClause(near: Suggested, known: readonly string[]): string {
  const text = didYouMeanText(near);
  return `(${text === "" ? "" : `${text} `}known: ${known.join(", ")})`;
}
