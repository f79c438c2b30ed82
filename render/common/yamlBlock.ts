/**
 * Block-style YAML for plain data, byte for byte what `yaml`'s `stringify(value, { lineWidth: 0,
 * indent: 2 })` writes, for the documents where that is easy to be sure of: maps with string
 * keys, sequences, integers, simple decimals, booleans, null, and strings that YAML reads back
 * as the same string without quotes. Anything else returns undefined, and the caller asks `yaml`.
 *
 * Why: LiteLLM's config is rendered once per stack, and building a `yaml` Document for it was the
 * largest single cost of rendering a large fleet. tests/yamlBlock.test.ts compares the two.
 */
import { Document, stringify } from "yaml";

/**
 * Plain (unquoted) only when it starts with a letter and holds no space, quote, `#` or flow
 * character, or is an IPv4 address (optionally with a port): digits with three dots are no number.
 */
const PLAIN = /^(?:[A-Za-z][A-Za-z0-9._/:@+=-]*|[0-9]{1,3}(?:\.[0-9]{1,3}){3}(?::[0-9]{1,5})?)$/;
/** Words YAML (1.2 core, or 1.1 where a reader may still use it) reads as something other than a string. */
const RESERVED = /^(?:true|True|TRUE|false|False|FALSE|null|Null|NULL|y|Y|yes|Yes|YES|n|N|no|No|NO|on|On|ON|off|Off|OFF)$/;

/** Keys written plain (besides the values PLAIN allows): identifiers, `_` first too (`__address__`). */
const KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * What `yaml` does not write plain in a block value (its plainString): an indicator first, `- `
 * or `? ` first, `: ` or ` #` anywhere, a space or `:` last. Tested only on printable ASCII text
 * of one line that does not start with a document marker (`---`, `...`).
 */
const NOT_PLAIN = /^[ ,[\]{}#&*!|>'"%@`]|^[?-]$|^[?-] |: | #|[ :]$/;
/** Text the YAML 1.2 core schema reads as null, a boolean or a number (yaml/dist/schema/core): `yaml` quotes such a string. */
const CORE_VALUE = /^(?:~|[Nn]ull|NULL|[Tt]rue|TRUE|[Ff]alse|FALSE|0o[0-7]+|[-+]?[0-9]+|0x[0-9a-fA-F]+|[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN|[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)[eE][-+]?[0-9]+|[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*))$/;

/**
 * A string value (not a key) as `yaml` writes it with lineWidth 0, for non-empty printable ASCII
 * text of one line that no schema reads as anything but a string: plain where plainString allows
 * it, else quoted as quotedString does (single quotes when the text holds `"` and no `'`, else
 * JSON's double quotes, which for such text are exactly yaml's). Anything else: undefined.
 */
function stringValue(value: string): string | undefined {
  if (PLAIN.test(value)) return !value.endsWith(":") && !RESERVED.test(value) ? value : undefined;
  if (!/^[\x20-\x7e]+$/.test(value) || /^(?:---|\.\.\.)/.test(value) || CORE_VALUE.test(value) || RESERVED.test(value)) return undefined;
  if (!NOT_PLAIN.test(value)) return value;
  if (value.includes('"') && !value.includes("'")) return `'${value}'`;
  return JSON.stringify(value);
}

function scalar(value: unknown): string | undefined {
  if (value === null) return "null";
  if (typeof value === "boolean") return value ? "true" : "false";
  if (typeof value === "number") {
    if (Number.isSafeInteger(value) && !Object.is(value, -0)) return String(value);
    const text = String(value);
    return Number.isFinite(value) && /^-?[0-9]+\.[0-9]+$/.test(text) ? text : undefined;
  }
  if (typeof value === "string") return PLAIN.test(value) && !value.endsWith(":") && !RESERVED.test(value) ? value : undefined;
  return undefined;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * The collections written so far: `yaml` writes an object it meets again as an alias of the first
 * (aliasDuplicateObjects), which this shortcut leaves to it.
 */
const written = new Set<object>();

function firstTime(value: object): boolean {
  if (written.has(value)) return false;
  written.add(value);
  return true;
}

/** Lines of a non-empty collection at `indent`; undefined where the fast path does not apply. */
function block(value: unknown, indent: string, out: string[]): boolean {
  if (typeof value === "object" && value !== null && !firstTime(value)) return false;
  if (Array.isArray(value)) {
    for (const item of value) {
      if (!seqItem(item, indent, out)) return false;
    }
    return true;
  }
  if (!isPlainObject(value)) return false;
  for (const key of Object.keys(value)) {
    if (!(KEY.test(key) && !RESERVED.test(key)) && scalar(key) !== key) return false;
    if (!entry(`${indent}${key}:`, value[key], indent, out)) return false;
  }
  return true;
}

/** `prefix` followed by the value: inline for scalars and empty collections, else on the lines below. */
function entry(prefix: string, value: unknown, indent: string, out: string[]): boolean {
  if (value === undefined) return false;
  if (Array.isArray(value) || isPlainObject(value)) {
    const empty = Array.isArray(value) ? value.length === 0 : Object.keys(value).length === 0;
    if (empty) {
      if (!firstTime(value)) return false;
      out.push(`${prefix} ${Array.isArray(value) ? "[]" : "{}"}`);
      return true;
    }
    out.push(prefix);
    return block(value, indent + "  ", out);
  }
  const text = typeof value === "string" ? stringValue(value) : scalar(value);
  if (text === undefined) return false;
  out.push(`${prefix} ${text}`);
  return true;
}

/** One sequence item: `- ` then the item, a map's first pair or a sequence's first item on the dash line. */
function seqItem(value: unknown, indent: string, out: string[]): boolean {
  if (value === undefined) return false;
  const nested = (Array.isArray(value) && value.length > 0) || (isPlainObject(value) && Object.keys(value).length > 0);
  if (!nested) return entry(`${indent}-`, value, indent, out);
  const start = out.length;
  if (!block(value, indent + "  ", out)) return false;
  // The first line of the nested block moves up onto the dash.
  out[start] = `${indent}- ${out[start].slice(indent.length + 2)}`;
  return true;
}

/** The YAML text of a map or sequence, or undefined where `yaml` itself must write it. */
export function yamlBlock(value: unknown): string | undefined {
  if (!(Array.isArray(value) || isPlainObject(value))) return undefined;
  const empty = Array.isArray(value) ? value.length === 0 : Object.keys(value).length === 0;
  if (empty) return undefined;
  const out: string[] = [];
  try {
    return block(value, "", out) ? out.join("\n") + "\n" : undefined;
  } finally {
    written.clear();
  }
}

/**
 * A document with a comment before it, as `yaml` writes a Document whose commentBefore is these
 * lines, each after a space (a blank line empty), with lineWidth 0 and indent 2: the comment
 * lines (`# ` and the line, or nothing), an empty line, then the value as yamlBlock writes it.
 * Undefined where yamlBlock is.
 */
export function yamlBlockWithComment(comment: readonly string[], value: unknown): string | undefined {
  const body = yamlBlock(value);
  return body === undefined ? undefined : `${comment.map((l) => (l ? `# ${l}` : "")).join("\n")}\n\n${body}`;
}

/** The comment lines as a Document's commentBefore: each after a space, blank ones empty. */
export function commentBefore(comment: readonly string[]): string {
  return comment.map((l) => (l ? ` ${l}` : "")).join("\n");
}

/** `value` as `yaml`'s stringify writes it with lineWidth 0 and indent 2: by yamlBlock where it can, else by `yaml`. */
export function yamlText(value: unknown): string {
  return yamlBlock(value) ?? stringify(value, { lineWidth: 0, indent: 2 });
}

/** A document with `comment` before it, as `yaml`'s Document writes it (lineWidth 0, indent 2): by yamlBlock where it can, else by `yaml`. */
export function yamlDocumentText(comment: readonly string[], value: unknown): string {
  const fast = yamlBlockWithComment(comment, value);
  if (fast !== undefined) return fast;
  const doc = new Document(value);
  doc.commentBefore = commentBefore(comment);
  return doc.toString({ lineWidth: 0, indent: 2 });
}
