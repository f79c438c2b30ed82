/**
 * The stack files in examples/ (one per real-world system homefleet was built from) render, pass
 * the review with no error and no finding beyond the ones their comments explain, and every file
 * they render passes the real validators: nix-instantiate --parse, shellcheck, systemd-analyze
 * verify (no output at all), promtool check rules / check config, amtool check-config.
 * An example that stops rendering, gains a finding or writes an invalid file fails here.
 */
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { renderFleet, type FleetRender } from "../bundle/hostBundle";
import { main } from "../cli/main";
import { loadStackFile } from "../config/load";
import { projectRoot } from "./support/fleets";
import { nixParse, run, shellcheck, verifyUnits } from "./support/validators";

const ROOT = projectRoot();
const EXAMPLES = join(ROOT, "examples");

/**
 * The review findings each example is expected to have (check and config path), each explained
 * by a comment in its stack file. Anything else, and any error, fails.
 */
const EXPECTED_FINDINGS: Record<string, string[]> = {
  "tappaas-litellm": ["warning alert-delivery homefleet:monitoring.alertmanager"],
  vulcan: [
    "warning alert-delivery homefleet:monitoring.alertmanager.heartbeatReceiver",
    // LiteLLM's metrics without a licence (its comment says what to add).
    "info litellm-metrics homefleet:stacks.litellm.litellm.prometheusMetrics",
    // Every 15 and every 5 minutes: valid timers the day plan cannot place (info, not a warning).
    "info timer-calendar homefleet:hosts.vulcan.jobs.mbsync-johnw",
    "info timer-calendar homefleet:hosts.vulcan.jobs.nextcloud-cron",
  ],
  "ai-stack": [],
  "nixos-fleet": [],
  "litellm-systemd": [],
};

/** Hosts of one fleet share most scripts and many modules: each distinct text is validated once. */
const validated = new Map<string, { status: number | null; out: string }>();
function once(kind: string, text: string, check: () => { status: number | null; out: string }) {
  const key = `${kind}\0${text}`;
  if (!validated.has(key)) validated.set(key, check());
  return validated.get(key)!;
}

const names = readdirSync(EXAMPLES)
  .filter((d) => statSync(join(EXAMPLES, d)).isDirectory())
  .sort();
const fileOf = (name: string) => join(EXAMPLES, name, `Pulumi.${name}.yaml`);

async function review(file: string): Promise<{ code: number; doc: { summary: Record<string, number>; findings: { severity: string; check: string; path: string }[] }; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const io = { out: { write: (s: string) => ((stdout += s), true) }, err: { write: (s: string) => ((stderr += s), true) }, cwd: ROOT };
  const code = await main(["node", "homefleet", "review", "--config", file, "--format", "json"], io as never);
  return { code, doc: JSON.parse(stdout), stderr };
}

it("has one example per seed system, each a stack file named after its directory", () => {
  expect(names).toEqual(Object.keys(EXPECTED_FINDINGS).sort());
  for (const name of names) expect(readdirSync(join(EXAMPLES, name))).toEqual([`Pulumi.${name}.yaml`]);
});

describe.each(names)("example %s", (name) => {
  let render: FleetRender;
  beforeAll(() => {
    render = renderFleet(loadStackFile(fileOf(name)));
  });

  it("renders without a warning", () => {
    expect(render.bundles.length).toBeGreaterThanOrEqual(1);
    expect(render.warnings).toEqual([]);
  });

  it("reviews with exit 0, no error, and only the findings its comments explain", async () => {
    const { code, doc } = await review(fileOf(name));
    expect(code).toBe(0);
    expect(doc.summary.error).toBe(0);
    expect(doc.findings.map((f) => `${f.severity} ${f.check} ${f.path}`).sort()).toEqual([...EXPECTED_FINDINGS[name]].sort());
  });

  it("writes Nix that nix-instantiate --parse accepts, and scripts shellcheck passes without a finding", () => {
    for (const bundle of render.bundles) {
      for (const f of bundle.files.filter((x) => x.path.endsWith(".nix"))) {
        const r = once("nix", f.content, () => {
          const p = nixParse(f.content);
          return { status: p.status, out: p.stderr };
        });
        expect({ host: bundle.host.name, file: f.path, status: r.status, stderr: r.out }).toEqual({ host: bundle.host.name, file: f.path, status: 0, stderr: "" });
      }
      const scripts = bundle.files.filter((x) => x.content.startsWith("#!/bin/bash"));
      expect(scripts.length).toBeGreaterThanOrEqual(1);
      for (const f of scripts) {
        const r = once("sh", f.content, () => {
          const p = shellcheck(f.content);
          return { status: p.status, out: p.stdout };
        });
        expect({ host: bundle.host.name, file: f.path, status: r.status, findings: r.out }).toEqual({ host: bundle.host.name, file: f.path, status: 0, findings: "" });
      }
    }
  });

  it("writes unit files that systemd-analyze verify accepts with no output at all (plain systemd hosts)", () => {
    for (const bundle of render.bundles.filter((b) => b.host.os === "systemd")) {
      const r = verifyUnits(bundle.files);
      expect(r.units.length).toBeGreaterThanOrEqual(3);
      expect({ host: bundle.host.name, status: r.status, stdout: r.stdout, stderr: r.stderr }).toEqual({ host: bundle.host.name, status: 0, stdout: "", stderr: "" });
    }
  });

  it("writes Prometheus rules, Prometheus and Alertmanager configs that promtool and amtool accept", () => {
    const dir = mkdtempSync(join(tmpdir(), "hf-examples-"));
    try {
      let rules = 0;
      for (const bundle of render.bundles) {
        for (const f of bundle.files) {
          const base = f.path.split("/").pop() as string;
          const local = join(dir, `${bundle.host.name}-${base}`);
          if (base === "homefleet-rules.yml") {
            writeFileSync(local, f.content);
            const r = run("promtool", ["check", "rules", "--lint=all", "--lint-fatal", local]);
            expect({ file: f.path, status: r.status, stderr: r.stderr }).toEqual({ file: f.path, status: 0, stderr: "" });
            rules++;
          } else if (base === "prometheus.yml") {
            // The rule files it names are at their host paths, checked above: syntax only here.
            writeFileSync(local, f.content);
            const r = run("promtool", ["check", "config", "--syntax-only", local]);
            expect({ file: f.path, status: r.status, stderr: r.stderr }).toEqual({ file: f.path, status: 0, stderr: "" });
          } else if (base === "alertmanager.yml") {
            writeFileSync(local, f.content);
            const r = run("amtool", ["check-config", local]);
            expect({ file: f.path, status: r.status, stderr: r.stderr }).toEqual({ file: f.path, status: 0, stderr: "" });
          }
        }
      }
      // Exactly one host per example runs Prometheus.
      expect(rules).toBe(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
