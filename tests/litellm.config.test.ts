/**
 * LiteLLM's config.yaml as homefleet writes it, for what the keys mean to LiteLLM (names as in
 * LiteLLM's proxy docs: `litellm_settings.cache` + `cache_params`, `router_settings`). LiteLLM
 * itself is not installable here (no Python package index), so these tests read the document,
 * not a running proxy.
 */
import { parse } from "yaml";
import { renderFleet } from "../bundle/hostBundle";
import { ConfigError, parseFleetConfig } from "../config/load";

const host = { box: { address: "192.0.2.10", arch: "x86_64", os: "systemd" } };

function stack(litellm: Record<string, unknown>, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { host: "box", kind: "litellm", network: { subnet: "10.89.0.0/24" }, container: { image: "ghcr.io/berriai/litellm-database:main-v1.81.3-stable" }, litellm: { models: [{ name: "a", model: "ollama/a" }], ...litellm }, ...extra };
}

/** The config.yaml the container reads, parsed back. */
function renderedConfig(litellm: Record<string, unknown>, extra: Record<string, unknown> = {}): Record<string, any> {
  const { model, bundles } = renderFleet(parseFleetConfig({ hosts: host, stacks: { proxy: stack(litellm, extra) } }));
  const path = model.hosts[0].stacks[0].litellmConfig!.path;
  return parse(bundles[0].files.find((f) => f.path === path)!.content);
}

describe("response caching", () => {
  it("caches responses in the stack's Redis when asked, with the password from the environment", () => {
    const doc = renderedConfig({ responseCache: { ttlSec: 900 } }, { cache: {} });
    expect(doc.litellm_settings.cache).toBe(true);
    expect(doc.litellm_settings.cache_params).toEqual({ type: "redis", host: doc.router_settings.redis_host, port: 6379, password: "os.environ/REDIS_PASSWORD", ttl: 900 });
    expect(doc.router_settings.redis_host).toBe("10.89.0.1");
  });

  it("does not cache responses unless asked: the Redis then only shares the router's counters", () => {
    const doc = renderedConfig({}, { cache: {} });
    expect(doc.litellm_settings).not.toHaveProperty("cache");
    expect(doc.litellm_settings).not.toHaveProperty("cache_params");
    expect(doc.router_settings).toMatchObject({ redis_port: 6379, redis_password: "os.environ/REDIS_PASSWORD" });
  });

  it("refuses a response cache without the stack's Redis, naming the config path", () => {
    let error: unknown;
    try {
      parseFleetConfig({ hosts: host, stacks: { proxy: stack({ responseCache: {} }) } });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toEqual([{ path: "homefleet:stacks.proxy.litellm.responseCache", message: "responses are cached in the stack's Redis, and the stack has none: add cache" }]);
  });
});

describe("rate limits", () => {
  it("turns pre-call checks on where a model has an rpm or tpm limit, so the limits are checked before each call", () => {
    expect(renderedConfig({ models: [{ name: "a", model: "ollama/a", rpm: 10 }] }).router_settings.enable_pre_call_checks).toBe(true);
    expect(renderedConfig({ models: [{ name: "a", model: "ollama/a", tpm: 1000 }] }).router_settings.enable_pre_call_checks).toBe(true);
    expect(renderedConfig({}).router_settings).not.toHaveProperty("enable_pre_call_checks");
  });

  it("ignores the limits of a disabled model", () => {
    const doc = renderedConfig({ models: [{ name: "a", model: "ollama/a" }, { name: "b", model: "ollama/b", rpm: 5, enabled: false }] });
    expect(doc.router_settings).not.toHaveProperty("enable_pre_call_checks");
    expect(doc.model_list.map((m: { model_name: string }) => m.model_name)).toEqual(["a"]);
  });
});
