/**
 * Runs the Pulumi program under Pulumi's mock runtime and returns what it registered, the way
 * the engine would record it in state: every resource's inputs and, for components, the
 * outputs given to registerOutputs (serialized, secrets in their envelope).
 */
import * as pulumi from "@pulumi/pulumi";
import { readFileSync } from "node:fs";
import { Session } from "node:inspector";
import { parse } from "yaml";

/**
 * What a program run leaves in the process, undone when the test file ends. `pulumi up` runs one
 * program per process; jest runs many test files, each with its own copy of the SDK, in one
 * worker. Each copy connects an inspector session (to serialize dynamic providers) and adds a
 * process "exit" listener (its promise leak report), and neither is ever let go: every earlier
 * file's SDK stayed in memory (about 50 MB a file), and every session heard of every script any
 * later file loaded, so that each Pulumi test file started more slowly than the one before.
 */
const exitListenersBefore = new Set(process.listeners("exit"));
const sessions: Session[] = [];
const connect = Session.prototype.connect;
Session.prototype.connect = function (this: Session): void {
  sessions.push(this);
  connect.call(this);
};
afterAll(() => {
  Session.prototype.connect = connect;
  for (const session of sessions.splice(0)) session.disconnect();
  for (const listener of process.listeners("exit")) if (!exitListenersBefore.has(listener)) process.removeListener("exit", listener);
});

export const SECRET_SIG = "4dabf18193072939515e22adb298388d";

export interface RegisteredResource {
  readonly urn: string;
  readonly type: string;
  readonly name: string;
  /** Type of the parent, from the URN's type chain; undefined only for the root stack. */
  readonly parentType?: string;
  readonly custom: boolean;
  readonly inputs: Record<string, unknown>;
  /** Serialized state as the engine would store it (component outputs included). */
  readonly state: unknown;
}

export interface ProgramRun {
  readonly resources: RegisteredResource[];
  readonly outputs: Record<string, unknown> | undefined;
  readonly error?: Error;
}

/** Every RandomPassword "result" the mocks hand out: easy to find anywhere it leaks. */
export function canaryFor(name: string): string {
  return `CANARY${name.replace(/[^A-Za-z0-9]/g, "")}X9`;
}

/** The deploy key a real stack holds as an encrypted secret (`pulumi config set --secret sshPrivateKey`). */
export const TEST_SSH_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nCANARYsshPrivateKeyX9\n-----END OPENSSH PRIVATE KEY-----\n";

/** A stack file's config as Pulumi hands it to the program, plus the secret deploy key. */
export function stackFileConfig(file: string): Record<string, string> {
  const doc = parse(readFileSync(file, "utf8")) as { config: Record<string, unknown> };
  const config = Object.fromEntries(Object.entries(doc.config).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)]));
  return { "homefleet:sshPrivateKey": TEST_SSH_KEY, ...config };
}

export interface MockOptions {
  /** Outputs of other stacks, by stack name, as a StackReference reads them. */
  readonly stackOutputs?: Readonly<Record<string, Record<string, unknown>>>;
  /** Health verdict each host deployment reports (default healthy). */
  readonly verdicts?: Readonly<Record<string, string>>;
  /** Generated secrets (resource names) that report no value, as under a targeted up that skipped creating them. */
  readonly skippedSecrets?: readonly string[];
}

export async function runProgram(config: Record<string, string>, secretKeys: string[] = ["homefleet:sshPrivateKey"], options: MockOptions = {}): Promise<ProgramRun> {
  const inputsByUrn = new Map<string, { inputs: Record<string, unknown>; custom: boolean }>();
  await pulumi.runtime.setMocks(
    {
      newResource(args) {
        const state: Record<string, unknown> = { ...args.inputs };
        if (args.type === "pulumi-nodejs:dynamic/homefleet:GeneratedSecret" && !options.skippedSecrets?.includes(args.name)) state.result = canaryFor(args.name);
        if (args.type === "pulumi:pulumi:StackReference") {
          const outputs = options.stackOutputs?.[args.inputs.name as string];
          if (!outputs) throw new Error(`no outputs mocked for stack ${args.inputs.name}`);
          state.outputs = outputs;
        }
        if (args.type === "pulumi-nodejs:dynamic/homefleet:HostDeployment") {
          // What a host deployment reports after create: its generation and health verdict.
          const verdict = options.verdicts?.[args.inputs.host as string] ?? "healthy";
          if (verdict !== "healthy") throw new Error(`host ${args.inputs.host}: generation 1 failed its health check (mocked)`);
          state.generation = 1;
          state.health = { verdict, checkedAt: "2026-11-24T00:00:00.000Z", checks: [] };
          state.unitStates = {};
        }
        const key = `${args.type}::${args.name}`;
        inputsByUrn.set(key, { inputs: args.inputs, custom: !!args.custom });
        return { id: `${args.name}-id`, state };
      },
      call(args) {
        return args.inputs;
      },
    },
    "homefleet",
    "test",
    false,
  );
  pulumi.runtime.setAllConfig(config, secretKeys);
  let outputs: Record<string, unknown> | undefined;
  let error: Error | undefined;
  // The SDK takes a stack trace for every promise it makes and every resource it registers
  // (`new Error().stack`), which jest maps through each file's source map: a good part of a
  // program run here. Its errors keep their messages, which is what the tests read.
  const stackTraceLimit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    outputs = (await pulumi.runtime.runInPulumiStack(async () => {
      // One program run per test file: jest gives each file its own module registry.
      return { ...(await import("../../index")) };
    })) as Record<string, unknown> | undefined;
    // registerOutputs of components waits on their children's outputs: wait for every
    // outstanding RPC to reach the monitor, as the engine would before saving state.
    await pulumi.runtime.disconnect();
  } catch (err) {
    error = err as Error;
    // Host deployments that never registered (a failed wave) still serialize their provider in
    // the background; let that finish before jest tears the module system down under it.
    const { hostDeploymentProvider } = await import("../../deploy/hostDeploymentProvider");
    await pulumi.runtime.serializeFunction(() => hostDeploymentProvider, { allowSecrets: true });
  } finally {
    Error.stackTraceLimit = stackTraceLimit;
  }
  const monitor = pulumi.runtime.getMonitor() as unknown as { getRegisteredResources(): Map<string, { urn: string; state: unknown }> };
  const resources: RegisteredResource[] = [];
  for (const [urn, entry] of monitor.getRegisteredResources()) {
    const [, , qualifiedType, name] = urn.split("::");
    const chain = qualifiedType.split("$");
    const type = chain[chain.length - 1];
    const recorded = inputsByUrn.get(`${type}::${name}`);
    resources.push({
      urn,
      type,
      name,
      parentType: chain.length > 1 ? chain[chain.length - 2] : undefined,
      custom: recorded?.custom ?? false,
      inputs: recorded?.inputs ?? {},
      state: typeof (entry.state as { toJavaScript?: () => unknown })?.toJavaScript === "function" ? (entry.state as { toJavaScript: () => unknown }).toJavaScript() : entry.state,
    });
  }
  return { resources, outputs, error };
}

/** Resolves an Output (or plain value) and tells whether it is secret. */
export async function resolve<T>(value: pulumi.Input<T>): Promise<{ value: T; secret: boolean }> {
  if (!pulumi.Output.isInstance(value)) return { value: value as T, secret: false };
  const out = value as pulumi.Output<T> & { isSecret: Promise<boolean> };
  const resolved = await new Promise<T>((r) => out.apply((v) => r(v)));
  return { value: resolved, secret: await out.isSecret };
}

/** Every string found in `value` outside a secret envelope. */
export function plaintextStrings(value: unknown, out: string[] = []): string[] {
  if (typeof value === "string") out.push(value);
  else if (Array.isArray(value)) value.forEach((v) => plaintextStrings(v, out));
  else if (value && typeof value === "object") {
    const record = value as Record<string, unknown>;
    if (record[SECRET_SIG] === "1b47061264138c4ac30d75fd1eb44270") return out; // a secret: its value is encrypted in real state
    for (const v of Object.values(record)) plaintextStrings(v, out);
  }
  return out;
}

/** Mocks that only record which resources the program registers (for "registers nothing" tests). */
export async function recordRegistrations(preview = false): Promise<string[]> {
  const registered: string[] = [];
  await pulumi.runtime.setMocks(
    {
      newResource: (args) => {
        registered.push(`${args.type} ${args.name}`);
        return { id: args.name, state: args.inputs };
      },
      call: (args) => args.inputs,
    },
    "homefleet",
    "test",
    preview,
  );
  return registered;
}

/**
 * Waits until every resource the program started to register has reached the mocks. A test that
 * stops after the program's first pass must call it: homefleet's dynamic resources serialize their
 * provider asynchronously, and a test that ended before would tear the runtime down under them.
 */
export async function settleRegistrations(): Promise<void> {
  // Not in the SDK's typings: the same wait the runtime does before it disconnects.
  const settings = require("@pulumi/pulumi/runtime/settings") as { waitForRPCs(): Promise<void> };
  await settings.waitForRPCs();
}
