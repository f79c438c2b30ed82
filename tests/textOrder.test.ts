/**
 * compareText (model/textOrder.ts) orders as `localeCompare(b, "en-US")`, which renders used to
 * sort with, without loading ICU's collator for the names and paths homefleet sorts.
 */
import fc from "fast-check";
import { join } from "node:path";
import { renderFleet } from "../bundle/hostBundle";
import { loadStackFile } from "../config/load";
import { compareText, sortByText } from "../model/textOrder";

const sign = (n: number) => Math.sign(n);
const ALPHABET = "_-.@/0123456789abcdefghijklmnopqrstuvwxyz".split("");

it("orders every pair of the characters it ranks itself as English collation does", () => {
  for (const a of ALPHABET) for (const b of ALPHABET) expect([a, b, sign(compareText(a, b))]).toEqual([a, b, sign(a.localeCompare(b, "en-US"))]);
});

it("orders strings of those characters, and of any others, as English collation does", () => {
  const ranked = fc.string({ unit: fc.constantFrom("_", "-", ".", "@", "/", "0", "9", "a", "z"), maxLength: 8 });
  const any = fc.string({ unit: "grapheme", maxLength: 8 });
  fc.assert(fc.property(fc.oneof(ranked, any), fc.oneof(ranked, any), (a, b) => sign(compareText(a, b)) === sign(a.localeCompare(b, "en-US"))), { numRuns: 20000 });
});

it("sorts the committed stacks' rendered paths as localeCompare did", () => {
  for (const stack of ["staging", "prod"]) {
    const render = renderFleet(loadStackFile(join(__dirname, "..", `Pulumi.${stack}.yaml`)));
    for (const bundle of render.bundles) {
      const paths = bundle.files.map((f) => f.path);
      expect([...paths].sort(compareText)).toEqual([...paths].sort((a, b) => a.localeCompare(b, "en-US")));
    }
  }
});

it("sortByText sorts in place by compareText of each key, keeping the order of equal keys", () => {
  const ranked = fc.string({ unit: fc.constantFrom("_", "-", ".", "@", "/", "0", "9", "a", "z"), maxLength: 4 });
  const any = fc.string({ unit: "grapheme", maxLength: 4 });
  fc.assert(
    fc.property(fc.array(fc.oneof(ranked, any), { maxLength: 30 }), (keys) => {
      const items = keys.map((key, i) => ({ key, i }));
      const sorted = sortByText(items, (item) => item.key);
      expect(sorted).toBe(items);
      expect(sorted).toEqual(keys.map((key, i) => ({ key, i })).sort((a, b) => a.key.localeCompare(b.key, "en-US")));
    }),
    { numRuns: 2000 },
  );
});
