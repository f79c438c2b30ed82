/**
 * `homefleet review`: the reports of the committed stacks render, every Mermaid block in them is
 * valid for the real Mermaid parser, JSON output is stable, and errors give exit status 1.
 */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { parse } from "yaml";
import { main } from "../cli/main";
import { validateMermaid, type MermaidResult } from "./support/mermaid";

const ROOT = join(__dirname, "..");

async function homefleet(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const io = { out: { write: (s: string) => ((stdout += s), true) }, err: { write: (s: string) => ((stderr += s), true) }, cwd: ROOT };
  const code = await main(["node", "homefleet", ...args], io as never);
  return { code, stdout, stderr };
}

const mermaidBlocks = (md: string) => [...md.matchAll(/```mermaid\n([\s\S]*?)```/g)].map((m) => m[1]);

const COMMITTED_STACKS = ["staging", "prod"] as const;
type CommittedStack = (typeof COMMITTED_STACKS)[number];

/** Each committed stack's review, Markdown and JSON, made once. */
const reviews = new Map<CommittedStack, Promise<{ md: string; json: string }>>();
function reviewOf(stack: CommittedStack): Promise<{ md: string; json: string }> {
  let review = reviews.get(stack);
  if (!review) {
    review = (async () => {
      const a = await homefleet("review", "--stack", stack, "--no-exposure");
      const b = await homefleet("review", "--stack", stack, "--no-exposure", "--format", "json");
      expect(a.code).toBe(0);
      expect(b.code).toBe(0);
      return { md: a.stdout, json: b.stdout };
    })();
    reviews.set(stack, review);
  }
  return review;
}

/**
 * Mermaid's verdicts on the diagrams of both reviews, from one validator process: loading
 * mermaid and jsdom takes seconds, parsing a diagram milliseconds.
 */
let mermaidVerdicts: Promise<Map<CommittedStack, MermaidResult[]>> | undefined;
function mermaidVerdictsOf(stack: CommittedStack): Promise<MermaidResult[]> {
  mermaidVerdicts ??= (async () => {
    const blocks = await Promise.all(COMMITTED_STACKS.map(async (s) => mermaidBlocks((await reviewOf(s)).md)));
    const results = await validateMermaid(blocks.flat());
    let from = 0;
    return new Map(COMMITTED_STACKS.map((s, i) => [s, results.slice(from, (from += blocks[i].length))]));
  })();
  return mermaidVerdicts.then((verdicts) => verdicts.get(stack)!);
}

describe.each(COMMITTED_STACKS)("the %s review", (stack) => {
  let md: string;
  let json: string;
  beforeAll(async () => {
    ({ md, json } = await reviewOf(stack));
  });

  it("has every section of a hand-written review", () => {
    for (const heading of ["## Findings by priority", "## Inventory", "### Ports", ": dependencies", ": timer schedule", "## Coverage", "## Exposure"]) expect(md).toContain(heading);
  });

  it("draws one dependency graph and one timer schedule per host, all valid Mermaid", async () => {
    const blocks = mermaidBlocks(md);
    const hosts = (JSON.parse(json).hosts as unknown[]).length;
    expect(blocks).toHaveLength(hosts * 2);
    const results = await mermaidVerdictsOf(stack);
    expect(results.map((r) => r.error ?? "ok")).toEqual(blocks.map(() => "ok"));
    expect(results.map((r) => r.diagramType).sort()).toEqual([...Array(hosts).fill("flowchart-v2"), ...Array(hosts).fill("gantt")].sort());
  });

  it("writes the same JSON every time, with a summary tools can read", async () => {
    const again = await homefleet("review", "--stack", stack, "--no-exposure", "--format", "json");
    expect(again.stdout).toBe(json);
    const doc = JSON.parse(json);
    expect(Object.keys(doc)).toEqual(["generator", "version", "title", "summary", "hosts", "coverage", "findings", "unusedAccepts"]);
    expect(doc.summary).toEqual({ error: 0, warning: 0, info: 0, accepted: 0 });
    expect(doc.coverage.length).toBeGreaterThanOrEqual(4);
  });

  it("lists each host certificate once, on a row of its own, and on no stack's row", () => {
    const doc = JSON.parse(json) as { hosts: { name: string; certificates?: unknown }[]; coverage: { host: string; stack: string; service: string; certificate: string }[] };
    const certRows = doc.coverage.filter((r) => r.service.startsWith("homefleet-cert-"));
    const stackFile = parse(readFileSync(join(ROOT, `Pulumi.${stack}.yaml`), "utf8")) as { config: { "homefleet:hosts": Record<string, { certificates?: Record<string, unknown> }> } };
    const declared = Object.entries(stackFile.config["homefleet:hosts"]).flatMap(([host, h]) => Object.keys(h.certificates ?? {}).map((c) => `${host}/homefleet-cert-${c}`));
    expect(certRows.map((r) => `${r.host}/${r.service}`).sort()).toEqual(declared.sort());
    for (const r of certRows) expect(r).toMatchObject({ stack: "—", certificate: expect.stringMatching(/^[a-z0-9-]+ \((acme|step-ca), renewed \d\d:\d\d\)$/) });
    expect(doc.coverage.filter((r) => r.stack !== "—").map((r) => r.certificate)).toEqual(doc.coverage.filter((r) => r.stack !== "—").map(() => "—"));
  });
});

describe("a fleet with problems", () => {
  const dir = mkdtempSync(join(tmpdir(), "homefleet-review-"));
  const file = join(dir, "Pulumi.bad.yaml");
  const doc = parse(readFileSync(join(ROOT, "Pulumi.staging.yaml"), "utf8"));
  doc.config["homefleet:stacks"]["litellm-box"].network = { mode: "host" };
  doc.config["homefleet:stacks"]["litellm-box"].container.publish = { hostPort: 9100, address: "192.168.50.12" };
  writeFileSync(file, stringify(doc));

  it("exits 1, prints the blocking error, and lists findings by priority", async () => {
    const run = await homefleet("review", "--config", file, "--no-exposure");
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^error: \[error\] port-clash homefleet:hosts\.box-staging: /m);
    const errors = run.stdout.indexOf("### Errors");
    const warnings = run.stdout.indexOf("### Warnings");
    expect(errors).toBeGreaterThan(0);
    expect(warnings).toBeGreaterThan(errors);
    expect(run.stdout).toContain("**host-network** `homefleet:stacks.litellm-box.network.mode`");
  });

  it("reports the same findings in JSON", async () => {
    const run = await homefleet("review", "--config", file, "--no-exposure", "--format", "json");
    const findings = JSON.parse(run.stdout).findings as { check: string; severity: string }[];
    expect(findings.filter((f) => f.severity === "error").map((f) => f.check)).toContain("port-clash");
    expect(findings.map((f) => f.check)).toContain("host-network");
  });
});

it("measures exposure with systemd-analyze when it is there", async () => {
  const run = await homefleet("review", "--stack", "prod", "--format", "json");
  const forge = (JSON.parse(run.stdout).hosts as { name: string; exposure: Record<string, number> }[]).find((h) => h.name === "forge")!;
  expect(forge.exposure["redis-litellm-forge.service"]).toBeLessThanOrEqual(2);
  expect(forge.exposure["podman-litellm-forge.service"]).toBeGreaterThan(5);
});

describe("a NixOS host's review is about what that host runs", () => {
  it("draws nixpkgs' postgresql.service, never the Debian instance unit, and scores no NixOS unit", async () => {
    const { loadStackFile } = await import("../config/load");
    const { renderFleet } = await import("../bundle/hostBundle");
    const { measureExposure } = await import("../review/exposure");
    const render = renderFleet(loadStackFile(join(ROOT, "Pulumi.prod.yaml")));
    const md = (await homefleet("review", "--stack", "prod", "--no-exposure")).stdout;
    const vulcanGraph = md.slice(md.indexOf("## vulcan: dependencies"), md.indexOf("## vulcan: timer schedule"));
    expect(vulcanGraph).toContain('["postgresql.service"]');
    expect(vulcanGraph).not.toMatch(/postgresql@/);
    expect(md).toContain("Not measured for NixOS hosts (vulcan)");
    // systemd-analyze is installed wherever the tests run (.ci/run installs systemd).
    expect([...measureExposure(render).keys()]).toEqual(render.model.hosts.filter((h) => h.os === "systemd").map((h) => h.name));
  });
});
