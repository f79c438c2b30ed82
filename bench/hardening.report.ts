/**
 * Writes docs/hardening.md: the `systemd-analyze security --offline=true` exposure score of
 * every unit homefleet writes, for the committed stacks and the operations fixture.
 * Run: npm run hardening-report (tests/hardening.test.ts fails when the file is out of date).
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { hardeningReport } from "../tests/support/hardeningReport";

const root = join(__dirname, "..", "..");
writeFileSync(join(root, "docs", "hardening.md"), hardeningReport());
process.stdout.write("wrote docs/hardening.md\n");
