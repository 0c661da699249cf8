/**
 * Test-only entry point: the CLI with the subcommands under test, so CLI
 * tests do not depend on mod.ts.
 */
import { runCli } from "../../src/cli/main.ts";
import { dpipeCommand } from "../../src/cli/dpipe.ts";
import { plugCommand } from "../../src/cli/plug.ts";

Deno.exit(await runCli([plugCommand, dpipeCommand], Deno.args));
