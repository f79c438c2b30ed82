/**
 * Fallback chains must end: seed 004 found 16 chains, some pointing at a disabled provider, and
 * wrote a DFS cycle check by hand. Here it is part of config validation.
 */
import type { LiteLLMConfig } from "./schema";

export interface FallbackProblem {
  readonly path: readonly string[];
  readonly message: string;
}

export function checkLiteLLMFallbacks(litellm: LiteLLMConfig): FallbackProblem[] {
  const problems: FallbackProblem[] = [];
  const models = new Map(litellm.models.map((m) => [m.name, m]));
  litellm.models.forEach((m, i) => {
    if (litellm.models.findIndex((o) => o.name === m.name) !== i) problems.push({ path: ["models", String(i), "name"], message: `duplicate model name "${m.name}"` });
  });

  for (const field of ["fallbacks", "contextWindowFallbacks"] as const) {
    const chains = litellm[field];
    for (const [from, targets] of Object.entries(chains)) {
      const source = models.get(from);
      if (!source) problems.push({ path: [field, from], message: `fallback from unknown model "${from}"` });
      else if (!source.enabled) problems.push({ path: [field, from], message: `fallback from disabled model "${from}"` });
      targets.forEach((to, i) => {
        const target = models.get(to);
        if (!target) problems.push({ path: [field, from, String(i)], message: `fallback to unknown model "${to}"` });
        else if (!target.enabled) problems.push({ path: [field, from, String(i)], message: `fallback to disabled model "${to}"` });
        if (to === from) problems.push({ path: [field, from, String(i)], message: `model "${from}" falls back to itself` });
      });
    }
    const cycle = findCycle(chains);
    if (cycle) problems.push({ path: [field], message: `fallback cycle: ${cycle.join(" -> ")}` });
  }
  return problems;
}

/** Depth-first search; returns the first cycle found as a closed path, in a stable order. */
export function findCycle(graph: Readonly<Record<string, readonly string[]>>): string[] | undefined {
  const state = new Map<string, "visiting" | "done">();
  const stack: string[] = [];
  const visit = (node: string): string[] | undefined => {
    if (state.get(node) === "done") return undefined;
    if (state.get(node) === "visiting") return [...stack.slice(stack.indexOf(node)), node];
    state.set(node, "visiting");
    stack.push(node);
    for (const next of [...(graph[node] ?? [])]) {
      if (next === node) continue; // reported separately as a self-fallback
      const found = visit(next);
      if (found) return found;
    }
    stack.pop();
    state.set(node, "done");
    return undefined;
  };
  for (const node of Object.keys(graph).sort()) {
    const found = visit(node);
    if (found) return found;
  }
  return undefined;
}
