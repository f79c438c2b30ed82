import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { renderFleet, type FleetRender } from "../../bundle/hostBundle";
import { loadStackFile } from "../../config/load";

/** The project root, found from here whether this runs from source (jest) or from dist/. */
export function projectRoot(): string {
  let dir = __dirname;
  while (!existsSync(join(dir, "Pulumi.yaml"))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error("no Pulumi.yaml above " + __dirname);
    dir = parent;
  }
  return dir;
}

/** The committed stacks and the operations fixture, rendered. */
export function renderedFleets(): Record<string, FleetRender> {
  const root = projectRoot();
  return {
    staging: renderFleet(loadStackFile(join(root, "Pulumi.staging.yaml"))),
    prod: renderFleet(loadStackFile(join(root, "Pulumi.prod.yaml"))),
    operations: renderFleet(loadStackFile(join(root, "tests/fixtures/operations.yaml"))),
  };
}
