#!/usr/bin/env node
// Prints the plain "N passed, N failed" line CI looks for, from vitest's JSON
// report, and exits non-zero unless every test passed and make succeeded.
//
//   node scripts/ci-summary.mjs <vitest-report.json> <make exit status>
//
// If make failed before vitest wrote a report (dependencies, build, lint), no
// test ran: that is reported as one failure rather than as a clean "0 failed".
import { readFileSync } from 'node:fs';

const [reportPath, makeStatusText] = process.argv.slice(2);
const makeStatus = Number(makeStatusText ?? '1');

let report;
try {
  report = JSON.parse(readFileSync(reportPath, 'utf8'));
} catch {
  report = undefined;
}

if (!report || typeof report.numPassedTests !== 'number') {
  console.log(`make test exited ${makeStatus} before any test reported (see the output above)`);
  console.log('0 passed, 1 failed');
  process.exit(1);
}

const passed = report.numPassedTests;
// Suites that failed to load (syntax errors, a throwing beforeAll) hold no
// failed tests of their own; count each such file as one failure.
const brokenFiles = (report.testResults ?? []).filter(
  (file) => file.status === 'failed' && (file.assertionResults ?? []).every((t) => t.status !== 'failed'),
).length;
const failed = report.numFailedTests + brokenFiles;
const skipped = report.numPendingTests + report.numTodoTests;

if (skipped > 0) console.log(`${skipped} skipped`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 && makeStatus === 0 ? 0 : 1);
