/**
 * Words quoted for a shell, for the commands our messages give a user to paste: a path or name of theirs
 * goes in as one word, whatever it holds, and nothing in it expands.
 */

/** `word` as one shell word: as it is when nothing in it would expand, else single-quoted. */
export function shellQuoted(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : singleQuoted(word);
}

/** `text` as one shell word in single quotes, where nothing expands (a `'` in it closed, escaped, reopened). */
export function singleQuoted(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}
