/**
 * The link's once-said lines are bounded per kind: a local user who joins a node over and over, each time
 * with a new description (a new key) and a runt, makes a few lines a window and a count, not a line each.
 */
import assert from "node:assert/strict";
import { openLink } from "../../src/link/registry.ts";
import { ONCE_LINES_PER_WINDOW, setOnceLineWindow } from "../../src/link/link.ts";
import { setLogWriter } from "../../src/log.ts";
import { inTempDir } from "../helpers/temp_dir.ts";
import { waitFor } from "../helpers/processes.ts";
import { RawClient } from "../helpers/vde_clients.ts";

const CLIENTS = 200;
const WINDOW_MS = 4000;

Deno.test("200 clients of a node, each with a new description and a runt, make a bounded number of log lines and a count said later", async () => {
  await inTempDir("link-flood-", async (tmp) => {
    const dir = `${tmp}/hub`;
    const lines: string[] = [];
    setLogWriter((line) => lines.push(line));
    setOnceLineWindow(WINDOW_MS);
    const host = await openLink(`hub://${dir}`);
    const clients: RawClient[] = [];
    const started = Date.now();
    try {
      for (let i = 0; i < CLIENTS; i++) {
        const c = await RawClient.connect(dir);
        clients.push(c);
        await c.handshake(undefined, `flooder ${i}`);
        c.send(new Uint8Array(i % 14));
      }
      const said = () => lines.filter((l) => /: dropped a \d+-byte frame/.test(l));
      const counts = () =>
        lines.map((l) => /(\d+) more runt line\(s\) not logged/.exec(l)).filter((m) => m !== null).map((m) =>
          Number(m![1])
        );
      // The count comes by the window's timer, with no later runt to carry it.
      await waitFor(() => said().length + counts().reduce((a, b) => a + b, 0) === CLIENTS, {
        timeoutMs: 3 * WINDOW_MS + 60_000,
        what: `all ${CLIENTS} runts said or counted`,
      });
      const windows = Math.ceil((Date.now() - started) / WINDOW_MS) + 1;
      assert.ok(counts().length >= 1, lines.join(""));
      assert.ok(
        said().length <= ONCE_LINES_PER_WINDOW * windows,
        `${said().length} lines in ${windows} windows`,
      );
      // The first of the kind is said in full.
      assert.equal(said()[0], "vde: flooder 0: dropped a 0-byte frame (shorter than an Ethernet header)\n");
    } finally {
      setOnceLineWindow(60_000);
      setLogWriter(null);
      for (const c of clients) await c.close();
      host.close();
    }
  });
});
