/**
 * A process that asks a GroupSignalWitness about each INT and QUIT it
 * gets and prints `SIGINT group`, `SIGINT alone` or `SIGINT unknown`, and
 * `SIGHUP` for a HUP (which it outlives); `ready` once listening.
 * Run it as its group's leader (setsid), so `kill -INT -PID` is its group's.
 * Stdin's end ends it, its witness closed first.
 */
import { GroupSignalWitness } from "../../src/os/group_witness.ts";

// Started before listening, as INT and QUIT came (ignored, under `trap ''`), to show it tells them all the same.
const witness = new GroupSignalWitness().start();
for (const signal of ["SIGINT", "SIGQUIT"] as const) {
  Deno.addSignalListener(signal, async () => {
    const answer = await witness.sentToGroup(signal);
    console.log(`${signal} ${answer === undefined ? "unknown" : answer ? "group" : "alone"}`);
  });
}
Deno.addSignalListener("SIGHUP", () => console.log("SIGHUP"));
console.log("ready");
for await (const _ of Deno.stdin.readable) { /* until EOF */ }
await witness.close();
console.log("closed");
Deno.exit(0);
