/**
 * The model's unit facts are the single source: the Debian renderer prints the ordering it
 * finds there, the bundle restarts from `reads` and `secretFiles`. Here the rendered unit files
 * of the committed stacks are read back (in a test only) and compared with the facts, and the
 * restarts a changed secret causes are pinned down.
 */
import { join } from "node:path";
import { renderFleet, type HostBundle } from "../bundle/hostBundle";
import { loadStackFile } from "../config/load";
import { secretPaths, units } from "../model/paths";

const ROOT = join(__dirname, "..");
const bundles: HostBundle[] = ["staging", "prod"].flatMap((stack) => [...renderFleet(loadStackFile(join(ROOT, `Pulumi.${stack}.yaml`))).bundles]);
const debian = bundles.filter((b) => b.host.os === "systemd");
const ORDERING = ["After", "Before", "Requires", "Wants", "PartOf"] as const;
const FIELD = { After: "after", Before: "before", Requires: "requires", Wants: "wants", PartOf: "partOf" } as const;

/** Ordering directives of a unit file and its drop-ins, as systemd would merge them. */
function renderedOrdering(bundle: HostBundle, unit: string): Record<(typeof ORDERING)[number], string[]> {
  const out = { After: [] as string[], Before: [] as string[], Requires: [] as string[], Wants: [] as string[], PartOf: [] as string[] };
  const files = bundle.files.filter((f) => f.path === `/etc/systemd/system/${unit}` || f.path.startsWith(`/etc/systemd/system/${unit}.d/`));
  for (const f of files) {
    for (const line of f.content.split("\n")) {
      const m = line.match(/^(After|Before|Requires|Wants|PartOf)=(.*)$/);
      if (m) out[m[1] as (typeof ORDERING)[number]].push(...m[2].split(/\s+/));
    }
  }
  return out;
}

describe("the model's unit facts", () => {
  it("cover the committed stacks: two Debian hosts to check", () => {
    expect(debian.map((b) => b.host.name).sort()).toEqual(["box-staging", "forge"]);
  });

  it.each(debian.map((b) => [b.host.name, b] as const))("%s: every unit file homefleet renders is a homefleet unit of the model, and back", (_name, bundle) => {
    const rendered = bundle.files.map((f) => f.path.match(/^\/etc\/systemd\/system\/([^/]+\.(service|timer))$/)?.[1]).filter((u): u is string => !!u);
    const declared = bundle.host.units.filter((u) => u.source === "homefleet").map((u) => u.name);
    expect(rendered.sort()).toEqual([...declared].sort());
  });

  it.each(debian.map((b) => [b.host.name, b] as const))("%s: each rendered unit's ordering is the model's", (_name, bundle) => {
    const withFiles = bundle.host.units.filter((u) => bundle.files.some((f) => f.path === `/etc/systemd/system/${u.name}` || f.path.startsWith(`/etc/systemd/system/${u.name}.d/`)));
    expect(withFiles.length).toBeGreaterThan(10);
    for (const u of withFiles) {
      const rendered = renderedOrdering(bundle, u.name);
      for (const d of ORDERING) expect({ unit: u.name, [d]: rendered[d] }).toEqual({ unit: u.name, [d]: [...u[FIELD[d]]] });
    }
  });

  it("a changed secret restarts exactly the started units that read it", () => {
    const forge = debian.find((b) => b.host.name === "forge")!;
    const stack = forge.host.stacks.find((s) => s.cache && s.database)!;
    const restart = (path: string) => forge.manifest.secretFiles.find((s) => s.path === path)?.restart ?? [];
    expect(restart(secretPaths.containerEnv(stack.name))).toEqual([units.container(stack.name)]);
    expect(restart(secretPaths.cacheAuthConf(stack.name))).toEqual([units.cache(stack.name)]);
    expect(restart(secretPaths.databasePassword(stack.name))).toEqual([units.databaseRole(stack.name)]);
    expect(restart(secretPaths.redisExporterEnv(stack.name))).toEqual([units.redisExporter(stack.name)]);
    // Read by the Redis backup job at each run (a oneshot, never restarted) and by the health check.
    expect(restart(secretPaths.cachePassword(stack.name))).toEqual([]);
  });

  it("a changed file restarts the started units that read it, and a oneshot job's unit file restarts nothing", () => {
    const forge = debian.find((b) => b.host.name === "forge")!;
    const stack = forge.host.stacks.find((s) => s.litellmConfig)!;
    const restart = (path: string) => forge.manifest.files.find((f) => f.path === path)?.restart ?? [];
    expect(restart(stack.litellmConfig!.path)).toEqual([units.container(stack.name)]);
    expect(restart("/etc/systemd/system/homefleet-backup-config.service")).toEqual([]);
    expect(restart("/etc/systemd/system/homefleet-backup-config.timer")).toEqual(["homefleet-backup-config.timer"]);
    expect(restart("/etc/default/prometheus-node-exporter")).toEqual(["prometheus-node-exporter.service"]);
  });
});
