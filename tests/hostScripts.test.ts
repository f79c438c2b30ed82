/**
 * Host scripts are committed files, render/scripts/<name>.sh (render/scripts/files.ts). Every
 * file there is shellchecked as committed; every installed script is one of them with its
 * lib/ includes expanded, and the expanded text is shellchecked too (the fragments' leading
 * comment blocks, with their shellcheck directives, are not part of it).
 */
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { expandIncludes, hostScriptText, withoutLeadingComments } from "../render/scripts/files";
import { scriptNamed } from "../render/scripts/registry";
import { hostScriptPath, shellcheck, shellcheckFile } from "./support/validators";

const DIR = join(__dirname, "..", "render", "scripts");
const committed = [
  ...readdirSync(DIR).filter((f) => f.endsWith(".sh")),
  ...readdirSync(join(DIR, "lib")).map((f) => `lib/${f}`),
].sort();
const scripts = readdirSync(DIR)
  .filter((f) => f.endsWith(".sh"))
  .map((f) => f.slice(0, -3));

it("finds the scripts and the shared fragments", () => {
  expect(committed).toEqual(expect.arrayContaining(["homefleet-activate.sh", "homefleet-backup-postgresql.sh", "lib/backup-common.sh", "lib/cert-common.sh"]));
  expect(scripts.length).toBeGreaterThanOrEqual(10);
});

it.each(committed)("render/scripts/%s passes shellcheck as committed, without a single finding", (file) => {
  const result = shellcheckFile(join(DIR, file));
  expect({ status: result.status, findings: result.stdout }).toEqual({ status: 0, findings: "" });
});

it.each(scripts)("%s is installed as its file with the includes expanded, and that text passes shellcheck", (name) => {
  const spec = scriptNamed(name);
  expect(spec.text).toBe(hostScriptText(`${name}.sh`));
  expect(spec.text).not.toMatch(/BASH_SOURCE|shellcheck source=|shellcheck shell=|Not a script of its own/);
  const result = shellcheck(spec.text);
  expect({ status: result.status, findings: result.stdout }).toEqual({ status: 0, findings: "" });
});

it("puts a fragment's text, without its leading comment block, in place of the two include lines", () => {
  const postgresql = readFileSync(hostScriptPath("homefleet-backup-postgresql"), "utf8");
  const fragment = withoutLeadingComments(readFileSync(join(DIR, "lib", "backup-common.sh"), "utf8"));
  expect(fragment.startsWith("\nif [[ ! $job =~")).toBe(true);
  const include = '# shellcheck source=lib/backup-common.sh\n. "${BASH_SOURCE%/*}/lib/backup-common.sh"\n';
  const at = postgresql.indexOf(include);
  expect(at).toBeGreaterThan(0);
  expect(scriptNamed("homefleet-backup-postgresql").text).toBe(postgresql.slice(0, at) + fragment + postgresql.slice(at + include.length));
});

it("refuses an include whose directive and source line disagree, and a source line it does not expand", () => {
  const fragment = () => "\necho included\n";
  expect(expandIncludes("x.sh", '#!/bin/bash\n# shellcheck source=lib/a.sh\n. "${BASH_SOURCE%/*}/lib/a.sh"\ndone\n', fragment)).toBe("#!/bin/bash\n\necho included\ndone\n");
  expect(() => expandIncludes("x.sh", '# shellcheck source=lib/a.sh\n. "${BASH_SOURCE%/*}/lib/b.sh"\n', fragment)).toThrow(/directive names lib\/a.sh but the script sources lib\/b.sh/);
  expect(() => expandIncludes("x.sh", '#!/bin/bash\n. "$(dirname "$0")/lib/a.sh"\n', fragment)).toThrow(/render\/scripts\/x.sh: a line sources a file/);
});

it("runs a script from the repository as it is: the include is sourced for real", () => {
  // Bad RETENTION_DAYS: the check lives in lib/backup-common.sh, so this message proves it ran.
  const r = spawnSync("bash", [hostScriptPath("homefleet-backup-config"), "/nonexistent", "0", "job", "config", "/etc/hostname"], {
    encoding: "utf8",
    env: { ...process.env, HOMEFLEET_TEXTFILE_DIR: "/nonexistent-textfile-dir" },
  });
  expect(r.stderr).toContain("RETENTION_DAYS must be a whole number of days from 1 to 99999, got: 0");
  expect(r.status).toBe(1);
});
