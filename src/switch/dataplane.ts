/**
 * Where a switch forwards, as a user names it: `vde switch --dataplane`,
 * $VDE_DATAPLANE (read by `vde switch` and by labs), a lab node's
 * `dataplane:`. One parse, so a value refused in one place is refused in
 * all, with the same one-line reason.
 */

/** "thread": a data-plane Worker forwards; "main": the main thread does. */
export type Dataplane = "main" | "thread";

/**
 * The data plane `text` names.
 *
 * @throws Error `WHAT must be "thread" or "main", got "TEXT"`
 */
export function parseDataplane(text: string, what: string): Dataplane {
  if (text === "main" || text === "thread") return text;
  throw new Error(`${what} must be "thread" or "main", got "${text}"`);
}

/**
 * The data plane $VDE_DATAPLANE names, undefined when it is unset.
 *
 * @throws Error naming the variable when its value names none
 */
export function envDataplane(): Dataplane | undefined {
  const text = Deno.env.get("VDE_DATAPLANE");
  return text === undefined ? undefined : parseDataplane(text, "VDE_DATAPLANE");
}
