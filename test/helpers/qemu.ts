/**
 * QEMU for the tests: a VM with no disk whose NIC is on a vde switch and
 * PXE-boots Debian's iPXE ROM (the NIC's option ROM, from ipxe-qemu), so a
 * test sees a real guest's DHCP, TFTP and ARP without an image, and what
 * the tests need of QEMU and iPXE to run.
 */
import { hasCommand, type ManagedProcess, pathExists, spawnManaged } from "./processes.ts";

/** QEMU's default ROM for virtio-net-pci, from Debian's ipxe-qemu. */
export const IPXE_ROM = "/usr/lib/ipxe/qemu/efi-virtio.rom";

/** No window, monitor or serial line: QEMU as a test's background process. */
export const QEMU_HEADLESS: readonly string[] = ["-display", "none", "-monitor", "none", "-serial", "none"];

/** Why a VM cannot boot iPXE here (QEMU or Debian's ipxe-qemu missing), or null. */
export async function ipxeVmMissing(): Promise<string | null> {
  if (!(await hasCommand("qemu-system-x86_64"))) return "qemu-system-x86_64 is not installed";
  return (await pathExists(IPXE_ROM)) ? null : "Debian's ipxe-qemu is not installed";
}

/** A VM on the switch at `dir` PXE-booting iPXE; `device` is its NIC (`virtio-net-pci,netdev=n0` with no mac=). */
export function ipxeVm(dir: string, device = "virtio-net-pci,netdev=n0"): ManagedProcess {
  return spawnManaged([
    "qemu-system-x86_64",
    // TCG: iPXE hangs under nested KVM on some hosts, and TCG boots it in seconds anyway.
    "-machine",
    "accel=tcg",
    "-m",
    "128",
    // Default devices stay: without a VGA card SeaBIOS does not run the NIC's option ROM.
    "-net",
    "none",
    ...QEMU_HEADLESS,
    "-netdev",
    `vde,id=n0,sock=${dir}`,
    "-device",
    device,
    "-boot",
    "n",
  ], { name: "qemu" });
}
