import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import type * as pulumi from "@pulumi/pulumi";
import { homefleetRoot } from "../config/packageRoot";

type ResourceProvider = pulumi.dynamic.ResourceProvider;
type ProviderMethod = keyof ResourceProvider;

/**
 * The engine runs a dynamic provider from code stored in the state of each resource that uses it:
 * the SDK serializes the provider's closure (pulumi.runtime.serializeFunction), walking and
 * parsing every function it reaches. For the host deployment's provider, with ssh, the deploy
 * plan and the activation script, that took about 0.9 s of every preview and update, and the
 * SDK's first serialization in a run another 0.4 s, before the first dynamic resource could
 * register (and the engine start the process that runs the providers).
 *
 * So the build (bin/build-provider-bundles.js) does it once: it bundles the host providers into
 * dist/providers/NAME.js and serializes each provider as the SDK would, into
 * dist/providers/NAME.serialized.js; the host providers as a small shim that carries the bundle's
 * text (providerFromBundle, below). While those files are newer than every source they were built
 * from, a resource hands the engine that text (hosts/DynamicResource.ts). Like a serialized
 * closure, the state holds the code itself, so a refresh or a destroy runs the provider that made
 * the resource.
 */

/** A dynamic resource's provider: its code in process, and the text the engine runs when the build's is fresh. */
export interface DynamicProvider {
  readonly provider: ResourceProvider;
  /** The provider as the SDK serializes it, built by bin/build-provider-bundles.js; undefined where it is missing or stale. */
  readonly serialized?: string;
}

/** The files the build writes for the provider named NAME, and its stamp (the sources it was built from, relative to ROOT). */
export function prebuiltProviderFiles(name: string, root: string = homefleetRoot()): { readonly bundle: string; readonly serialized: string; readonly stamp: string } {
  const dir = join(root, "dist", "providers");
  return { bundle: join(dir, `${name}.js`), serialized: join(dir, `${name}.serialized.js`), stamp: join(dir, `${name}.json`) };
}

/**
 * The text of FILE if it is newer than every source STAMP lists; undefined if either is missing,
 * or a source changed since the build (the program then runs from its sources, and so must the
 * provider).
 */
export function freshBuildOutput(file: string, stamp: string, root: string = homefleetRoot()): string | undefined {
  try {
    const built = statSync(file).mtimeMs;
    const { inputs } = JSON.parse(readFileSync(stamp, "utf8")) as { inputs: string[] };
    if (!inputs.every((source) => statSync(join(root, source)).mtimeMs <= built)) return undefined;
    return readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
}

/**
 * A provider whose METHODS call the provider that the CommonJS module SOURCE exports as
 * EXPORT_NAME, evaluated once, on first use. Everything these functions capture is a string, a
 * list or an object the SDK serializes as it is; `require` stays the one of the module the engine
 * loads the serialized provider into, so the bundle's external packages (ssh2, @grpc/grpc-js)
 * resolve from the project's node_modules, as the SDK's own serialized closures do.
 */
export function providerFromBundle(source: string, exportName: string, methods: readonly ProviderMethod[]): ResourceProvider {
  const loaded: { provider?: ResourceProvider } = {};
  const provider = (): ResourceProvider => {
    if (!loaded.provider) {
      const bundle = { exports: {} as Record<string, ResourceProvider> };
      new Function("module", "exports", "require", source)(bundle, bundle.exports, require);
      const found = bundle.exports[exportName];
      if (!found) throw new Error(`the provider bundle exports no ${exportName}`);
      loaded.provider = found;
    }
    return loaded.provider;
  };
  const shim: Record<string, unknown> = {};
  for (const method of methods) shim[method] = (...args: unknown[]) => (provider()[method] as (...a: unknown[]) => unknown)(...args);
  return shim as unknown as ResourceProvider;
}

/** IN_PROCESS, with the build's serialization of the provider named NAME when that is fresh. */
export function prebuiltProvider(name: string, inProcess: ResourceProvider, root: string = homefleetRoot()): DynamicProvider {
  const { serialized, stamp } = prebuiltProviderFiles(name, root);
  return { provider: inProcess, serialized: freshBuildOutput(serialized, stamp, root) };
}
