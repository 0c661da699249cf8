/**
 * A line of words as a shell user types them (`-w 'my cap.pcapng'`, `-w my\ cap.pcapng`), split as
 * POSIX sh splits them, without expanding anything: blanks part words; single quotes keep everything to
 * the next one; double quotes keep everything but a backslash before `"`, `\`, `$` or `` ` ``, which keeps
 * that character; a backslash outside quotes keeps the next character. The inverse of shell_quote.ts's
 * shellQuoted for every word it makes.
 *
 * A quote left open (or a backslash with nothing after it) is refused: a shell would read the next line
 * as the rest of the word, and a console line has none, so guessing where it ends would name another file.
 */

/** A line `shellWords` cannot split: a quote it does not close, or a backslash at its end. */
export class UnclosedQuote extends Error {}

/**
 * The words of `line`, quotes and backslashes taken off.
 *
 * @throws UnclosedQuote where a quote is left open or the line ends in a backslash
 */
export function shellWords(line: string): string[] {
  const words: string[] = [];
  let word = "";
  // A word begun ('' is one, empty): quotes make a word even of nothing.
  let inWord = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === " " || c === "\t" || c === "\n") {
      if (inWord) words.push(word);
      word = "";
      inWord = false;
      continue;
    }
    inWord = true;
    if (c === "\\") {
      if (i + 1 >= line.length) throw new UnclosedQuote("the line ends in a backslash: nothing follows it");
      word += line[++i];
    } else if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) throw new UnclosedQuote(`unclosed quote ' at character ${i + 1}`);
      word += line.slice(i + 1, end);
      i = end;
    } else if (c === '"') {
      let j = i + 1;
      for (; j < line.length && line[j] !== '"'; j++) {
        if (line[j] === "\\" && j + 1 < line.length && `"\\$\``.includes(line[j + 1]!)) j++;
        word += line[j];
      }
      if (j >= line.length) throw new UnclosedQuote(`unclosed quote " at character ${i + 1}`);
      i = j;
    } else word += c;
  }
  if (inWord) words.push(word);
  return words;
}
