/**
 * yamlBlock writes what `yaml`'s stringify writes, or nothing: it is a shortcut for LiteLLM's
 * config, never a second opinion on YAML.
 */
import { join } from "node:path";
import { Document, stringify } from "yaml";
import { renderFleet } from "../bundle/hostBundle";
import { loadStackFile } from "../config/load";
import { commentBefore, yamlBlock, yamlBlockWithComment } from "../render/common/yamlBlock";
import { alertRuleGroups, LABEL_CONVENTIONS, renderAlertRules } from "../render/monitoring/alertRules";
import { renderUserRules } from "../render/monitoring/userRules";
import { exampleStackFiles } from "./support/fleets";

const ROOT = join(__dirname, "..");

const yaml = (value: unknown) => stringify(value, { lineWidth: 0, indent: 2 });

/** A small deterministic generator, so a failure names a value that can be reproduced. */
function random(seed: number): () => number {
  return () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
}

it("writes LiteLLM's config of both committed stacks itself, byte for byte as yaml does", () => {
  for (const stack of ["staging", "prod"]) {
    const render = renderFleet(loadStackFile(join(__dirname, "..", `Pulumi.${stack}.yaml`)));
    for (const s of render.model.hosts.flatMap((h) => h.stacks)) {
      if (!s.litellmConfig) continue;
      expect(yamlBlock(s.litellmConfig.document)).toBe(yaml(s.litellmConfig.document));
    }
  }
});

it("writes nested maps and sequences, empty ones and every scalar type as yaml does", () => {
  const value = {
    model_list: [{ model_name: "a", litellm_params: { model: "ollama/llama3.1:8b", api_base: "http://10.0.0.1:8001/v1", rpm: 50, timeout: 1.5 } }, []],
    router_settings: { redis_host: "10.89.1.1", redis_port: 6380, address: "192.168.0.1:8080" },
    fallbacks: [{ a: ["b", "c"] }, [["x"], { z: {} }]],
    empty: {},
    none: [],
    flags: { enabled: true, disabled: false, nothing: null, negative: -3, big: 123456789 },
  };
  expect(yamlBlock(value)).toBe(yaml(value));
});

/** Strings yaml writes plain, single-quoted or double-quoted, or that a schema would read as another type. */
const TRICKY = ["", "1.2.3", "1.2.3.4.5", "1.2.3.4:", "yes", "No", "on", "true", "NULL", "1", "1.5", "0x1F", ".inf", "a b", "a: b", "x:", "#c", "a#b", "a #b", "-x", "-", "- x", "?", "? x", "?x", "'a'", "a\nb", "ñ", "@x", "a,b", "a[b]", "~", " a", "a ", ":a", "a:b", "%x", "---", "--- x", "...", "...x", "--x", "!x", "&x", "*x", "|x", ">x", "`x", "{x}", "[x]", "a\\b", 'say "hi"', "it's", `it's "both"`, '"', "'", "\\", "a\tb", "a\u0001", "30s", "+1", "-1", "1e5", "0o17", "0b1", ".5", "+.5", "1_000", "null ", "x #", "a\\.service", 'node_up{job="x",a=~"b.*"} == 1', "100 * a / b < 10", "{{ $labels.instance }} is down", "__address__"];

it("writes a string as yaml does, or leaves it to yaml; keys only when they are plain", () => {
  let quoted = 0;
  for (const text of TRICKY) {
    const fast = yamlBlock({ k: text });
    if (fast !== undefined) expect({ text, fast }).toEqual({ text, fast: yaml({ k: text }) });
    if (fast !== undefined && /^k: ['"]/.test(fast)) quoted++;
    const inSequence = yamlBlock({ k: [text, { v: text }] });
    if (inSequence !== undefined) expect({ text, fast: inSequence }).toEqual({ text, fast: yaml({ k: [text, { v: text }] }) });
    const key = yamlBlock({ [text]: 1 });
    if (key !== undefined) expect({ text, key }).toEqual({ text, key: yaml({ [text]: 1 }) });
  }
  // Random one-line printable ASCII, indicators and quotes weighted up.
  const next = random(20261201);
  const chars = " -?:#'\"%@!&*|>,[]{}`".repeat(3) + "abcXYZ019._/\\~+=$()<^";
  // Compared directly and every disagreement kept: one expect per string cost more than yaml did.
  let agreed = 0;
  const disagreements: { text: string; fast: string; yaml: string }[] = [];
  for (let i = 0; i < 20000; i++) {
    let text = "";
    for (let n = 1 + Math.floor(next() * 10); n > 0; n--) text += chars[Math.floor(next() * chars.length)];
    const fast = yamlBlock({ k: [text] });
    if (fast === undefined) continue;
    agreed++;
    const expected = yaml({ k: [text] });
    if (fast !== expected) disagreements.push({ text, fast, yaml: expected });
  }
  expect({ count: disagreements.length, first: disagreements.slice(0, 10) }).toEqual({ count: 0, first: [] });
  expect(agreed).toBeGreaterThan(15000);
  // Both quoting styles are written here, not only left to yaml.
  expect(yamlBlock({ k: "a: b" })).toBe('k: "a: b"\n');
  expect(yamlBlock({ k: 'say "hi": now' })).toBe("k: 'say \"hi\": now'\n");
  expect(quoted).toBeGreaterThan(10);
  // Never written here: text other than one line of printable ASCII, types a schema reads, document markers.
  for (const text of ["", "a\nb", "ñ", "a\tb", "true", "1.5", "0x1F", "~", "---", "...x", "yes"]) expect({ text, fast: yamlBlock({ k: text }) }).toEqual({ text, fast: undefined });
  for (const text of ["a b", "a: b", "#c", "-x", "'a'", "@x", "1", "x:"]) expect({ text, key: yamlBlock({ [text]: 1 }) }).toEqual({ text, key: undefined });
  expect(yamlBlock({ k: undefined })).toBeUndefined();
  expect(yamlBlock({ k: 1e21 })).toBeUndefined();
  expect(yamlBlock({ k: new Date(0) })).toBeUndefined();
});

it("leaves an object met twice to yaml, which writes an alias", () => {
  const shared = { a: 1 };
  expect(yaml({ first: shared, second: shared })).toContain("*a1");
  expect(yamlBlock({ first: shared, second: shared })).toBeUndefined();
  const empty: unknown[] = [];
  expect(yamlBlock({ first: empty, second: [empty] })).toBeUndefined();
  expect(yamlBlock({ first: { a: 1 }, second: { a: 1 } })).toBe(yaml({ first: { a: 1 }, second: { a: 1 } }));
});

it("writes a document with a comment before it as yaml's Document does", () => {
  for (const comment of [["one line"], ["first", "", "after a blank line", "  indented"], ["x"]]) {
    for (const value of [{ groups: [{ name: "a", rules: [{ alert: "A", expr: 'up{job="x"} == 0', annotations: { summary: "it's: down" } }] }] }, ["a", { b: [] }]]) {
      const doc = new Document(value);
      doc.commentBefore = commentBefore(comment);
      expect(yamlBlockWithComment(comment, value)).toBe(doc.toString({ lineWidth: 0, indent: 2 }));
    }
  }
});

it("writes homefleet's alert rules, the user's rules and the Prometheus and Alertmanager configs of every committed stack itself, as yaml does", () => {
  const files = ["Pulumi.staging.yaml", "Pulumi.prod.yaml", ...Object.values(exampleStackFiles())];
  let prometheusHosts = 0;
  for (const file of files) {
    for (const host of renderFleet(loadStackFile(join(ROOT, file))).model.hosts) {
      const p = host.prometheus;
      if (!p) continue;
      prometheusHosts++;
      const rules = { groups: alertRuleGroups({}, p.nativeUnits) };
      const comment = LABEL_CONVENTIONS.split("\n");
      const doc = new Document(rules);
      doc.commentBefore = commentBefore(comment);
      expect(yamlBlockWithComment(comment, rules)).toBe(doc.toString({ lineWidth: 0, indent: 2 }));
      expect(renderAlertRules({}, p.nativeUnits)).toBe(doc.toString({ lineWidth: 0, indent: 2 }));
      const config = { global: { scrape_interval: p.scrapeInterval }, scrape_configs: p.scrapeConfigs };
      expect(yamlBlock(config)).toBe(yaml(config));
      if (host.alertmanager) expect(yamlBlock(host.alertmanager.config)).toBe(yaml(host.alertmanager.config));
    }
  }
  expect(prometheusHosts).toBeGreaterThan(1);
  const groups = [{ name: "mine", rules: [{ alert: "Mine", expr: 'rate(x_total{job="a"}[5m]) > 0.5', for: "10m", labels: { severity: "page" }, annotations: { summary: "x: {{ $value }}", description: "it's \"odd\"" } }] }];
  const header = renderUserRules(groups).split("\n\ngroups:")[0];
  expect(renderUserRules(groups)).toBe(`${header}\n\n${yaml({ groups })}`);
});

it("agrees with yaml on random plain strings and random documents it writes", () => {
  const next = random(20260601);
  const pick = <T>(list: readonly T[]) => list[Math.floor(next() * list.length)];
  const first = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
  const rest = `${first}0123456789._/:@+=-`;
  const address = () => `${Array.from({ length: 4 }, () => Math.floor(next() * 256)).join(".")}${next() < 0.3 ? `:${Math.floor(next() * 65536)}` : ""}`;
  const word = () => {
    if (next() < 0.1) return address();
    let s = pick([...first]);
    for (let n = Math.floor(next() * 8); n > 0; n--) s += pick([...rest]);
    return s;
  };
  const scalar = () => pick([word, word, word, () => Math.floor(next() * 2e6) - 1e6, () => Math.round(next() * 1e4) / 100, () => next() < 0.5, () => null])();
  const value = (depth: number): unknown => {
    const r = next();
    if (depth > 3 || r < 0.5) return next() < 0.1 ? pick([[], {}]) : scalar();
    if (r < 0.75) return Object.fromEntries(Array.from({ length: 1 + Math.floor(next() * 4) }, () => [word(), value(depth + 1)]));
    return Array.from({ length: 1 + Math.floor(next() * 4) }, () => value(depth + 1));
  };
  let written = 0;
  const disagreements: { document: unknown; fast: string; yaml: string }[] = [];
  for (let i = 0; i < 5000; i++) {
    const document = next() < 0.5 ? { root: value(0), other: value(1) } : [value(0), value(1)];
    const fast = yamlBlock(document);
    if (fast === undefined) continue;
    written++;
    const expected = yaml(document);
    if (fast !== expected) disagreements.push({ document, fast, yaml: expected });
  }
  expect({ count: disagreements.length, first: disagreements.slice(0, 10) }).toEqual({ count: 0, first: [] });
  expect(written).toBeGreaterThan(4000);
});
