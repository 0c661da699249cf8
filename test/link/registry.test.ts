/**
 * The registry's word on a misspelt VNL: a known scheme written with one
 * colon (`tap:t0`) is a switch path to it, and the missing directory comes
 * with the VNL the user meant.
 */
import assert from "node:assert/strict";
import { openLink, schemes } from "../../src/link/registry.ts";

async function refusal(vnl: string): Promise<string> {
  try {
    const link = await openLink(vnl);
    link.close();
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error(`${vnl} opened`);
}

Deno.test("a registered scheme written with one colon and no slashes is answered with 'did you mean SCHEME://REST?'", async () => {
  for (const scheme of schemes()) {
    const message = await refusal(`${scheme}:x${Deno.pid}`);
    assert.match(
      message,
      new RegExp(`\\(did you mean ${scheme.replace(/[+.]/g, "\\$&")}://x${Deno.pid}\\?\\)$`),
    );
    assert.ok(!message.includes("\n"), message);
  }
  assert.match(await refusal("slirp:/tcpfwd=8080:80"), /did you mean slirp:\/\/\/tcpfwd=8080:80\?/);
});

Deno.test("a missing switch path that names no scheme gets no scheme hint", async () => {
  for (const vnl of [`/nonexistent-${Deno.pid}`, `nosuchscheme:x${Deno.pid}`, `relative-${Deno.pid}`]) {
    const message = await refusal(vnl);
    assert.match(message, /no switch at .*: the directory does not exist$/);
  }
});
