/**
 * The host-deployment resource's provider: create and update deploy a generation (deployHost),
 * read hashes what the host runs so a refresh sees hand edits, delete removes homefleet from the
 * host. Plain Node code over ssh2, importable and callable without the Pulumi engine; the Pulumi
 * side (hosts/HostDeployment.ts) hands `hostDeploymentProvider` to the engine as a dynamic provider,
 * or the same code bundled (hosts/prebuiltProvider.ts).
 */
import type * as pulumi from "@pulumi/pulumi";
import type { HostManifest } from "../bundle/hostBundle";
import type { RenderedFile } from "../render/types";
import { deployHost, describeStep, hostStatus, removeHost, unitStates, type DeployOptions, type DeployResult, type DeployStep, type SecretFileContent } from "./deployHost";
import { engineProgress } from "./engineProgress";
import { HostSession, sha256, sshTargetOf, type HostConnectionInputs } from "./ssh";

/** `host` (the name in homefleet:hosts) is also the resource ID; `privateKey` is a Pulumi secret. */
export interface HostDeploymentInputs extends HostConnectionInputs {
  /** Path → content of every file homefleet renders for the host (no secrets in them). */
  readonly files: Readonly<Record<string, string>>;
  readonly manifest: HostManifest;
  /** Path → sha256 the host should have: a refresh replaces it by what the host has, so a preview shows drift per file. */
  readonly fileHashes: Readonly<Record<string, string>>;
  /** A Pulumi secret: the secret files' contents. */
  readonly secrets: readonly SecretFileContent[];
  /** True in inputs; a refresh sets false when a secret file on the host differs or is missing. */
  readonly secretsInSync: boolean;
  readonly options: { readonly confirmAfterSec: number; readonly healthTimeoutSec: number; readonly healthSoakSec?: number; readonly keepGenerations: number };
  /** Hosts of earlier rollout waves with their verdicts (data dependencies: the engine waits for them). */
  readonly after?: readonly { readonly host: string; readonly wave: number; readonly verdict: string }[];
  /** The promotion gate's verdict, when the stack promotes from another. */
  readonly promotion?: { readonly from: string; readonly refused: boolean; readonly message: string };
  /** This resource's own URN, for progress messages (a dynamic provider is not told it); never a reason to deploy. */
  readonly progressUrn?: string;
}

/** The deployment's options plus a progress reporter for the engine, when the engine started this process. */
function optionsOf(inputs: HostDeploymentInputs): DeployOptions {
  const report = engineProgress(inputs.progressUrn);
  return { ...inputs.options, ...(report ? { progress: (step: DeployStep) => report(describeStep(step)) } : {}) };
}

/**
 * What the state keeps of a deployment. Not the files' contents: the inputs hold those (the engine
 * shows a preview's diff from them) and the hashes say what the host has; a copy in the outputs
 * would be read by nothing and written with every checkpoint. States from before keep theirs until
 * the host's next deployment.
 */
export interface HostDeploymentOutputs extends Omit<HostDeploymentInputs, "files"> {
  readonly files?: HostDeploymentInputs["files"];
  readonly generation: number | null;
  readonly manifestSha256: string | null;
  readonly unitStates: Readonly<Record<string, string>>;
  readonly health: { readonly verdict: string; readonly checkedAt: string; readonly checks: readonly { check: string; ok: boolean }[] };
  /** What the last deployment did; a refresh keeps it, so a preview with --refresh shows only what the host changed. */
  readonly lastDeploy: { readonly uploadedFiles: readonly string[]; readonly restarted: readonly string[]; readonly secretsWritten: readonly string[]; readonly bytesSent: number; readonly changed: boolean } | null;
  /** The key the host offered at first contact (trust on first use): a later, different one is refused unless config names it. */
  readonly hostKey?: string;
}

/** Rethrows any failure as a plain Error with its message: what the engine shows the user. */
export async function plainErrors<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    const message = err instanceof Error || (err && typeof (err as Error).message === "string") ? (err as Error).message : String(err);
    throw new Error(message || "the host deployment failed without a message");
  }
}


function filesOf(inputs: HostDeploymentInputs): RenderedFile[] {
  return inputs.manifest.files.map((f) => {
    const content = inputs.files[f.path];
    if (content === undefined) throw new Error(`host ${inputs.host}: the manifest lists ${f.path} but no content was given for it`);
    return { path: f.path, mode: f.mode, content } as RenderedFile;
  });
}

export function outputsOf(inputs: HostDeploymentInputs, result: DeployResult): HostDeploymentOutputs {
  const { files: _contents, ...kept } = inputs;
  return {
    ...kept,
    generation: result.generation,
    manifestSha256: result.manifestSha256,
    unitStates: result.unitStates,
    health: result.health,
    lastDeploy: { uploadedFiles: result.uploadedFiles, restarted: result.restarted, secretsWritten: result.secretsWritten, bytesSent: result.bytesSent, changed: result.changed },
    hostKey: result.hostKey,
  };
}

/** Adds what inputs imply: the expected hash of every file, and secrets in sync. */
export function checkInputs(news: Omit<HostDeploymentInputs, "fileHashes" | "secretsInSync"> & Partial<HostDeploymentInputs>): HostDeploymentInputs {
  const fileHashes = Object.fromEntries(news.manifest.files.map((f) => [f.path, f.sha256]));
  for (const f of news.manifest.files) {
    const content = news.files[f.path];
    if (content !== undefined && sha256(content) !== f.sha256) throw new Error(`host ${news.host}: ${f.path} does not match its manifest hash`);
  }
  return { ...news, fileHashes, secretsInSync: true };
}

/** Names of the properties whose change means the host must be deployed again (none forces a replacement). */
export function diffInputs(olds: HostDeploymentOutputs, news: HostDeploymentInputs): string[] {
  const changed: string[] = [];
  if (olds.manifest?.sha256 !== news.manifest.sha256) changed.push("manifest");
  if (JSON.stringify(olds.fileHashes ?? {}) !== JSON.stringify(news.fileHashes)) changed.push("fileHashes");
  const secretsOf = (s: readonly SecretFileContent[] | undefined) => JSON.stringify((s ?? []).map((x) => [x.path, x.mode, x.owner, x.group, sha256(x.content)]));
  if (secretsOf(olds.secrets) !== secretsOf(news.secrets)) changed.push("secrets");
  if (olds.secretsInSync === false) changed.push("secretsInSync");
  // A host that rolled itself back (confirm timer) or was never confirmed runs another generation.
  if (olds.manifestSha256 !== undefined && olds.manifestSha256 !== news.manifest.sha256) changed.push("manifestSha256");
  if (JSON.stringify(olds.options) !== JSON.stringify(news.options)) changed.push("options");
  // A new address or host key (a re-keyed host accepted in config): the state must carry it, or
  // every refresh would keep connecting with the old one.
  if (JSON.stringify(olds.connection) !== JSON.stringify(news.connection)) changed.push("connection");
  if (olds.health?.verdict === "unconfirmed") changed.push("health");
  return [...new Set(changed)];
}

/**
 * The gate's message when it refused the promotion and this host would change: such a host must
 * not be touched. A host that keeps running what it runs deploys nothing unproven.
 */
export function promotionRefusal(news: Pick<HostDeploymentInputs, "promotion" | "manifest">, olds?: Partial<Pick<HostDeploymentInputs, "manifest">>): string | undefined {
  if (!news.promotion?.refused) return undefined;
  if (olds?.manifest?.sha256 !== undefined && olds.manifest.sha256 === news.manifest.sha256) return undefined;
  return news.promotion.message;
}

/** A wave starts only when every host of the earlier waves is healthy. */
function requireEarlierWavesHealthy(inputs: HostDeploymentInputs): void {
  const unhealthy = (inputs.after ?? []).filter((h) => h.verdict !== "healthy");
  if (unhealthy.length) throw new Error(`host ${inputs.host}: not deployed, because earlier rollout waves are not healthy: ${unhealthy.map((h) => `${h.host} (wave ${h.wave}: ${h.verdict})`).join(", ")}`);
}

/** A secret file whose secrets do not exist yet is never deployed (written empty, it would lock the service out). */
export function requireSecretValues(inputs: Pick<HostDeploymentInputs, "host" | "secrets">): void {
  const incomplete = inputs.secrets.filter((s) => s.missing?.length);
  if (incomplete.length) {
    throw new Error(
      `host ${inputs.host}: not deployed: ${incomplete.map((s) => `${s.path} needs ${s.missing!.join(", ")}`).join("; ")}, which do not exist yet (a targeted up skipped the resources that generate them): run pulumi up without --target, or target those stacks too`,
    );
  }
}

export async function createDeployment(inputs: HostDeploymentInputs): Promise<{ id: string; outs: HostDeploymentOutputs }> {
  const refused = promotionRefusal(inputs);
  if (refused) throw new Error(refused);
  requireSecretValues(inputs);
  requireEarlierWavesHealthy(inputs);
  const result = await deployHost(sshTargetOf(inputs), filesOf(inputs), inputs.manifest, inputs.secrets, { ...optionsOf(inputs), firstDeployment: true, expected: { generation: null, manifest: null } });
  return { id: inputs.host, outs: outputsOf(inputs, result) };
}

/**
 * What the state says the host runs: the generation the last deployment (or refresh) found
 * confirmed, when it runs that deployment's manifest. None when a refresh found another one.
 */
export function expectedOf(olds?: HostDeploymentOutputs): DeployOptions["expected"] {
  if (!olds?.manifest || olds.generation === null || olds.generation === undefined || olds.manifestSha256 !== olds.manifest.sha256 || olds.health?.verdict === "unconfirmed") return undefined;
  return { generation: olds.generation, manifest: olds.manifest };
}

export async function updateDeployment(news: HostDeploymentInputs, olds?: HostDeploymentOutputs): Promise<{ outs: HostDeploymentOutputs }> {
  const refused = promotionRefusal(news, olds);
  if (refused) throw new Error(refused);
  requireSecretValues(news);
  requireEarlierWavesHealthy(news);
  const result = await deployHost(sshTargetOf(news, olds?.hostKey), filesOf(news), news.manifest, news.secrets, { ...optionsOf(news), ...(expectedOf(olds) ? { expected: expectedOf(olds) } : {}) });
  return { outs: outputsOf(news, result) };
}

/**
 * What the host runs now: the generation, each managed file's hash ("missing" when deleted),
 * whether the secret files match, and unit states. Inputs are not touched, so the next preview
 * compares the host against what the program wants.
 */
export async function readDeployment(id: string, props: HostDeploymentOutputs): Promise<{ id: string; props: HostDeploymentOutputs }> {
  const session = await HostSession.connect(sshTargetOf(props, props.hostKey));
  try {
    const status = await hostStatus(session);
    const secretsInSync = (props.secrets ?? []).every((s) => status.secrets[s.path] === sha256(s.content));
    const manifest = props.manifest;
    // Files the state expects but the host's generation does not list count as missing.
    const fileHashes: Record<string, string> = {};
    for (const path of Object.keys(props.fileHashes ?? {})) fileHashes[path] = status.files[path] ?? "missing";
    return {
      id,
      props: {
        ...props,
        fileHashes,
        secretsInSync,
        generation: status.generation,
        manifestSha256: status.manifestSha256,
        // Switched to but never confirmed (a deployment cut off): the next up gates and confirms it.
        ...(status.phase !== "confirmed" ? { health: { ...props.health, verdict: "unconfirmed" } } : {}),
        unitStates: await unitStates(session, manifest.start),
        hostKey: status.hostKey,
      },
    };
  } finally {
    session.close();
  }
}

export async function deleteDeployment(props: HostDeploymentOutputs): Promise<void> {
  await removeHost(sshTargetOf(props, props.hostKey));
}

/**
 * The dynamic provider over the functions above. A dynamic provider rather than @pulumi/command:
 * Command resources have no Read, so a refresh could never see a hand edit on the host. This one
 * hashes the host's files on read.
 */
export const hostDeploymentProvider: pulumi.dynamic.ResourceProvider = {
  async check(olds, news) {
    const refused = promotionRefusal(news, olds);
    // No property named: the engine would print the whole promotion input as a Go map before the reason.
    if (refused) return { inputs: news, failures: [{ property: "", reason: refused }] };
    return { inputs: checkInputs(news) };
  },
  async diff(_id, olds, news) {
    const changed = diffInputs(olds, news);
    return { changes: changed.length > 0 };
  },
  async create(inputs) {
    return plainErrors(() => createDeployment(inputs));
  },
  async read(id, props) {
    return plainErrors(() => readDeployment(id, props));
  },
  async update(_id, olds, news) {
    return plainErrors(() => updateDeployment(news, olds));
  },
  async delete(_id, props) {
    await plainErrors(() => deleteDeployment(props));
  },
};
