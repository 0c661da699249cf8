/**
 * Who gets a key at the REPL between Enter and the end of that line's
 * command: the command (Ctrl-C, Ctrl-Z, Ctrl-D, and any key while it holds
 * the keyboard), or the next prompt (keys typed ahead, in order). Driven
 * through a fake terminal: the keys are written as bytes, in one write
 * where a user's paste or a quick Enter-then-Ctrl-C would bring them so.
 */
import assert from "node:assert/strict";
import { PassThrough, Writable } from "node:stream";
import { Repl } from "../../src/console/repl.ts";

const HINT = "Ctrl-C again to quit";

/** A command that resolves when the test says so. */
interface Pending {
  line: string;
  finish: (text?: string) => void;
}

/** A Repl on a fake terminal; `run` answers a line itself, or hands it to the test (`pending`). */
class Rig {
  readonly input = new PassThrough();
  screen = "";
  readonly lines: string[] = [];
  readonly quits: string[] = [];
  suspends = 0;
  /** What the keyboard-holding task saw, one entry per task. */
  readonly grabs: string[] = [];
  pending: Pending | undefined;
  readonly repl: Repl;

  /** `exec`: waits a turn (a lab settling) then holds the keyboard until a key; `slow`: held by the test. */
  constructor() {
    const output = new Writable({
      write: (chunk, _enc, done) => {
        this.screen += String(chunk);
        done();
      },
    });
    this.repl = new Repl({
      prompt: "r6$ ",
      run: (line) => this.#run(line),
      complete: (line) => Promise.resolve([[], line]),
      onQuit: (why) => this.quits.push(why),
      interruptHint: HINT,
      onSuspend: () => this.suspends++,
      terminal: { input: this.input, output },
    });
    this.repl.start();
  }

  async #run(line: string): Promise<string> {
    this.lines.push(line);
    if (line === "exec") {
      await new Promise((r) => setTimeout(r, 0));
      await this.#holdKeyboard();
      return "(stopped)\n";
    }
    if (line === "slow" || line === "slow exec") {
      const { promise, resolve } = Promise.withResolvers<string>();
      this.pending = { line, finish: (text = "") => resolve(text) };
      await promise;
      this.pending = undefined;
      if (line === "slow exec") await this.#holdKeyboard();
      return "";
    }
    return `ran ${line}\n`;
  }

  /** Holds the keyboard until a key. */
  async #holdKeyboard(): Promise<void> {
    await this.repl.grabKeyboard(async (keyPressed) => {
      await keyPressed;
      this.grabs.push("stopped");
    });
  }

  /** Sends `line` and Enter, then `typed` while its command runs, and lets that command end. */
  async whileRunning(line: string, typed: string): Promise<void> {
    await this.type(`${line}\r`);
    await this.type(typed);
    this.pending!.finish();
    await settle();
  }

  /** Sends bytes as the terminal would, and lets readline take them in. */
  async type(bytes: string): Promise<void> {
    this.input.write(bytes);
    await settle();
  }

  close(): void {
    this.repl.close();
    this.input.end();
  }
}

/** Lets every callback queued by a write run (no clock: a few turns of the event loop). */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((r) => setTimeout(r, 0));
}

async function withRig(fn: (rig: Rig) => Promise<void>): Promise<void> {
  const rig = new Rig();
  try {
    await fn(rig);
  } finally {
    rig.close();
  }
}

Deno.test("repl: Ctrl-C in the same write as Enter stops that line's command, not the prompt", async () => {
  await withRig(async (rig) => {
    await rig.type("exec\r\x03");
    assert.deepEqual(rig.grabs, ["stopped"]);
    assert.doesNotMatch(rig.screen, /\^C/, "the prompt took no Ctrl-C");
    assert.deepEqual(rig.quits, []);
    await rig.type("next\r");
    assert.deepEqual(rig.lines, ["exec", "next"]);
    assert.match(rig.screen, /\(stopped\)\n[^]*next\r?\nran next\n/);
  });
});

Deno.test("repl: a Ctrl-C for a command that never holds the keyboard is let go, and arms no quit", async () => {
  await withRig(async (rig) => {
    await rig.whileRunning("slow", "\x03");
    assert.doesNotMatch(rig.screen, /\^C/);
    // The next Ctrl-C is the prompt's first: it warns, it does not quit.
    await rig.type("\x03");
    assert.match(rig.screen, new RegExp(`\\^C \\(${HINT}\\)`));
    assert.deepEqual(rig.quits, []);
  });
});

Deno.test("repl: a Ctrl-C typed before the command holds the keyboard stops it once it does", async () => {
  await withRig(async (rig) => {
    await rig.whileRunning("slow exec", "\x03");
    assert.deepEqual(rig.grabs, ["stopped"]);
    assert.deepEqual(rig.quits, []);
  });
});

Deno.test("repl: Ctrl-D and Ctrl-Z after Enter stop that line's command and neither quit nor suspend", async () => {
  await withRig(async (rig) => {
    await rig.type("exec\r\x04");
    await rig.type("exec\r\x1a");
    assert.deepEqual(rig.grabs, ["stopped", "stopped"]);
    // For a command that never holds the keyboard, too.
    await rig.whileRunning("slow", "\x04\x1a");
    assert.deepEqual(rig.quits, []);
    assert.equal(rig.suspends, 0);
    await rig.type("after\r");
    assert.deepEqual(rig.lines, ["exec", "exec", "slow", "after"]);
  });
});

Deno.test("repl: keys typed ahead while a command runs go to the next prompts, in order, none lost or doubled", async () => {
  await withRig(async (rig) => {
    await rig.whileRunning("slow", "two\rthr");
    assert.deepEqual(rig.lines, ["slow", "two"]);
    await rig.type("ee\r");
    assert.deepEqual(rig.lines, ["slow", "two", "three"]);
    // A line typed ahead runs in its turn, and the keyboard is then its command's.
    await rig.whileRunning("slow", "exec\r");
    assert.deepEqual(rig.lines, ["slow", "two", "three", "slow", "exec"]);
    await rig.type("\x03");
    assert.deepEqual(rig.grabs, ["stopped"]);
    assert.doesNotMatch(rig.screen, /\^C/);
  });
});

Deno.test("repl: a line pasted after one whose command will hold the keyboard neither stops it nor is lost", async () => {
  await withRig(async (rig) => {
    await rig.type("exec\rnext\r");
    assert.deepEqual(rig.grabs, []);
    assert.deepEqual(rig.lines, ["exec"]);
    await rig.type("q");
    assert.deepEqual(rig.grabs, ["stopped"]);
    assert.deepEqual(rig.lines, ["exec", "next"]);
  });
});

Deno.test("repl: Ctrl-C while a command runs drops what was typed ahead, as a terminal does", async () => {
  await withRig(async (rig) => {
    await rig.whileRunning("slow", "lost\r\x03kept");
    await rig.type("\r");
    assert.deepEqual(rig.lines, ["slow", "kept"]);
  });
});

Deno.test("repl: the key that stops a command holding the keyboard is used up, not typed at the prompt", async () => {
  await withRig(async (rig) => {
    await rig.type("exec\r");
    await rig.type("q");
    assert.deepEqual(rig.grabs, ["stopped"]);
    await rig.type("x\r");
    assert.deepEqual(rig.lines, ["exec", "x"]);
  });
});
