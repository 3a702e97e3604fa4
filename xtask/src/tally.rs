//! Counting what a suite did. Only a test that ran and passed counts as
//! passed: a failed, ignored, filtered-out, skipped or flaky test is a
//! failure, and so is a suite that ran no test at all, so the summary line
//! cannot be green while tests did not run.

use serde_json::Value;

/// Counts of one suite.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    pub passed: u64,
    pub failed: u64,
}

impl Tally {
    /// One check that passed or failed as a whole.
    pub fn check(ok: bool) -> Self {
        Tally {
            passed: u64::from(ok),
            failed: u64::from(!ok),
        }
    }

    /// A suite that could not run (a build or setup failure).
    pub const SETUP_FAILED: Tally = Tally {
        passed: 0,
        failed: 1,
    };

    /// A suite must have run something: no test at all is a failure.
    fn at_least_one(mut self) -> Self {
        if self.passed + self.failed == 0 {
            eprintln!("xtask: the suite ran no test");
            self.failed = 1;
        }
        self
    }
}

/// Sums the `test result:` lines of a `cargo test` run (native or through
/// the wasm-bindgen runner). `ok` is whether the command succeeded.
pub fn from_cargo_test(output: &str, ok: bool) -> Tally {
    let mut tally = Tally::default();
    for line in output.lines().map(str::trim) {
        if let Some(result) = line.strip_prefix("test result: ") {
            tally.passed += number_before(result, " passed");
            tally.failed += number_before(result, " failed")
                + number_before(result, " ignored")
                + number_before(result, " filtered out");
        } else if line == "no tests to run!" {
            // The wasm-bindgen runner's way of saying nothing ran (it exits 0).
            eprintln!("xtask: a test binary had no tests to run");
            tally.failed += 1;
        }
    }
    if !ok && tally.failed == 0 {
        tally.failed = 1;
    }
    tally.at_least_one()
}

fn number_before(line: &str, label: &str) -> u64 {
    line.split(';')
        .find_map(|part| {
            part.trim()
                .trim_start_matches("ok. ")
                .trim_start_matches("FAILED. ")
                .strip_suffix(label)
        })
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

/// Reads Playwright's JSON report: skipped and flaky tests, and errors
/// outside any test (a `test.only` under `forbidOnly`, a broken config),
/// count as failures.
pub fn from_playwright(report: &Value) -> Tally {
    let stat = |key: &str| report["stats"][key].as_u64().unwrap_or(0);
    let global_errors = report["errors"].as_array().map_or(0, Vec::len) as u64;
    Tally {
        passed: stat("expected"),
        failed: stat("unexpected")
            + stat("skipped")
            + stat("flaky")
            + stat("interrupted")
            + global_errors,
    }
    .at_least_one()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn cargo_test_results_count_only_what_ran_and_passed() {
        let output = "\
running 42 tests
test result: ok. 42 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s
test result: FAILED. 4 passed; 1 failed; 2 ignored; 0 measured; 3 filtered out; finished in 1.00s
";
        assert_eq!(
            from_cargo_test(output, false),
            Tally {
                passed: 46,
                failed: 6
            }
        );
    }

    #[test]
    fn a_suite_that_ran_nothing_fails() {
        let empty = "test result: ok. 0 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s";
        assert_eq!(from_cargo_test(empty, true), Tally::SETUP_FAILED);
        let wasm = "no tests to run!\n";
        assert_eq!(from_cargo_test(wasm, true), Tally::SETUP_FAILED);
        let wasm_beside_others = "no tests to run!\ntest result: ok. 3 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.1s";
        assert_eq!(
            from_cargo_test(wasm_beside_others, true),
            Tally {
                passed: 3,
                failed: 1
            }
        );
    }

    #[test]
    fn a_build_failure_is_a_failure() {
        assert_eq!(
            from_cargo_test("error[E0308]: mismatched types", false),
            Tally::SETUP_FAILED
        );
        let some_ran = "test result: ok. 5 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s";
        assert_eq!(
            from_cargo_test(some_ran, false),
            Tally {
                passed: 5,
                failed: 1
            },
            "a later binary did not build"
        );
    }

    #[test]
    fn playwright_counts_skipped_flaky_and_global_errors_as_failures() {
        let report = json!({"stats": {"expected": 15, "unexpected": 1, "skipped": 1, "flaky": 1}, "errors": []});
        assert_eq!(
            from_playwright(&report),
            Tally {
                passed: 15,
                failed: 3
            }
        );
        let only = json!({"stats": {"expected": 0, "unexpected": 0, "skipped": 0, "flaky": 0},
            "errors": [{"message": "Error: item focused with '.only' is not allowed due to the '--forbid-only' CLI flag"}]});
        assert_eq!(from_playwright(&only), Tally::SETUP_FAILED);
        let nothing = json!({"stats": {"expected": 0}});
        assert_eq!(from_playwright(&nothing), Tally::SETUP_FAILED);
    }
}
