/**
 * Argument parsing for console commands. Stricter than vde_switch's atoi:
 * `port/print 3abc` is an invalid argument here, not port 3, so a typo is
 * reported instead of acting on the wrong port.
 */

/** Splits an argument string on blanks. */
export function words(args: string): string[] {
  return args.split(/[ \t]+/).filter((w) => w !== "");
}

/** A decimal integer (optionally negative), or undefined for anything else. */
export function parseInteger(text: string | undefined): number | undefined {
  if (text === undefined || !/^-?\d{1,15}$/.test(text)) return undefined;
  return Number(text);
}

/** `1`/`0` and `on`/`off` (any case) as a boolean, or undefined. */
export function parseSwitch(text: string | undefined): boolean | undefined {
  if (text === undefined) return undefined;
  const t = text.toLowerCase();
  if (t === "1" || t === "on") return true;
  if (t === "0" || t === "off") return false;
  return undefined;
}
