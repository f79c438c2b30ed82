/**
 * Composes the content of a secret file from secret values. Runs inside Pulumi `apply` (so the
 * result stays a Pulumi secret) and on the deployer; never at render time.
 */
import type { SecretFileSpec, SecretPart } from "./specs";

export class SecretCompositionError extends Error {}

function partValue(part: SecretPart, lookup: (id: string) => string): string {
  if (typeof part === "string") return part;
  const value = lookup(part.secret);
  if (value === undefined) throw new SecretCompositionError(`no value for secret ${part.secret}`);
  return part.encode === "uri" ? encodeURIComponent(value) : value;
}

/** Redis config strings: double-quoted with `\\` and `"` escaped (redis.conf "sds" parsing). */
function redisQuote(value: string): string {
  return `"${value.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}

/** A whole env file given as one secret (`NAME=value` lines), checked line by line. */
function envText(spec: SecretFileSpec, value: string): string {
  const lines = value.split(/\r?\n/).filter((l) => l.trim() !== "");
  for (const line of lines) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*=/.test(line)) throw new SecretCompositionError(`${spec.path}: every line must be NAME=value (a line starts with ${JSON.stringify(line.slice(0, 1))})`);
  }
  return lines.map((l) => l + "\n").join("");
}

export function composeSecretFile(spec: SecretFileSpec, lookup: (id: string) => string): string {
  const values = spec.entries.map((e) => ({ name: e.name, value: e.parts.map((p) => partValue(p, lookup)).join("") }));
  if (spec.format === "env-text") return values.map((v) => envText(spec, v.value)).join("");
  for (const v of values) {
    // One line per entry is the only structure these formats have; a newline would inject another.
    if (/[\n\r\0]/.test(v.value)) throw new SecretCompositionError(`secret for ${v.name} in ${spec.path} contains a line break or NUL`);
  }
  switch (spec.format) {
    case "raw":
      return values.map((v) => v.value).join("");
    case "env":
      return values.map((v) => `${v.name}=${v.value}\n`).join("");
    case "redis-conf":
      return values.map((v) => `${v.name} ${redisQuote(v.value)}\n`).join("");
  }
}

/**
 * The secrets SPEC refers to that LOOKUP has no value for. Under `pulumi up --target`, a generated
 * secret that was not targeted and never created has no value: the file is then marked missing
 * instead of failing the whole program, and the host deployment refuses to deploy it.
 */
export function missingSecrets(spec: SecretFileSpec, lookup: (id: string) => string | undefined): string[] {
  return spec.entries.flatMap((e) => e.parts.flatMap((p) => (typeof p !== "string" && lookup(p.secret) === undefined ? [p.secret] : [])));
}

/** A secret file's content, or the secrets it still lacks (see missingSecrets). */
export function composed(spec: SecretFileSpec, lookup: (id: string) => string | undefined): { content: string; missing?: string[] } {
  const missing = missingSecrets(spec, lookup);
  return missing.length ? { content: "", missing } : { content: composeSecretFile(spec, lookup as (id: string) => string) };
}
