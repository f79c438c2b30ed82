/**
 * Mermaid validation with the real `mermaid` package (devDependency, with jsdom for its DOMPurify).
 * mermaid is ESM-only, so it runs in a child Node process (mermaid-parse.mjs); one process
 * serves a whole batch of diagrams.
 */
import { spawn } from "node:child_process";
import { join } from "node:path";

export interface MermaidResult {
  readonly ok: boolean;
  /** mermaid's own error message (parser error, unknown diagram type, invalid gantt date, ...). */
  readonly error?: string;
  /** mermaid's diagram type, e.g. "flowchart-v2" or "gantt". */
  readonly diagramType?: string;
}

const SCRIPT = join(__dirname, "mermaid-parse.mjs");
const MARKER = "@@MERMAID_RESULTS@@";
const TIMEOUT_MS = 60_000;

export async function validateMermaid(sources: string[]): Promise<MermaidResult[]> {
  if (sources.length === 0) return [];
  const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(process.execPath, [SCRIPT], { stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    let err = "";
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`mermaid validator timed out after ${TIMEOUT_MS} ms\n${err}`));
    }, TIMEOUT_MS);
    child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (err += d));
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on("close", (c) => {
      clearTimeout(timer);
      resolve({ code: c, stdout: out, stderr: err });
    });
    child.stdin.end(JSON.stringify(sources));
  });
  const line = stdout.split("\n").find((l) => l.startsWith(MARKER));
  if (code !== 0 || line === undefined) {
    throw new Error(`mermaid validator failed (exit ${code}); is the mermaid devDependency installed (npm ci)?\n${stderr}${stdout}`);
  }
  const results = JSON.parse(line.slice(MARKER.length)) as MermaidResult[];
  if (results.length !== sources.length) {
    throw new Error(`mermaid validator returned ${results.length} results for ${sources.length} diagrams`);
  }
  return results;
}
