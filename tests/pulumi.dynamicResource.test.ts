/**
 * hosts/DynamicResource.ts registers what pulumi.dynamic.Resource registers: a
 * `pulumi-nodejs:dynamic/MODULE:TYPE` resource whose `__provider` input is the provider's code,
 * taken from the build when it is fresh and serialized by the SDK otherwise (once per provider).
 */
import * as pulumi from "@pulumi/pulumi";
import { DynamicResource } from "../hosts/DynamicResource";
import type { DynamicProvider } from "../hosts/prebuiltProvider";
import { asTheEngineLoads } from "./support/engineLoad";

const registered = new Map<string, { type: string; inputs: Record<string, unknown> }>();

beforeAll(async () => {
  await pulumi.runtime.setMocks(
    {
      newResource(args) {
        registered.set(args.name, { type: args.type, inputs: args.inputs });
        return { id: `${args.name}-id`, state: args.inputs };
      },
      call(args) {
        return args.inputs;
      },
    },
    "project",
    "stack",
    true,
  );
});

class Example extends DynamicResource {
  constructor(name: string, provider: DynamicProvider, props: pulumi.Inputs = { size: 3 }) {
    super(provider, name, props, undefined, "homefleet", "Example");
  }
}

/** Waits until the mock monitor has the resource named NAME. */
async function registration(resource: pulumi.CustomResource, name: string): Promise<{ type: string; inputs: Record<string, unknown> }> {
  await new Promise<void>((resolve) => resource.id.apply(() => resolve()));
  return registered.get(name)!;
}

const inProcess: pulumi.dynamic.ResourceProvider = {
  async create(inputs) {
    return { id: "made-in-process", outs: inputs };
  },
};

it("a fresh build: the build's text is the __provider input, and the type token is the SDK's", async () => {
  const text = 'exports.handler = () => ({ async create() { return { id: "prebuilt" }; } });';
  const found = await registration(new Example("prebuilt", { provider: inProcess, serialized: text }), "prebuilt");
  expect(found).toEqual({ type: "pulumi-nodejs:dynamic/homefleet:Example", inputs: { size: 3, __provider: text } });
});

it("no fresh build: the SDK serializes the in-process provider, once for every resource that uses it", async () => {
  const serialize = jest.spyOn(pulumi.runtime, "serializeFunction");
  const [first, second] = await Promise.all([registration(new Example("stale-1", { provider: inProcess }), "stale-1"), registration(new Example("stale-2", { provider: inProcess }), "stale-2")]);
  expect(serialize).toHaveBeenCalledTimes(1);
  serialize.mockRestore();
  expect(typeof first.inputs.__provider).toBe("string");
  expect(second.inputs.__provider).toBe(first.inputs.__provider);
  expect(await asTheEngineLoads(first.inputs.__provider as string).create({ size: 3 })).toEqual({ id: "made-in-process", outs: { size: 3 } });
}, 30_000);

it("props that name __provider themselves are refused", () => {
  expect(() => new Example("clash", { provider: inProcess }, { __provider: "mine" })).toThrow("a dynamic resource must not define the __provider key");
});
