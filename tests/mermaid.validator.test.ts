/**
 * Proves the Mermaid judge (tests/support/mermaid.ts) is real: it accepts the shapes the review
 * report writes and rejects broken diagrams with mermaid's own error.
 */
import { validateMermaid, type MermaidResult } from "./support/mermaid";

const FLOWCHART = [
  "flowchart LR",
  '  podman_litellm["podman-litellm.service"]',
  '  postgresql["postgresql.service"]',
  '  homefleet_backup_postgresql["homefleet-backup-postgresql.timer"]',
  "  podman_litellm --> postgresql",
  "  homefleet_backup_postgresql -.-> postgresql",
].join("\n");

const GANTT = [
  "gantt",
  "  dateFormat HH:mm",
  "  axisFormat %H:%M",
  "  section nas",
  "  homefleet-backup-postgresql :02:00, 10m",
  "  homefleet-backup-offsite :02:30, 45m",
  "  section edge",
  "  certbot-renew :03:15, 5m",
].join("\n");

const CASES: Record<string, string> = {
  flowchart: FLOWCHART,
  gantt: GANTT,
  danglingEdge: "flowchart LR\n a --> ",
  unterminatedLabel: 'flowchart LR\n a["unterminated --> b',
  badGanttTime: "gantt\n dateFormat HH:mm\n section x\n task :not-a-time, 10m",
  unknownKeyword: "flowchat LR\n a --> b",
  // after a failing gantt, the next one must be judged on its own (mermaid's gantt db is shared)
  ganttAgain: GANTT,
};

describe("validateMermaid (real mermaid package)", () => {
  const names = Object.keys(CASES);
  let byName: Record<string, MermaidResult>;

  beforeAll(async () => {
    const results = await validateMermaid(names.map((n) => CASES[n]));
    byName = Object.fromEntries(names.map((n, i) => [n, results[i]]));
  });

  it("accepts a flowchart with quoted labels and solid/dotted edges", () => {
    expect(byName.flowchart).toEqual({ ok: true, diagramType: "flowchart-v2" });
  });

  it("accepts a gantt chart with HH:mm tasks in host sections", () => {
    expect(byName.gantt).toEqual({ ok: true, diagramType: "gantt" });
    expect(byName.ganttAgain).toEqual({ ok: true, diagramType: "gantt" });
  });

  it("rejects a flowchart edge without a target with the parser error", () => {
    expect(byName.danglingEdge.ok).toBe(false);
    expect(byName.danglingEdge.error).toMatch(/Parse error on line \d+/);
    expect(byName.danglingEdge.error).toMatch(/got 'EOF'/);
  });

  it("rejects an unterminated node label", () => {
    expect(byName.unterminatedLabel.ok).toBe(false);
    expect(byName.unterminatedLabel.error).toMatch(/Parse error on line \d+/);
  });

  it("rejects a gantt task whose start is not a time (mermaid's gantt task compilation)", () => {
    expect(byName.badGanttTime).toEqual({ ok: false, error: expect.stringContaining("Invalid date:not-a-time") });
  });

  it("rejects an unknown diagram keyword", () => {
    expect(byName.unknownKeyword.ok).toBe(false);
    expect(byName.unknownKeyword.error).toMatch(/No diagram type detected/);
  });

  it("returns nothing for an empty batch without starting mermaid", async () => {
    await expect(validateMermaid([])).resolves.toEqual([]);
  });
});
