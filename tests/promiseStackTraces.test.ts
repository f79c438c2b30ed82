/**
 * bin/promiseStackTraces.js: under the source-map-support hook that Pulumi's runner installs, the
 * stack trace the SDK records with every promise is not written unless PULUMI_DEBUG_PROMISE_LEAKS
 * asks for it, while every other stack trace is still mapped to the TypeScript source.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as ts from "typescript";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { NOT_RECORDED, skipUnreadPromiseStacks } = require("../bin/promiseStackTraces.js") as { NOT_RECORDED: string; skipUnreadPromiseStacks(env?: NodeJS.ProcessEnv): void };

const ROOT = join(__dirname, "..");

/** A module compiled from TypeScript with its source map inline, as tsc writes the program's. */
const CALLER_TS = [
  "export function track(debuggablePromise: (p: Promise<void>, ctx: string) => Promise<void>, p: Promise<void>): Promise<void> {",
  '  return debuggablePromise(p, "ctx");',
  "}",
  "export function fail(): never {",
  '  throw new Error("boom");',
  "}",
  "",
].join("\n");

let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "hf-stacks-"));
  const compiled = ts.transpileModule(CALLER_TS, { fileName: "caller.ts", compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, inlineSourceMap: true } });
  writeFileSync(join(dir, "caller.js"), compiled.outputText);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * In a new node process started as Pulumi's runner starts the program (source-map-support first),
 * with or without skipUnreadPromiseStacks: what the SDK records with a promise, and a thrown
 * error's stack.
 */
function stacks(skip: boolean, env: NodeJS.ProcessEnv = {}): { promise: string; error: string } {
  const script = `
    require(require.resolve("source-map-support/register", { paths: [require.resolve("@pulumi/pulumi")] }));
    ${skip ? `require(${JSON.stringify(join(ROOT, "bin", "promiseStackTraces.js"))}).skipUnreadPromiseStacks();` : ""}
    const { debuggablePromise } = require("@pulumi/pulumi/runtime/debuggable");
    const caller = require(${JSON.stringify(join(dir, "caller.js"))});
    const promise = Promise.resolve();
    caller.track(debuggablePromise, promise);
    let error;
    try { caller.fail(); } catch (e) { error = e; }
    process.stdout.write(JSON.stringify({ promise: promise._debugStackTrace, error: error.stack }));
  `;
  const { PULUMI_DEBUG_PROMISE_LEAKS: _unset, ...inherited } = process.env;
  const run = spawnSync(process.execPath, ["-e", script], { cwd: ROOT, encoding: "utf8", env: { ...inherited, ...env } });
  expect(run.stderr).toBe("");
  return JSON.parse(run.stdout) as { promise: string; error: string };
}

it("leaves the SDK's promise stacks unwritten and still maps an error's stack to the TypeScript source", () => {
  const { promise, error } = stacks(true);
  expect(promise).toBe(NOT_RECORDED);
  expect(error).toMatch(/^Error: boom\n {4}at Object\.fail \(.*caller\.ts:5:\d+\)/);
});

it("writes them whole, mapped, under PULUMI_DEBUG_PROMISE_LEAKS, which prints them", () => {
  const { promise, error } = stacks(true, { PULUMI_DEBUG_PROMISE_LEAKS: "1" });
  expect(promise).toMatch(/\n {4}at debuggablePromise \(.*runtime\/debuggable\.ts:\d+:\d+\)\n {4}at Object\.track \(.*caller\.ts:2:\d+\)/);
  expect(error).toMatch(/caller\.ts:5:\d+/);
});

it("is needed: without it, every promise's stack is written and mapped", () => {
  const { promise } = stacks(false);
  expect(promise).toMatch(/at Object\.track \(.*caller\.ts:2:\d+\)/);
});

describe("in this process", () => {
  const installed = Error.prepareStackTrace;
  afterEach(() => {
    Error.prepareStackTrace = installed;
  });

  it("leaves V8's own formatting alone where no hook is installed", () => {
    const error = Error as { prepareStackTrace?: unknown };
    error.prepareStackTrace = undefined;
    skipUnreadPromiseStacks({});
    expect(error.prepareStackTrace).toBeUndefined();
  });

  it("wraps a hook once, however often it is called, and hands it every other stack", () => {
    const seen: string[] = [];
    const hook = (error: Error) => (seen.push(error.message), "mapped");
    Error.prepareStackTrace = hook;
    skipUnreadPromiseStacks({});
    const wrapper = Error.prepareStackTrace;
    skipUnreadPromiseStacks({});
    expect(Error.prepareStackTrace).toBe(wrapper);
    expect(wrapper).not.toBe(hook);
    expect(new Error("other").stack).toBe("mapped");
    expect(seen).toEqual(["other"]);
  });
});
