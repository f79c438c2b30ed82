// Prints one plain closing line, "tests: N passed, N failed[, N skipped]", after jest's own
// summary, so any tool reading the last lines of a run sees the counts in a plain form.
class SummaryReporter {
  onRunComplete(_contexts, results) {
    const skipped = results.numPendingTests + results.numTodoTests;
    const line = `tests: ${results.numPassedTests} passed, ${results.numFailedTests} failed` + (skipped ? `, ${skipped} skipped` : "");
    process.stderr.write(`\n${line}\n`);
  }
}
module.exports = SummaryReporter;
