/**
 * A host bundle is every file homefleet writes on one host plus a manifest with the sha256 of
 * each. The manifest is what deployments compare and what drift detection re-hashes on the host.
 */
import { createHash, hash } from "node:crypto";
import { serialize } from "node:v8";
import type { FleetConfig } from "../config/load";
import { buildFleetModel } from "../model/build";
import { anchorInterface, type FleetModel, type HealthCheckSpec, type HostModel } from "../model/specs";
import { compareText } from "../model/textOrder";
import { renderNixosHost } from "../render/nixos/host";
import { renderSystemdHost } from "../render/systemd/host";
import type { RenderedFile } from "../render/types";
import { unitsReadingIndex, unitsToStart } from "./activation";

export interface ManifestFile {
  readonly path: string;
  readonly mode: string;
  readonly sha256: string;
  readonly size: number;
  /** Units a change of this file restarts (plain systemd hosts). */
  readonly restart?: readonly string[];
  /** Set when the file is not root's. */
  readonly owner?: string;
  readonly group?: string;
}

export interface HostManifest {
  readonly os: HostModel["os"];
  readonly arch: HostModel["arch"];
  readonly files: readonly ManifestFile[];
  /** Written at deploy time from Pulumi secrets; listed by path only, never with content or hash. */
  readonly secretFiles: readonly { readonly path: string; readonly mode: string; readonly owner: string; readonly group: string; readonly restart?: readonly string[] }[];
  readonly units: readonly string[];
  /** Units a deployment enables and starts (plain systemd hosts). */
  readonly start: readonly string[];
  readonly disabledUnits: readonly string[];
  readonly packages: readonly string[];
  readonly healthChecks: readonly HealthCheckSpec[];
  /** Network interfaces homefleet creates (bridges and their anchors): removed when their stack leaves. */
  readonly interfaces: readonly string[];
  /** Container images, pulled before a deployment arms its revert timer (a slow pull must not count against it). */
  readonly images: readonly string[];
  /** sha256 over the canonical JSON of everything above: one value that changes when anything does. */
  readonly sha256: string;
}

export interface HostBundle {
  readonly host: HostModel;
  readonly files: readonly RenderedFile[];
  readonly manifest: HostManifest;
}

export interface FleetRender {
  readonly model: FleetModel;
  readonly bundles: readonly HostBundle[];
  readonly warnings: readonly string[];
}

export function sha256(text: string | Buffer): string {
  // The one-shot form: no Hash object per file (thousands for a large fleet).
  return hash("sha256", text, "hex");
}

/**
 * Hash and size of file contents, remembered for one fleet render by the path they are written
 * to: every host gets the same scripts at the same paths (homefleet-activate alone is 26 KiB), and
 * hashing them again for each host was a good part of rendering a large fleet. Looked up by path,
 * not by content: a map keyed by the text itself hashes every text, the ~2 400 that are each
 * one host's own among them, only to find them new.
 */
export type ContentDigests = Map<string, { readonly content: string; readonly sha256: string; readonly size: number }>;

function digestOf(path: string, content: string, digests: ContentDigests): { readonly sha256: string; readonly size: number } {
  const known = digests.get(path);
  // Equal texts compare as one pointer when they are the same string, and texts of other
  // lengths at once; a text of the same length is compared only up to its first difference.
  if (known !== undefined && known.content === content) return known;
  const digest = { content, sha256: sha256(content), size: Buffer.byteLength(content, "utf8") };
  digests.set(path, digest);
  return digest;
}

export function buildHostBundle(host: HostModel, digests: ContentDigests = new Map()): HostBundle {
  const files = host.os === "nixos" ? renderNixosHost(host) : renderSystemdHost(host);
  const seen = new Set<string>();
  for (const f of files) {
    if (seen.has(f.path)) throw new Error(`host ${host.name}: two files render to ${f.path}`);
    seen.add(f.path);
  }
  const start = host.os === "systemd" ? unitsToStart(host) : [];
  const reading = host.os === "systemd" ? unitsReadingIndex(host) : () => [];
  const readingSecret = host.os === "systemd" ? unitsReadingIndex(host, (u) => u.secretFiles) : () => [];
  const body = {
    os: host.os,
    arch: host.arch,
    files: files.map((f) => {
      const restart = reading(f.path);
      const digest = digestOf(f.path, f.content, digests);
      // Keys in this order (the manifest's JSON); set one by one, not spread from objects made for it.
      const entry: { -readonly [K in keyof ManifestFile]: ManifestFile[K] } = { path: f.path, mode: f.mode, sha256: digest.sha256, size: digest.size };
      if (f.owner) {
        entry.owner = f.owner;
        entry.group = f.group ?? f.owner;
      }
      if (restart.length) entry.restart = restart;
      return entry;
    }),
    secretFiles: [...host.secretFiles, ...host.stacks.flatMap((s) => s.secretFiles)]
      .map((s) => {
        const restart = readingSecret(s.path);
        return { path: s.path, mode: s.mode, owner: s.owner, group: s.group, ...(restart.length ? { restart } : {}) };
      })
      .sort((a, b) => compareText(a.path, b.path)),
    // The units homefleet declares (not the packaged ones it configures).
    units: host.units.filter((u) => u.source === "homefleet").map((u) => u.name),
    start,
    disabledUnits: [...host.disabledUnits],
    packages: [...host.packages],
    healthChecks: host.stacks.flatMap((s) => s.healthChecks),
    interfaces: host.stacks.flatMap((s) => (s.network.mode === "bridge" && s.network.interface ? [anchorInterface(s.network.interface), s.network.interface] : [])).sort(),
    images: [...new Set(host.stacks.flatMap((s) => (s.container ? [s.container.image] : [])))].sort(),
  };
  return { host, files, manifest: { ...body, sha256: sha256(JSON.stringify(body)) } };
}

/**
 * A host's render key: a digest of everything its bundle is made from, so that a render into a
 * directory can keep an earlier render's files for a host whose key is the same (cli/render.ts).
 * That is the host's model, which is all buildHostBundle reads (tests/render.key.test.ts renders
 * a copy rebuilt from the serialization and gets the same bundle), and the code that renders it:
 * `codeIdentity` names one build of homefleet, and the Node.js version is added because the
 * serialization format is V8's. The model's `units` are left out: buildFleetModel makes them
 * from the rest of the host's model alone (buildHostUnits), and they are a third of its size.
 *
 * v8.serialize rather than JSON: it keeps undefined apart from a missing key and NaN apart from
 * null, writes Maps and Sets, and throws on a function. V8 may write one value two ways, as it
 * happens to hold it (an integer as an int32 or a double, an array dense or sparse), which can only
 * make the keys of two equal models differ: a host rendered again, never one kept wrongly. The same
 * config read by the same build gives the same keys (tests/render.key.test.ts).
 */
export function hostRenderKey(host: HostModel, codeIdentity: string): string {
  const { units: _madeFromTheRest, ...rest } = host;
  return renderKey("host", serialize(rest), codeIdentity);
}

/**
 * The render key of a whole fleet: a digest of its validated config and of the code. The model,
 * and so every host's render key, is a function of these two (buildFleetModel reads nothing
 * else), so a render whose fleet key is the one recorded takes the host keys recorded with it
 * instead of serializing every host's model again (about 0.5 ms a host, the config 5 ms for 200).
 */
export function fleetRenderKey(config: FleetConfig, codeIdentity: string): string {
  return renderKey("fleet", serialize(config), codeIdentity);
}

function renderKey(kind: "host" | "fleet", serialized: Buffer, codeIdentity: string): string {
  return createHash("sha256").update(`homefleet-${kind}-render\n${codeIdentity}\n${process.version}\n`).update(serialized).digest("hex");
}

/** What the model says users should know: each host's warnings, then its stacks'. */
export function fleetWarnings(model: FleetModel): string[] {
  return model.hosts.flatMap((h) => [...h.warnings, ...h.stacks.flatMap((s) => s.warnings)]);
}

export function renderFleet(config: FleetConfig): FleetRender {
  const model = buildFleetModel(config);
  const digests: ContentDigests = new Map();
  const bundles = model.hosts.map((host) => buildHostBundle(host, digests));
  return { model, bundles, warnings: fleetWarnings(model) };
}

/** The manifest file written next to the rendered hosts: stable JSON, keys in a fixed order. */
export function fleetManifestJson(render: { readonly bundles: readonly { readonly host: { readonly name: string }; readonly manifest: HostManifest }[] }): string {
  const hosts: Record<string, HostManifest> = {};
  for (const b of render.bundles) hosts[b.host.name] = b.manifest;
  return JSON.stringify({ generator: "homefleet", version: 1, hosts }, null, 2) + "\n";
}
