/**
 * The host-deployment provider exactly as `pulumi up` runs it: serialized by Pulumi's closure
 * serializer (what pulumi.dynamic.Resource stores in state), loaded in a separate Node process
 * the way Pulumi's dynamic-provider host loads it, and called method by method.
 */
import * as pulumi from "@pulumi/pulumi";
import { spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { hostDeploymentProvider } from "../../hosts/HostDeployment";

const ROOT = join(__dirname, "..", "..");

/** Writes the serialized provider under the project (so it resolves ssh2 from node_modules) and returns its path. */
export async function serializeProvider(): Promise<{ file: string; text: string }> {
  const { text } = await pulumi.runtime.serializeFunction(() => hostDeploymentProvider, { allowSecrets: true });
  const dir = join(ROOT, ".tmp");
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `host-deployment-provider-${process.pid}.js`);
  writeFileSync(file, text);
  return { file, text };
}

const RUNNER = `
let input = "";
process.stdin.on("data", (d) => (input += d));
process.stdin.on("end", async () => {
  const { file, method, args } = JSON.parse(input);
  try {
    const provider = require(file).handler();
    const result = await provider[method](...args);
    process.stdout.write(JSON.stringify({ result: result ?? null }));
  } catch (err) {
    process.stdout.write(JSON.stringify({ error: String(err && err.message || err) }));
  }
});`;

export interface ProviderCall {
  readonly result?: any;
  readonly error?: string;
  /** Everything the provider process printed outside its result (must hold no secret). */
  readonly stderr: string;
}

export function callProvider(file: string, method: "check" | "diff" | "create" | "read" | "update" | "delete", ...args: unknown[]): Promise<ProviderCall> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["-e", RUNNER], { cwd: ROOT, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", () => {
      try {
        resolve({ ...JSON.parse(stdout), stderr });
      } catch {
        reject(new Error(`provider process printed no result for ${method}:\n${stdout}\n${stderr}`));
      }
    });
    child.stdin.end(JSON.stringify({ file, method, args }));
  });
}
