/**
 * A rig for repl_tty.test.ts: a Repl prompt (`rig$`) at the terminal where
 * the line `worker` starts a data-plane Worker just after the prompt is
 * back (as `add switch` in the lab shell does) and, once the Worker has
 * loaded and the console has had its word, creates the file named by the
 * first argument. Run with `deno run` (not --quiet), stderr the terminal.
 */
import { Repl } from "../../src/console/repl.ts";
import { WorkerHandle } from "../../src/dataplane/worker_handle.ts";

const [marker] = Deno.args;
if (marker === undefined) throw new Error("usage: _worker_load_at_prompt.ts MARKER-FILE");

const repl = new Repl({
  prompt: "rig$ ",
  run: (line) => {
    if (line.trim() !== "worker") return Promise.resolve(`unknown: ${line}\n`);
    // After this line's prompt is drawn: Deno's load of the worker then erases a prompt for sure.
    setTimeout(async () => {
      const handle = new WorkerHandle(
        "rx_worker",
        new URL("../../src/dataplane/rx_worker.ts", import.meta.url),
      );
      await handle.loaded;
      await handle.stop(Promise.resolve(), 1000);
      await Deno.writeTextFile(marker, "loaded\n");
    }, 0);
    return Promise.resolve("starting a worker\n");
  },
  complete: (line) => Promise.resolve([[], line]),
  onQuit: () => Deno.exit(0),
  interruptHint: "Ctrl-C again to quit",
});
repl.start();
