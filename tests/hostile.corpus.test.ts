/**
 * The hostile-config corpus: stack files that are valid YAML and mostly valid config, each with one
 * value that would hurt the host through one output (a unit file, a Nix module, tmpfiles,
 * pg_hba.conf, LiteLLM's YAML, a host script's arguments). Each goes through the CLI exactly as a
 * user runs it (`homefleet render -c FILE -o DIR`): it must be refused with exit status 1, every
 * problem naming the file, line, column and config path with the exact message, and nothing
 * written. What homefleet makes safe by construction instead of refusing is proven with the real
 * program elsewhere: pg_hba.conf quoting with PostgreSQL (postgres.hba.test.ts), Nix strings with
 * nix-instantiate (nixWriter.test.ts), unit-file values with systemd (unitWriter.test.ts),
 * directory modes with systemd-tmpfiles (acme.pebble.test.ts), calendars with systemd-analyze
 * (calendar.test.ts).
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { main } from "../cli/main";
import { CASES, cleanStackFile, hostileStackFileText, type Raw } from "./support/hostileCorpus";

let dir = "";
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "hf-hostile-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function render(stackFile: Raw, name: string): Promise<{ code: number; stderr: string; file: string; out: string }> {
  const file = join(dir, `${name}.yaml`);
  const out = join(dir, `${name}-out`);
  writeFileSync(file, hostileStackFileText(stackFile));
  let stderr = "";
  const io = { out: { write: () => true }, err: { write: (s: string) => ((stderr += s), true) }, cwd: dir };
  const code = await main(["node", "homefleet", "render", "-c", file, "-o", out], io as never);
  return { code, stderr, file, out };
}

it("the clean fleet renders", async () => {
  const r = await render(cleanStackFile(), "clean");
  expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
  expect(existsSync(r.out)).toBe(true);
});

describe.each(CASES.map((c, i) => [`${c.harm} (${c.output})`, c, i] as const))("%s", (_title, c, i) => {
  it("is refused with the file, line, column, config path and reason, before anything is written", async () => {
    const stackFile = cleanStackFile();
    c.change(stackFile.config);
    const r = await render(stackFile, `case-${i}`);
    expect({ code: r.code, problems: r.stderr.split("\n").filter(Boolean) }).toEqual({ code: 1, problems: ["homefleet: invalid configuration", ...c.refused.map((p) => `  ${basename(r.file)}:${p}`)] });
    expect(existsSync(r.out)).toBe(false);
  });
});
