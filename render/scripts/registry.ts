import { BACKUP_SCRIPTS } from "./backup";
import { CERTIFICATE_SCRIPTS } from "./certificates";
import { ALL_SCRIPTS, type ScriptSpec } from "./index";
import { repositoryScript, resticScript } from "./restic";
import { activateScript } from "./activate";

/** Every script homefleet installs, by command name. */
const REGISTRY = new Map<string, ScriptSpec>([...ALL_SCRIPTS, ...BACKUP_SCRIPTS, ...CERTIFICATE_SCRIPTS, resticScript, repositoryScript, activateScript].map((s) => [s.name, s]));

export function scriptNamed(name: string): ScriptSpec {
  const script = REGISTRY.get(name);
  if (!script) throw new Error(`no script named ${name}`);
  return script;
}
