/**
 * The LiteLLM preset: proxy port, readiness path and config.yaml as data
 * (docs.litellm.ai proxy/configs). Secrets are never values here: every key is
 * `os.environ/NAME`, filled from the container's root-only env file.
 */
import type { LiteLLMConfig } from "../config/schema";

export const LITELLM_PORT = 4000;
/**
 * Readiness needs no auth, makes no LLM calls and reports the database. `/health` calls every
 * configured model (costs money, needs the master key): a trap for an automatic health gate.
 */
export const LITELLM_READINESS_PATH = "/health/readiness";

/** `openaiApiKey` → `OPENAI_API_KEY`. */
export function envNameForConfigKey(key: string): string {
  return key.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toUpperCase();
}

export function buildLiteLLMDocument(
  litellm: LiteLLMConfig,
  cache: { host: string; port: number } | undefined,
  hasDatabase: boolean,
): { document: Record<string, unknown>; apiKeyEnv: Record<string, string> } {
  const apiKeyEnv: Record<string, string> = {};
  const enabled = litellm.models.filter((m) => m.enabled);
  const modelList = enabled.map((m) => {
    const params: Record<string, unknown> = { model: m.model };
    if (m.apiBase) params.api_base = m.apiBase;
    if (m.apiKeyConfig) {
      const env = envNameForConfigKey(m.apiKeyConfig);
      apiKeyEnv[env] = m.apiKeyConfig;
      params.api_key = `os.environ/${env}`;
    }
    if (m.rpm !== undefined) params.rpm = m.rpm;
    if (m.tpm !== undefined) params.tpm = m.tpm;
    params.timeout = m.timeout ?? litellm.settings.requestTimeout;
    if (m.streamTimeout !== undefined) params.stream_timeout = m.streamTimeout;
    return { model_name: m.name, litellm_params: params };
  });
  const asList = (chains: Record<string, string[]>) =>
    Object.keys(chains)
      .sort()
      .map((from) => ({ [from]: chains[from] }));

  const router: Record<string, unknown> = {
    routing_strategy: litellm.router.routingStrategy,
    num_retries: litellm.router.numRetries,
    timeout: litellm.router.timeout,
    allowed_fails: litellm.router.allowedFails,
    cooldown_time: litellm.router.cooldownTime,
  };
  // Per-deployment rpm/tpm limits are only checked before a call with pre-call checks on.
  if (enabled.some((m) => m.rpm !== undefined || m.tpm !== undefined)) router.enable_pre_call_checks = true;
  if (cache) {
    // Usage counters and cooldowns shared by all workers.
    router.redis_host = cache.host;
    router.redis_port = cache.port;
    router.redis_password = "os.environ/REDIS_PASSWORD";
  }
  // Config refuses responseCache without the stack's Redis.
  const responseCache =
    litellm.responseCache && cache
      ? { cache: true, cache_params: { type: "redis", host: cache.host, port: cache.port, password: "os.environ/REDIS_PASSWORD", ttl: litellm.responseCache.ttlSec } }
      : {};
  const general: Record<string, unknown> = { master_key: "os.environ/LITELLM_MASTER_KEY" };
  if (hasDatabase) general.database_url = "os.environ/DATABASE_URL";
  const document: Record<string, unknown> = {
    model_list: modelList,
    litellm_settings: {
      request_timeout: litellm.settings.requestTimeout,
      num_retries: litellm.settings.numRetries,
      drop_params: litellm.settings.dropParams,
      ...(Object.keys(litellm.fallbacks).length ? { fallbacks: asList(litellm.fallbacks) } : {}),
      ...(Object.keys(litellm.contextWindowFallbacks).length ? { context_window_fallbacks: asList(litellm.contextWindowFallbacks) } : {}),
      ...responseCache,
      // LiteLLM's /metrics endpoint (the proxy serves it without authentication by default).
      ...(litellm.prometheusMetrics ? { callbacks: ["prometheus"] } : {}),
    },
    router_settings: router,
    general_settings: general,
  };
  return { document, apiKeyEnv };
}
