/**
 * `vde graph FILE`: a lab file as Graphviz DOT on stdout (`vde graph lab.yaml | dot -Tsvg > lab.svg`).
 * A Graphviz user's `-T FORMAT` and `-o FILE` (dot's own words) are taken: the DOT text is rendered by
 * Graphviz's `dot` (a format other than dot/gv), into FILE (its extension the format when -T is not
 * given), opened as every output file is (never through another user's symlink).
 */
import type { Command } from "commander";
import { asRunning, checkedName, labFileOf, loadLab, nameOption, topoOption } from "./lab.ts";
import { labDot } from "../web/lab_dot.ts";
import { examples } from "./help.ts";
import { UsageError } from "./usage_error.ts";
import { isDirectory } from "../os/paths.ts";
import { openOutputFile } from "../os/output_file.ts";
import { forPeople } from "./main.ts";

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

/** The format `-T` or `-o FILE`'s extension asks for; "dot" (the text itself) when neither says. */
export function graphFormat(format: string | undefined, output: string | undefined): string {
  if (format !== undefined) return format.toLowerCase();
  const ext = /\.([A-Za-z0-9]+)$/.exec(output ?? "")?.[1]?.toLowerCase();
  return ext === undefined || ext === "gv" ? "dot" : ext;
}

/** dot's formats that are no text: written to a terminal they garble it (dot itself writes them there). */
const BINARY_FORMATS = new Set([
  "png",
  "gif",
  "jpg",
  "jpeg",
  "jpe",
  "bmp",
  "ico",
  "pdf",
  "webp",
  "tif",
  "tiff",
  "gd",
  "gd2",
  "wbmp",
  // svg and vml gzipped: a text format's name, compressed bytes.
  "svgz",
  "vmlz",
]);

/**
 * Why `format` is not written to stdout, a terminal (`vde graph lab.yaml
 * -T png` typed as is), with where it goes instead; undefined where it may
 * be: a text format, a file (`-o`), or stdout that is a pipe or a file.
 */
export function binaryToTerminal(
  format: string,
  output: string | undefined,
  terminal: boolean,
): string | undefined {
  if (!terminal || (output !== undefined && output !== "-") || !BINARY_FORMATS.has(format)) return undefined;
  return `refusing to write ${format} to a terminal: -o lab.${format} writes it to a file, or redirect it ` +
    `(> lab.${format}); -T svg and the DOT text (no -T) are text`;
}

/** The DOT text rendered as `format` by Graphviz's dot (the text itself for dot). */
async function rendered(dot: string, format: string): Promise<Uint8Array> {
  const text = new TextEncoder().encode(dot);
  if (format === "dot" || format === "gv") return text;
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command("dot", {
      args: [`-T${format}`],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    })
      .spawn();
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
    throw new UsageError(
      `-T ${format} is drawn by Graphviz's dot, which is not installed (apt-get install graphviz); ` +
        "`vde graph FILE -o lab.dot` writes the graph without it",
    );
  }
  const writer = child.stdin.getWriter();
  await writer.write(text).catch(() => {});
  await writer.close().catch(() => {});
  const out = await child.output();
  if (!out.success) {
    const why = new TextDecoder().decode(out.stderr).trim().split("\n")[0]?.replace(/^Error: /, "");
    throw new UsageError(`dot -T${format}: ${why || `exited with status ${out.code}`}`);
  }
  return out.stdout;
}

/** Writes `bytes` to `path`, or to stdout when there is none. */
async function writeOut(bytes: Uint8Array, path: string | undefined): Promise<void> {
  if (path === undefined || path === "-") {
    for (let at = 0; at < bytes.length;) at += await Deno.stdout.write(bytes.subarray(at));
    return;
  }
  try {
    using out = openOutputFile(path, { truncate: true });
    for (let at = 0; at < bytes.length;) at += await out.write(bytes.subarray(at));
  } catch (err) {
    throw new UsageError(`cannot write ${path}: ${forPeople((err as Error).message)}`);
  }
}

/** Registers `vde graph`. */
export const graphCommand = (program: Command): void => {
  program.command("graph")
    .description("print a lab file as a Graphviz graph (-o lab.svg draws it with dot)")
    .argument("[file]", "the lab file (default: the one in this directory)")
    .addOption(topoOption())
    .addOption(nameOption("draw the file as lab NAME runs it (vde up --name NAME): its name and variables"))
    .option(
      "-T, --format <format>",
      "render it with Graphviz's dot in this format (svg, png, pdf...), as dot -T",
    )
    .option("-o, --output <file>", "write it to FILE (its extension the format unless -T says)")
    .addHelpText(
      "after",
      examples(
        "vde graph lab.yaml | dot -Tsvg > lab.svg",
        "vde graph lab.yaml -o lab.svg    # the same (dot -Tsvg), or -o lab.png, -o lab.dot",
        "vde graph demo -Tpng > demo.png  # running lab demo's file",
      ),
    )
    .action(
      async (
        file: string | undefined,
        o: { topo?: string; name?: string; format?: string; output?: string },
      ) => {
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
        const { lab } = loadLab(path, "", { ...how, drawOnly: true });
        const format = graphFormat(o.format, o.output);
        const refused = binaryToTerminal(format, o.output, Deno.stdout.isTerminal());
        if (refused !== undefined) throw new UsageError(refused);
        await writeOut(await rendered(labDot(lab).trimEnd() + "\n", format), o.output);
      },
    );
};
