/**
 * Containerlab's words in a lab file, and what to write here instead.
 *
 * Lab files borrow containerlab's shape, so its users bring its vocabulary:
 * `kind: linux`, `kind: bridge`, a `kinds:` section, `image:` on a node. An
 * edit-distance guess answers those with a near word that means something
 * else (`kinds` -> "did you mean links?", `binds` -> `kind`), so these words
 * are looked up first and answered with vde's counterpart, or with why there
 * is none. Pure data and lookups; validate.ts decides where they apply.
 */
import { NODE_KINDS } from "./spec.ts";

/** Containerlab node kinds and the vde kind that plays their part. */
const KINDS: Readonly<Record<string, string>> = {
  linux: "host",
  bridge: "switch",
  "ovs-bridge": "switch",
};

const NO_CONTAINERS = "a host is a network namespace of this machine, not a container";

/** Containerlab keys that have no counterpart, or another name, here. */
const KEYS: Readonly<Record<string, string>> = {
  kinds: `containerlab's per-kind defaults have no counterpart here: give each node its kind, one of ${
    NODE_KINDS.join(", ")
  }`,
  defaults: "containerlab's node defaults have no counterpart here: give each node its settings",
  groups: "containerlab's groups have no counterpart here: give each node its settings",
  mgmt: "containerlab's management network has no counterpart here: reach a host with vde exec HOST",
  type:
    "containerlab's type has no counterpart here: a node is its kind, a link a cable between its endpoints",
  prefix: "the namespaces are always named vde-<lab>-<node>",
  image: `${NO_CONTAINERS}: no image`,
  cmd: "containerlab's cmd is exec here: a list of shell commands run in the host's namespace",
  entrypoint: "write exec: a list of shell commands run in the host's namespace",
  binds: `${NO_CONTAINERS}: it sees this machine's files`,
  env: `${NO_CONTAINERS}: set variables in its exec commands`,
  "mgmt-ipv4": "hosts have no management network; address: gives eth0 its address",
  "mgmt-ipv6": "hosts have no management network; address: gives eth0 its address",
};

/**
 * Kinds a QEMU or libvirt user writes for a VM (containerlab's generic_vm and vrnetlab's vr-* among them).
 * A lab runs no VMs: its switches' sockets take QEMU's -netdev vde as any switch's do, so the answer is how.
 */
const VM_KINDS = new Set(["qemu", "vm", "kvm", "libvirt", "virtual-machine", "generic_vm"]);

const VM_HINT =
  "a VM is no node: leave it out and, once the lab is up, plug QEMU into a switch by the sock " +
  "`vde status LAB` shows, -netdev vde,id=n0,sock=/run/vde/LAB/sw1 as root";

/** The hint for a containerlab node kind, e.g. `linux` -> `containerlab's linux is kind: host here`. */
export function containerlabKind(kind: string): string | undefined {
  if (VM_KINDS.has(kind.toLowerCase()) || kind.startsWith("vr-")) return VM_HINT;
  const ours = Object.hasOwn(KINDS, kind) ? KINDS[kind] : undefined;
  return ours === undefined ? undefined : `containerlab's ${kind} is kind: ${ours} here`;
}

/** The hint for a containerlab key, when `key` is one that vde does not take. */
export function containerlabKey(key: string): string | undefined {
  return Object.hasOwn(KEYS, key) ? KEYS[key] : undefined;
}
