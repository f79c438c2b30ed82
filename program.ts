/**
 * The homefleet Pulumi program: config → model → rendered host bundles → one FleetHost per host
 * with its ServiceStacks as children. Bad config throws before any resource is registered.
 */
import * as pulumi from "@pulumi/pulumi";
import { renderFleet, type FleetRender } from "./bundle/hostBundle";
import { ConfigError, type FleetConfig } from "./config/load";
import type { HostDeployment } from "./hosts/HostDeployment";
import { describeDifferences, promotionDifferences, releaseOf, type Release } from "./promotion/release";
import { fleetConfigFromPulumi } from "./config/pulumiConfig";
import { FleetHost } from "./hosts";

/** The verdict of a host deployment that has not run (a targeted up skipped it). */
const NOT_DEPLOYED = "not deployed";
import { describeFinding, reviewFleet } from "./review";

function loadFleet(): { fleet: FleetRender; config: FleetConfig } {
  try {
    const config = fleetConfigFromPulumi();
    const render = renderFleet(config);
    // The review runs on every preview: an error stops it before any resource is registered,
    // unless homefleet:review.accept names it with a reason.
    const review = reviewFleet({ config, render });
    if (review.blocking.length) {
      throw new pulumi.RunError(`homefleet review found ${review.blocking.length} error(s):\n${review.blocking.map((f) => `  ${describeFinding(f)}`).join("\n")}`);
    }
    for (const f of review.findings) {
      if (f.severity === "error" || f.severity === "warning") pulumi.log.warn(describeFinding(f));
      else pulumi.log.info(describeFinding(f));
    }
    for (const a of review.unusedAccepts) pulumi.log.warn(`homefleet:review.accept names ${a.check} ${a.path}, which no longer occurs: remove it`);
    return { fleet: render, config };
  } catch (err) {
    if (err instanceof ConfigError) {
      // RunError: the CLI shows the message without a stack trace.
      throw new pulumi.RunError(`invalid homefleet configuration:\n${err.problems.map((p) => `  ${p.path}: ${p.message}`).join("\n")}`);
    }
    throw err;
  }
}

export interface FleetOutputs {
  /** Per host: flavour, manifest hash, every file with mode and sha256, secret file paths. */
  readonly hosts: Record<string, pulumi.Output<unknown>>;
  /** Per stack: the health checks the deployment gates on. */
  readonly stacks: Record<string, { healthChecks: pulumi.Output<unknown> }>;
  /** What this stack deploys (images, LiteLLM configs, packages) and each host's last health verdict. */
  readonly release: pulumi.Output<Release>;
  /** With homefleet:promoteFrom: the source stack, the differences found, and any override. */
  readonly promotion?: pulumi.Output<PromotionOutput>;
}

export interface PromotionOutput {
  readonly from: string;
  readonly differences: readonly { path: string; message: string }[];
  readonly override?: string;
  /** True when differences exist and no override lets them through: no host deploys. */
  readonly refused: boolean;
  readonly message: string;
}

/**
 * The promotion gate: the source stack's `release` (through a StackReference) must show every
 * image and LiteLLM config this stack would deploy as run healthily there. Otherwise the preview
 * fails, listing each difference, unless homefleet:promoteOverride gives a reason. Every host
 * deployment takes the verdict as an input and its check refuses a refused promotion, so no host
 * is touched.
 */
function promotionGate(config: FleetConfig, wanted: Omit<Release, "hosts">): pulumi.Output<PromotionOutput> | undefined {
  const promotion = config.promotion;
  if (!promotion) return undefined;
  const source = new pulumi.StackReference(promotion.from);
  return source.getOutput("release").apply((release: Release | undefined) => {
    const verdict = promotionVerdict(wanted, release, promotion);
    // The hosts that would change fail their check with this message; the rest keep running.
    if (verdict.differences.length) pulumi.log.warn(verdict.message);
    return verdict;
  });
}

export function promotionVerdict(wanted: Omit<Release, "hosts">, release: Release | undefined, promotion: NonNullable<FleetConfig["promotion"]>): PromotionOutput {
  const differences = promotionDifferences(wanted, release, promotion.from);
  const override = promotion.override?.reason;
  const refused = differences.length > 0 && !override;
  const message = !differences.length
    ? `promoted from ${promotion.from}: everything this stack deploys ran healthily there`
    : refused
      ? `homefleet: this stack would deploy ${differences.length} thing(s) that ${promotion.from} has not run healthily:\n${describeDifferences(differences)}\n` +
        `Deploy them to ${promotion.from} first (pulumi up there), or set homefleet:promoteOverride with a reason for an emergency.`
      : `homefleet:promoteOverride lets through what ${promotion.from} has not run healthily (reason: ${override}):\n${describeDifferences(differences)}`;
  return { from: promotion.from, differences, ...(override ? { override } : {}), refused, message };
}

export function defineFleet(): FleetOutputs {
  const { fleet, config: fleetConfig } = loadFleet();
  const deploy = fleetConfig.deploy;
  const packages = Object.fromEntries(fleet.bundles.filter((b) => b.host.os === "systemd").map((b) => [b.host.name, [...b.manifest.packages]]));
  const wanted = releaseOf(fleetConfig, packages);
  const promotion = deploy.enabled ? promotionGate(fleetConfig, wanted) : undefined;
  for (const warning of fleet.warnings) pulumi.log.warn(warning);

  const config = new pulumi.Config("homefleet");
  // Read once: every host logs in with the same key, and a missing key names homefleet:sshPrivateKey.
  const privateKey = deploy.enabled ? config.requireSecret("sshPrivateKey") : undefined;
  const hosts: FleetOutputs["hosts"] = {};
  const stacks: FleetOutputs["stacks"] = {};
  const deployments: { host: string; wave: number; deployment: HostDeployment }[] = [];
  // Waves in order: a host of wave N+1 takes the verdicts of every earlier wave as an input, so
  // the engine starts it only once those deployed healthy, and never when one of them failed.
  const bundles = [...fleet.bundles].sort((a, b) => fleetConfig.hosts[a.host.name].wave - fleetConfig.hosts[b.host.name].wave);
  // Each secret config value is read once, however many hosts and stacks use it.
  const secrets = new Map<string, pulumi.Output<string>>();
  const secret = (key: string) => {
    if (!secrets.has(key)) secrets.set(key, config.requireSecret(key));
    return secrets.get(key)!;
  };
  for (const bundle of bundles) {
    const wave = fleetConfig.hosts[bundle.host.name].wave;
    const earlier = deployments.filter((d) => d.wave < wave);
    // A deployment a targeted up skipped has no health yet: it counts as not deployed, never as healthy.
    const after = pulumi.all(earlier.map((d) => d.deployment.health.apply((h) => ({ host: d.host, wave: d.wave, verdict: h?.verdict ?? NOT_DEPLOYED }))));
    const host = new FleetHost(bundle.host.name, {
      bundle,
      secret,
      prometheusHost: fleetConfig.monitoring?.prometheusHost,
      deploy: privateKey ? { settings: deploy, privateKey, after, promotion } : undefined,
    });
    for (const [stack, healthChecks] of Object.entries(host.healthChecks)) stacks[stack] = { healthChecks };
    if (host.deployment) deployments.push({ host: bundle.host.name, wave, deployment: host.deployment });
    hosts[bundle.host.name] = pulumi.output({
      os: host.os,
      arch: host.arch,
      manifestSha256: host.manifestSha256,
      files: host.files.apply((files) => files.map((f) => `${f.path} ${f.mode} ${f.sha256}`)),
      secretFiles: host.secretFilePaths,
      // Known at preview time: a change shows as the changed file's entry. What the deployment
      // did (generation, verdict) is in `release.hosts`, each check and unit state on the
      // host's deployment resource.
    });
  }
  const health = pulumi.all(
    Object.fromEntries(deployments.map((d) => [d.host, pulumi.all([d.deployment.health, d.deployment.generation]).apply(([h, generation]) => ({ verdict: h?.verdict ?? NOT_DEPLOYED, checkedAt: h?.checkedAt ?? null, generation: generation ?? null }))])),
  );
  const release = health.apply((hostHealth) => ({ ...wanted, hosts: hostHealth }));
  return { hosts, stacks, release, ...(promotion ? { promotion } : {}) };
}
