/**
 * Headless Chromium (Debian `chromium`) driven over the DevTools protocol,
 * for tests of the web page: open a URL, evaluate expressions in the page,
 * take a screenshot. Only Deno's WebSocket and fetch; no npm driver.
 *
 * Every wait is bounded, and the browser runs with a fresh profile under a
 * temporary directory that `close()` removes.
 */
import { type ManagedProcess, spawnManaged, waitFor } from "./processes.ts";

/** A browser with one page. */
export class HeadlessPage {
  readonly #browser: ManagedProcess;
  readonly #profile: string;
  readonly #ws: WebSocket;
  readonly #pending = new Map<number, (reply: { result?: unknown; error?: { message: string } }) => void>();
  #nextId = 1;

  private constructor(browser: ManagedProcess, profile: string, ws: WebSocket) {
    this.#browser = browser;
    this.#profile = profile;
    this.#ws = ws;
    ws.onmessage = (e) => {
      const msg = JSON.parse(String(e.data));
      if (typeof msg.id === "number") this.#pending.get(msg.id)?.(msg);
      this.#pending.delete(msg.id);
    };
  }

  /** Starts Chromium at `width`x`height` (with `extraArgs`) and attaches to its first page. */
  static async open(width = 1280, height = 900, extraArgs: string[] = []): Promise<HeadlessPage> {
    const profile = await Deno.makeTempDir({ prefix: "vde-web-chromium-" });
    const browser = spawnManaged([
      "chromium",
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
      `--user-data-dir=${profile}`,
      "--remote-debugging-port=0",
      `--window-size=${width},${height}`,
      ...extraArgs,
      "about:blank",
      // Its own temporary files (org.chromium.Chromium.*) in the profile, removed with it: in /tmp they
      // outlived every run.
    ], { name: "chromium", env: { TMPDIR: profile } });
    try {
      let port = "";
      await waitFor(() => {
        port = /DevTools listening on ws:\/\/127\.0\.0\.1:(\d+)\//.exec(browser.stderr)?.[1] ?? "";
        return port !== "";
      }, { timeoutMs: 30_000, what: "chromium's DevTools port" });
      const targets = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json() as {
        type: string;
        webSocketDebuggerUrl: string;
      }[];
      const page = targets.find((t) => t.type === "page");
      if (page === undefined) throw new Error("chromium has no page");
      const ws = new WebSocket(page.webSocketDebuggerUrl);
      await new Promise((resolve, reject) => {
        ws.onopen = resolve;
        ws.onerror = () => reject(new Error("cannot reach chromium's DevTools"));
      });
      return new HeadlessPage(browser, profile, ws);
    } catch (err) {
      await browser.stop();
      await Deno.remove(profile, { recursive: true }).catch(() => {});
      throw err;
    }
  }

  /** Sends one DevTools command and waits (bounded) for its result. */
  call(method: string, params: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`chromium did not answer ${method}`));
      }, 15_000);
      this.#pending.set(id, (reply) => {
        clearTimeout(timer);
        if (reply.error) reject(new Error(`${method}: ${reply.error.message}`));
        else resolve((reply.result ?? {}) as Record<string, unknown>);
      });
      this.#ws.send(JSON.stringify({ id, method, params }));
    });
  }

  /** Loads `url`. */
  async goto(url: string): Promise<void> {
    await this.call("Page.enable");
    await this.call("Page.navigate", { url });
  }

  /** The value of a JavaScript expression in the page. */
  async evaluate<T>(expression: string): Promise<T> {
    const r = await this.call("Runtime.evaluate", { expression, returnByValue: true });
    return (r.result as { value: T }).value;
  }

  /** Waits until `expression` is truthy in the page; returns its value. */
  async waitUntil<T>(expression: string, what: string, timeoutMs = 15_000): Promise<T> {
    let value: T | undefined;
    await waitFor(async () => {
      value = await this.evaluate<T>(expression);
      return Boolean(value);
    }, { timeoutMs, what });
    return value!;
  }

  /** A PNG of the viewport written to `path`. */
  async screenshot(path: string): Promise<void> {
    const r = await this.call("Page.captureScreenshot", { format: "png" });
    const b64 = r.data as string;
    await Deno.writeFile(path, Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)));
  }

  /**
   * A screenshot checked to be a real image. Kept as an artifact of the run in
   * the directory VDE_TEST_SCREENSHOTS names (its path logged), else written
   * to a temporary directory and removed: each run left a directory in /tmp.
   */
  async keepScreenshot(file: string, what: string): Promise<void> {
    const keep = Deno.env.get("VDE_TEST_SCREENSHOTS");
    const dir = keep ?? await Deno.makeTempDir({ prefix: "vde-web-shot-" });
    try {
      if (keep) await Deno.mkdir(keep, { recursive: true });
      const path = `${dir}/${file}`;
      await this.screenshot(path);
      if ((await Deno.stat(path)).size <= 1000) throw new Error(`the screenshot of ${what} is empty`);
      if (keep) console.log(`screenshot of ${what}: ${path}`);
    } finally {
      if (!keep) await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  }

  /** Closes the browser and removes its profile. */
  async close(): Promise<void> {
    try {
      this.#ws.close();
    } catch { /* closed */ }
    await this.#browser.stop();
    await Deno.remove(this.#profile, { recursive: true }).catch(() => {});
  }
}
