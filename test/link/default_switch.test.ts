/** The switch an empty VNL names: the user's vdeplug4 default (a symlink or a file holding a VNL), then the system's. */
import assert from "node:assert/strict";
import { defaultSwitchDir } from "../../src/link/default_switch.ts";
import { AS_OTHER_USER, run, skipUnlessRoot } from "../helpers/processes.ts";

async function withHome(body: (home: string) => Promise<void> | void): Promise<void> {
  const home = await Deno.makeTempDir({ prefix: "vde-default-switch-" });
  try {
    await Deno.mkdir(`${home}/.vde2`);
    await body(home);
  } finally {
    await Deno.remove(home, { recursive: true });
  }
}

Deno.test("~/.vde2/default.switch as a symlink names the switch directory it points at", () =>
  withHome(async (home) => {
    await Deno.symlink("/tmp/u16-some-switch", `${home}/.vde2/default.switch`);
    assert.equal(defaultSwitchDir(home), "/tmp/u16-some-switch");
  }));

Deno.test("~/.vde2/default.switch as a file holding vde:///DIR or DIR names DIR; ~/.vdeplug/default comes first", () =>
  withHome(async (home) => {
    await Deno.writeTextFile(`${home}/.vde2/default.switch`, "vde:///tmp/u16-net\n");
    assert.equal(defaultSwitchDir(home), "/tmp/u16-net");
    await Deno.writeTextFile(`${home}/.vde2/default.switch`, "/tmp/u16-net2\n");
    assert.equal(defaultSwitchDir(home), "/tmp/u16-net2");
    await Deno.mkdir(`${home}/.vdeplug`);
    await Deno.writeTextFile(`${home}/.vdeplug/default`, "vde:///tmp/u16-first");
    assert.equal(defaultSwitchDir(home), "/tmp/u16-first");
  }));

Deno.test("a default file naming another scheme is refused with its name, not taken as a path", () =>
  withHome(async (home) => {
    await Deno.writeTextFile(`${home}/.vde2/default.switch`, "vxvde://239.0.0.1\n");
    assert.throws(
      () => defaultSwitchDir(home),
      new RegExp(
        `^Error: ${home}/\\.vde2/default\\.switch names "vxvde://239\\.0\\.0\\.1", which is no vde:// switch`,
      ),
    );
  }));

Deno.test("without a user default, the system's switch directory is taken, or the error names all three places", () =>
  withHome((home) => {
    let found: string | undefined;
    for (const p of ["/var/run/vde.ctl", "/tmp/vde.ctl"]) {
      try {
        Deno.statSync(`${p}/ctl`);
        found ??= p;
      } catch { /* not running */ }
    }
    if (found !== undefined) assert.equal(defaultSwitchDir(home), found);
    else {assert.throws(
        () => defaultSwitchDir(home),
        /none in ~\/\.vdeplug\/default or ~\/\.vde2\/default\.switch, and no switch at/,
      );}
  }));

Deno.test("a relative symlink counts from the link's directory, and a symlink to a file reads the VNL in that file", () =>
  withHome(async (home) => {
    await Deno.mkdir(`${home}/sw`);
    await Deno.symlink("../sw", `${home}/.vde2/default.switch`);
    assert.equal(defaultSwitchDir(home), `${home}/.vde2/../sw`);
    assert.equal(Deno.realPathSync(defaultSwitchDir(home)), Deno.realPathSync(`${home}/sw`));
    await Deno.writeTextFile(`${home}/net.vnl`, "vde:///tmp/u16-via-file  \n");
    await Deno.remove(`${home}/.vde2/default.switch`);
    await Deno.symlink(`${home}/net.vnl`, `${home}/.vde2/default.switch`);
    assert.equal(defaultSwitchDir(home), "/tmp/u16-via-file");
  }));

Deno.test("a symlink loop as the default is taken as the path it names, so the open fails on it, not the lookup", () =>
  withHome(async (home) => {
    await Deno.symlink(`${home}/.vde2/default.switch`, `${home}/.vde2/default.switch`);
    assert.equal(defaultSwitchDir(home), `${home}/.vde2/default.switch`);
  }));

Deno.test("a default VNL with a port or options is refused, saying to give them in the VNL, not plugged without them", () =>
  withHome(async (home) => {
    await Deno.writeTextFile(`${home}/.vde2/default.switch`, "vde:///tmp/u16-net[3]\n");
    assert.throws(
      () => defaultSwitchDir(home),
      /names "vde:\/\/\/tmp\/u16-net\[3\]": a default switch's port or options are not taken from it here; write vde:\/\/\/tmp\/u16-net there and give them in the VNL \(vde plug 'vde:\/\/\[3\]'\)$/,
    );
  }));

Deno.test("a directory as the default is the switch directory itself, as vde_switch -s ~/.vdeplug/default makes it", () =>
  withHome(async (home) => {
    await Deno.mkdir(`${home}/.vdeplug/default`, { recursive: true });
    assert.equal(defaultSwitchDir(home), `${home}/.vdeplug/default`);
  }));

Deno.test("a system default switch of another user is named with its owner, not reported as no switch at all", async (t) => {
  if (skipUnlessRoot(t)) return;
  const tmp = await Deno.makeTempDir({ prefix: "vde-default-other-" });
  try {
    await Deno.chmod(tmp, 0o755);
    // Another user's /tmp/vde.ctl: its directory is its own, mode 2700.
    const theirs = `${tmp}/vde.ctl`;
    await Deno.mkdir(theirs);
    await Deno.writeTextFile(`${theirs}/ctl`, "");
    await Deno.chown(theirs, 65534, 65534);
    await Deno.chmod(theirs, 0o2700);
    const mod = new URL("../../src/link/default_switch.ts", import.meta.url).href;
    const code = `import { defaultSwitchDir } from "${mod}";\n` +
      `try { defaultSwitchDir(undefined, ["${tmp}/none", "${theirs}"]); } catch (e) { console.log(e.message); }`;
    const r = await run([...AS_OTHER_USER, Deno.execPath(), "eval", code]);
    assert.equal(
      r.stdout,
      `no switch path given, none in ~/.vdeplug/default or ~/.vde2/default.switch, and ${theirs} is another ` +
        "user's (owner nobody, mode 2700): give the switch's directory, or start your own (vde switch --sock DIR) " +
        "and name it\n",
    );
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
