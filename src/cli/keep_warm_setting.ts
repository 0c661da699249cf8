/**
 * `vde switch`, `vde plug` and `vde up` read $VDE_KEEP_WARM_MS before they
 * make anything, so a malformed value stops them with one line (bad input,
 * status 1) rather than a thread that fails to start with a lab half up.
 * The threads' own reading (dataplane/keep_warm.ts) throws an error of its
 * own, since the library must not load the command line's modules.
 */
import { keepWarmMs, KeepWarmSettingError } from "../dataplane/keep_warm.ts";
import { UsageError } from "./usage_error.ts";

/** Throws UsageError when $VDE_KEEP_WARM_MS names no keep-warm window. */
export function checkKeepWarmSetting(): void {
  try {
    keepWarmMs();
  } catch (err) {
    throw err instanceof KeepWarmSettingError ? new UsageError(err.message) : err;
  }
}
