/**
 * What a stack deploys, pinned in one place (images, the LiteLLM config, the Debian packages each
 * host needs), and the promotion gate: prod may deploy only what the stack it promotes from has
 * run healthily. Pure code: the Pulumi program feeds it the source stack's `release` output.
 */
import { createHash } from "node:crypto";
import type { FleetConfig } from "../config/load";
import type { LiteLLMConfig } from "../config/schema";

export interface StackRelease {
  readonly host: string;
  /** The container image, pinned (a tag with a version, or a digest). */
  readonly image: string;
  /** sha256 of the environment-independent LiteLLM config (see litellmFingerprint). */
  readonly litellm?: string;
}

export interface HostHealth {
  readonly verdict: string;
  readonly checkedAt: string;
  readonly generation: number | null;
}

/** The stack output `release`: what each stack runs, and how each host's last deployment went. */
export interface Release {
  readonly stacks: Readonly<Record<string, StackRelease>>;
  /** Debian packages per plain systemd host (names: homefleet installs the distribution's version). */
  readonly packages: Readonly<Record<string, readonly string[]>>;
  readonly hosts: Readonly<Record<string, HostHealth>>;
}

export interface PromotionDifference {
  /** The config path in the promoting stack that holds the unproven value. */
  readonly path: string;
  readonly message: string;
}

function sha256(text: string): string {
  return createHash("sha256").update(text, "utf8").digest("hex");
}

/** JSON with object keys sorted, so equal configs hash equally whatever their key order. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value && typeof value === "object") {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`)
      .join(",")}}`;
  }
  return JSON.stringify(value);
}

/**
 * The part of a LiteLLM config that staging proves and prod must match: models, limits, timeouts,
 * fallbacks, router and settings. Endpoints (`apiBase`) and the names of key config entries differ
 * per environment by design and are left out.
 */
export function litellmFingerprint(config: LiteLLMConfig): string {
  const models = config.models.map(({ apiBase: _apiBase, apiKeyConfig: _apiKeyConfig, ...model }) => model);
  return sha256(canonical({ ...config, models }));
}

/** What the fleet would deploy, without health (the program adds each host's verdict). */
export function releaseOf(config: FleetConfig, packages: Readonly<Record<string, readonly string[]>>): Omit<Release, "hosts"> {
  const stacks: Record<string, StackRelease> = {};
  for (const [name, stack] of Object.entries(config.stacks)) {
    // A native service's version is the distribution's: its Debian package is among the packages.
    if (!stack.container) continue;
    stacks[name] = { host: stack.host, image: stack.container.image, ...(stack.litellm ? { litellm: litellmFingerprint(stack.litellm) } : {}) };
  }
  return { stacks, packages };
}

/** Images and LiteLLM configs the source ran on a host whose last deployment was healthy. */
function proven(source: Release): { images: Map<string, string[]>; litellm: Map<string, string[]> } {
  const images = new Map<string, string[]>();
  const litellm = new Map<string, string[]>();
  for (const [name, stack] of Object.entries(source.stacks ?? {})) {
    if (source.hosts?.[stack.host]?.verdict !== "healthy") continue;
    images.set(stack.image, [...(images.get(stack.image) ?? []), name]);
    if (stack.litellm) litellm.set(stack.litellm, [...(litellm.get(stack.litellm) ?? []), name]);
  }
  return { images, litellm };
}

/**
 * Every value the promoting stack would deploy that the source has not run healthily, each with
 * its config path and what the source did run.
 */
export function promotionDifferences(wanted: Omit<Release, "hosts">, source: Release | undefined, sourceName: string): PromotionDifference[] {
  if (!source || !source.stacks) {
    return [{ path: "homefleet:promoteFrom", message: `stack ${sourceName} has no release output: deploy it with pulumi up first` }];
  }
  const { images, litellm } = proven(source);
  const unhealthy = Object.entries(source.hosts ?? {})
    .filter(([, h]) => h.verdict !== "healthy")
    .map(([host, h]) => `${host} (${h.verdict})`);
  const note = unhealthy.length ? `; not counted, not healthy there: ${unhealthy.join(", ")}` : "";
  const differences: PromotionDifference[] = [];
  for (const [name, stack] of Object.entries(wanted.stacks).sort(([a], [b]) => a.localeCompare(b))) {
    if (!images.has(stack.image)) {
      const ran = [...images.keys()].sort();
      differences.push({
        path: `homefleet:stacks.${name}.container.image`,
        message: `${stack.image} has not run healthily in ${sourceName} (healthy there: ${ran.length ? ran.join(", ") : "nothing"}${note})`,
      });
    }
    if (stack.litellm && !litellm.has(stack.litellm)) {
      differences.push({
        path: `homefleet:stacks.${name}.litellm`,
        message: `this LiteLLM config (models, limits, fallbacks, router, settings; sha256 ${stack.litellm.slice(0, 12)}) has not run healthily in ${sourceName}${litellm.size ? ` (healthy there: ${[...litellm.keys()].map((h) => h.slice(0, 12)).join(", ")})` : ""}${note}`,
      });
    }
  }
  return differences;
}

export function describeDifferences(differences: readonly PromotionDifference[]): string {
  return differences.map((d) => `  ${d.path}: ${d.message}`).join("\n");
}
