import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { parse, stringify } from "yaml";
import { renderFleet, type FleetRender } from "../../bundle/hostBundle";
import { loadStackFile, type FleetConfig } from "../../config/load";

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

/** The committed stacks and the operations fixture, by name: their stack files' paths. */
export function committedStackFiles(): Record<"staging" | "prod" | "operations", string> {
  const root = projectRoot();
  return { staging: join(root, "Pulumi.staging.yaml"), prod: join(root, "Pulumi.prod.yaml"), operations: join(root, "tests/fixtures/operations.yaml") };
}

/** The stack files of examples/, by example name: examples/NAME/Pulumi.NAME.yaml, relative to the project root. */
export function exampleStackFiles(): Record<string, string> {
  return Object.fromEntries(readdirSync(join(projectRoot(), "examples")).map((name) => [name, `examples/${name}/Pulumi.${name}.yaml`]));
}

/** The committed stacks and the operations fixture, rendered. */
export function renderedFleets(): Record<string, FleetRender> {
  return Object.fromEntries(Object.entries(committedStackFiles()).map(([name, file]) => [name, renderFleet(loadStackFile(file))]));
}

/**
 * The stack file FILE with EDIT applied to its `config:` section, read as loadStackFile reads a
 * file (from a temporary copy, removed after).
 */
export function loadEditedStackFile(file: string, edit: (config: Record<string, any>) => void): FleetConfig {
  const stack = parse(readFileSync(file, "utf8")) as { config: Record<string, any> };
  edit(stack.config);
  const dir = mkdtempSync(join(tmpdir(), "homefleet-edited-stack-"));
  try {
    const edited = join(dir, "Pulumi.edited.yaml");
    writeFileSync(edited, stringify(stack));
    return loadStackFile(edited);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Adds a PostgreSQL setting to host HOST of a stack file's `config:` section: an edit that changes that host's files. */
export function addPostgresSetting(config: Record<string, any>, host: string): void {
  const hostConfig = config["homefleet:hosts"][host];
  hostConfig.postgresql = { ...(hostConfig.postgresql ?? {}), settings: { ...(hostConfig.postgresql?.settings ?? {}), work_mem: "8MB" } };
}
