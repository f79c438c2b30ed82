/**
 * The Nix writer against hostile input. Correctness is proved by round trip through the real
 * evaluator: a value is rendered, evaluated by `nix-instantiate --eval --strict --json`, and must
 * come back exactly. Values are batched into one list per evaluation (one process start each).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { NixExpr, NixWriterError, nixAttrName, nixString, renderNixModule, renderNixValue, type NixValue } from "../render/nix/writer";
import { nixEvalJson, nixParse } from "./support/validators";

/**
 * Evaluates each Nix source as one element of a list in a single nix-instantiate call. If the
 * batch fails (one bad source spoils the whole parse), each source is evaluated alone so that only
 * its own test fails, with the evaluator's message as the received value.
 */
function evaluateAll(sources: readonly string[]): unknown[] {
  try {
    return evaluateFile(`[\n${sources.map((s) => `(${s})`).join("\n")}\n]\n`) as unknown[];
  } catch {
    return sources.map((s) => {
      try {
        return evaluateFile(s);
      } catch (e) {
        return { evaluationFailed: (e as Error).message };
      }
    });
  }
}

/** Evaluates a whole file (no argument-length limit); `dir` is where the file lives. */
function evaluateFile(source: string, call = (file: string) => `import ${JSON.stringify(file)}`): unknown {
  const dir = mkdtempSync(join(tmpdir(), "hf-nixwriter-"));
  try {
    const file = join(dir, "expr.nix");
    writeFileSync(file, source);
    return nixEvalJson(call(file));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const LONG_ONE_LINE = `'\${x}\\"$`.repeat(12_500); // 100,000 chars of quotes, interpolations, backslashes
const LONG_MULTI_LINE = `ab$'"\\{}''\n`.repeat(10_000); // 100,000 chars, rendered as an indented string

/** Text that stays on one line (or has no trailing newline), so renderNixValue writes it double-quoted. */
const ONE_LINE: readonly (readonly [string, string])[] = [
  ["the empty string", ""],
  ["double quotes", 'say "hi" and ""'],
  ["an interpolation that would abort evaluation", '${builtins.throw "interpolated"}'],
  ["a lone dollar", "$"],
  ["a dollar at the end", "costs 5$"],
  ["dollar dollar brace", "$${x}"],
  ["backslash dollar brace", "\\${x}"],
  ["two single quotes", "''"],
  ["three single quotes", "'''"],
  ["quote quote dollar brace", "''${x}"],
  ["quote quote backslash", "''\\n"],
  ["a backslash", "a\\b"],
  ["a trailing backslash", "ends with \\"],
  ["only backslashes", "\\\\\\"],
  ["a literal backslash-u escape", "\\u0041 \\n \\t"],
  ["a newline without trailing newline", "a\nb"],
  ["a carriage return", "a\rb"],
  ["CRLF line ends", "a\r\nb\r\n"],
  ["a tab", "a\tb"],
  ["percent signs", "100% %n %%"],
  ["emoji including a ZWJ sequence", "😀 👩‍👩‍👧 🇳🇱"],
  ["right-to-left text and an RTL override", "שלום مرحبا \u202eevil\u202c"],
  ["combining characters", "e\u0301 a\u0308\u0323 Z\u0351\u0360"],
  ["U+2028 and U+2029 separators", "a\u2028b\u2029c"],
  ["a C1 control (NEL), which Nix stores as bytes", "a\u0085b"],
  ["a BOM and a zero-width space", "\ufeffa\u200bb"],
  ["a no-break space", "\u00a0"],
  ["Nix comment starters", "# not a comment /* nor this */"],
  ["100,000 hostile characters on one line", LONG_ONE_LINE],
];

/** Multi-line text the writer puts in an indented string (`'' ... ''`). */
const INDENTED: readonly (readonly [string, string])[] = [
  ["two plain lines", "line one\nline two\n"],
  ["indented lines under one at column 0", "a\n  indented\n    more\n"],
  ["a blank line in the middle", "a\n\nb\n"],
  ["a trailing blank line", "a\nb\n\n"],
  ["a leading blank line", "\nstarts after a newline\n"],
  ["a first line that is indented", "  leading spaces\nno indent\n"],
  ["two and three single quotes", "has '' two quotes\nand ''' three\n"],
  ["interpolations and dollars", "has ${interp} and $dollar\nand ''${escaped} and $${x}\n"],
  ["quote quote then interpolation", "''${x}\n''''${y}\n"],
  ["backslashes and quote quote backslash", "ends with backslash \\\nand ''\\n and \\n\n"],
  ["unicode and U+2028", "unicode 😀 שלום e\u0301\n\u2028 line\n"],
  ["a line ending in a single quote", "it'\nis'\n"],
  ["a single quote before an interpolation (shell: echo '${HOME}')", "echo '${HOME}'\nnext\n"],
  ["odd and even quote runs before interpolations", "odd '''${x} even ''''${y}\n'${z}\n"],
  ["100,000 hostile characters over 10,000 lines", LONG_MULTI_LINE],
];

/** Multi-line text an indented string cannot hold exactly, so it falls back to double quotes. */
const FALLBACK: readonly (readonly [string, string])[] = [
  ["no trailing newline", "first\nsecond"],
  ["a single line with a newline", "single line\n"],
  ["every line indented", "  all\n  indented\n"],
  ["a whitespace-only line", "before\n   \nafter\n"],
  ["a tab", "tab\there\nnext\n"],
  ["CRLF line ends", "crlf\r\nline\r\n"],
];

const ALL_TEXT = [...ONE_LINE, ...INDENTED, ...FALLBACK];

describe("strings: round trip through nix-instantiate", () => {
  let viaNixString: unknown[];
  let viaRender: unknown[];
  let viaNestedRender: unknown[];

  beforeAll(() => {
    const n = ALL_TEXT.length;
    const results = evaluateAll([
      ...ALL_TEXT.map(([, text]) => nixString(text)),
      ...ALL_TEXT.map(([, text]) => renderNixValue(text)),
      ...ALL_TEXT.map(([, text]) => renderNixValue({ outer: { n: 1, text } }, "      ")),
    ]);
    viaNixString = results.slice(0, n);
    viaRender = results.slice(n, 2 * n);
    viaNestedRender = results.slice(2 * n);
  });

  it.each(ALL_TEXT.map(([label, text], i) => [label, text, i] as const))(
    "given text with %s, when written with nixString and evaluated, then Nix yields exactly that text",
    (_label, text, i) => {
      expect(viaNixString[i]).toBe(text);
    },
  );

  it.each(ALL_TEXT.map(([label, text], i) => [label, text, i] as const))(
    "given text with %s, when rendered with renderNixValue and evaluated, then Nix yields exactly that text",
    (_label, text, i) => {
      expect(viaRender[i]).toBe(text);
    },
  );

  it.each(ALL_TEXT.map(([label, text], i) => [label, text, i] as const))(
    "given text with %s nested two attribute sets deep, when rendered and evaluated, then Nix yields exactly that text",
    (_label, text, i) => {
      expect(viaNestedRender[i]).toEqual({ outer: { n: 1, text } });
    },
  );
});

describe("strings: which literal form is chosen", () => {
  it.each(INDENTED)("given multi-line text with %s, when rendered, then it is an indented string", (_label, text) => {
    expect(renderNixValue(text)).toMatch(/^''\n/);
  });

  it.each(FALLBACK)("given multi-line text with %s, when rendered, then it falls back to a double-quoted string", (_label, text) => {
    expect(renderNixValue(text)).toMatch(/^"/);
  });

  it("given a dollar, when written with nixString, then it is escaped as \\$", () => {
    expect(nixString("${x} $y")).toBe('"\\${x} \\$y"');
  });
});

describe("attribute names: round trip through nix-instantiate", () => {
  const NAMES = ["or", "in", "with", "rec", "a.b", "1abc", "", "a-b'c", "a'", "_", "-a", "a b", "${x}", '"', "\\", "😀", "true", "null", "__proto__", "a\nb", "Z\u0351"];
  const BARE = ["a-b'c", "a'", "_", "true", "null", "camelCase_1", "__proto__"];
  const QUOTED = ["or", "in", "with", "assert", "else", "if", "inherit", "let", "rec", "then", "a.b", "1abc", "", "-a", "a b", "${x}", "😀"];
  let attrNames: unknown[];
  let wholeSet: unknown;
  let collapsed: unknown;
  const collapsedInput = { "a.b": { or: { "": "leaf", "${x}": undefined } } };

  beforeAll(() => {
    const results = evaluateAll([
      ...NAMES.map((name) => `builtins.attrNames { ${nixAttrName(name)} = null; }`),
      renderNixValue(Object.fromEntries(NAMES.map((name, i) => [name, i]))),
      renderNixValue(collapsedInput),
    ]);
    attrNames = results.slice(0, NAMES.length);
    wholeSet = results[NAMES.length];
    collapsed = results[NAMES.length + 1];
  });

  it.each(BARE)("given the name %j, when written with nixAttrName, then it stays bare", (name) => {
    expect(nixAttrName(name)).toBe(name);
  });

  it.each(QUOTED)("given the name %j, when written with nixAttrName, then it is quoted", (name) => {
    expect(nixAttrName(name)).toMatch(/^".*"$/s);
  });

  it.each(NAMES.map((name, i) => [name, i] as const))("given the name %j, when used as an attribute and evaluated, then it is exactly that name", (name, i) => {
    expect(attrNames[i]).toEqual([name]);
  });

  it("given all those names in one attribute set, when rendered and evaluated, then every name maps to its value", () => {
    expect(wholeSet).toEqual(Object.fromEntries(NAMES.map((name, i) => [name, i])));
  });

  it("given single-key sets under hostile names, when collapsed into a dotted path and evaluated, then the structure is unchanged", () => {
    expect(collapsed).toEqual({ "a.b": { or: { "": "leaf" } } });
  });
});

describe("numbers, booleans, null and lists: round trip through nix-instantiate", () => {
  const NUMBERS = [0, 1, -1, 42, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, 0.5, -0.25, 1.5, 0.1, 123456.789, 1e-6 * 3];
  const LIST: NixValue = [-1, -0.5, 2, true, false, null, "-1", [], {}, ["nested", -3]];
  const LONG_LIST: NixValue = Array.from({ length: 40 }, (_, i) => `item-${i}`);
  let numbersEqual: unknown[];
  let list: unknown;
  let longList: unknown;

  beforeAll(() => {
    // Nix 2.8 prints floats with 6 significant digits, so numbers are compared inside Nix
    // against an independent parse of their JSON spelling.
    const results = evaluateAll([
      ...NUMBERS.map((n) => `let v = ${renderNixValue(n)}; in v == builtins.fromJSON ${JSON.stringify(JSON.stringify(n))} && builtins.typeOf v == ${Number.isInteger(n) ? '"int"' : '"float"'}`),
      renderNixValue(LIST),
      renderNixValue(LONG_LIST),
    ]);
    numbersEqual = results.slice(0, NUMBERS.length);
    list = results[NUMBERS.length];
    longList = results[NUMBERS.length + 1];
  });

  it.each(NUMBERS.map((n, i) => [n, i] as const))("given the number %p, when rendered and evaluated, then Nix holds the same number and kind", (_n, i) => {
    expect(numbersEqual[i]).toBe(true);
  });

  it("given negative numbers, booleans, null and empty containers in a list, when rendered and evaluated, then the list is unchanged", () => {
    expect(list).toEqual(LIST);
  });

  it("given a list too long for one line, when rendered and evaluated, then the list is unchanged", () => {
    expect(renderNixValue(LONG_LIST)).toContain("\n");
    expect(longList).toEqual(LONG_LIST);
  });
});

describe("rejections", () => {
  const CONTROL = ["\u0000", "\u0001", "\b", "\u000b", "\f", "\u001b", "\u001f", "\u007f"];
  const LONE_SURROGATES = ["\ud800", "\udfff", "a\ud83d", "\ude00b", "\ude00\ud83d"];

  it.each(CONTROL)("given control character %j, when written with nixString, then NixWriterError", (c) => {
    expect(() => nixString(`a${c}b`)).toThrow(NixWriterError);
  });

  it.each(CONTROL)("given control character %j in multi-line text, when rendered, then NixWriterError", (c) => {
    expect(() => renderNixValue(`first\nsecond ${c}\n`)).toThrow(NixWriterError);
  });

  it.each(CONTROL)("given control character %j in an attribute name, when rendered, then NixWriterError", (c) => {
    expect(() => nixAttrName(`a${c}`)).toThrow(NixWriterError);
  });

  it.each(CONTROL)("given control character %j in an interpolated string part, when rendered, then NixWriterError", (c) => {
    expect(() => renderNixValue(NixExpr.interpolate([NixExpr.ref("pkgs.hello"), c]))).toThrow(NixWriterError);
  });

  it.each(LONE_SURROGATES)("given lone surrogate %j, when written with nixString, then NixWriterError", (s) => {
    expect(() => nixString(s)).toThrow(NixWriterError);
  });

  it.each(LONE_SURROGATES)("given lone surrogate %j in multi-line text, when rendered, then NixWriterError", (s) => {
    expect(() => renderNixValue(`first\n${s}\n`)).toThrow(NixWriterError);
  });

  it.each([NaN, Infinity, -Infinity])("given the number %p, when rendered, then NixWriterError", (n) => {
    expect(() => renderNixValue(n)).toThrow(NixWriterError);
  });

  it.each([2 ** 53, -(2 ** 53), 1e21, Number.MAX_VALUE])("given the unsafe integer %p, when rendered, then NixWriterError", (n) => {
    expect(() => renderNixValue(n)).toThrow(NixWriterError);
  });

  it.each([1e-7, 1.5e-10])("given the float %p that needs exponent notation, when rendered, then NixWriterError", (n) => {
    expect(() => renderNixValue(n)).toThrow(NixWriterError);
  });

  it.each(["../x", "/abs", "./a b", "pkgs.${x}", "", "pkgs.", ".pkgs", "pkgs..x", "pkgs.in", "or", 'pkgs."x"', "pkgs x", "1pkgs", "pkgs.😀"])(
    "given %j, when used as NixExpr.ref, then NixWriterError",
    (ref) => {
      expect(() => NixExpr.ref(ref)).toThrow(NixWriterError);
    },
  );

  it.each(["../x", "/abs", "./a b", "./../x", "./a/../b", "./a/..", "a/b", "./", "./a/", "./a//b", "./${x}", './a"b', "./a\nb", "~/x", "./é"])(
    "given %j, when used as NixExpr.relativePath, then NixWriterError",
    (path) => {
      expect(() => NixExpr.relativePath(path)).toThrow(NixWriterError);
    },
  );

  it("given a callee that is not an attribute path, when used in NixExpr.call, then NixWriterError", () => {
    expect(() => NixExpr.call("pkgs.${x}", "a")).toThrow(NixWriterError);
  });

  it.each(["line\nbreak", "carriage\rreturn"])("given header line %j, when rendering a module, then NixWriterError", (line) => {
    expect(() => renderNixModule({ header: [line], args: [], body: {} })).toThrow(NixWriterError);
  });
});

describe("modules with hostile values", () => {
  const hostileText = ALL_TEXT.map(([, text]) => text).filter((t) => t.length < 1000);
  const module = renderNixModule({
    header: ["Hostile header: '' ${x} \\ \"q\" 😀 \u2028 /* */ trailing backslash \\"],
    args: ["pkgs", "lib", "pkgs"],
    bindings: { in: "keyword binding", greeting: "hello\n${world}\n", "a b": -1 },
    body: {
      "services.hostile": {
        texts: hostileText,
        names: Object.fromEntries(["or", "in", "a.b", "1abc", "", "a-b'c"].map((name) => [name, name])),
        greeting: NixExpr.ref("greeting"),
        command: NixExpr.interpolate([NixExpr.ref("pkgs.hello"), "/bin/hello --x='${y}' \"$HOME\" \\"]),
        sum: NixExpr.call("builtins.add", -1, -2),
        sums: [NixExpr.call("builtins.add", 1, 2), -4],
        config: NixExpr.call("builtins.toString", NixExpr.relativePath("./conf/app+1.yaml")),
        pkg: NixExpr.ref("pkgs.python3Packages.a-b'"),
      },
    },
  });

  it("given a module full of hostile values, when rendered, then nix-instantiate --parse accepts it without output on stderr", () => {
    const result = nixParse(module);
    expect({ status: result.status, stderr: result.stderr }).toEqual({ status: 0, stderr: "" });
  });

  it("given that module, when applied to stub arguments and evaluated, then the body holds exactly the values given", () => {
    let dir = "";
    const evaluated = evaluateFile(module, (file) => {
      dir = file.slice(0, file.lastIndexOf("/"));
      return `(import ${JSON.stringify(file)}) { lib = { }; pkgs = { hello = "/nix/store/h"; python3Packages."a-b'" = "pkg"; }; }`;
    });
    expect(evaluated).toEqual({
      "services.hostile": {
        texts: hostileText,
        names: { or: "or", in: "in", "a.b": "a.b", "1abc": "1abc", "": "", "a-b'c": "a-b'c" },
        greeting: "hello\n${world}\n",
        command: "/nix/store/h/bin/hello --x='${y}' \"$HOME\" \\",
        sum: -3,
        sums: [3, -4],
        config: `${dir}/conf/app+1.yaml`,
        pkg: "pkg",
      },
    });
  });
});
