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
 * plan and the activation script, that took about 1.5 s of every preview and update. The build
 * (bin/build-provider-bundles.js) bundles each provider into dist/providers/NAME.js; a provider
 * made from that text serializes as one string and a few small functions, and the engine's
 * provider process runs the same code. Like a serialized closure, the state holds the code
 * itself, so a refresh or a destroy runs the provider that made the resource.
 */

/** The bundle of the provider exported as NAME, and its stamp (the sources it was built from, relative to ROOT). */
export function providerBundleFiles(name: string, root: string = homefleetRoot()): { readonly code: string; readonly stamp: string } {
  return { code: join(root, "dist", "providers", `${name}.js`), stamp: join(root, "dist", "providers", `${name}.json`) };
}

/**
 * The bundle's text if it is newer than every source it was built from; undefined if it is
 * missing, or a source changed since the build (the program then runs from its sources, and so
 * must the provider).
 */
export function freshBundleText(name: string, root: string = homefleetRoot()): string | undefined {
  const { code, stamp } = providerBundleFiles(name, root);
  try {
    const built = statSync(code).mtimeMs;
    const { inputs } = JSON.parse(readFileSync(stamp, "utf8")) as { inputs: string[] };
    if (!inputs.every((source) => statSync(join(root, source)).mtimeMs <= built)) return undefined;
    return readFileSync(code, "utf8");
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

/** The bundled provider when its bundle is fresh, else IN_PROCESS (serialized by the SDK as a closure). */
export function bundledProvider(exportName: string, inProcess: ResourceProvider, root: string = homefleetRoot()): ResourceProvider {
  const source = freshBundleText(exportName, root);
  return source === undefined ? inProcess : providerFromBundle(source, exportName, Object.keys(inProcess) as ProviderMethod[]);
}
