const c = new Deno.Command("sh", { args: ["-c", "trap 'exit 7' TERM; while :; do sleep 0.1; done"] }).spawn();
await new Promise((r) => setTimeout(r, 300));
c.kill("SIGTERM");
console.log("Deno.Command", await c.status);
