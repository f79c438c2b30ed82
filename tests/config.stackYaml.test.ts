/**
 * The fast stack-file reader (config/stackYaml.ts, js-yaml) against the `yaml` package, the reader
 * whose meaning it must keep: on every file it either declines (loadStackFile then reads it with
 * `yaml`, as before) or reads exactly the value `yaml` reads, and it never takes a file `yaml`
 * refuses. Checked on the committed stacks, the benchmark's fleets, the hostile corpus, the
 * constructs where the two parsers are known to differ, stack files written by `yaml` in every
 * style it has, and random edits of those.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { isDeepStrictEqual } from "node:util";
import fc from "fast-check";
import { parseDocument, stringify, type ToStringOptions } from "yaml";
import { crowdedHostConfig, stackFileText, syntheticFleetConfig } from "../bench/synthetic";
import { fastStackYaml } from "../config/stackYaml";
import { CASES, cleanStackFile, hostileStackFileText } from "./support/hostileCorpus";

const root = join(__dirname, "..");

/** What the fast reader did with `text`; fails the test where it read something `yaml` does not. */
function compare(text: string): "declined" | "agreed" {
  const fast = fastStackYaml(text);
  if (!fast) return "declined";
  const doc = parseDocument(text);
  if (doc.errors.length) expect({ text, yamlErrors: doc.errors.map((e) => e.message) }).toEqual({ text, yamlErrors: [] });
  // Strict: -0 is not 0, and types, prototypes and own keys (__proto__ included) must match.
  // isDeepStrictEqual decides; jest's toStrictEqual, as strict here, only shows a disagreement
  // (called on each of thousands of values, it cost more than both parsers).
  const expected: unknown = doc.toJS();
  if (!isDeepStrictEqual(fast.value, expected)) expect({ text, value: fast.value }).toStrictEqual({ text, value: expected });
  return "agreed";
}

it("reads the committed stacks and the benchmark's fleets itself, as yaml reads them", () => {
  const files = [readFileSync(join(root, "Pulumi.staging.yaml"), "utf8"), readFileSync(join(root, "Pulumi.prod.yaml"), "utf8"), stackFileText(syntheticFleetConfig(200)), stackFileText(crowdedHostConfig(17))];
  expect(files.map(compare)).toEqual(files.map(() => "agreed"));
});

it("reads every file of the hostile corpus as yaml does, or declines it", () => {
  const texts = [hostileStackFileText(cleanStackFile()), ...CASES.map((c) => {
    const stackFile = cleanStackFile();
    c.change(stackFile.config);
    return hostileStackFileText(stackFile);
  })];
  const outcomes = texts.map(compare);
  // Only the two with a newline in a value need more than the fast reader takes (yaml writes them over several lines).
  expect(outcomes.filter((o) => o === "agreed").length).toBeGreaterThanOrEqual(texts.length - 2);
});

describe("declines where the two parsers differ or could", () => {
  it.each([
    ["a flow sequence over lines, indented less than yaml requires", "a:\n  b: [1,\n 2]\n"],
    ["a flow mapping over lines", "a: {x: 1,\n  y: 2}\n"],
    ["a collection as a key", "[a, b]: c\n"],
    ["an explicit key", "? a\n: c\n"],
    ["a null key", "~: x\n"],
    ["a null key in a flow mapping", "a: {~}\n"],
    ["a collection as a key in a flow mapping", "a: {[b]: c}\n"],
    ["a collection as the key of a flow pair", "a: [[b]: c]\n"],
    ["a flow pair", "a: [b: c]\n"],
    ["an empty key", ": x\n"],
    ["a tag", "a: !!str 1\n"],
    ["a local tag", "a: !x 1\n"],
    ["the non-specific tag", "a: ! 1\n"],
    ["an anchor and alias", "a: &x 1\nb: *x\n"],
    ["a YAML 1.1 directive", "%YAML 1.1\n---\na: yes\n"],
    ["a document marker", "---\na: 1\n...\n"],
    ["two documents", "a: 1\n---\nb: 2\n"],
    ["a tab", "a:\t1\n"],
    ["CR line ends", "a: 1\r\nb: 2\r\n"],
    ["a byte order mark", "\ufeffa: 1\n"],
    ["an implicit key over 1024 characters", `${"k".repeat(1030)}: 1\n`],
    ["keys equal as values but not as text", '1: a\n"1": b\n'],
    ["an empty file", ""],
    ["a plain scalar over lines", "a: b\n c\n"],
    ["a quoted scalar over lines, indented less than yaml requires", "a:\n  b: \"c\n d\"\n"],
    ["a single-quoted scalar over lines", "a: 'it''s\n\n  x'\n"],
    ["a block scalar", "a: >-\n  b\n"],
  ])("%s", (_what, text) => {
    expect(compare(text)).toBe("declined");
  });
});

describe("reads YAML 1.2 core scalars as yaml does", () => {
  it.each([
    ["a: 012\nb: 0o17\nc: 0x1F\nd: +12\ne: -0\nf: 9007199254740993\n"],
    ["a: 0b11\nb: 1_000\nc: yes\nd: on\ne: 2001-12-14\nf: <<\ng: =\nh: 0x-1\n"],
    ["a: .inf\nb: -.INF\nc: .NaN\nd: 1e3\ne: 1E-3\nf: .5\ng: 1.\nh: +.5e+2\ni: 0.10\n"],
    ["a: ~\nb: null\nc: Null\nd: NULL\ne:\nf: nULL\ng: true\nh: False\ni: TRUE\nj: tRUE\n"],
    ['a: "\\x41\\u0042\\U00000043\\N\\_\\L\\P\\e\\0\\/"\n'],
    ["a: [b, c,]\nd: {e, f: g}\nk: {\"l\":1}\n<<: {m: 1}\n__proto__: {n: 1}\n"],
    ["a: b #c\nd: e#f\ng: h # i\n  # j\nk: 'l' # m\n"],
    ["a: 'it''s'\nb: \"\\\"q\\\" \\\\\"\nc: b c  \nd: x:y\ne: -x\nf: a::b\ng: 'a # b'\n"],
  ])("%j", (text) => {
    expect(compare(text)).toBe("agreed");
  });
});

/** Values a stack file may hold, keys and strings of any characters. */
const value = fc.letrec((tie) => ({
  scalar: fc.oneof(fc.string({ unit: "binary", maxLength: 30 }), fc.string({ unit: "grapheme-ascii", maxLength: 30 }), fc.integer(), fc.double(), fc.boolean(), fc.constant(null)),
  key: fc.oneof(fc.string({ unit: "grapheme-ascii", maxLength: 12 }), fc.string({ unit: "binary", maxLength: 12 })),
  node: fc.oneof({ depthSize: "small", withCrossShrink: true }, tie("scalar"), fc.array(tie("node"), { maxLength: 4 }), fc.dictionary(tie("key") as fc.Arbitrary<string>, tie("node"), { maxKeys: 4 })),
})).node;

/** Every way yaml writes a document (line folding, quoting, block scalars, flow collections). */
const style: fc.Arbitrary<ToStringOptions> = fc.record({
  lineWidth: fc.constantFrom(0, 12, 40, 80),
  minContentWidth: fc.constantFrom(0, 5, 20),
  indent: fc.integer({ min: 1, max: 4 }),
  indentSeq: fc.boolean(),
  collectionStyle: fc.constantFrom("any", "block", "flow"),
  defaultStringType: fc.constantFrom("PLAIN", "QUOTE_DOUBLE", "QUOTE_SINGLE", "BLOCK_FOLDED", "BLOCK_LITERAL"),
  defaultKeyType: fc.constantFrom(null, "PLAIN", "QUOTE_DOUBLE", "QUOTE_SINGLE"),
  doubleQuotedAsJSON: fc.boolean(),
  flowCollectionPadding: fc.boolean(),
}) as fc.Arbitrary<ToStringOptions>;

it("reads stack files yaml writes, in any style, as yaml reads them", () => {
  let agreed = 0;
  fc.assert(
    fc.property(fc.dictionary(fc.string({ unit: "grapheme-ascii", maxLength: 12 }), value, { maxKeys: 5 }), style, (config, options) => {
      if (compare(stringify({ config }, options)) === "agreed") agreed++;
    }),
    { numRuns: 1500 },
  );
  // The fast reader must take most of them, or it is no faster.
  expect(agreed).toBeGreaterThan(500);
});

/** A random edit of a YAML text: a character inserted (one that means something in YAML, mostly), one deleted, or a line's indentation changed. */
const edit = fc.oneof(
  fc.record({ kind: fc.constant("insert" as const), at: fc.nat(), text: fc.constantFrom(...": -[]{},#'\"|>!&*?%~\n\t\r\\.0aZ".split(""), "  ", ": ", "- ", "\n  ", "---\n", "? ", " #") }),
  fc.record({ kind: fc.constant("delete" as const), at: fc.nat(), length: fc.integer({ min: 1, max: 3 }) }),
  fc.record({ kind: fc.constant("indent" as const), at: fc.nat(), by: fc.integer({ min: -2, max: 2 }) }),
);

function applyEdits(text: string, edits: readonly { kind: "insert" | "delete" | "indent"; at: number; text?: string; length?: number; by?: number }[]): string {
  let t = text;
  for (const e of edits) {
    const at = e.at % (t.length + 1);
    if (e.kind === "insert") t = t.slice(0, at) + e.text + t.slice(at);
    else if (e.kind === "delete") t = t.slice(0, at) + t.slice(at + e.length!);
    else {
      const start = t.lastIndexOf("\n", at - 1) + 1;
      t = e.by! > 0 ? t.slice(0, start) + " ".repeat(e.by!) + t.slice(start) : t.slice(0, start) + t.slice(start).replace(new RegExp(`^ {0,${-e.by!}}`), "");
    }
  }
  return t;
}

it("reads randomly edited stack files as yaml reads them, or declines them, and never takes one yaml refuses", () => {
  const bases = [readFileSync(join(root, "Pulumi.staging.yaml"), "utf8"), hostileStackFileText(cleanStackFile()), stringify({ config: { a: [1, "b", { c: "d e", f: [] }], g: { h: null, i: "j: k" } } }, { collectionStyle: "any" })];
  fc.assert(
    fc.property(fc.constantFrom(...bases), fc.array(edit, { minLength: 1, maxLength: 4 }), (base, edits) => {
      compare(applyEdits(base, edits));
    }),
    { numRuns: 3000 },
  );
});
