/** vde's own version (deno.json's), shown by `--version` and the console's `showinfo`. */
export const VERSION = "0.1.0";
