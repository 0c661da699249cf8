/**
 * The rows of passwd(5) and group(5) text, as /etc/passwd and /etc/group
 * hold them and as getent(1) prints what NSS answers: one entry a line,
 * fields split at ':'. A line without a numeric id is skipped, not thrown
 * on: the text may be a directory service's.
 */

/** One parsed passwd or group row. */
export interface Row {
  name: string;
  id: number;
  /** Primary group (passwd) or members, comma-separated (group). */
  extra: string;
}

/** The rows of `text`; passwd: name:x:uid:gid:..., group: name:x:gid:members. */
export function parseRows(text: string): Row[] {
  const rows: Row[] = [];
  for (const line of text.split("\n")) {
    const f = line.split(":");
    if (f.length < 4 || !/^\d+$/.test(f[2]!)) continue;
    rows.push({ name: f[0]!, id: Number(f[2]), extra: f[3]! });
  }
  return rows;
}

/** A group row's listed member names. */
export function listedMembers(row: Row | undefined): string[] {
  return row === undefined || row.extra === "" ? [] : row.extra.split(",");
}
