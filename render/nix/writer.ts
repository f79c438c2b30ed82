/**
 * The one place where values become Nix source text. Every user value that reaches a generated
 * NixOS module passes through here, so escaping is decided once.
 *
 * Rules follow nixpkgs `lib/strings.nix` (escapeNixString, escapeNixIdentifier): strings are JSON
 * escaped and then `$` is escaped; Nix only knows the `\n`, `\r` and `\t` escapes, so any other
 * control character is rejected rather than JSON-escaped (`\u0001` would decode to other text).
 * Output is deterministic: attribute names are sorted.
 */

export class NixWriterError extends Error {}

/** A Nix expression written by homefleet itself (never built from user text without validation). */
export class NixExpr {
  private constructor(
    readonly source: (indent: string) => string,
    /** Whether the expression can stand as a list element or argument without parentheses. */
    readonly atomic: boolean,
  ) {}

  /** `pkgs.podman`, `lib.mkDefault`, `config.services.x`: dotted identifiers only. */
  static ref(dotted: string): NixExpr {
    // A reference is immutable: each path is checked once per process (every host names the same ones).
    const known = REFS.get(dotted);
    if (known) return known;
    if (!DOTTED_PATH.test(dotted)) {
      throw new NixWriterError(`not a Nix attribute path: ${JSON.stringify(dotted)}`);
    }
    for (const part of dotted.split(".")) {
      if (NIX_KEYWORDS.has(part)) throw new NixWriterError(`Nix keyword in attribute path: ${dotted}`);
    }
    const ref = new NixExpr(() => dotted, true);
    REFS.set(dotted, ref);
    return ref;
  }

  /**
   * The same expression, its text remembered per indentation: for one that every host writes
   * alike (a script's derivation), written once per process instead of once per module.
   */
  static remembered(expr: NixExpr): NixExpr {
    const texts = new Map<string, string>();
    return new NixExpr((indent) => {
      let text = texts.get(indent);
      if (text === undefined) texts.set(indent, (text = expr.source(indent)));
      return text;
    }, expr.atomic);
  }

  /** A path literal relative to the module file, such as `./litellm/config.yaml`. */
  static relativePath(path: string): NixExpr {
    if (!/^\.\/[A-Za-z0-9._+-]+(\/[A-Za-z0-9._+-]+)*$/.test(path) || path.split("/").includes("..")) {
      throw new NixWriterError(`not a safe relative Nix path: ${JSON.stringify(path)}`);
    }
    return new NixExpr(() => path, true);
  }

  /** `!expr`: the negation of a boolean expression. */
  static not(expr: NixExpr): NixExpr {
    return new NixExpr((indent) => `!${expr.atomic ? expr.source(indent) : `(${expr.source(indent)})`}`, false);
  }

  /** A function application `fn arg1 arg2`, each argument rendered by the writer. */
  static call(fn: string, ...args: NixValue[]): NixExpr {
    const callee = NixExpr.ref(fn);
    return new NixExpr((indent) => {
      const rendered = args.map((a) => {
        const text = renderNixValue(a, indent);
        return needsParens(a) ? `(${text})` : text;
      });
      return [callee.source(indent), ...rendered].join(" ");
    }, args.length === 0);
  }

  /** A function `param: body`, e.g. `ps: [ ps.psycopg2 ]` for an option that takes a package set. */
  static lambda(param: string, body: NixValue): NixExpr {
    if (!BARE_IDENTIFIER.test(param) || NIX_KEYWORDS.has(param)) throw new NixWriterError(`not a Nix identifier: ${JSON.stringify(param)}`);
    return new NixExpr((indent) => `${param}: ${renderNixValue(body, indent)}`, false);
  }

  /** A string with `${...}` interpolations of homefleet expressions, e.g. a store path plus arguments. */
  static interpolate(parts: ReadonlyArray<string | NixExpr>): NixExpr {
    return new NixExpr((indent) => {
      const body = parts
        .map((p) => (typeof p === "string" ? escapeStringBody(p) : "${" + p.source(indent) + "}"))
        .join("");
      return `"${body}"`;
    }, true);
  }
}

export type NixValue =
  | string
  | number
  | boolean
  | null
  | NixExpr
  | readonly NixValue[]
  | { readonly [key: string]: NixValue | undefined };

export const NIX_KEYWORDS = new Set(["assert", "else", "if", "in", "inherit", "let", "or", "rec", "then", "with"]);

const DOTTED_PATH = /^[A-Za-z_][A-Za-z0-9_'-]*(\.[A-Za-z_][A-Za-z0-9_'-]*)*$/;
const REFS = new Map<string, NixExpr>();

const BARE_IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_'-]*$/;

/** The characters checkText looks at more closely: most text has none, and one search is cheaper than a loop. */
const SUSPECT = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]/;

function checkText(text: string): void {
  if (!SUSPECT.test(text)) return;
  // Any C0 control other than \t \n \r, DEL, and lone surrogates have no faithful Nix spelling.
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if ((code < 0x20 && code !== 0x09 && code !== 0x0a && code !== 0x0d) || code === 0x7f) {
      throw new NixWriterError(`control character U+${code.toString(16).padStart(4, "0")} cannot be written to Nix`);
    }
    if (code >= 0xd800 && code <= 0xdbff) {
      const next = text.charCodeAt(i + 1);
      if (!(next >= 0xdc00 && next <= 0xdfff)) throw new NixWriterError("lone surrogate cannot be written to Nix");
      i++;
    } else if (code >= 0xdc00 && code <= 0xdfff) {
      throw new NixWriterError("lone surrogate cannot be written to Nix");
    }
  }
}

/** The inside of a double-quoted literal: JSON's escapes, and `$` escaped so `${` never interpolates. */
function escapeBody(text: string): string {
  checkText(text);
  const body = JSON.stringify(text).slice(1, -1);
  return body.includes("$") ? body.replace(/\$/g, "\\$") : body;
}

/** Escaped bodies of short strings seen before (the literal parts of interpolated strings): hosts repeat the same values. */
const ESCAPED = new Map<string, string>();

function escapeStringBody(text: string): string {
  if (text.length > 200) return escapeBody(text);
  let escaped = ESCAPED.get(text);
  if (escaped === undefined) ESCAPED.set(text, (escaped = escapeBody(text)));
  return escaped;
}

/** Literals of short strings seen before, quotes included (one string fewer to make for each). */
const QUOTED = new Map<string, string>();

/** A Nix double-quoted string literal for arbitrary text. */
export function nixString(text: string): string {
  if (text.length > 200) return `"${escapeBody(text)}"`;
  let quoted = QUOTED.get(text);
  if (quoted === undefined) QUOTED.set(text, (quoted = `"${escapeBody(text)}"`));
  return quoted;
}

const ATTR_NAMES = new Map<string, string>();

/** An attribute name: bare when Nix allows it, quoted otherwise. */
export function nixAttrName(name: string): string {
  let written = ATTR_NAMES.get(name);
  if (written === undefined) {
    written = BARE_IDENTIFIER.test(name) && !NIX_KEYWORDS.has(name) ? name : nixString(name);
    ATTR_NAMES.set(name, written);
  }
  return written;
}

function nixNumber(n: number): string {
  if (!Number.isFinite(n)) throw new NixWriterError(`number ${n} cannot be written to Nix`);
  if (Number.isInteger(n)) {
    if (!Number.isSafeInteger(n)) throw new NixWriterError(`integer ${n} is outside the exact range`);
    return String(n);
  }
  const text = String(n);
  if (/e/i.test(text)) throw new NixWriterError(`float ${text} needs exponent notation; write it as a string`);
  return text;
}

function needsParens(v: NixValue | undefined): boolean {
  if (v instanceof NixExpr) return !v.atomic;
  return typeof v === "number" && v < 0;
}

function isAttrs(v: NixValue | undefined): v is { readonly [key: string]: NixValue | undefined } {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof NixExpr);
}

/**
 * Object.keys(attrs).sort(), sorting small sets in place: Array.prototype.sort copies the array
 * into a work area first, and this runs for every attribute set of every module (most have a
 * handful of keys). `<` orders strings by UTF-16 code units, as sort() without a comparator does.
 */
function sortedKeys(attrs: object): string[] {
  const keys = Object.keys(attrs);
  if (keys.length > 16) return keys.sort();
  for (let i = 1; i < keys.length; i++) {
    const key = keys[i];
    let j = i - 1;
    while (j >= 0 && keys[j] > key) {
      keys[j + 1] = keys[j];
      j--;
    }
    keys[j + 1] = key;
  }
  return keys;
}

function definedEntries(attrs: { readonly [key: string]: NixValue | undefined }): [string, NixValue][] {
  return sortedKeys(attrs)
    .filter((k) => attrs[k] !== undefined)
    .map((k) => [k, attrs[k] as NixValue]);
}

/** The key of the one defined value in `attrs`, or undefined if it has none or several (without sorting them, as definedEntries would). */
function onlyDefinedKey(attrs: { readonly [key: string]: NixValue | undefined }): string | undefined {
  let only: string | undefined;
  for (const key of Object.keys(attrs)) {
    if (attrs[key] === undefined) continue;
    if (only !== undefined) return undefined;
    only = key;
  }
  return only;
}

/**
 * `''` is written `'''` and `${` is written `''${`. A single `'` left over before `${` is written
 * `''\'`: as a plain `'` it would fuse with the following `''${` into `'''` (a quote pair) and
 * leave the interpolation live.
 */
function escapeIndentedLine(line: string): string {
  return line.replace(/''|'(?=\$\{)|\$\{/g, (m) => (m === "''" ? "'''" : m === "'" ? "''\\'" : "''${"));
}

/**
 * Multi-line text as an indented string (`'' ... ''`), which is how people write config blocks
 * in NixOS modules. Used only when the result is exactly the input: Nix strips the smallest
 * indentation, so at least one line must start at column 0, and tabs or CRs are left to the
 * double-quoted form.
 */
function indentedString(text: string, indent: string): string | undefined {
  if (!text.endsWith("\n") || text.length < 2 || /[\r\t]/.test(text)) return undefined;
  const lines = text.slice(0, -1).split("\n");
  if (lines.length < 2) return undefined;
  if (lines.some((l) => l.length > 0 && l.trim() === "")) return undefined;
  if (!lines.some((l) => l.length > 0 && !/^ /.test(l))) return undefined;
  checkText(text);
  const inner = indent + "  ";
  // Every escape needs `''` or `${` in the text: without them each line stays as it is.
  const escape = text.includes("''") || text.includes("${") ? escapeIndentedLine : (l: string) => l;
  const body = lines.map((l) => (l.length ? inner + escape(l) : "")).join("\n");
  return `''\n${body}\n${inner}''`;
}

export function renderNixValue(value: NixValue, indent = ""): string {
  // Strings, numbers and expressions are one part: no array to join (most list items are).
  if (typeof value === "string") return indentedString(value, indent) ?? nixString(value);
  if (value instanceof NixExpr) return value.source(indent);
  const out: string[] = [];
  writeNixValue(value, indent, out);
  return out.join("");
}

/**
 * renderNixValue into `out`, part by part: an attribute set's text is joined once at the end,
 * not once more at every level it is nested in (a module is nested several levels deep, and
 * copying its text at each one was a good part of rendering a large fleet).
 */
function writeNixValue(value: NixValue, indent: string, out: string[]): void {
  if (value === null) out.push("null");
  else if (typeof value === "string") out.push(indentedString(value, indent) ?? nixString(value));
  else if (typeof value === "boolean") out.push(value ? "true" : "false");
  else if (typeof value === "number") out.push(nixNumber(value));
  else if (value instanceof NixExpr) out.push(value.source(indent));
  else if (Array.isArray(value)) {
    if (value.length === 0) {
      out.push("[ ]");
      return;
    }
    const inner = indent + "  ";
    const items: string[] = [];
    for (const v of value as readonly NixValue[]) {
      const text = renderNixValue(v, inner);
      items.push(needsParens(v) ? `(${text})` : text);
    }
    const oneLine = `[ ${items.join(" ")} ]`;
    if (oneLine.length <= 100 && !oneLine.includes("\n")) {
      out.push(oneLine);
      return;
    }
    out.push("[");
    for (const item of items) out.push("\n", inner, item);
    out.push("\n", indent, "]");
  } else {
    // Entries in sorted order, undefined ones left out. Single-key attribute sets collapse into
    // dotted paths (`services.redis.servers.cache = {...}`), which is how people write NixOS
    // modules and keeps previews readable. (No array per entry: this runs for every set of every module.)
    const attrs = value as { readonly [key: string]: NixValue | undefined };
    const keys = sortedKeys(attrs);
    const inner = indent + "  ";
    let written = false;
    for (const k of keys) {
      let leaf = attrs[k];
      if (leaf === undefined) continue;
      if (!written) out.push("{");
      written = true;
      let path = nixAttrName(k);
      while (isAttrs(leaf)) {
        const only = onlyDefinedKey(leaf);
        if (only === undefined) break;
        path += "." + nixAttrName(only);
        leaf = leaf[only] as NixValue;
      }
      out.push("\n", inner, path, " = ");
      writeNixValue(leaf, inner, out);
      out.push(";");
    }
    out.push(written ? "\n" + indent + "}" : "{ }");
  }
}

export interface NixModule {
  /** Lines of the header comment (why this file exists, what generated it). */
  readonly header: readonly string[];
  /** Module arguments; only these names may be referenced (nix-instantiate --parse checks it). */
  readonly args: readonly ("config" | "lib" | "pkgs")[];
  /** `let` bindings available to the body. */
  readonly bindings?: { readonly [name: string]: NixValue };
  readonly body: { readonly [key: string]: NixValue | undefined };
}

/** A complete NixOS module file: `{ lib, pkgs, ... }: let ... in { ... }`. */
export function renderNixModule(module: NixModule): string {
  const header = module.header.map((line) => {
    checkText(line);
    if (/[\n\r]/.test(line)) throw new NixWriterError("header comment lines must not contain newlines");
    return `# ${line}`.trimEnd();
  });
  const args = [...new Set(module.args)].sort();
  const head = `{ ${[...args, "..."].join(", ")} }:`;
  const bindings = module.bindings ? definedEntries(module.bindings) : [];
  const letBlock = bindings.length
    ? `let\n${bindings.map(([k, v]) => `  ${nixAttrName(k)} = ${renderNixValue(v, "  ")};`).join("\n")}\nin\n`
    : "";
  return `${header.join("\n")}\n${head}\n${letBlock}${renderNixValue(module.body)}\n`;
}
