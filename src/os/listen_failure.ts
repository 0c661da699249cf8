/**
 * Why a TCP listen failed, in the words that say what to do: a port in use
 * is another program's (one asked for as 0 is free and gets logged), and
 * below 1024 only root (CAP_NET_BIND_SERVICE) may listen. For `--http` and
 * `vde cable listen`, which print it after their own "cannot listen on X".
 */

/** `: <reason>` plus what to do, for a failure `err` of listening as option `option` (`--http`, `vde cable listen`). */
export function listenFailure(err: unknown, option: string, example: string): string {
  const fix = err instanceof Deno.errors.AddrInUse
    ? `; ${option} 0 takes a free port`
    : err instanceof Deno.errors.PermissionDenied
    ? `; ports below 1024 need root: ${option} ${example}, say`
    : "";
  return `: ${(err as Error).message}${fix}`;
}
