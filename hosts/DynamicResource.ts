import * as pulumi from "@pulumi/pulumi";
import type { DynamicProvider } from "./prebuiltProvider";

const PROVIDER_KEY = "__provider";

/** Serializations made in this run, one per provider object, as the SDK caches its own. */
const serializedInRun = new WeakMap<pulumi.dynamic.ResourceProvider, pulumi.Output<string>>();

/** The provider as pulumi.dynamic.Resource serializes it: its closure's text, secret if the closure captured a secret. */
function serializedNow(provider: pulumi.dynamic.ResourceProvider): pulumi.Output<string> {
  let serialized = serializedInRun.get(provider);
  if (!serialized) {
    const closure = pulumi.runtime.serializeFunction(() => provider, { allowSecrets: true });
    serialized = pulumi.output(closure).apply((sf) => (sf.containsSecrets ? pulumi.secret(sf.text) : pulumi.output(sf.text)));
    serializedInRun.set(provider, serialized);
  }
  return serialized;
}

/**
 * pulumi.dynamic.Resource, except where the provider's code comes from: the build's serialization
 * of it when that is fresh (hosts/prebuiltProvider.ts), so that the resource registers at once,
 * else the SDK's serialization now, as pulumi.dynamic.Resource does. The engine sees the same
 * thing either way: a `pulumi-nodejs:dynamic/MODULE:TYPE` resource whose `__provider` input holds
 * the code its provider process runs.
 */
export abstract class DynamicResource extends pulumi.CustomResource {
  constructor(provider: DynamicProvider, name: string, props: pulumi.Inputs, opts: pulumi.CustomResourceOptions | undefined, module: string, type: string) {
    if (PROVIDER_KEY in props) throw new Error(`a dynamic resource must not define the ${PROVIDER_KEY} key`);
    super(`pulumi-nodejs:dynamic/${module}:${type}`, name, { ...props, [PROVIDER_KEY]: provider.serialized ?? serializedNow(provider.provider) }, opts);
  }
}
