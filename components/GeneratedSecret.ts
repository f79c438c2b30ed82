import * as pulumi from "@pulumi/pulumi";
import { DynamicResource } from "../hosts/DynamicResource";
import { prebuiltProvider } from "../hosts/prebuiltProvider";
import type { GeneratedSecretSpec } from "../model/specs";

/** What a generated secret is made of; a change of any of these makes a new value. */
export interface GeneratedSecretInputs {
  readonly length: number;
}

/**
 * Alphanumeric only, so the value needs no escaping in URLs, env files or configs; at least two of
 * each class. Drawn with `crypto.randomInt` (the OS's CSPRNG, without modulo bias), so every
 * character is uniform. Self-contained: Pulumi serializes this function into the state as the
 * provider's code.
 */
export function generateSecretValue(length: number): string {
  // Inside the function: the serialized provider carries no module-level captures.
  const { randomInt } = require("node:crypto") as typeof import("node:crypto");
  const classes = ["ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz", "0123456789"];
  const all = classes.join("");
  if (!Number.isInteger(length) || length < 12) throw new Error(`a generated secret needs at least 12 characters, got ${length}`);
  const pick = (alphabet: string): string => alphabet[randomInt(alphabet.length)];
  const chars = classes.flatMap((alphabet) => [pick(alphabet), pick(alphabet)]);
  while (chars.length < length) chars.push(pick(all));
  // Fisher-Yates, so the guaranteed characters are not always first.
  for (let i = chars.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [chars[i], chars[j]] = [chars[j], chars[i]];
  }
  return chars.join("");
}

export const generatedSecretProvider: pulumi.dynamic.ResourceProvider = {
  async diff(_id: string, olds: GeneratedSecretInputs, news: GeneratedSecretInputs) {
    const changed = olds.length !== news.length;
    return { changes: changed, replaces: changed ? ["length"] : [] };
  },
  async create(inputs: GeneratedSecretInputs) {
    const { randomUUID } = require("node:crypto") as typeof import("node:crypto");
    return { id: randomUUID(), outs: { length: inputs.length, result: generateSecretValue(inputs.length) } };
  },
  // Nothing outside Pulumi's state holds the value: a refresh keeps it.
  async read(id: string, props: GeneratedSecretInputs & { result: string }) {
    return { id, props };
  },
};

/** The provider, as the build serialized it when that is fresh (hosts/prebuiltProvider.ts). */
const provider = prebuiltProvider("generatedSecretProvider", generatedSecretProvider);

/**
 * A secret value homefleet generates once and keeps in the stack's state (encrypted, as
 * `result` is a secret output from creation on). A homefleet resource rather than
 * `@pulumi/random`: it needs no provider plugin beyond the Pulumi CLI's own Node.js support.
 */
export class GeneratedSecret extends DynamicResource {
  /** A Pulumi secret. */
  declare public readonly result: pulumi.Output<string>;

  // `declare`, not `!`: an ES2022 class field would reset to undefined the outputs super() set.
  constructor(name: string, spec: GeneratedSecretSpec, opts?: pulumi.CustomResourceOptions) {
    super(provider, name, { length: spec.length, result: undefined }, { ...opts, additionalSecretOutputs: ["result"] }, "homefleet", "GeneratedSecret");
  }
}
