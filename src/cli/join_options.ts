/**
 * Repeated slirp option flags: `vde slirp -o A -o B` and `vde switch
 * --slirp=A --slirp=B` are one slirp with the options of both, as `-o A/B`,
 * where commander kept the last alone and dropped the rest in silence (a
 * `tftp=` lost to a later `addr=`). Its own module: `vde switch` loads the
 * slirp's code only when a switch has one.
 */

/** The options so far (`previous`) with those of one more flag (`value`), in vdeplug's `A/B` form. */
export function joinOptions(value: string, previous: string | undefined): string {
  if (previous === undefined) return value;
  // A later one pasted as a whole VNL joins by its options (slirpConfigFromFlags reads the first's prefix).
  return `${previous}/${value.startsWith("slirp:///") ? value.slice("slirp://".length) : value}`;
}
