/**
 * bin/homefleet.js runs the CLI from one bundled file with V8's code cache (bin/cliBundle.js).
 * The bundle must behave as the compiled modules do, and must not be used once a file it was
 * built from is newer than it.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { main } from "../cli/main";

const ROOT = join(__dirname, "..");
const bundle = require("../bin/cliBundle.js") as { BUNDLE: string; INPUTS: string; bundleIsFresh(): boolean };

function tree(dir: string): Map<string, { bytes: Buffer; mode: number }> {
  const files = new Map<string, { bytes: Buffer; mode: number }>();
  for (const f of readdirSync(dir, { recursive: true, encoding: "utf8" }).sort()) {
    const full = join(dir, f);
    if (statSync(full).isFile()) files.set(relative(dir, full), { bytes: readFileSync(full), mode: statSync(full).mode & 0o7777 });
  }
  return files;
}

/** dist/ as the sources are now (as tests/cli.test.ts's launcher test does), then the bundle and its cache. */
function build(): void {
  const compiled = join(ROOT, "dist", "cli", "main.js");
  const built = existsSync(compiled) ? statSync(compiled).mtimeMs : 0;
  const sources = ["cli", "config", "model", "render", "bundle", "review"].flatMap((d) =>
    readdirSync(join(ROOT, d), { recursive: true, encoding: "utf8" })
      .filter((f) => f.endsWith(".ts"))
      .map((f) => join(ROOT, d, f)),
  );
  if (sources.some((f) => statSync(f).mtimeMs > built)) {
    const tsc = spawnSync("npx", ["tsc", "-p", "."], { cwd: ROOT, encoding: "utf8" });
    if (tsc.status !== 0) throw new Error(`npx tsc -p . failed:\n${tsc.stdout}${tsc.stderr}`);
  }
  const run = spawnSync(process.execPath, [join(ROOT, "bin", "build-cli-bundle.js")], { cwd: ROOT, encoding: "utf8" });
  if (run.status !== 0) throw new Error(`bin/build-cli-bundle.js failed:\n${run.stdout}${run.stderr}`);
}

let scratch: string;

beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), "homefleet-bundle-test-"));
  build();
});

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

it("renders from the bundle the same tree as main(), with nothing on stderr", async () => {
  expect(bundle.bundleIsFresh()).toBe(true);
  const fromBundle = join(scratch, "bundle");
  const child = spawnSync(process.execPath, [join(ROOT, "bin", "homefleet.js"), "render", "--stack", "prod", "--out", fromBundle], { cwd: ROOT, encoding: "utf8" });
  expect({ status: child.status, stderr: child.stderr }).toEqual({ status: 0, stderr: "" });

  const fromMain = join(scratch, "main");
  const quiet = { write: () => true };
  const io = { out: quiet, err: quiet, cwd: ROOT } as unknown as NonNullable<Parameters<typeof main>[1]>;
  expect(await main(["node", "homefleet", "render", "--stack", "prod", "--out", fromMain], io)).toBe(0);
  expect(tree(fromBundle)).toEqual(tree(fromMain));
});

it("writes its output through pipes without making process.stdout or process.stderr, and errors as before", () => {
  // Preloaded: records whether anything asked for node's stdio streams, and says so at exit.
  const trap = join(scratch, "stdio-trap.js");
  writeFileSync(
    trap,
    `const asked = [];
for (const name of ["stdout", "stderr"]) {
  const d = Object.getOwnPropertyDescriptor(process, name);
  Object.defineProperty(process, name, { configurable: true, enumerable: d.enumerable, get() { asked.push(name); return d.get.call(this); } });
}
process.on("exit", () => require("node:fs").writeSync(2, "asked: " + JSON.stringify(asked) + "\\n"));
`,
  );
  const run = (...args: string[]) => spawnSync(process.execPath, ["-r", trap, join(ROOT, "bin", "homefleet.js"), ...args], { cwd: ROOT, encoding: "utf8" });
  // The trap sees a program that does make them.
  expect(spawnSync(process.execPath, ["-r", trap, "-e", "process.stdout.write('x')"], { encoding: "utf8" }).stderr).toBe('asked: ["stdout"]\n');
  const out = join(scratch, "stdio");
  const render = run("render", "--stack", "staging", "--out", out);
  expect({ status: render.status, stdout: render.stdout, stderr: render.stderr }).toEqual({ status: 0, stdout: `rendered 49 files for 2 hosts (box-staging: 36, pi-staging: 13) into ${out}\n`, stderr: 'asked: []\n' });
  // An error reaches stderr through the same writer.
  const unknown = run("render", "--stack", "no-such-stack", "--out", out);
  expect(unknown.status).toBe(1);
  expect(unknown.stderr).toMatch(/^homefleet: unknown stack "no-such-stack": .*\nasked: \[\]\n$/);
  // Large output (more than a pipe holds) arrives whole.
  const schema = run("schema");
  expect(schema.status).toBe(0);
  expect(JSON.parse(schema.stdout).$schema).toBe("https://json-schema.org/draft/2020-12/schema");
  expect(schema.stdout.length).toBeGreaterThan(65536);
});

it("is not used once a compiled file it was built from is newer than it", () => {
  const inputs = JSON.parse(readFileSync(bundle.INPUTS, "utf8")) as string[];
  expect(inputs).toContain("dist/cli/render.js");
  const input = join(ROOT, "dist", "cli", "render.js");
  const { atime, mtime } = statSync(input);
  try {
    const later = new Date(statSync(bundle.BUNDLE).mtimeMs + 60_000);
    utimesSync(input, later, later);
    expect(bundle.bundleIsFresh()).toBe(false);
  } finally {
    utimesSync(input, atime, mtime);
  }
  expect(bundle.bundleIsFresh()).toBe(true);
});
