/**
 * `homefleet`: the parts of homefleet that need no Pulumi engine.
 *
 * Only what every command needs is imported at the top. The review, the JSON Schema and the
 * starter file are imported by their own commands: `homefleet render` is run far more often,
 * and loading modules it does not use was a good part of its time.
 */
import { Command, CommanderError } from "commander";
import { existsSync, readdirSync, writeFileSync } from "node:fs";
import { basename, dirname, relative, resolve } from "node:path";
import { renderFleet } from "../bundle/hostBundle";
import { ConfigError, formatProblem, loadStackFile, type ConfigProblem, type FleetConfig } from "../config/load";
import { homefleetVersion } from "../config/packageRoot";
import { renderInto } from "./render";
import { lazyStdio, type Output } from "./stdio";

function stackFile(opts: { stack?: string; config?: string }, cwd: string): string {
  if (opts.stack && opts.config) throw new Error("give either --stack or --config, not both");
  if (opts.config) return resolve(cwd, opts.config);
  if (opts.stack) {
    if (!/^[A-Za-z0-9_.-]+$/.test(opts.stack)) throw new Error(`bad stack name ${JSON.stringify(opts.stack)}`);
    return resolve(cwd, `Pulumi.${opts.stack}.yaml`);
  }
  throw new Error("give --stack <name> (reads Pulumi.<name>.yaml) or --config <file>");
}

/** A missing stack file is a wrong name, not invalid configuration: say so and list the stacks there are. */
function requireStackFile(file: string, opts: { stack?: string }): string {
  if (existsSync(file)) return file;
  if (!opts.stack) throw new Error(`config file ${file} does not exist`);
  const dir = dirname(file);
  const stacks = readdirSync(dir)
    .map((f) => /^Pulumi\.(.+)\.yaml$/.exec(f)?.[1])
    .filter((s): s is string => !!s)
    .sort();
  throw new Error(`unknown stack "${opts.stack}": ${file} does not exist (stacks in ${dir}: ${stacks.join(", ") || "none"})`);
}

/** The user's rules checked and their tests run by promtool; undefined without monitoring. */
async function userRuleTests(config: FleetConfig, render: ReturnType<typeof renderFleet>) {
  const prometheus = render.model.hosts.find((h) => h.prometheus)?.prometheus;
  if (!prometheus) return undefined;
  const { runRuleTests } = await import("../review/ruleTests");
  return runRuleTests(prometheus.userRuleGroups, config.monitoring?.ruleTests ?? []);
}

/** Up to how many hosts `render` names each with its file count. */
const LISTED_HOSTS = 10;

const indent = (text: string) => text.split("\n").map((l) => `    ${l}`).join("\n") + "\n";

/**
 * Runs the command `argv` names. `build.id` names the build of homefleet that runs (the launcher
 * passes the CLI bundle's build id): with it, `render` keeps the files of hosts whose model did
 * not change since the last render into the same directory instead of rendering them again.
 */
export async function main(
  argv: readonly string[],
  io: { out: Output; err: Output; cwd: string } = { out: lazyStdio(1), err: lazyStdio(2), cwd: process.cwd() },
  build: { readonly id?: string } = {},
): Promise<number> {
  const program = new Command()
    .name("homefleet")
    .description("Render and review self-hosted service stacks for NixOS and plain systemd hosts")
    .version(homefleetVersion(), "-V, --version", "print homefleet's version")
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out.write(s), writeErr: (s) => io.err.write(s) });

  let exitCode = 0;
  program
    .command("render")
    .description("write every host's files and manifest.json to a directory")
    .option("-s, --stack <name>", "stack name; reads Pulumi.<name>.yaml in the current directory")
    .option("-c, --config <file>", "a Pulumi stack file to read instead")
    .requiredOption("-o, --out <dir>", "output directory (replaced if it holds an earlier render)")
    .action((opts: { stack?: string; config?: string; out: string }) => {
      const file = requireStackFile(stackFile(opts, io.cwd), opts);
      const warn = (warnings: readonly string[]) => {
        for (const w of warnings) io.err.write(`warning: ${w}\n`);
      };
      const { count, hosts } = renderInto(loadStackFile(file), resolve(io.cwd, opts.out), { codeIdentity: build.id, warn });
      const kept = hosts.filter((h) => h.kept).length;
      const keptNote = kept ? `; ${kept} of the hosts had not changed since the last render there, their files were kept` : "";
      // Each host's count while the line stays readable; a fleet gets the totals.
      const perHost = hosts.length <= LISTED_HOSTS ? ` (${hosts.map((h) => `${h.name}: ${h.files}`).join(", ")})` : "";
      io.out.write(`rendered ${count} files for ${hosts.length} host${hosts.length === 1 ? "" : "s"}${perHost} into ${opts.out}${keptNote}\n`);
    });

  program
    .command("review")
    .description("review the fleet: inventory, graphs, schedule, coverage, findings")
    .option("-s, --stack <name>", "stack name; reads Pulumi.<name>.yaml in the current directory")
    .option("-c, --config <file>", "a Pulumi stack file to read instead")
    .option("-f, --format <format>", "md or json", "md")
    .option("-o, --out <file>", "write the report to a file instead of standard output")
    .option("--no-exposure", "do not run systemd-analyze security")
    .option("--no-rule-tests", "do not run the rule tests of homefleet:monitoring.ruleTests with promtool")
    .action(async (opts: { stack?: string; config?: string; format: string; out?: string; exposure: boolean; ruleTests: boolean }) => {
      if (opts.format !== "md" && opts.format !== "json") throw new Error(`--format must be md or json, got ${JSON.stringify(opts.format)}`);
      const file = requireStackFile(stackFile(opts, io.cwd), opts);
      const config = loadStackFile(file);
      const render = renderFleet(config);
      const [{ describeFinding, reviewFleet }, { measureExposure, systemdAnalyzeAvailable }, { reviewJson, reviewMarkdown }] = await Promise.all([import("../review"), import("../review/exposure"), import("../review/report")]);
      const exposure = opts.exposure && systemdAnalyzeAvailable() ? measureExposure(render) : undefined;
      const ruleTests = opts.ruleTests ? await userRuleTests(config, render) : undefined;
      const review = reviewFleet({ config, render, exposure, ...(ruleTests ? { ruleTests } : {}) });
      const title = opts.stack ?? basename(file);
      const text = opts.format === "json" ? reviewJson({ title, render, review, exposure }) : reviewMarkdown({ title, render, review, exposure });
      if (opts.out) writeFileSync(resolve(io.cwd, opts.out), text);
      else io.out.write(text);
      for (const f of review.blocking) io.err.write(`error: ${describeFinding(f)}\n`);
      exitCode = review.blocking.length ? 1 : 0;
    });

  program
    .command("test-rules")
    .description("check the alert rules of homefleet:monitoring.rules and run homefleet:monitoring.ruleTests with promtool")
    .option("-s, --stack <name>", "stack name; reads Pulumi.<name>.yaml in the current directory")
    .option("-c, --config <file>", "a Pulumi stack file to read instead")
    .action(async (opts: { stack?: string; config?: string }) => {
      const file = requireStackFile(stackFile(opts, io.cwd), opts);
      const config = loadStackFile(file);
      const run = await userRuleTests(config, renderFleet(config));
      if (!run) {
        io.out.write("no homefleet:monitoring (nothing to test)\n");
        return;
      }
      if (!run.available) throw new Error("promtool is not installed (Debian package prometheus): the rules were not checked");
      if (run.check) io.out.write(`${run.check.passed ? "ok  " : "FAIL"} promtool check rules (homefleet:monitoring.rules)\n${run.check.passed ? "" : indent(run.check.output)}`);
      for (const t of run.tests) io.out.write(`${t.passed ? "ok  " : "FAIL"} homefleet:monitoring.ruleTests.${t.index}${t.name ? ` (${t.name})` : ""}\n${t.passed ? "" : indent(t.output)}`);
      const failed = run.tests.filter((t) => !t.passed).length + (run.check && !run.check.passed ? 1 : 0);
      io.out.write(`${run.tests.length} rule test${run.tests.length === 1 ? "" : "s"}, ${failed} failed\n`);
      exitCode = failed ? 1 : 0;
    });

  program
    .command("init")
    .description("write a commented starter stack file, Pulumi.<stack>.yaml, that renders clean")
    .option("-s, --stack <name>", "stack name", "dev")
    .action(async (opts: { stack: string }) => {
      const file = stackFile({ stack: opts.stack }, io.cwd);
      if (existsSync(file)) throw new Error(`${file} exists already: homefleet init never overwrites a stack file`);
      const { starterStackFile } = await import("./starter");
      writeFileSync(file, starterStackFile(opts.stack), { flag: "wx" });
      io.out.write(`wrote ${basename(file)}; next: npx homefleet render --stack ${opts.stack} --out out\n`);
    });

  program
    .command("schema")
    .description("write a JSON Schema of stack files, for editors (# yaml-language-server: $schema=<file>)")
    .option("-o, --out <file>", "write it to a file instead of standard output")
    .action(async (opts: { out?: string }) => {
      const { stackFileJsonSchema } = await import("../config/jsonSchema");
      const text = JSON.stringify(stackFileJsonSchema(), null, 2) + "\n";
      if (opts.out) writeFileSync(resolve(io.cwd, opts.out), text);
      else io.out.write(text);
    });

  try {
    await program.parseAsync([...argv], { from: "node" });
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    if (err instanceof ConfigError) {
      // Files as the user would type them: relative to where homefleet runs.
      const shown = (p: ConfigProblem) => (p.location ? { ...p, location: { ...p.location, file: relative(io.cwd, p.location.file) } } : p);
      io.err.write(`homefleet: invalid configuration\n${err.problems.map((p) => `  ${formatProblem(shown(p))}`).join("\n")}\n`);
      return 1;
    }
    io.err.write(`homefleet: ${(err as Error).message}\n`);
    return 1;
  }
  return exitCode;
}
