/**
 * Where `vde switch` forwards when nobody says: on its data-plane thread,
 * unless it carries its own cables, which live on the main thread.
 */
import assert from "node:assert/strict";
import { chooseDataplane } from "../../src/cli/switch.ts";
import { UsageError } from "../../src/cli/main.ts";

function withoutEnv<T>(f: () => T): T {
  const saved = Deno.env.get("VDE_DATAPLANE");
  Deno.env.delete("VDE_DATAPLANE");
  try {
    return f();
  } finally {
    if (saved !== undefined) Deno.env.set("VDE_DATAPLANE", saved);
  }
}

Deno.test("a switch forwards on its thread by default, on the main thread when it carries --cable", () => {
  withoutEnv(() => {
    assert.equal(chooseDataplane({}), "thread");
    assert.equal(chooseDataplane({ cable: [] }), "thread");
    assert.equal(chooseDataplane({ cable: ["udp://127.0.0.1:5000->127.0.0.1:5001"] }), "main");
  });
});

Deno.test("--dataplane and VDE_DATAPLANE override the cable rule; a wrong value is a one-line usage error", () => {
  withoutEnv(() => {
    assert.equal(chooseDataplane({ dataplane: "thread", cable: ["tcp://:5000/listen"] }), "thread");
    assert.equal(chooseDataplane({ dataplane: "main" }), "main");
    Deno.env.set("VDE_DATAPLANE", "thread");
    try {
      assert.equal(chooseDataplane({ cable: ["tcp://:5000/listen"] }), "thread");
    } finally {
      Deno.env.delete("VDE_DATAPLANE");
    }
    assert.throws(() => chooseDataplane({ dataplane: "worker" }), (e: unknown) => {
      assert.ok(e instanceof UsageError);
      assert.match(e.message, /^--dataplane must be "thread" or "main", got "worker"$/);
      return true;
    });
    Deno.env.set("VDE_DATAPLANE", "gpu");
    try {
      assert.throws(() => chooseDataplane({}), (e: unknown) => {
        assert.ok(e instanceof UsageError);
        assert.equal(e.message, 'VDE_DATAPLANE must be "thread" or "main", got "gpu"');
        return true;
      });
      assert.equal(
        chooseDataplane({ dataplane: "main" }),
        "main",
        "--dataplane wins; the variable is not read",
      );
    } finally {
      Deno.env.delete("VDE_DATAPLANE");
    }
  });
});
