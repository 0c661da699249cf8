/**
 * Where root's labs keep their switches, and what a lab's name looks like:
 * the two facts a VDE client (`vde plug`, `vde slirp`) needs to tell a lab's
 * switch directory when it explains a refusal. They live here, apart from
 * src/lab/names.ts (which re-exports them), so those commands load no lab
 * code (test/cli/vde.test.ts pins it: names.ts pulls node:crypto and more).
 */

/** Characters allowed in lab and node names (they end up in file and interface names). */
export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;

/** Where root's labs live (another user's are under their runtime directory). */
export const ROOT_LABS_DIR = "/run/vde";
