/**
 * The one place where values become systemd unit-file text.
 *
 * Unit files are line based: a newline in a value starts a new directive and a trailing
 * backslash continues the line, so both are rejected rather than escaped. `%` starts a specifier
 * in nearly every directive and is doubled. Exec arguments are quoted when they need it and `$`
 * is doubled there, so a value is never expanded as an environment variable
 * (systemd.service(5), "Command lines"; nixpkgs `utils.escapeSystemdExecArg` does the same).
 */
import { compareText } from "../../model/textOrder";

export class UnitWriterError extends Error {}

/** A command line for Exec*= directives, kept as argv so nothing is ever re-split by a shell. */
export interface ExecCommand {
  readonly argv: readonly string[];
  /** `-` ignores failure; `+` runs with full privileges (used only where a comment says why). */
  readonly prefix?: "-" | "+" | "";
}

/** One `Environment=` assignment; only for values that are not secret. */
export interface EnvAssignment {
  readonly envName: string;
  readonly envValue: string;
}

export type UnitValue = string | number | boolean | ExecCommand | EnvAssignment;

/** Directive → one value, or several (each becomes its own line, in the order given). */
export type UnitSection = { readonly [directive: string]: UnitValue | readonly UnitValue[] | undefined };

export interface UnitFile {
  /** Comment lines at the top: why the unit exists. */
  readonly header?: readonly string[];
  readonly sections: { readonly [section: string]: UnitSection };
}

const SECTION_ORDER = ["Unit", "Service", "Socket", "Timer", "Path", "Install"];

/** The characters checkLine looks at more closely: most text has none, and one search is cheaper than a loop. */
const SUSPECT = /[\x00-\x1f\x7f\ud800-\udfff]/;

function checkLine(text: string, what: string): void {
  if (!SUSPECT.test(text)) return;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x20 || code === 0x7f) {
      throw new UnitWriterError(`${what}: control character U+${code.toString(16).padStart(4, "0")} is not allowed in a unit file`);
    }
    if (code >= 0xd800 && code <= 0xdfff) {
      const next = text.charCodeAt(i + 1);
      if (code <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        i++;
        continue;
      }
      throw new UnitWriterError(`${what}: lone surrogate is not allowed in a unit file`);
    }
  }
}

/**
 * Resource-control settings are parsed without specifier expansion, so their `%` (CPUQuota=150%,
 * MemoryMax=50%) must stay single; everywhere else a literal `%` is written `%%`.
 */
const LITERAL_PERCENT = new Set(["CPUQuota", "MemoryMax", "MemoryHigh", "MemoryLow", "MemoryMin", "MemorySwapMax", "TasksMax", "StartupCPUWeight", "CPUWeight"]);

/** A plain directive value: specifiers doubled, line breaks and continuations refused. */
export function unitValue(value: string | number | boolean, what = "value", directive = ""): string {
  if (typeof value === "boolean") return value ? "yes" : "no";
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new UnitWriterError(`${what}: ${value} is not a number systemd accepts`);
    return String(value);
  }
  checkLine(value, what);
  if (value.endsWith("\\")) throw new UnitWriterError(`${what}: a trailing backslash would continue the line`);
  if (value !== value.trim()) throw new UnitWriterError(`${what}: leading or trailing whitespace would be dropped by systemd`);
  return LITERAL_PERCENT.has(directive) || !value.includes("%") ? value : value.replace(/%/g, "%%");
}

const PLAIN_ARG = /^[A-Za-z0-9_@+=:,./-]+$/;

/** One Exec argument, quoted only when it needs to be. */
export function execArg(arg: string, what = "argument"): string {
  checkLine(arg, what);
  if (arg === ";") return "\\;";
  const quoted = PLAIN_ARG.test(arg) ? arg : JSON.stringify(arg);
  return quoted.includes("%") || quoted.includes("$") ? quoted.replace(/%/g, "%%").replace(/\$/g, "$$$$") : quoted;
}

const UNNORMALIZED = /\/\.{0,2}(\/|$)/;
const SECTION_NAME = /^[A-Za-z][A-Za-z0-9-]*$/;
const DIRECTIVE_NAME = /^[A-Za-z][A-Za-z0-9]*$/;

export function execLine(cmd: ExecCommand, what = "command"): string {
  if (cmd.argv.length === 0) throw new UnitWriterError(`${what}: empty command`);
  const [exe, ...args] = cmd.argv;
  if (!exe.startsWith("/")) throw new UnitWriterError(`${what}: executable must be an absolute path, got ${JSON.stringify(exe)}`);
  // systemd undoes `$$` only in argv, never in the path it executes, so a `$` there has no spelling.
  if (exe.includes("$")) throw new UnitWriterError(`${what}: executable path must not contain "$", got ${JSON.stringify(exe)}`);
  // systemd ignores an Exec line whose path is not normalized.
  if (UNNORMALIZED.test(exe)) throw new UnitWriterError(`${what}: executable path must be normalized (no //, /./, /../ or trailing /), got ${JSON.stringify(exe)}`);
  return (cmd.prefix ?? "") + [exe, ...args].map((a) => execArg(a, what)).join(" ");
}

/** `Environment="NAME=value"` for non-secret values (secrets go through EnvironmentFile or LoadCredential). */
export function environmentAssignment(name: string, value: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new UnitWriterError(`environment name ${JSON.stringify(name)} is not valid`);
  checkLine(value, `Environment ${name}`);
  return JSON.stringify(`${name}=${value}`).replace(/%/g, "%%");
}

function isEnv(v: UnitValue): v is EnvAssignment {
  return typeof v === "object" && v !== null && typeof (v as EnvAssignment).envName === "string";
}

function isExec(v: UnitValue): v is ExecCommand {
  return typeof v === "object" && v !== null && Array.isArray((v as ExecCommand).argv);
}

/** Directive names found good: every unit names the same few dozen, each checked once per process. */
const CHECKED_DIRECTIVES = new Set<string>();

export function renderUnitFile(unit: UnitFile): string {
  // Built as one string (no array per section, line or value: thousands of units for a large fleet).
  let text = "";
  for (const line of unit.header ?? []) {
    checkLine(line, "comment");
    text += `# ${line}`.trimEnd() + "\n";
  }
  const names = Object.keys(unit.sections).sort((a, b) => {
    const ia = SECTION_ORDER.indexOf(a);
    const ib = SECTION_ORDER.indexOf(b);
    return (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib) || compareText(a, b);
  });
  for (const name of names) {
    if (!SECTION_NAME.test(name)) throw new UnitWriterError(`bad section name ${JSON.stringify(name)}`);
    const section = unit.sections[name];
    let lines = "";
    // Directive order is the order the model gives: related settings stay together for readers.
    for (const directive of Object.keys(section)) {
      if (!CHECKED_DIRECTIVES.has(directive)) {
        if (!DIRECTIVE_NAME.test(directive)) throw new UnitWriterError(`bad directive name ${JSON.stringify(directive)}`);
        CHECKED_DIRECTIVES.add(directive);
      }
      const raw = section[directive];
      if (raw === undefined) continue;
      const what = `${name}.${directive}`;
      if (Array.isArray(raw)) for (const v of raw as readonly UnitValue[]) lines += `${directive}=${valueText(v, what, directive)}\n`;
      else lines += `${directive}=${valueText(raw as UnitValue, what, directive)}\n`;
    }
    if (lines === "") continue;
    // A blank line between sections, and after the header.
    text += `${text === "" ? "" : "\n"}[${name}]\n${lines}`;
  }
  return text === "" ? "\n" : text;
}

function valueText(v: UnitValue, what: string, directive: string): string {
  return isExec(v) ? execLine(v, what) : isEnv(v) ? environmentAssignment(v.envName, v.envValue) : unitValue(v, what, directive);
}
