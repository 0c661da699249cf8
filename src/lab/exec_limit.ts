/**
 * How long a lab host's command run from the lab console (`exec HOST CMD`, `HOST CMD`) may take. Its own
 * module, without imports: `vde term LAB` waits for such a reply as long, and the console client should not
 * pull the lab's machinery in to learn one number.
 */

/** Seconds the lab console's `exec HOST CMD` may run before it is killed. */
export const CONSOLE_EXEC_TIMEOUT_S = 120;
