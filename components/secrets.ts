import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import type { GeneratedSecretSpec } from "../model/specs";

/**
 * A generated secret: alphanumeric only, so it needs no escaping in URLs, env files or configs.
 * `RandomPassword.result` is a Pulumi secret from creation on.
 */
export function generatedPassword(name: string, spec: GeneratedSecretSpec, parent: pulumi.Resource): random.RandomPassword {
  return new random.RandomPassword(
    name,
    { length: spec.length, special: false, upper: true, lower: true, numeric: true, minUpper: 2, minLower: 2, minNumeric: 2 },
    { parent, additionalSecretOutputs: ["result"] },
  );
}
