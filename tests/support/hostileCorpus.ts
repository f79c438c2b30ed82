/**
 * The hostile-config corpus (tests/hostile.corpus.test.ts runs it through the CLI): a clean stack
 * file and the changes that each make it hurt a host, with what the CLI must print. Shared with
 * tests/config.stackYaml.test.ts, which reads every one of these files with both YAML readers.
 */
import { stringify } from "yaml";
import { mixedFleet } from "./mixedFleet";

export type Raw = Record<string, any>;

/** A clean fleet (tests/support/mixedFleet.ts) with an off-site backup whose password is a Pulumi secret. */
export function cleanStackFile(): Raw {
  const { hosts, stacks } = mixedFleet();
  hosts.box.backup = { offsite: { repository: "sftp:backup@nas.lan:/srv/restic/box", passwordConfig: "resticPassword" } };
  return { config: { "homefleet:hosts": hosts, "homefleet:stacks": stacks, "homefleet:resticPassword": { secure: "v1:ciphertext" } } };
}

export interface HostileCase {
  readonly harm: string;
  /** Where the value would have ended up. */
  readonly output: string;
  readonly change: (config: Raw) => void;
  /** The problems the CLI prints, after "homefleet: invalid configuration", each `LINE:COLUMN: PATH: MESSAGE`. */
  readonly refused: readonly string[];
}

const hosts = (c: Raw) => c["homefleet:hosts"];
const stacks = (c: Raw) => c["homefleet:stacks"];

export const CASES: readonly HostileCase[] = [
  { harm: "the stack's role is the PostgreSQL superuser", output: "role script, pg_hba.conf", change: (c) => (stacks(c).llm.database = { user: "postgres" }), refused: ["24:9: homefleet:stacks.llm.database.user: \"postgres\" is the PostgreSQL superuser: the stack would own the whole server"] },
  { harm: "a database named like a pg_hba keyword reaches every database", output: "pg_hba.conf", change: (c) => (stacks(c).llm.database = { name: "all" }), refused: ["24:9: homefleet:stacks.llm.database.name: \"all\" is reserved (a pg_hba.conf keyword or one of the server's own databases)", "24:9: homefleet:stacks.llm.database.name: role \"all\" is reserved (a pg_hba.conf or SQL role keyword); the role takes the database name unless database.user names another"] },
  { harm: "a stack named replication takes its default role and database name from it", output: "pg_hba.conf", change: (c) => ((stacks(c).replication = stacks(c).llm), delete stacks(c).llm), refused: ["28:5: homefleet:stacks.replication: database \"replication\" is reserved (a pg_hba.conf keyword or one of the server's own databases); the stack's name is its database name unless database.name names another", "28:5: homefleet:stacks.replication: role \"replication\" is reserved (a pg_hba.conf or SQL role keyword); the stack's name is its database role unless database.user names another"] },
  { harm: "a system directory as a volume has its mode changed", output: "tmpfiles", change: (c) => (stacks(c).wiki.container.volumes[0].source = "/etc"), refused: ["40:13: homefleet:stacks.wiki.container.volumes.0.source: \"/etc\" is a system directory: homefleet would change its owner and mode; use a directory of its own, e.g. below /var/lib"] },
  { harm: "every stack's secrets mounted into a container", output: "container unit", change: (c) => (stacks(c).wiki.container.volumes[0].source = "/var/lib/homefleet/secrets"), refused: ["40:13: homefleet:stacks.wiki.container.volumes.0.source: \"/var/lib/homefleet/secrets\" is inside /var/lib/homefleet, a system directory: homefleet would change its owner and mode; use a directory of its own, e.g. below /var/lib"] },
  { harm: "a shared directory as the backup directory loses its sticky mode", output: "tmpfiles", change: (c) => (hosts(c).box.backup.dir = "/tmp"), refused: ["11:9: homefleet:hosts.box.backup.dir: \"/tmp\" is a shared system directory: homefleet would change its owner and mode; use a directory of its own below it"] },
  { harm: "a path that climbs out with ..", output: "tmpfiles, Nix", change: (c) => (stacks(c).wiki.container.volumes[0].source = "/srv/wiki/../../etc"), refused: ["40:13: homefleet:stacks.wiki.container.volumes.0.source: \"/srv/wiki/../../etc\" contains \".\" or \"..\" segments: write the directory it means"] },
  { harm: "a password in a restic repository URL", output: "unit file, command line", change: (c) => (hosts(c).box.backup.offsite.repository = "rest:https://backup:s3cr3t@nas.lan:8000/box"), refused: ["9:11: homefleet:hosts.box.backup.offsite.repository: holds a password in the URL, which would be written in clear into unit files and onto command lines: give the credentials in the secret environment instead (environmentConfig)"] },
  { harm: "a password in a model's apiBase", output: "LiteLLM YAML", change: (c) => (stacks(c).llm.litellm.models[0].apiBase = "http://admin:hunter2@10.89.0.1:11434"), refused: ["29:13: homefleet:stacks.llm.litellm.models.0.apiBase: holds a password in the URL, which would be written in clear into unit files and onto command lines: give the provider's key with apiKeyConfig instead"] },
  { harm: "two NixOS stacks joining one podman network by name", output: "Nix", change: (c) => { stacks(c).wiki.network.name = "shared"; stacks(c).blog = { ...structuredClone(stacks(c).wiki), network: { subnet: "10.89.2.0/24", name: "shared" }, container: { ...structuredClone(stacks(c).wiki.container), publish: { hostPort: 8082 }, volumes: [] } }; }, refused: ["47:9: homefleet:stacks.blog.network.name: network \"shared\" on host pi is already stack wiki's: name another"] },
  { harm: "a newline that would add a unit directive", output: "unit file", change: (c) => (stacks(c).llm.container.environment = { GREETING: "hello\nExecStartPre=/bin/sh -c id" }), refused: ["24:11: homefleet:stacks.llm.container.environment.GREETING: control character U+000A is not allowed: values become unit-file lines, Nix strings and command arguments"] },
  { harm: "a control character in a command", output: "Nix", change: (c) => (stacks(c).wiki.container.command = ["serve", "--x\u0001"]), refused: ["44:13: homefleet:stacks.wiki.container.command.1: control character U+0001 is not allowed: values become unit-file lines, Nix strings and command arguments"] },
  { harm: "a calendar systemd refuses, found at 02:00 instead of at preview", output: "timer unit", change: (c) => (hosts(c).box.backup.offsite.checkCalendar = "banana"), refused: ["11:11: homefleet:hosts.box.backup.offsite.checkCalendar: \"banana\" is not a calendar expression homefleet accepts: a shortcut (daily, weekly, \u2026) or [WEEKDAYS] [YEAR-MONTH-DAY] [HH:MM[:SS]], e.g. \"Sun *-*-* 05:00:00\""] },
  { harm: "an http:// ACME directory the renewal refuses every night", output: "renewal script arguments", change: (c) => (hosts(c).box.certificates = { web: { domains: ["llm.example.org"], issuer: "acme", acme: { email: "ops@example.org", server: "http://acme.lan/dir" } } }), refused: ["18:13: homefleet:hosts.box.certificates.web.acme.server: expected an https:// URL, got \"http://acme.lan/dir\""] },
  { harm: "a wildcard name HTTP-01 cannot prove", output: "renewal script arguments", change: (c) => (hosts(c).box.certificates = { web: { domains: ["*.example.org"], issuer: "acme", acme: { email: "ops@example.org" } } }), refused: ["14:15: homefleet:hosts.box.certificates.web.domains.0: a wildcard cannot be issued here (HTTP-01 proves one name at a time): list the names"] },
  { harm: "a reload unit systemctl reads as an option", output: "renewal script arguments", change: (c) => (hosts(c).box.certificates = { web: { domains: ["llm.example.org"], issuer: "acme", acme: { email: "ops@example.org" }, reloadUnit: "--no-block.service" } }), refused: ["18:11: homefleet:hosts.box.certificates.web.reloadUnit: expected a unit name such as nginx.service, got \"--no-block.service\""] },
  { harm: "a newline inside a URL", output: "LiteLLM YAML", change: (c) => (stacks(c).llm.litellm.models[0].apiBase = "http://10.89.0.1:11434/\nv1"), refused: ["29:13: homefleet:stacks.llm.litellm.models.0.apiBase: control character U+000A is not allowed: values become unit-file lines, Nix strings and command arguments"] },
  { harm: "a typo that turns the promotion gate off", output: "Pulumi program", change: (c) => (c["homefleet:promotFrom"] = "staging"), refused: ["44:3: homefleet:promotFrom: unknown key; did you mean homefleet:promoteFrom? (homefleet reads homefleet:hosts, homefleet:stacks, homefleet:monitoring, homefleet:review, homefleet:deploy, homefleet:promoteFrom, homefleet:promoteOverride, homefleet:sshPrivateKey and the secrets the config refers to)"] },
  { harm: "a provider key stored in plain text", output: "Pulumi state", change: (c) => { stacks(c).llm.litellm.models[0].apiKeyConfig = "openaiApiKey"; c["homefleet:openaiApiKey"] = "sk-plaintext"; }, refused: ["45:3: homefleet:openaiApiKey: holds a secret but is stored in plain text: set it again with pulumi config set --secret homefleet:openaiApiKey < FILE"] },
  { harm: "a certificate key given to root as its group", output: "tmpfiles", change: (c) => (hosts(c).box.certificates = { db: { domains: ["db.example.org"], issuer: "acme", acme: { email: "ops@example.org" }, group: "root" } }), refused: ["18:11: homefleet:hosts.box.certificates.db.group: the key is root's already: name the group of the service that reads it, or leave group out, got \"root\""] },
  { harm: "a response cache with no Redis to hold it", output: "LiteLLM YAML", change: (c) => { stacks(c).llm.litellm.responseCache = {}; delete stacks(c).llm.cache; }, refused: ["29:9: homefleet:stacks.llm.litellm.responseCache: responses are cached in the stack's Redis, and the stack has none: add cache"] },
];

/** The stack file's text, as the corpus writes it. */
export function hostileStackFileText(stackFile: Raw): string {
  return stringify(stackFile, { lineWidth: 0 });
}
