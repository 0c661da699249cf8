import assert from "node:assert/strict";
import { hostMac, machineId, MAX_IFNAME, permanentNicAddress, tapName } from "../../src/lab/names.ts";
import { AS_NOBODY, run, skipUnlessRoot } from "../helpers/processes.ts";
import { dirOf } from "../../src/os/paths.ts";

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

/** How a NIC in sysNet is attached: none (lo, bridge, veth), fixed (PCI, virtio), USB, or a PCI device the kernel calls removable. */
type Attached = "none" | "fixed" | "usb" | "removable";

/** A /sys/class/net of `nics`: name, address, addr_assign_type, and how it is attached. */
async function sysNet(nics: [string, string, string, Attached][]): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "r14-sysnet-" });
  await Deno.mkdir(`${dir}/net`);
  for (const [name, address, type, attached] of nics) {
    await Deno.mkdir(`${dir}/net/${name}`);
    await Deno.writeTextFile(`${dir}/net/${name}/address`, `${address}\n`);
    await Deno.writeTextFile(`${dir}/net/${name}/addr_assign_type`, `${type}\n`);
    if (attached === "none") continue;
    // As sysfs has it: `device` links to the device, under a usbN directory for a USB NIC.
    const device = `${dir}/devices/${attached === "usb" ? `usb1/1-1/1-1:1.0-${name}` : `pci0000:00/${name}`}`;
    await Deno.mkdir(device, { recursive: true });
    if (attached === "removable") await Deno.writeTextFile(`${device}/removable`, "removable\n");
    await Deno.symlink(device, `${dir}/net/${name}/device`);
  }
  return `${dir}/net`;
}

Deno.test("the machine in host MACs is the machine-id with a physical NIC's permanent address: clones with new NICs differ, a restart does not", async () => {
  const one = await sysNet([
    ["lo", "00:00:00:00:00:00", "0", "none"],
    ["br0", "02:00:00:00:00:09", "0", "none"], // a bridge: no device
    ["enp2s0", "52:54:00:00:00:02", "0", "fixed"],
    ["enp1s0", "52:54:00:00:00:01", "0", "fixed"],
    ["wlan0", "3a:11:22:33:44:55", "3", "fixed"], // randomised (set): it would move the lab's MACs
  ]);
  const clone = await sysNet([["enp1s0", "52:54:00:00:00:77", "0", "fixed"]]);
  const container = await sysNet([["eth0", "02:42:ac:11:00:02", "0", "none"]]);
  try {
    assert.equal(permanentNicAddress(one), "52:54:00:00:00:01", "physical and permanent");
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
    for (const d of [one, clone, container]) await Deno.remove(dirOf(d), { recursive: true });
  }
});

Deno.test("the NIC in host MACs does not move when NICs are renamed or a USB or dock NIC comes and goes", async () => {
  const before = await sysNet([
    ["ens3", "52:54:00:00:00:05", "0", "fixed"],
    ["wlp2s0", "a4:00:00:00:00:01", "0", "fixed"],
  ]);
  const renamed = await sysNet([
    ["enp0s3", "52:54:00:00:00:05", "0", "fixed"], // a udev update's new name
    ["a0", "a4:00:00:00:00:01", "0", "fixed"], // renamed by hand to sort first
  ]);
  const plugged = await sysNet([
    ["eno0", "00:00:00:00:00:01", "0", "usb"], // first by name and by address
    ["enp0s3", "52:54:00:00:00:05", "0", "fixed"],
    ["dock0", "00:00:00:00:00:02", "0", "removable"], // a Thunderbolt dock's
    ["wlp2s0", "a4:00:00:00:00:01", "0", "fixed"],
  ]);
  const onlyUsb = await sysNet([["eth1", "b8:27:eb:00:00:02", "0", "usb"], [
    "eth0",
    "b8:27:eb:00:00:01",
    "0",
    "usb",
  ]]);
  try {
    for (const now of [renamed, plugged]) assert.equal(permanentNicAddress(now), permanentNicAddress(before));
    assert.equal(permanentNicAddress(before), "52:54:00:00:00:05");
    assert.equal(permanentNicAddress(onlyUsb), "b8:27:eb:00:00:01", "no fixed NIC: the lowest removable one");
  } finally {
    for (const d of [before, renamed, plugged, onlyUsb]) await Deno.remove(dirOf(d), { recursive: true });
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
