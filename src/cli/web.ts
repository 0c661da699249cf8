/**
 * `--http` and `--http-token` of the commands that serve a web view: turns
 * the flags into a running WebServer, with one-line errors for bad input.
 */
import type { Switch } from "../switch/switch.ts";
import { UsageError } from "./main.ts";
import { log } from "../log.ts";
import { httpListenFailure, parseHttpAddress } from "../web/address.ts";
import { SwitchStatus } from "../web/status.ts";
import { WebServer } from "../web/server.ts";
import { readSecretFile, secretRefusal } from "../os/owned_file.ts";

/** Most a token file may be: a token of a line, with room to spare. */
const MAX_TOKEN_FILE_BYTES = 4096;

/** Reads the token file: its first line, which must not be empty. */
export function readTokenFile(path: string): string {
  // As a secret: a token others may read lets them toggle the switch's ports and hub mode; and root's
  // token file in /tmp may be a FIFO or a link to /dev/zero another user put there first.
  const file = readSecretFile(path, MAX_TOKEN_FILE_BYTES);
  if (typeof file === "string") throw new UsageError(`--http-token: cannot read ${path}: ${file}`);
  if ("openTo" in file) throw new UsageError(`--http-token: ${secretRefusal(path, file)}`);
  const token = file.text.split("\n")[0]!.trim();
  if (token.length < 8) {
    throw new UsageError(`--http-token: ${path} must hold a token of 8 characters or more`);
  }
  return token;
}

/** Starts the web view of switch `sw`, labelled `name` in metrics, `extraMetrics` after its own. */
export function startSwitchWeb(
  sw: Switch,
  name: string,
  address: string,
  tokenFile: string | undefined,
  extraMetrics?: () => string,
): WebServer {
  let addr;
  try {
    addr = parseHttpAddress(address);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const token = tokenFile === undefined ? undefined : readTokenFile(tokenFile);
  const status = new SwitchStatus(sw, name);
  status.extraMetrics = extraMetrics;
  let web: WebServer;
  try {
    web = WebServer.start(status, { ...addr, token });
  } catch (err) {
    status.close();
    throw new UsageError(httpListenFailure(address, err));
  }
  log(
    "vde switch",
    `web view on ${web.url} (metrics at ${web.url}metrics)${token ? ", actions enabled" : ""}`,
  );
  return web;
}
