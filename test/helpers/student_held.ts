/**
 * A test module for student.test.ts to run as a child `deno test` and kill:
 * it makes a student, starts a process of theirs, says so in the file named
 * by VDE_STUDENT_HELD (the user's name, uid and directory), and waits to be
 * killed. Its name keeps `deno test test/` from running it on its own.
 */
import { withStudent } from "./student.ts";

Deno.test("a student held until the run is killed", async () => {
  const said = Deno.env.get("VDE_STUDENT_HELD");
  if (said === undefined) throw new Error("VDE_STUDENT_HELD names the file to say the student in");
  await withStudent([], async (s) => {
    // A process of the user's that nothing but the cleanup ends.
    void s.as(["sleep", "120"], 130_000);
    const name = (await s.as(["id", "-un"])).stdout.trim();
    await Deno.writeTextFile(`${said}.part`, JSON.stringify({ name, uid: s.uid, tmp: s.tmp }));
    await Deno.rename(`${said}.part`, said);
    // Bounded: a parent that never kills it still sees this run end.
    await new Promise((res) => setTimeout(res, 90_000));
  });
});
