/**
 * vde2's programs and what each one is here. A vde2 user's first try is the
 * old name behind `vde` (`vde vde_switch -d -s /tmp/sw`, `vde vde_plug2tap
 * tap0`, `vde unixterm /tmp/sw.mgmt`); "did you mean" finds nothing near
 * those, so the unknown command is answered with the line to type. Where
 * the command here takes the old tool's options as they are (vde_switch,
 * vde_plug, slirpvde), the line carries the arguments
 * over; for vde_plug2tap, vde_tunctl and unixcmd, whose arguments say the
 * same things in another shape, the line is rebuilt from them; the rest
 * (vde_cryptcab, vdeq, vde_pcapplug, ...) are answered with the command or
 * setup that does their job. The names are every program of vde2's source
 * (vde_router, vde_vxlan and kvde_switch too, which Debian does not build)
 * and of Debian's vde2, vdeplug and vde-switch packages. dpipe and wirefilter are `vde dpipe` and
 * `vde wirefilter`, commands of their own. README's "Coming from vde2" is
 * the same table.
 */
import { shellQuoted } from "../shell_quote.ts";

/** What one vde2 program is here, given the arguments it was typed with (and whether by root). */
type Answer = (args: readonly string[], asRoot: boolean) => string;

/** `vde WORDS ARGS`, each argument quoted as the shell needs it. */
function line(words: string, args: readonly string[]): string {
  return ["vde", words, ...args.map(shellQuoted)].join(" ");
}

/** A program whose options `vde COMMAND` takes as they are. */
function same(command: string, name: string): Answer {
  return (args) => `vde2's ${name} is \`vde ${command}\` here, with its options: \`${line(command, args)}\``;
}

/**
 * The value of the first of `names` in `args` (`-s DIR`, `--sock=DIR`,
 * `-sDIR`), and the words that are neither options nor their values.
 */
function options(
  args: readonly string[],
  withValue: readonly string[],
): { values: Map<string, string>; words: string[] } {
  const values = new Map<string, string>();
  const words: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const eq = a.indexOf("=");
    const name = a.startsWith("--") && eq > 0 ? a.slice(0, eq) : a;
    if (withValue.includes(name)) {
      const value = name === a ? args[++i] : a.slice(eq + 1);
      if (value !== undefined && !values.has(name)) values.set(name, value);
    } else if (/^-[a-zA-Z]./.test(a) && withValue.includes(a.slice(0, 2))) {
      if (!values.has(a.slice(0, 2))) values.set(a.slice(0, 2), a.slice(2));
    } else if (!a.startsWith("-")) {
      words.push(a);
    }
  }
  return { values, words };
}

/** The first value given under any of `names`. */
function first(values: Map<string, string>, ...names: string[]): string | undefined {
  return names.map((n) => values.get(n)).find((v) => v !== undefined);
}

/**
 * vde_plug2tap [-s SOCK] [-p PORT] [-g GROUP] [-m MODE] [-d] [-P PIDFILE] TAP: a plug between the switch
 * and a tap. Its -p is the port and -P the pid file, where vde plug's -p is the pid file.
 */
function plug2tap(args: readonly string[]): string {
  const { values, words } = options(args, [
    "-s",
    "--sock",
    "-p",
    "--port",
    "-g",
    "--group",
    "-m",
    "--mod",
    "--mode",
    "-P",
    "--pidfile",
  ]);
  const params = [
    ["port", first(values, "-p", "--port")],
    ["group", first(values, "-g", "--group")],
    ["mode", first(values, "-m", "--mod", "--mode")],
  ].filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${v}`);
  const sock = first(values, "-s", "--sock") ?? "vde://";
  const end = params.length === 0 ? sock : `${sock}[${params.join("/")}]`;
  const tap = words.at(-1) ?? "TAP";
  // vde plug's -d returns once the port is attached and the tap exists, as vde_plug2tap -d did.
  const daemon = args.includes("-d") || args.includes("--daemon");
  const pidfile = first(values, "-P", "--pidfile");
  const flags = `${daemon ? "-d " : ""}${pidfile === undefined ? "" : `-p ${shellQuoted(pidfile)} `}`;
  return `vde2's vde_plug2tap is a plug between the switch and the tap here: \`vde plug ${flags}${
    shellQuoted(end)
  } tap://${shellQuoted(tap)}\`${daemon ? "" : ", -d to run it in the background"}`;
}

/** vde_tunctl [-u OWNER] [-g GROUP] -t NAME, or -d NAME: persistent taps. */
function tunctl(args: readonly string[]): string {
  const { values } = options(args, ["-u", "-g", "-t", "-d", "-f"]);
  const gone = values.get("-d");
  if (gone !== undefined) return `vde2's vde_tunctl -d is \`vde tap delete ${shellQuoted(gone)}\` here`;
  const owner = values.get("-u");
  const group = values.get("-g");
  return `vde2's vde_tunctl is \`vde tap create ${shellQuoted(values.get("-t") ?? "NAME")}` +
    `${owner === undefined ? "" : ` -u ${shellQuoted(owner)}`}${
      group === undefined ? "" : ` -g ${shellQuoted(group)}`
    }\` ` +
    "here; `vde tap delete NAME` removes it, `vde tap list` shows them";
}

/** unixterm and vdeterm SOCK: the interactive console. */
function term(name: string): Answer {
  return (args) => {
    const sock = args.find((a) => !a.startsWith("-")) ?? "SOCK";
    return `vde2's ${name} is \`vde term ${shellQuoted(sock)}\` here; a switch's directory works too: ` +
      "`vde term DIR` finds DIR/mgmt or DIR.mgmt";
  };
}

/** unixcmd -s SOCK [-f RC] COMMAND: one command, its listing on stdout, its status as the exit status. */
function unixcmd(args: readonly string[]): string {
  const { values, words } = options(args, ["-s", "-f"]);
  const command = words.join(" ");
  return `vde2's unixcmd is \`vde term ${shellQuoted(values.get("-s") ?? "SOCK")} -c ` +
    `${shellQuoted(command === "" ? "COMMAND" : command)}\` here, exit status 1 when the command fails`;
}

/**
 * vde_switch takes its options as they are, but for -F with -x: vde_switch
 * starts that hub with spanning tree silently off, where `vde switch`
 * refuses the pair, so the line drops the -F and says why.
 */
function vdeSwitch(args: readonly string[]): string {
  const isStp = (a: string) => ["-F", "--fstp", "-fstp", "--stp"].includes(a);
  const hubStp = args.some((a) => ["-x", "--hub", "-hub"].includes(a)) && args.some(isStp);
  const answer = same("switch", "vde_switch")(hubStp ? args.filter((a) => !isStp(a)) : args, false);
  return hubStp
    ? `${answer} (-F dropped: vde_switch runs that hub with spanning tree off; here the two exclude each other)`
    : answer;
}

const ANSWERS: Record<string, Answer> = {
  vde_switch: vdeSwitch,
  vde_plug: same("plug", "vde_plug"),
  slirpvde: same("slirp", "slirpvde"),
  vde_plug2tap: plug2tap,
  vde_tunctl: tunctl,
  unixterm: term("unixterm"),
  vdeterm: term("vdeterm"),
  unixcmd,
  vde_cryptcab: () =>
    "vde2's vde_cryptcab is `vde cable` here: `vde cable keygen FILE` once, then `vde cable listen PORT " +
    "--sock DIR --key FILE` on one host and `vde cable connect HOST:PORT --sock DIR --key FILE` on the other",
  vdeq: qemu("vdeq"),
  vdeqemu: qemu("vdeqemu", "qemu-system-x86_64"),
  vdekvm: qemu("vdekvm", "kvm"),
  vde_pcapplug: () =>
    "vde has no pcap plug: Debian's vde_pcapplug plugs into `vde switch` as it is, or give the switch a tap " +
    "(`vde switch --tap vde0`) and bridge it with the interface: `ip link set IFACE master br0`, same for vde0",
  vde_autolink: () =>
    "vde has no vde_autolink: `vde cable connect HOST:PORT --sock DIR --key FILE` keeps a link up and " +
    "reconnects (--retry SECS), and a lab file's links come up with `vde up`",
  vde_over_ns: () =>
    "vde has no DNS tunnel: Debian's vde_over_ns plugs into `vde switch` as it is; " +
    "between hosts, `vde cable` or `vde dpipe vde plug DIR = ssh HOST vde plug DIR`",
  vde_l3: router("vde_l3"),
  vde_router: router("vde_router"),
  vde_vxlan: vxlan,
  kvde_switch: (args) => {
    const sock = first(options(args, ["-s", "--sock"]).values, "-s", "--sock");
    return "vde2's kvde_switch (a switch in the kernel's IPN module) is a switch in user space here: " +
      `\`vde switch -s ${shellQuoted(sock ?? "DIR")}\`, which vde_plug and QEMU plug into as they did`;
  },
  vdetaplib: () =>
    "vde has no vdetaplib: instead of a program's /dev/net/tun opened on a switch, plug a tap into it " +
    "(`vde switch --tap NAME`, or `vde plug DIR tap://NAME`) and give the program that tap",
};

/** vde_l3 and vde_router: a router between switches, which a namespace is here. */
function router(name: string): Answer {
  return () =>
    `vde has no ${name}: a network namespace routes between taps (\`ip netns exec NS vde plug DIR ` +
    "tap://eth0` per switch, then `sysctl net.ipv4.ip_forward=1` in it) or a lab file's host with two links";
}

/**
 * vde_vxlan -s SOCK [-p PORT] -I VNI -A GROUP [-P UDPPORT] [-T TTL] [-d]: a switch's port on a VXLAN,
 * which is a plug between the switch and vxlan:// here (its -p the switch's port, -P the UDP port).
 */
function vxlan(args: readonly string[]): string {
  const { values } = options(args, [
    "-s",
    "--sock",
    "-p",
    "--port",
    "-I",
    "--vxlan-id",
    "-A",
    "--vxlan-addr",
    "-P",
    "--vxlan-port",
    "-T",
    "--vxlan-mttl",
  ]);
  const port = first(values, "-p", "--port");
  const sock = `${first(values, "-s", "--sock") ?? "vde://"}${port === undefined ? "" : `[port=${port}]`}`;
  const params = [
    ["vni", first(values, "-I", "--vxlan-id")],
    ["port", first(values, "-P", "--vxlan-port")],
    ["ttl", first(values, "-T", "--vxlan-mttl")],
  ].filter(([, v]) => v !== undefined).map(([k, v]) => `/${k}=${v}`).join("");
  const daemon = args.includes("-d") || args.includes("--daemon");
  return `vde2's vde_vxlan is a plug between the switch and a VXLAN here: \`vde plug ${daemon ? "-d " : ""}${
    shellQuoted(sock)
  } ${shellQuoted(`vxlan://${first(values, "-A", "--vxlan-addr") ?? ""}${params}`)}\``;
}

/** Where root's vde switch serves without --sock (switch.ts's defaultSock), as vde_switch's does. */
const ROOT_DEFAULT_SWITCH = "/var/run/vde.ctl";

/** QEMU on a switch, a mac= given: without one every VM is 52:54:00:12:34:56. */
export const QEMU_ON_SWITCH =
  "qemu-system-x86_64 ... -netdev vde,id=n0,sock=DIR -device virtio-net,netdev=n0,mac=52:54:00:00:00:01";

/**
 * vdeq, vdeqemu and vdekvm: QEMU has VDE built in. With a command line, it
 * is answered rebuilt: vdeq's `--mod MODE` dropped (the switch's --mode
 * applies), its old `-sock PATH` as QEMU's own -netdev, the rest as typed
 * (`-net vde,sock=...` is QEMU's already); with no VDE interface, one on
 * the default switch, as vdeq gave.
 */
function qemu(name: string, program?: string): Answer {
  return (args, asRoot) => {
    const words = program === undefined ? [...args] : [program, ...args];
    if (words.length === 0 || words[0]!.startsWith("-")) {
      return `vde2's ${name} is QEMU's own VDE support here: ${QEMU_ON_SWITCH}`;
    }
    const out: string[] = [];
    let n = 0;
    let note = "";
    for (let i = 0; i < words.length; i++) {
      const w = words[i]!;
      const next = words[i + 1];
      if (w === "--mod") i++;
      // A -sock with no PATH after it names no switch (QEMU has no -sock): dropped, the default switch's then.
      // An option after it is no PATH either (`-sock -hda d.img`: vdeq took -hda for the switch, d.img for
      // QEMU's disk): the option is kept with its value, and the answer says why the default switch.
      else if (w === "-sock" && (next === undefined || next.startsWith("-"))) {
        if (next !== undefined) note = `; -sock had no PATH before ${next}, which vdeq takes for the switch`;
      } else if (w === "-sock") {
        // Its old synopsis's `-sock PATH[,PATH...]`: an interface on each switch, each its own -netdev id.
        for (const sock of words[++i]!.split(",").filter((s) => s !== "")) {
          out.push("-netdev", `vde,id=n${n},sock=${sock}`, "-device", `virtio-net,netdev=n${n++}`);
        }
      } else out.push(w);
    }
    // vdeq gave a VM without a VDE interface one on the default switch, as QEMU's -netdev vde does unnamed.
    // Root's is named: unnamed, QEMU's libvdeplug takes whoever made /tmp/vde.ctl first, which root's
    // own clients refuse (default_switch.ts); root's vde switch serves /var/run/vde.ctl.
    if (!out.some((w) => /(^|,)vde(,|$)/.test(w))) {
      out.push(
        "-netdev",
        `vde,id=n0${asRoot ? `,sock=${ROOT_DEFAULT_SWITCH}` : ""}`,
        "-device",
        "virtio-net,netdev=n0",
      );
      if (asRoot) {
        note +=
          "; the switch is named: unnamed, root's QEMU would join whichever user made /tmp/vde.ctl first";
      }
    }
    return `vde2's ${name} is QEMU's own VDE support here: \`${out.map(shellQuoted).join(" ")}\`${note}`;
  };
}

/**
 * How vde2's program `word` (an unknown command; `args` the words after it)
 * is said here, or undefined when `word` is none of vde2's programs.
 */
export function vde2ToolHint(
  word: string,
  args: readonly string[],
  asRoot = Deno.uid() === 0,
): string | undefined {
  return Object.hasOwn(ANSWERS, word) ? ANSWERS[word]!(args, asRoot) : undefined;
}
