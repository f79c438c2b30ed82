/**
 * yamlBlock writes what `yaml`'s stringify writes, or nothing: it is a shortcut for LiteLLM's
 * config, never a second opinion on YAML.
 */
import { join } from "node:path";
import { stringify } from "yaml";
import { renderFleet } from "../bundle/hostBundle";
import { loadStackFile } from "../config/load";
import { yamlBlock } from "../render/common/yamlBlock";

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

it("leaves to yaml every string it would quote, and undefined values", () => {
  for (const text of ["", "1.2.3", "1.2.3.4.5", "1.2.3.4:", "yes", "No", "on", "true", "NULL", "1", "1.5", "0x1F", ".inf", "a b", "a: b", "x:", "#c", "a#b", "-x", "'a'", "a\nb", "ñ", "@x", "a,b", "a[b]", "~"]) {
    expect({ text, fast: yamlBlock({ k: text }) }).toEqual({ text, fast: undefined });
    expect({ text, fast: yamlBlock({ [text]: 1 }) }).toEqual({ text, fast: undefined });
  }
  expect(yamlBlock({ k: undefined })).toBeUndefined();
  expect(yamlBlock({ k: 1e21 })).toBeUndefined();
  expect(yamlBlock({ k: new Date(0) })).toBeUndefined();
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
  for (let i = 0; i < 5000; i++) {
    const document = next() < 0.5 ? { root: value(0), other: value(1) } : [value(0), value(1)];
    const fast = yamlBlock(document);
    if (fast === undefined) continue;
    written++;
    expect({ document, text: fast }).toEqual({ document, text: yaml(document) });
  }
  expect(written).toBeGreaterThan(4000);
});
