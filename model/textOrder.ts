/**
 * The order homefleet sorts names and paths in: `localeCompare` in English, as renders always
 * sorted them here, without starting ICU's collator where it is not needed.
 *
 * Why: the first `localeCompare` of a process loads ICU's collation data, 18-60 ms measured on
 * this machine: a good part of rendering a small stack. The paths and names homefleet sorts are
 * made of `_ - . @ /`, digits and lowercase letters, which English collation orders by their
 * primary weights one character after another, in the order below (tests/textOrder.test.ts
 * compares every pair of these characters, and a million random strings of them, with
 * `localeCompare`). A string with any other character is compared by `localeCompare(b, "en-US")`.
 *
 * The locale is fixed: with the user's default, a render's file order depended on LANG (Danish
 * sorts "aa" after "z", Lithuanian "y" right after "i").
 */
const ORDER = "_-.@/0123456789abcdefghijklmnopqrstuvwxyz";
const RANK = new Int8Array(128).fill(-1);
for (let i = 0; i < ORDER.length; i++) RANK[ORDER.charCodeAt(i)] = i;

/** Made of ORDER's characters only (one regular expression search: a loop per comparison was a good part of sorting). */
const SIMPLE = /^[-_.@/0-9a-z]*$/;

function simple(text: string): boolean {
  return SIMPLE.test(text);
}

/** Negative, zero or positive as `a.localeCompare(b, "en-US")`. */
export function compareText(a: string, b: string): number {
  if (!simple(a) || !simple(b)) return a.localeCompare(b, "en-US");
  return compareSimple(a, b);
}

/**
 * Sorts `items` in place by compareText of their keys, looking at each key's characters once
 * (compareText looks at both strings at every comparison, and files and units are sorted per host).
 */
export function sortByText<T>(items: T[], key: (item: T) => string): T[] {
  // Each key taken once: the comparator is called n log n times, and most keys share long
  // prefixes (`/etc/systemd/system/...`), so each comparison is long enough already.
  const keys = items.map(key);
  const order = keys.map((_, i) => i);
  order.sort(keys.every(simple) ? (i, j) => compareSimple(keys[i], keys[j]) : (i, j) => compareText(keys[i], keys[j]));
  const sorted = order.map((i) => items[i]);
  for (let i = 0; i < sorted.length; i++) items[i] = sorted[i];
  return items;
}

function compareSimple(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = RANK[a.charCodeAt(i)] - RANK[b.charCodeAt(i)];
    if (d !== 0) return d;
  }
  return a.length - b.length;
}
