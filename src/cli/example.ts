/**
 * `vde example [NAME]`: the example labs the program carries, listed, or
 * one printed as a lab file to start from (`vde example lan-nat > lan.yaml`).
 * With only dist/vde.js or a compiled binary on a machine there is no
 * examples/ directory to run `vde up examples/lan-nat.yaml` from.
 */
import type { Command } from "commander";
import { didYouMean, didYouMeanClause } from "../did_you_mean.ts";
import { EXAMPLE_LABS, exampleSummary, exampleText } from "../lab/examples.ts";
import { examples } from "./help.ts";
import { UsageError } from "./main.ts";

/** Registers `vde example`. */
export const exampleCommand = (program: Command): void => {
  program.command("example")
    .description("list the example labs vde carries, or print one as a lab file for vde up")
    .argument("[name]", "the example to print")
    .addHelpText(
      "after",
      examples(
        "vde example                      # their names and what each shows",
        "vde example lan-nat > lan.yaml   # then: vde up lan.yaml; ip netns exec vde-lan-h1 ping 10.0.2.2",
      ),
    )
    .action((name: string | undefined) => {
      const names = Object.keys(EXAMPLE_LABS);
      if (name === undefined) {
        const width = Math.max(...names.map((n) => n.length));
        for (const n of names) console.log(`${n.padEnd(width)}  ${exampleSummary(EXAMPLE_LABS[n]!)}`);
        return;
      }
      const text = exampleText(name);
      if (text === undefined) {
        throw new UsageError(
          `no example ${name}${didYouMeanClause(didYouMean(name, names))}; the examples: ${names.join(", ")}`,
        );
      }
      Deno.stdout.writeSync(new TextEncoder().encode(text));
    });
};
