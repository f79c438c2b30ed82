import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync, chmodSync } from "node:fs";
import { dirname, join } from "node:path";
import { fleetManifestJson, type FleetRender } from "../bundle/hostBundle";

/** True if `dir/manifest.json` is one that homefleet wrote (any other project may have a manifest.json). */
function holdsHomefleetRender(dir: string): boolean {
  const file = join(dir, "manifest.json");
  if (!existsSync(file)) return false;
  try {
    return (JSON.parse(readFileSync(file, "utf8")) as { generator?: unknown } | null)?.generator === "homefleet";
  } catch {
    return false;
  }
}

/**
 * Writes every host's files under `<out>/<host>/<absolute path>` and `<out>/manifest.json`.
 * A previous render in `out` is replaced whole, so two renders of the same config are identical
 * trees; any other non-empty directory is refused rather than mixed into.
 */
export function writeRender(render: FleetRender, out: string): number {
  if (existsSync(out) && readdirSync(out).length > 0) {
    if (!holdsHomefleetRender(out)) {
      throw new Error(`${out} is not empty and holds no homefleet render (no manifest.json written by homefleet); choose an empty or new directory`);
    }
    rmSync(out, { recursive: true, force: true });
  }
  mkdirSync(out, { recursive: true });
  let count = 0;
  for (const bundle of render.bundles) {
    for (const file of bundle.files) {
      const target = join(out, bundle.host.name, file.path);
      mkdirSync(dirname(target), { recursive: true });
      writeFileSync(target, file.content);
      chmodSync(target, parseInt(file.mode, 8));
      count++;
    }
  }
  writeFileSync(join(out, "manifest.json"), fleetManifestJson(render));
  return count;
}
