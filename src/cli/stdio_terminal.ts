/**
 * The one refusal shared by the commands that can carry frames on
 * stdin/stdout (`vde plug ... -`, `vde wirefilter` in a dpipe): not at a
 * terminal, where keys typed would be read as frames and frames would land
 * on the screen as bytes.
 */
import { UsageError } from "./main.ts";

/**
 * Throws `refusal` when the command uses stdin/stdout and either is a terminal.
 *
 * @throws UsageError
 */
export function refuseStdioAtTerminal(usesStdio: boolean, refusal: string): void {
  if (usesStdio && (Deno.stdin.isTerminal() || Deno.stdout.isTerminal())) throw new UsageError(refusal);
}
