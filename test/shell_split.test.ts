/** Words of a console line split as a shell user types them: quotes and backslashes, nothing expanded. */
import assert from "node:assert/strict";
import { shellWords, UnclosedQuote } from "../src/shell_split.ts";
import { shellQuoted } from "../src/shell_quote.ts";

Deno.test("a line splits into words as sh splits it: quotes and backslashes keep blanks in a word", () => {
  assert.deepEqual(shellWords("  h1 -w   x.pcap\t-c 3 "), ["h1", "-w", "x.pcap", "-c", "3"]);
  assert.deepEqual(shellWords("-w 'my cap.pcapng'"), ["-w", "my cap.pcapng"]);
  assert.deepEqual(shellWords('-w "my cap.pcapng"'), ["-w", "my cap.pcapng"]);
  assert.deepEqual(shellWords("-w my\\ cap.pcapng"), ["-w", "my cap.pcapng"]);
  assert.deepEqual(shellWords(`a'b c'"d e"f`), ["ab cd ef"], "quoted parts join the word around them");
  assert.deepEqual(
    shellWords(`"a \\" \\\\ \\$x \\n"`),
    [`a " \\ $x \\n`],
    'in double quotes only \\" \\\\ \\$ \\` escape',
  );
  assert.deepEqual(
    shellWords(`'a\\b' $HOME`),
    ["a\\b", "$HOME"],
    "nothing expands, a backslash in '' is itself",
  );
  assert.deepEqual(shellWords("'' x"), ["", "x"], "an empty quoted word is a word");
  assert.deepEqual(shellWords(""), []);
});

Deno.test("a quote left open or a backslash ending the line is refused, not guessed at", () => {
  assert.throws(() => shellWords("-w 'my cap.pcapng"), UnclosedQuote);
  assert.throws(() => shellWords('-w "my cap'), /unclosed quote " at character 4/);
  assert.throws(() => shellWords("-w my\\"), /ends in a backslash/);
});

Deno.test("every word shellQuoted makes splits back to itself", () => {
  const words = ["plain", "my cap.pcapng", "it's", "a\\b", '"q"', "$HOME", "", "tab\there"];
  assert.deepEqual(shellWords(words.map(shellQuoted).join(" ")), words);
});
