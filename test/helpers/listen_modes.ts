/**
 * What another user could connect to at the moment a unix socket starts listening, under umask 000
 * (bind makes the file 0777 then): each listen's socket file, its mode and its directory's, recorded as
 * listen (libc's, on a path the same fd was bound to) or Deno.listen returns, before any later chmod.
 */
import process from "node:process";
import { libc } from "../../ffi/libc.ts";
import { parseSockaddrUn } from "../../src/wire/sockaddr_un.ts";

/** A socket file as it was when it began to listen. */
export interface ListenedFile {
  path: string;
  mode: number;
  dirMode: number;
}

function seen(named: string): ListenedFile {
  // A name made through a held directory (/proc/self/fd/N/NAME: a switch's, a staging directory's) is said
  // where it is, so a test finds it by the directory's path.
  const held = /^\/proc\/self\/fd\/\d+(?=\/)/.exec(named);
  const path = held === null ? named : Deno.readLinkSync(held[0]) + named.slice(held[0].length);
  const dir = path.includes("/") ? path.slice(0, path.lastIndexOf("/")) || "/" : ".";
  return { path, mode: Deno.lstatSync(path).mode! & 0o7777, dirMode: Deno.statSync(dir).mode! & 0o7777 };
}

/** libc's symbols, which are typed read-only but are plain properties: a spy goes in a symbol's place. */
type WritableLibc = { -readonly [K in keyof ReturnType<typeof libc>]: ReturnType<typeof libc>[K] };

/** Puts a spy on libc's bind: `onBound(fd, path)` after each unix bind that succeeded. Returns its undoing. */
function watchBind(onBound: (fd: number, path: string) => void): () => void {
  const c = libc() as WritableLibc;
  const bind = c.bind;
  c.bind = (fd, addr, len) => {
    const r = bind(fd, addr, len);
    const path = addr instanceof Uint8Array ? parseSockaddrUn(addr) : undefined;
    if (r === 0 && path?.ok === true) onBound(fd, path.value);
    return r;
  };
  return () => {
    c.bind = bind;
  };
}

/** Runs `start` under umask 000, then undoes the spies `undo` (whatever start did). */
async function underUmask000<T>(
  start: () => T | Promise<T>,
  files: ListenedFile[],
  undo: (() => void)[],
): Promise<[T, ListenedFile[]]> {
  const mask = process.umask(0);
  try {
    return [await start(), files];
  } finally {
    process.umask(mask);
    for (const u of undo) u();
  }
}

/** Runs `start` under umask 000 with listen watched; returns what it returned and what was listened on. */
export function listenedUnderUmask000<T>(start: () => T | Promise<T>): Promise<[T, ListenedFile[]]> {
  const c = libc() as WritableLibc;
  const listen = c.listen;
  const denoListen = Deno.listen;
  const bound = new Map<number, string>();
  const files: ListenedFile[] = [];
  const unbind = watchBind((fd, path) => bound.set(fd, path));
  c.listen = (fd, backlog) => {
    const r = listen(fd, backlog);
    const path = bound.get(fd);
    if (r === 0 && path !== undefined) files.push(seen(path));
    return r;
  };
  // deno-lint-ignore no-explicit-any
  (Deno as any).listen = (options: Deno.UnixListenOptions & { transport: "unix" }) => {
    const l = denoListen(options);
    if (options.transport === "unix") files.push(seen(options.path));
    return l;
  };
  return underUmask000(start, files, [unbind, () => {
    c.listen = listen;
    // deno-lint-ignore no-explicit-any
    (Deno as any).listen = denoListen;
  }]);
}

/**
 * The files that began listening with a mode wider than `mode` where others could reach them (not in a
 * directory only its owner may enter).
 */
export function widerThan(files: ListenedFile[], mode: number): ListenedFile[] {
  return files.filter((f) => (f.dirMode & 0o077) !== 0 && (f.mode & 0o777 & ~mode) !== 0);
}

/**
 * Runs `start` under umask 000 with every way a socket file comes to its name watched (libc's bind,
 * linkat and renameat, Deno.linkSync, Deno.renameSync): each name as it appeared, its mode and its directory's, before any
 * later chmod. A datagram socket never listens: another user may send to it from its first moment.
 */
export function appearedUnderUmask000<T>(start: () => T | Promise<T>): Promise<[T, ListenedFile[]]> {
  const c = libc() as WritableLibc;
  const link = Deno.linkSync;
  const rename = Deno.renameSync;
  const linkat = c.linkat;
  const renameat = c.renameat;
  const files: ListenedFile[] = [];
  const unbind = watchBind((_fd, path) => files.push(seen(path)));
  // private_socket.ts links and renames through its staging directory's descriptor (linkat, renameat).
  c.linkat = (fromDir, from, toDir, to, flags) => {
    const r = linkat(fromDir, from, toDir, to, flags);
    if (r === 0) files.push(seen(cString(to)));
    return r;
  };
  c.renameat = (fromDir, from, toDir, to) => {
    const r = renameat(fromDir, from, toDir, to);
    if (r === 0) files.push(seen(cString(to)));
    return r;
  };
  Deno.linkSync = (from, to) => {
    link(from, to);
    files.push(seen(to));
  };
  Deno.renameSync = (from, to) => {
    rename(from, to);
    files.push(seen(String(to)));
  };
  return underUmask000(start, files, [unbind, () => {
    Deno.linkSync = link;
    Deno.renameSync = rename;
    c.linkat = linkat;
    c.renameat = renameat;
  }]);
}

/** A NUL-terminated path handed to libc (an absolute one: the *at calls' target here is AT_FDCWD's). */
function cString(buf: unknown): string {
  const bytes = buf instanceof Uint8Array ? buf : new Uint8Array();
  const end = bytes.indexOf(0);
  return new TextDecoder().decode(bytes.subarray(0, end < 0 ? bytes.length : end));
}
