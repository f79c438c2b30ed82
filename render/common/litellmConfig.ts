import { yamlText } from "./yamlBlock";

/** LiteLLM's config.yaml. Key order follows the model (readable); output is deterministic. */
export function renderLiteLLMConfig(document: Readonly<Record<string, unknown>>): string {
  const body = yamlText(document);
  return "# Managed by homefleet. Secrets are os.environ/NAME references, filled from a root-only env file.\n" + body;
}
