/**
 * The scene of a root program's directory that another user renames away
 * and replaces: a parent nobody may write without the sticky bit, the
 * directory's name in it and where it is renamed to, and a directory of
 * root's for nobody's links to lead to (nothing nobody could make there
 * themself). The caller removes `tmp`.
 */

/** Paths of a renamed-directory scene (see above). */
export interface RenamedDirScene {
  tmp: string;
  /** Mode 0777, no sticky bit. */
  shared: string;
  /** `shared/NAME`: the directory's name, not made. */
  dir: string;
  /** `shared/away`: where nobody renames it to. */
  away: string;
  /** Root's, empty. */
  target: string;
}

/** Makes the scene with the directory to be named `name` (left to the caller to make). */
export async function renamedDirScene(prefix: string, name = "net"): Promise<RenamedDirScene> {
  const tmp = await Deno.makeTempDir({ prefix });
  await Deno.chmod(tmp, 0o755);
  const shared = `${tmp}/shared`;
  const target = `${tmp}/target`;
  await Deno.mkdir(shared);
  await Deno.chmod(shared, 0o777); // others may write it, without the sticky bit
  await Deno.mkdir(target);
  return { tmp, shared, dir: `${shared}/${name}`, away: `${shared}/away`, target };
}
