/**
 * A dynamic provider loaded from its serialized text as the engine's provider process loads it
 * from the state (@pulumi/pulumi's cmd/dynamic-provider: require-from-string, then `handler()`).
 */
import type * as pulumi from "@pulumi/pulumi";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const requireFromString = require("require-from-string") as (code: string) => { handler(): pulumi.dynamic.ResourceProvider };

export function asTheEngineLoads(serialized: string): pulumi.dynamic.ResourceProvider {
  return requireFromString(serialized).handler();
}
