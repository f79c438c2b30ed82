/**
 * The fast way to read a stack file: js-yaml, for the part of YAML where it and the `yaml`
 * package mean the same, or nothing (undefined) where they might not, and the caller reads the
 * file with `yaml` as before.
 *
 * Why: `yaml`'s parseDocument keeps every node with its source range, which config errors need
 * for their file:line:column, and takes ~240 ms for 200 hosts (172 KiB) in a new process against
 * js-yaml's ~50 ms. A stack file that validates needs no ranges; one that does not is read again
 * with `yaml` (config/load.ts), so every config error, and every file either parser refuses,
 * is reported exactly as before.
 *
 * Where the two agree: both implement YAML 1.2's syntax; the values are those of the YAML 1.2
 * core schema, which the `yaml` package uses by default and which is mirrored below, test for
 * test, because js-yaml's own CORE_SCHEMA reads `0b1`, `-0x1F` and `+0x1` as numbers and `+.5`
 * as a string, where `yaml` reads the opposite. Declined, where the two differ or could (each found by
 * tests/config.stackYaml.test.ts, which compares both parsers over the committed stacks, the
 * hostile corpus and generated stack files):
 * - tags (`!!str`, `!x`), directives (`%YAML 1.1` switches `yaml` to YAML 1.1 values) and document
 *   markers (`---`, `...`);
 * - anchors and aliases (`yaml` limits aliases against "billion laughs", js-yaml does not);
 * - explicit keys (`? `), keys that are collections or null (`yaml` writes `[ a, b ]` and ``,
 *   js-yaml `a,b` and `null`; any mapping with the key `null` is declined);
 * - flow collections (`[...]`, `{...}`) and scalars over several lines, block scalars (`|`, `>`)
 *   among them (js-yaml accepts continuation lines indented less than `yaml` requires);
 * - tabs, CR, a byte order mark and control characters (whitespace rules differ in detail);
 * - `#` right after a quote, bracket or comma, and empty block sequence entries (js-yaml takes
 *   what `yaml` refuses there);
 * - lines over 1024 characters (`yaml` refuses implicit keys that long).
 * Duplicate keys: js-yaml refuses every pair `yaml` refuses (it compares keys as strings, `yaml`
 * as values), so the fast path declines those files too.
 */
/// <reference path="./js-yaml.d.ts" />
import { load, Schema, Type } from "js-yaml";

/** The YAML 1.2 core schema as the `yaml` package resolves plain scalars (yaml/dist/schema/core). */
function coreType(tag: string, tests: readonly [RegExp, (text: string) => unknown][]): Type {
  // js-yaml keeps one type per tag: each tag's tests are tried in `yaml`'s order. js-yaml asks
  // every type of every plain scalar (four per string value), so whether any test matches is one
  // search of all of them together.
  const any = new RegExp(tests.map(([test]) => `(?:${test.source})`).join("|"));
  return new Type(`tag:yaml.org,2002:${tag}`, {
    kind: "scalar",
    resolve: (text: string | null) => text !== null && any.test(text),
    construct: (text: string) => {
      for (const [test, value] of tests) if (test.test(text)) return value(text);
      throw new Error(`no ${tag} test matches ${JSON.stringify(text)}`);
    },
  });
}

const CORE_SCHEMA = new Schema({
  implicit: [
    coreType("null", [[/^(?:~|[Nn]ull|NULL)?$/, () => null]]),
    coreType("bool", [[/^(?:[Tt]rue|TRUE|[Ff]alse|FALSE)$/, (s) => s[0] === "t" || s[0] === "T"]]),
    coreType("int", [
      [/^0o[0-7]+$/, (s) => parseInt(s.substring(2), 8)],
      [/^[-+]?[0-9]+$/, (s) => parseInt(s, 10)],
      [/^0x[0-9a-fA-F]+$/, (s) => parseInt(s.substring(2), 16)],
    ]),
    coreType("float", [
      [/^(?:[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN)$/, (s) => (s.slice(-3).toLowerCase() === "nan" ? NaN : s[0] === "-" ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY)],
      [/^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)[eE][-+]?[0-9]+$/, (s) => parseFloat(s)],
      [/^[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*)$/, (s) => parseFloat(s)],
    ]),
  ],
});

/**
 * Text the fast path declines without reading it: tabs, CR, BOM and controls; a tag (`!` where a
 * node starts); an explicit key (`? `); a directive or document marker at a line's start; a `#`
 * right after a quote, bracket or comma (js-yaml reads a comment there, `yaml` refuses it); an
 * empty block sequence entry (`-` ending its line: js-yaml then takes the next `-` into the same
 * sequence at whatever indentation); a line over 1024 characters. Conservative: a `!`, ` ? ` or
 * `'#` inside a quoted string, or a plain scalar ending in ` -`, declines too. Separate tests, each
 * run only where its character occurs: one regular expression of them all took ~50 ms on 172 KiB.
 */
function declinedText(text: string): boolean {
  if (/[\t\r\ufeff\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u2028\u2029]/.test(text)) return true;
  if (text.includes("!") && /(?:^|[\s,[{])!/m.test(text)) return true;
  if (text.includes("?") && /(?:^|[\s,[{])\?(?:\s|$)/m.test(text)) return true;
  if (/^(?:%|(?:---|\.\.\.)(?:\s|$))/m.test(text)) return true;
  if (text.includes("#") && /["'\]},]#/.test(text)) return true;
  if (/(?:^| )-(?: *#[^\n]*)? *$/m.test(text)) return true;
  for (let from = 0; from < text.length; ) {
    const end = text.indexOf("\n", from);
    if ((end === -1 ? text.length : end) - from > 1024) return true;
    if (end === -1) break;
    from = end + 1;
  }
  return false;
}

class Declined extends Error {}

/** What js-yaml's loader shows its listener (lib/loader.js State): the parts read here. */
interface LoaderState {
  readonly input: string;
  readonly position: number;
  readonly kind: "scalar" | "sequence" | "mapping" | null;
  readonly result: unknown;
  readonly tag: string | null;
  readonly anchor: string | null;
}

/** The position of the first character of a node that was opened at `from`: separation space and comments skipped. */
function nodeStart(input: string, from: number): number {
  let i = from;
  for (;;) {
    const c = input[i];
    if (c === " " || c === "\n") i++;
    else if (c === "#") while (i < input.length && input[i] !== "\n") i++;
    else return i;
  }
}

/**
 * True if the collections in `value` are exactly `composed` (a tree: anchors are declined), and
 * no mapping has the key `null`, which js-yaml writes for a null key where `yaml` writes "".
 */
function holdsExactly(value: unknown, composed: Set<object>): boolean {
  let reached = 0;
  const visit = (v: unknown): boolean => {
    if (v === null || typeof v !== "object") return true;
    if (!composed.has(v)) return false;
    reached++;
    if (Array.isArray(v)) return v.every(visit);
    if (Object.prototype.hasOwnProperty.call(v, "null")) return false;
    const record = v as Record<string, unknown>;
    for (const k of Object.keys(record)) if (!visit(record[k])) return false;
    return true;
  };
  return visit(value) && reached === composed.size;
}

/** The stack file's value, or undefined where the fast path declines it (read it with `yaml`). */
export function fastStackYaml(text: string): { value: unknown } | undefined {
  if (declinedText(text)) return undefined;
  const opened: number[] = [];
  const composed = new Set<object>();
  const listener = (event: "open" | "close", state: LoaderState) => {
    if (event === "open") {
      opened.push(state.position);
      return;
    }
    const from = opened.pop()!;
    if (state.anchor !== null || state.tag === "!") throw new Declined();
    const { input, position } = state;
    const start = nodeStart(input, from);
    const newline = input.indexOf("\n", start);
    if (state.kind === "sequence" || state.kind === "mapping") {
      composed.add(state.result as object);
      // A flow collection must end on the line it starts on.
      if ((input[start] === "[" || input[start] === "{") && newline !== -1 && newline < position) throw new Declined();
    } else {
      // So must a scalar: js-yaml takes continuation lines indented less than `yaml` requires.
      let end = position;
      while (end > start && (input[end - 1] === " " || input[end - 1] === "\n")) end--;
      if (newline !== -1 && newline < end) throw new Declined();
    }
  };
  let value: unknown;
  try {
    value = load(text, { schema: CORE_SCHEMA, listener: listener as (event: "open" | "close", state: unknown) => void });
  } catch {
    // Declined, or a file js-yaml refuses: `yaml` reads it and says what is wrong.
    return undefined;
  }
  // An empty stream: js-yaml reads undefined, `yaml` null.
  if (value === undefined) return undefined;
  // A collection that is not in the value was a key (js-yaml writes `a,b` where `yaml` writes
  // `[ a, b ]`); one in the value that was not composed, js-yaml made for a flow pair (`[a: b]`,
  // whose key may be a collection too): declined.
  if (!holdsExactly(value, composed)) return undefined;
  return { value };
}
