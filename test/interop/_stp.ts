/** Reading our switch's spanning tree through its management socket. */
import type { MgmtClient } from "../../src/console/client.ts";

/** One row of the `stp` table. */
export interface StpRow {
  port: number;
  role: string;
  state: string;
}

/** The port rows of our `stp` command's table. */
export async function stpRows(console: MgmtClient): Promise<StpRow[]> {
  const reply = await console.command("stp");
  return (reply.lines ?? []).flatMap((line) => {
    const m = /^\s*(\d+)\s+[0-9a-f]{4}\s+(\w+)\s+(\w+)/.exec(line);
    return m === null ? [] : [{ port: Number(m[1]), role: m[2]!, state: m[3]! }];
  });
}
