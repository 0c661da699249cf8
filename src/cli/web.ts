/**
 * `--http` and `--http-token` of the commands that serve a web view: turns
 * the flags into a running WebServer, with one-line errors for bad input.
 */
import type { Switch } from "../switch/switch.ts";
import { UsageError } from "./main.ts";
import { readSecretFile } from "../os/secret_file.ts";
import { log } from "../log.ts";
import { httpListenFailure, parseHttpAddress } from "../web/address.ts";
import { SwitchStatus } from "../web/status.ts";
import { WebServer } from "../web/server.ts";

/** Reads the token file: its first line, which must not be empty. */
export async function readTokenFile(path: string): Promise<string> {
  // As a secret: a token others may read lets them toggle the switch's ports and hub mode; and root's
  // token file in /tmp may be a FIFO or a link to /dev/zero another user put there first.
  const read = await readSecretFile(path, 4096);
  if ("failed" in read) throw new UsageError(`--http-token: cannot read ${path}: ${read.failed}`);
  if ("notRegular" in read) throw new UsageError(`--http-token: ${path} is not a regular file`);
  if ("openTo" in read) {
    throw new UsageError(
      `--http-token: ${path} is readable by group or others (mode ${
        read.openTo.toString(8).padStart(4, "0")
      }): chmod 600 ${path}`,
    );
  }
  const content = read.text;
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
