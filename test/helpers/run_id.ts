/**
 * Which test run owns a namespace, an interface or a temp dir, and whether
 * that run is over: what the sweeper (netns.ts) asks before it removes a
 * dead run's leftovers.
 *
 * A run's objects carry its id (`vdet<id>x...`). The id was the pid, and a
 * run was judged over when no process had that pid; but a pid is only
 * meaningful in its own pid namespace: a run started inside a nested one
 * (CI's runner, `unshare --pid`) has a small pid that means another process
 * (or none) outside, and its sweeper finds no process with an outside run's
 * pid, so each could sweep the other's live namespaces, and two runs could
 * even pick one id.
 *
 * Theory of operation. A root run (only root's make namespaces and
 * interfaces, and only root's sweep) holds for its whole life an flock
 * (src/os/file_lock.ts) on `/run/vde-test-runs/vdet<id>x.lock`, a directory
 * every pid namespace on the machine shares. Its id is its pid, unless
 * another run holds that id's lock (a run in another pid namespace with the
 * same pid): then one above any pid. A run is over when its lock is free:
 * the sweeper takes it, sweeps, and lets go (which removes the file); the
 * kernel frees it however the run ends, and nothing of a pid is compared.
 * A run with no lock file (not root, /run not writable, an older helper)
 * is judged by its pid, as before.
 */
import { type HeldFileLock, tryLockFile } from "../../src/os/file_lock.ts";
import { processAlive } from "../../src/os/processes.ts";

/** Where root's runs hold their locks: shared by every pid namespace that shares /run. */
export const RUNS_DIR = "/run/vde-test-runs";
/** Ids above this are no pid (the kernel's pid_max ceiling): taken when the pid's lock is another run's. */
const PID_MAX_LIMIT = 4_194_304;

/** The lock file of run `id`. */
export function runLockPath(id: number, dir = RUNS_DIR): string {
  return `${dir}/vdet${id}x.lock`;
}

/**
 * An id for this run, held for its life: its pid when that id is free, else
 * one above any pid; the pid without a lock when no lock can be had here.
 */
export function claimRunId(pid = Deno.pid, dir = RUNS_DIR): { id: number; lock?: HeldFileLock } {
  if (Deno.uid() !== 0) return { id: pid };
  try {
    Deno.mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch {
    return { id: pid };
  }
  for (let attempt = 0; attempt < 8; attempt++) {
    const id = attempt === 0 ? pid : PID_MAX_LIMIT + 1 + Math.floor(Math.random() * PID_MAX_LIMIT);
    const lock = tryLockFile(runLockPath(id, dir));
    if ("held" in lock) return { id, lock: lock.held };
    if ("unavailable" in lock) return { id: pid };
  }
  return { id: pid };
}

/** This run's claim: held until the run ends (the kernel drops it however it ends; a normal exit also removes its file). */
const claim = claimRunId();
globalThis.addEventListener("unload", () => claim.lock?.release());
/** This run's id: the `<id>` of its names. */
export const RUN_ID = claim.id;

/**
 * Decides, once per run id, whether that run is over; holds the locks of
 * the runs found over until `release`, so that none is reused while its
 * leftovers are being removed.
 */
export class RunJudge {
  readonly #over = new Map<number, boolean>();
  readonly #held: HeldFileLock[] = [];

  constructor(readonly dir = RUNS_DIR) {}

  /** Whether run `id` is over (its leftovers may go). */
  over(id: number): boolean {
    let over = this.#over.get(id);
    if (over === undefined) {
      over = this.#judge(id);
      this.#over.set(id, over);
    }
    return over;
  }

  #judge(id: number): boolean {
    const path = runLockPath(id, this.dir);
    try {
      Deno.lstatSync(path);
    } catch {
      // No lock: a run of an older helper, or not root's: its pid alone says.
      return !processAlive(id);
    }
    const lock = tryLockFile(path);
    if (!("held" in lock)) return false;
    this.#held.push(lock.held);
    return true;
  }

  /** Lets go of the locks of the runs found over (their files go with them). */
  release(): void {
    for (const lock of this.#held.splice(0)) lock.release();
  }
}
