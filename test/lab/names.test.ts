import assert from "node:assert/strict";
import { hostMac, machineId, MAX_IFNAME, permanentNicAddress, tapName } from "../../src/lab/names.ts";
import { AS_NOBODY, run, skipUnlessRoot } from "../helpers/processes.ts";

Deno.test("a lab host interface's MAC is locally administered unicast, the same for the same lab, node and interface on one machine", () => {
  const mac = hostMac("m1", "wan", "h1", "eth0");
  assert.match(mac, /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
  // 02: locally administered (bit 1), unicast (bit 0 clear).
  assert.equal(parseInt(mac.slice(0, 2), 16) & 0x03, 0x02);
  assert.equal(hostMac("m1", "wan", "h1", "eth0"), mac);
  const others = [
    hostMac("m2", "wan", "h1", "eth0"),
    hostMac("m1", "wan2", "h1", "eth0"),
    hostMac("m1", "wan", "h2", "eth0"),
    hostMac("m1", "wan", "h1", "eth1"),
    // The parts are kept apart: "a"+"bc" is not "ab"+"c".
    hostMac("m1", "wanh", "1", "eth0"),
  ];
  assert.equal(new Set([mac, ...others]).size, others.length + 1);
});

/** A /sys/class/net of `nics`: name, address, addr_assign_type, and whether it is a device's. */
async function sysNet(nics: [string, string, string, boolean][]): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "l8-sysnet-" });
  for (const [name, address, type, device] of nics) {
    await Deno.mkdir(`${dir}/${name}`);
    await Deno.writeTextFile(`${dir}/${name}/address`, `${address}\n`);
    await Deno.writeTextFile(`${dir}/${name}/addr_assign_type`, `${type}\n`);
    if (device) await Deno.mkdir(`${dir}/${name}/device`);
  }
  return dir;
}

Deno.test("the machine in host MACs is the machine-id with the first physical NIC's permanent address: clones with new NICs differ, a restart does not", async () => {
  const one = await sysNet([
    ["lo", "00:00:00:00:00:00", "0", false],
    ["br0", "02:00:00:00:00:09", "0", false], // a bridge: no device
    ["enp2s0", "52:54:00:00:00:02", "0", true],
    ["enp1s0", "52:54:00:00:00:01", "0", true],
    ["wlan0", "3a:11:22:33:44:55", "3", true], // randomised (set): it would move the lab's MACs
  ]);
  const clone = await sysNet([["enp1s0", "52:54:00:00:00:77", "0", true]]);
  const container = await sysNet([["eth0", "02:42:ac:11:00:02", "0", false]]);
  try {
    assert.equal(permanentNicAddress(one), "52:54:00:00:00:01", "the first by name, physical and permanent");
    assert.equal(permanentNicAddress(container), undefined, "a veth is no NIC of the machine");
    assert.equal(permanentNicAddress(`${one}/none`), undefined);
    assert.equal(machineId(one), machineId(one), "the same on every start");
    assert.notEqual(machineId(one), machineId(clone), "one machine-id, two NICs: two machines");
    assert.notEqual(
      hostMac(machineId(one), "wan", "h1", "eth0"),
      hostMac(machineId(clone), "wan", "h1", "eth0"),
      "a cloned VM's lab hosts do not take the original's MACs",
    );
    assert.ok(machineId(container).indexOf("\0") < 0, "without a NIC, the machine-id alone, as before");
  } finally {
    for (const d of [one, clone, container]) await Deno.remove(d, { recursive: true });
  }
});

Deno.test("a tap name is <lab>-<node>-<n> when it fits 15 characters, else a digest that fits, the same every time", () => {
  assert.equal(tapName("wan", "h1", 0), "wan-h1-0");
  assert.equal(tapName("lab", "router1", 12), "lab-router1-12");
  const long = tapName("datacenter", "router-east-1", 0);
  assert.match(long, /^vt[0-9a-f]{11}-0$/);
  assert.equal(long.length, MAX_IFNAME);
  assert.equal(tapName("datacenter", "router-east-1", 0), long);
  assert.match(tapName("datacenter", "router-east-1", 999), /^vt[0-9a-f]{9}-999$/);
  const others = [
    tapName("datacenter", "router-east-1", 1),
    tapName("datacenter", "router-east-2", 0),
    tapName("datacenter2", "router-east-1", 0),
    // The parts are kept apart: "a"+"bc" is not "ab"+"c".
    tapName("datacenterr", "outer-east-1", 0),
  ];
  assert.equal(new Set([long, ...others]).size, others.length + 1);
  for (const n of others) assert.ok(n.length <= MAX_IFNAME, n);
});

Deno.test("a user's labs directory that another user made first is refused, not used", async (t) => {
  if (skipUnlessRoot(t)) return;
  const tmp = await Deno.makeTempDir({ prefix: "vde-labs-dir-" });
  try {
    await Deno.chmod(tmp, 0o755);
    // Root plays the other user: it made the labs directory of nobody (uid 65534) first, open to all.
    await Deno.mkdir(`${tmp}/vde`, { mode: 0o777 });
    await Deno.chmod(`${tmp}/vde`, 0o777);
    const names = new URL("../../src/lab/names.ts", import.meta.url).href;
    const code = `import { labsBaseDir } from "${names}";\n` +
      "try { console.log(labsBaseDir()); } catch (e) { console.log(e.message); }";
    const r = await run([...AS_NOBODY, Deno.execPath(), "eval", code], {
      env: { XDG_RUNTIME_DIR: tmp },
    });
    assert.match(
      r.stdout,
      new RegExp(`^${tmp}/vde is not a directory of yours alone \\(owner root, mode 777\\)`),
    );
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
