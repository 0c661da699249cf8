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

/** Reads the token file: its first line, which must not be empty. */
export async function readTokenFile(path: string): Promise<string> {
  let content: string;
  try {
    content = await Deno.readTextFile(path);
  } catch (err) {
    throw new UsageError(`--http-token: cannot read ${path}: ${(err as Error).message}`);
  }
  const token = content.split("\n")[0]!.trim();
  if (token.length < 8) {
    throw new UsageError(`--http-token: ${path} must hold a token of 8 characters or more`);
  }
  return token;
}

/** Starts the web view of switch `sw`, labelled `name` in metrics. */
export async function startSwitchWeb(
  sw: Switch,
  name: string,
  address: string,
  tokenFile: string | undefined,
): Promise<WebServer> {
  let addr;
  try {
    addr = parseHttpAddress(address);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const token = tokenFile === undefined ? undefined : await readTokenFile(tokenFile);
  const status = new SwitchStatus(sw, name);
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
