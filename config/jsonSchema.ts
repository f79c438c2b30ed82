/**
 * A JSON Schema of a homefleet stack file (Pulumi.<stack>.yaml), generated from the zod schemas
 * that validate it, so editors with the YAML language server complete and check stack files.
 * It describes what a file may hold (defaults optional); refinements that span keys (ports,
 * subnets, receivers) are checked by `homefleet render` and `pulumi preview` only.
 */
import { z } from "zod";
import { CONFIG_NAMESPACE } from "./load";
import { DeploySchema, HostsSchema, MonitoringSchema, PromoteFromSchema, PromoteOverrideSchema, ReviewSchema, StacksSchema } from "./schema";

const SECTIONS = { hosts: HostsSchema, stacks: StacksSchema, monitoring: MonitoringSchema, deploy: DeploySchema, review: ReviewSchema, promoteFrom: PromoteFromSchema, promoteOverride: PromoteOverrideSchema } as const;

export function stackFileJsonSchema(): Record<string, unknown> {
  const properties: Record<string, unknown> = {};
  const defs: Record<string, unknown> = {};
  for (const [key, schema] of Object.entries(SECTIONS)) {
    const { $schema: _, $defs: sectionDefs, ...json } = z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }) as Record<string, unknown>;
    // A recursive type (a native service's JSON options) is a definition its section refers to
    // from the document root: hoisted to the root, named by section, so the references resolve.
    let text = JSON.stringify(json);
    for (const [name, def] of Object.entries((sectionDefs as Record<string, unknown> | undefined) ?? {})) {
      const hoisted = `${key}-${name}`;
      const ref = (n: string) => JSON.stringify(`#/$defs/${n}`);
      text = text.split(ref(name)).join(ref(hoisted));
      defs[hoisted] = JSON.parse(JSON.stringify(def).split(ref(name)).join(ref(hoisted)));
    }
    properties[`${CONFIG_NAMESPACE}:${key}`] = JSON.parse(text);
  }
  return {
    $schema: "https://json-schema.org/draft/2020-12/schema",
    ...(Object.keys(defs).length ? { $defs: defs } : {}),
    title: "homefleet stack file (Pulumi.<stack>.yaml)",
    type: "object",
    properties: {
      config: {
        type: "object",
        properties,
        // Secret values (`secure:`), other namespaces and the secret keys that values refer to.
        additionalProperties: true,
      },
    },
  };
}
