/**
 * The systemd unit-file writer against hostile input. Expected text follows systemd.service(5)
 * ("Command lines": C-style quoting, `%%` for a literal `%`, `$$` for a literal `$`, `\;` for a
 * lone `;`) and systemd.exec(5) (`Environment=` values are quoted and unescaped, `%` specifiers
 * expanded, `$` left alone). Acceptance is proved by the real tools: `systemd-analyze verify`,
 * and `systemd --test`, which parses the unit exactly as PID 1 would and dumps the stored argv.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { UnitWriterError, environmentAssignment, execArg, execLine, renderUnitFile, unitValue, type UnitFile } from "../render/systemd/unitWriter";
import { run, verifyUnits } from "./support/validators";

const CONTROL = ["\n", "\r", "\t", "\u0000", "\u0001", "\u001b", "\u001f", "\u007f"];
const LONE_SURROGATES = ["\ud800", "\udc00", "a\ud83db"];

describe("unitValue", () => {
  it.each(CONTROL)("given a value containing %j, when written, then UnitWriterError", (c) => {
    expect(() => unitValue(`a${c}b`)).toThrow(UnitWriterError);
  });

  it.each(LONE_SURROGATES)("given a value containing lone surrogate %j, when written, then UnitWriterError", (s) => {
    expect(() => unitValue(s)).toThrow(UnitWriterError);
  });

  it("given a trailing backslash, when written, then UnitWriterError (it would continue the line)", () => {
    expect(() => unitValue("C:\\")).toThrow(UnitWriterError);
  });

  it("given a backslash inside the value, when written, then it is kept as is", () => {
    expect(unitValue("a\\b")).toBe("a\\b");
  });

  it.each([" leading", "trailing ", " both "])("given whitespace at an end of %j, when written, then UnitWriterError (systemd would drop it)", (v) => {
    expect(() => unitValue(v)).toThrow(UnitWriterError);
  });

  it("given percent signs in an ordinary directive, when written, then each is doubled", () => {
    expect(unitValue("100% %n %%", "value", "Description")).toBe("100%% %%n %%%%");
  });

  it.each(["CPUQuota", "MemoryMax"])("given a percentage for %s, when written, then the percent sign stays single", (directive) => {
    expect(unitValue("150%", "value", directive)).toBe("150%");
  });

  it("given dollars in an ordinary directive, when written, then they are not doubled (only Exec lines substitute)", () => {
    expect(unitValue("$HOME ${X}")).toBe("$HOME ${X}");
  });

  it("given unicode, when written, then it is unchanged", () => {
    expect(unitValue("é😀 שלום \u202eRTL e\u0301 a\u2028b")).toBe("é😀 שלום \u202eRTL e\u0301 a\u2028b");
  });

  it.each([
    [true, "yes"],
    [false, "no"],
    [-500, "-500"],
  ] as const)("given %p, when written, then it is %j", (v, text) => {
    expect(unitValue(v)).toBe(text);
  });

  it.each([NaN, Infinity, -Infinity])("given the number %p, when written, then UnitWriterError", (n) => {
    expect(() => unitValue(n)).toThrow(UnitWriterError);
  });
});

describe("execArg", () => {
  it.each(["plain", "--cidfile=/run/x.cid", "a@b+c:d,e", "/usr/bin/x", "-"])("given the plain argument %j, when written, then it is left unquoted", (arg) => {
    expect(execArg(arg)).toBe(arg);
  });

  // [argument, expected text] per systemd.service(5): C-style double quotes, %% and $$.
  it.each([
    ["two words", '"two words"'],
    [" leading", '" leading"'],
    ["trailing ", '"trailing "'],
    ['say "hi"', '"say \\"hi\\""'],
    ["it's", '"it\'s"'],
    ["back\\slash", '"back\\\\slash"'],
    ["trailing\\", '"trailing\\\\"'],
    ["", '""'],
    ["é😀", '"é😀"'],
    ["e\u0301", '"e\u0301"'],
    ["line\u2028sep", '"line\u2028sep"'],
    ["100%", '"100%%"'],
    ["%n", '"%%n"'],
    ["$HOME", '"$$HOME"'],
    ["${HOME}", '"$${HOME}"'],
    ["$$", '"$$$$"'],
    ["a;b", '"a;b"'],
    ["\\;", '"\\\\;"'],
    ["#hash", '"#hash"'],
    ["`cmd`", '"`cmd`"'],
  ])("given the argument %j, when written, then it is %s", (arg, text) => {
    expect(execArg(arg)).toBe(text);
  });

  it("given a lone semicolon, when written, then it is \\; so systemd does not read a command separator", () => {
    expect(execArg(";")).toBe("\\;");
  });

  it.each(CONTROL)("given an argument containing %j, when written, then UnitWriterError", (c) => {
    expect(() => execArg(`a${c}b`)).toThrow(UnitWriterError);
  });

  it.each(LONE_SURROGATES)("given an argument containing lone surrogate %j, when written, then UnitWriterError", (s) => {
    expect(() => execArg(s)).toThrow(UnitWriterError);
  });
});

describe("execLine", () => {
  it("given hostile arguments, when written, then each is escaped in place after the executable", () => {
    expect(execLine({ argv: ["/bin/echo", "a b", "$X", "50%", ";", ""] })).toBe('/bin/echo "a b" "$$X" "50%%" \\; ""');
  });

  it("given the ignore-failure prefix, when written, then it leads the line", () => {
    expect(execLine({ argv: ["/bin/true"], prefix: "-" })).toBe("-/bin/true");
  });

  it.each(["echo", "./echo", "bin/echo", "", "~/bin/x", " /bin/echo"])("given the non-absolute executable %j, when written, then UnitWriterError", (exe) => {
    expect(() => execLine({ argv: [exe, "x"] })).toThrow(UnitWriterError);
  });

  it("given an executable path with a dollar, when written, then UnitWriterError (systemd would run a path with $$ in it)", () => {
    expect(() => execLine({ argv: ["/opt/a$b/run"] })).toThrow(UnitWriterError);
  });

  it("given an empty argv, when written, then UnitWriterError", () => {
    expect(() => execLine({ argv: [] })).toThrow(UnitWriterError);
  });
});

describe("environmentAssignment", () => {
  it.each(["", "1A", "A-B", "A B", "A=B", "É", "A\n", "$A"])("given the name %j, when written, then UnitWriterError", (name) => {
    expect(() => environmentAssignment(name, "x")).toThrow(UnitWriterError);
  });

  it.each([
    ["spaces", "x y", '"A=x y"'],
    ["padding", " padded ", '"A= padded "'],
    ["an empty value", "", '"A="'],
    ["quotes and a trailing backslash", 'q"\\', '"A=q\\"\\\\"'],
    ["percent signs", "100% %n", '"A=100%% %%n"'],
    ["dollars, which Environment= never expands", "$HOME ${X}", '"A=$HOME ${X}"'],
    ["unicode", "é😀\u2028", '"A=é😀\u2028"'],
  ])("given a value with %s (%j), when written, then it is %s", (_label, value, text) => {
    expect(environmentAssignment("A", value)).toBe(text);
  });

  it.each(CONTROL)("given a value containing %j, when written, then UnitWriterError", (c) => {
    expect(() => environmentAssignment("A", `a${c}b`)).toThrow(UnitWriterError);
  });
});

describe("renderUnitFile", () => {
  it.each(["line\nbreak", "cr\rhere"])("given header comment %j, when rendered, then UnitWriterError", (line) => {
    expect(() => renderUnitFile({ header: [line], sections: {} })).toThrow(UnitWriterError);
  });

  it.each(["Serv ice", "Service]", "", "X\n[Install"])("given section name %j, when rendered, then UnitWriterError", (name) => {
    expect(() => renderUnitFile({ sections: { [name]: { Description: "x" } } })).toThrow(UnitWriterError);
  });

  it.each(["Exec=Start", "A B", "", "A\nB"])("given directive name %j, when rendered, then UnitWriterError", (directive) => {
    expect(() => renderUnitFile({ sections: { Service: { [directive]: "x" } } })).toThrow(UnitWriterError);
  });

  it("given a Description with a newline that would inject a directive, when rendered, then UnitWriterError", () => {
    expect(() => renderUnitFile({ sections: { Unit: { Description: "x\nExecStartPre=/bin/rm -rf /" } } })).toThrow(UnitWriterError);
  });

  it("given percentages in Description, CPUQuota and MemoryMax, when rendered, then only the Description doubles them", () => {
    const text = renderUnitFile({ sections: { Service: { Description: "50%", CPUQuota: "150%", MemoryMax: "50%" } } });
    expect(text).toBe("[Service]\nDescription=50%%\nCPUQuota=150%\nMemoryMax=50%\n");
  });
});

describe("systemd accepts and parses a unit with hostile but legal values", () => {
  const UNIT = "hf-hostile.service";
  const ARGV = [
    "/bin/echo", "plain", "two words", " leading space", "trailing space ", "it's", 'say "hi"', "back\\slash", "trailing backslash\\", "\\",
    "$HOME", "${HOME}", "$$", "$", "100%", "%n", "%%", ";", "\\;", "a;b", "", "é😀", "שלום \u202eRTL", "e\u0301", "line\u2028sep",
    "#not-a-comment", "--opt=a b", "'", "`cmd`", "*?[", "\u00a0", 'long $x %y "z" \\'.repeat(1000),
  ];
  const ENV: readonly [string, string][] = [
    ["A", " x y "],
    ["B", '$HOME %n 100% "q" back\\ trailing\\'],
    ["C", ""],
    ["D", "é😀\u2028=;#"],
    ["E", "it's ${x} `y`"],
  ];
  const DESCRIPTION = "Hostile 100% \"quoted\" $HOME 'single' \\back é😀 שלום";
  const unit: UnitFile = {
    header: ["Hostile values; a trailing backslash in a comment is harmless \\"],
    sections: {
      Unit: { Description: DESCRIPTION, DefaultDependencies: false },
      Service: {
        Type: "oneshot",
        ExecStart: { argv: ARGV },
        Environment: ENV.map(([envName, envValue]) => ({ envName, envValue })),
        CPUQuota: "150%",
        MemoryMax: "50%",
      },
    },
  };
  const content = renderUnitFile(unit);
  let dump: string[];
  let complaints: string[];

  beforeAll(() => {
    ({ dump, complaints } = systemdTestDump(UNIT, content));
  });

  it("given the unit, when checked by systemd-analyze verify, then it exits 0 with no output at all", () => {
    // verifyUnits finds executables to stage with a `.*` regex, which stops at U+2028
    // (tests/support/validators.ts, executablesOf), so that one argument is left to the
    // systemd --test checks below.
    const verifiable = { ...unit, sections: { ...unit.sections, Service: { ...unit.sections.Service, ExecStart: { argv: ARGV.filter((a) => !a.includes("\u2028")) } } } };
    const result = verifyUnits([{ path: `/etc/systemd/system/${UNIT}`, mode: "0644", content: renderUnitFile(verifiable) }]);
    expect({ status: result.status, stdout: result.stdout, stderr: result.stderr }).toEqual({ status: 0, stdout: "", stderr: "" });
  });

  it("given the unit, when loaded by systemd, then systemd logs no complaint about it", () => {
    expect(complaints).toEqual([]);
  });

  it("given the unit, when parsed by systemd, then ExecStart holds exactly the given argv with each $ as the $$ that exec-time substitution turns back into $", () => {
    const commandLines = dump.filter((l) => l.startsWith("\t\t\tCommand Line: ")).map((l) => l.slice("\t\t\tCommand Line: ".length));
    expect(commandLines.map(splitDumpedCommandLine)).toEqual([ARGV.map((a) => a.replace(/\$/g, "$$$$"))]);
  });

  it("given the unit, when parsed by systemd, then Environment holds exactly the given assignments", () => {
    const environment = dump.filter((l) => l.startsWith("\t\tEnvironment: ")).map((l) => l.slice("\t\tEnvironment: ".length));
    expect(environment).toEqual(ENV.map(([name, value]) => `${name}=${value}`));
  });

  it("given the unit, when parsed by systemd, then Description is exactly the given text", () => {
    expect(dump.filter((l) => l.startsWith("\t\tDescription: "))).toEqual([`\t\tDescription: ${DESCRIPTION}`]);
  });

  it("given CPUQuota=150%, when parsed by systemd, then the quota is 1.5 s per second", () => {
    expect(dump).toContain("\t\tCPUQuotaPerSecSec: 1.500000s");
  });

  it("given MemoryMax=50%, when parsed by systemd, then the limit is a finite number of bytes", () => {
    const line = dump.find((l) => l.startsWith("\t\tMemoryMax: ")) ?? "";
    const bytes = BigInt(line.slice("\t\tMemoryMax: ".length) || "0");
    expect(bytes > 0n && bytes < 2n ** 64n - 1n).toBe(true);
  });
});

/**
 * Loads one unit with `systemd --test` (no running systemd needed) and returns the dump lines of
 * that unit and every log line that names it. systemd refuses test mode as root, so root drops to
 * nobody first.
 */
function systemdTestDump(unitName: string, content: string): { dump: string[]; complaints: string[] } {
  const dir = mkdtempSync(join(tmpdir(), "hf-unitdump-"));
  try {
    chmodSync(dir, 0o755);
    writeFileSync(join(dir, unitName), content, { mode: 0o644 });
    const asNobody = process.getuid?.() === 0 ? ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] : [];
    const result = run("env", [`SYSTEMD_UNIT_PATH=${dir}`, ...asNobody, "/usr/lib/systemd/systemd", "--test", "--system", `--unit=${unitName}`, "--no-pager"]);
    if (result.status !== 0) throw new Error(`systemd --test failed: ${result.stderr}`);
    const lines = result.stdout.split("\n");
    const start = lines.indexOf(`\t-> Unit ${unitName}:`);
    if (start < 0) throw new Error(`systemd --test did not load ${unitName}: ${result.stderr}`);
    const end = lines.findIndex((l, i) => i > start && l.startsWith("\t-> Unit "));
    return {
      dump: lines.slice(start + 1, end < 0 ? undefined : end),
      complaints: result.stderr.split("\n").filter((l) => l.includes(unitName)),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Splits systemd's dump of a command line back into argv. The dump quotes a word in double quotes
 * when it needs it and backslash-escapes only `"`, `\`, `` ` `` and `$` inside (shell_maybe_quote);
 * anything else is refused so that a format change cannot pass silently.
 */
function splitDumpedCommandLine(line: string): string[] {
  const argv: string[] = [];
  let i = 0;
  while (i < line.length) {
    if (line[i] === " ") {
      i++;
    } else if (line[i] === '"') {
      let word = "";
      for (i++; line[i] !== '"'; i++) {
        if (i >= line.length) throw new Error(`unterminated quote in ${line}`);
        if (line[i] === "\\") {
          i++;
          if (!['"', "\\", "`", "$"].includes(line[i])) throw new Error(`unexpected escape \\${line[i]} in ${line}`);
        }
        word += line[i];
      }
      i++;
      argv.push(word);
    } else {
      const end = line.indexOf(" ", i) < 0 ? line.length : line.indexOf(" ", i);
      argv.push(line.slice(i, end));
      i = end;
    }
  }
  return argv;
}

describe("executable paths systemd would ignore", () => {
  it.each(["/bin/../x", "//x", "/usr/./bin/x", "/usr/bin/"])("rejects the non-normalized path %s", (exe) => {
    expect(() => execLine({ argv: [exe] })).toThrow(UnitWriterError);
  });
});
