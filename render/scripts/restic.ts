import { hostScriptText } from "./files";
import type { ScriptSpec } from "./index";

/**
 * Off-site backup with restic: `backup` then `forget --prune` with the retention policy, or
 * `check`. The repository password comes from the systemd credential `restic-password`
 * (RESTIC_PASSWORD_FILE), never from the command line or the environment.
 */
export const resticScript: ScriptSpec = {
  name: "homefleet-backup-restic",
  nixRuntimeInputs: ["restic", "coreutils"],
  text: hostScriptText("homefleet-backup-restic.sh"),
};

/**
 * One of the host's restic repositories (backup.repositories.<name>): its own paths and exclude
 * patterns, then `forget --prune`; or `check`. The password arrives the same way as the off-site
 * copy's; the metrics part is shared with it (lib/restic-common.sh).
 */
export const repositoryScript: ScriptSpec = {
  name: "homefleet-backup-repository",
  nixRuntimeInputs: ["restic", "coreutils"],
  text: hostScriptText("homefleet-backup-repository.sh"),
};
