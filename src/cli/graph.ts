/** `vde graph FILE`: a lab file as Graphviz DOT on stdout (`vde graph lab.yaml | dot -Tsvg > lab.svg`). */
import type { Command } from "commander";
import { labFileOf, loadLab, topoOption } from "./lab.ts";
import { labDot } from "../web/lab_dot.ts";
import { examples } from "./help.ts";

/** Registers `vde graph`. */
export const graphCommand = (program: Command): void => {
  program.command("graph")
    .description("print a lab file as a Graphviz graph (pipe it to dot -Tsvg)")
    .argument("[file]", "the lab file (default: the one in this directory)")
    .addOption(topoOption())
    .addHelpText("after", examples("vde graph lab.yaml | dot -Tsvg > lab.svg"))
    .action((file: string | undefined, o: { topo?: string }) => {
      const { lab } = loadLab(labFileOf("graph", file, o.topo), "");
      console.log(labDot(lab).trimEnd());
    });
};
