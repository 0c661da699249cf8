/** `vde graph FILE`: a lab file as Graphviz DOT on stdout (`vde graph lab.yaml | dot -Tsvg > lab.svg`). */
import type { Command } from "commander";
import { asRunning, checkedName, labFileOf, loadLab, nameOption, topoOption } from "./lab.ts";
import { labDot } from "../web/lab_dot.ts";
import { examples } from "./help.ts";
import { UsageError } from "./usage_error.ts";
import { isDirectory } from "../os/paths.ts";

/**
 * A directory named where a lab file goes is most likely a switch's (`vde
 * graph /tmp/net`): its graph is on its web view, which the lab file's
 * reader would only call "Is a directory".
 */
function refuseDirectory(path: string): void {
  // Anything else (missing, unreadable) the lab file's reader says what is wrong with.
  if (!isDirectory(path)) return;
  throw new UsageError(
    `vde graph draws a lab file, and ${path} is a directory; a running switch's graph is on its web view ` +
      `(vde switch --http PORT): curl -s http://127.0.0.1:PORT/topology.dot | dot -Tsvg > net.svg`,
  );
}

/** Registers `vde graph`. */
export const graphCommand = (program: Command): void => {
  program.command("graph")
    .description("print a lab file as a Graphviz graph (pipe it to dot -Tsvg)")
    .argument("[file]", "the lab file (default: the one in this directory)")
    .addOption(topoOption())
    .addOption(nameOption("draw the file as lab NAME runs it (vde up --name NAME): its name and variables"))
    .addHelpText("after", examples("vde graph lab.yaml | dot -Tsvg > lab.svg"))
    .action((file: string | undefined, o: { topo?: string; name?: string }) => {
      // Said of the option, as vde up, down and status say it, not at the file's `name:`.
      checkedName(o.name);
      const path = labFileOf("graph", file ?? (o.topo === undefined ? o.name : undefined), o.topo);
      refuseDirectory(path);
      // A running lab's file as it runs it (`vde graph demo`, `--name s1`): with its name and variables.
      const given = file ?? o.topo;
      const how = o.name !== undefined
        ? { ...asRunning(o.name), name: o.name }
        : given !== undefined && path !== given
        ? asRunning(given)
        : {};
      const { lab } = loadLab(path, "", how);
      console.log(labDot(lab).trimEnd());
    });
};
