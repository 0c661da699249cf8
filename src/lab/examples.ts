/**
 * The example labs of examples/, carried inside the program.
 *
 * Theory of operation: the files are imported as text, so `deno bundle` and
 * `deno compile` put them in dist/vde.js and the binary, where no examples/
 * directory is beside them (a lab machine gets the one file). `vde example
 * NAME` prints one to start a lab file from. Their first line points editors
 * at ../schema/lab.schema.json, a path only the checkout has; what is
 * printed leaves it out.
 */
import classLab from "../../examples/class.yaml" with { type: "text" };
import lanNat from "../../examples/lan-nat.yaml" with { type: "text" };
import lossyWan from "../../examples/lossy-wan.yaml" with { type: "text" };
import stpLoop from "../../examples/stp-loop.yaml" with { type: "text" };
import vlanTrunk from "../../examples/vlan-trunk.yaml" with { type: "text" };

/** Each example's text by its name, its file's name without `.yaml`. */
export const EXAMPLE_LABS: Readonly<Record<string, string>> = {
  "class": classLab,
  "lan-nat": lanNat,
  "lossy-wan": lossyWan,
  "stp-loop": stpLoop,
  "vlan-trunk": vlanTrunk,
};

/** The example as `vde example` prints it: without the schema line that names a checkout's file. */
export function exampleText(name: string): string | undefined {
  if (!isExample(name)) return undefined;
  return EXAMPLE_LABS[name]!.replace(/^# yaml-language-server: \$schema=\S*\n/, "");
}

/** What an example is for: the first sentence of its opening comment, joined onto one line. */
export function exampleSummary(text: string): string {
  const comment = text.split("\n").filter((l) => l.startsWith("# ") && !l.includes("$schema="))
    .map((l) => l.slice(2)).join(" ");
  return comment.split(/:|\. /)[0]!;
}

/** The example a missing lab file named, `examples/lan-nat.yaml` or `lan-nat.yml`, if vde carries it. */
export function exampleNamedBy(file: string): string | undefined {
  const name = file.slice(file.lastIndexOf("/") + 1).replace(/\.ya?ml$/, "");
  return isExample(name) ? name : undefined;
}

/** Whether `name` is an example's: its own key, not one every object inherits (`constructor`, `toString`). */
function isExample(name: string): boolean {
  return Object.hasOwn(EXAMPLE_LABS, name);
}
