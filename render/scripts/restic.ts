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
