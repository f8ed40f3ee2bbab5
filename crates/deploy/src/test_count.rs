//! Reading a test count from a test runner's output ("check that the test
//! stats are reasonable", as the Catz runbook puts it).

use regex::Regex;
use std::sync::LazyLock;

static PROVE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"Files=\d+,\s*Tests=(\d+)").expect("valid"));
static CARGO: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"test result: \w+\. (\d+) passed; (\d+) failed").expect("valid"));
static PASSED: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?m)\b(\d+) passed\b").expect("valid"));
static TAP_PLAN: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?m)^1\.\.(\d+)\s*$").expect("valid"));

/// The number of tests the output reports, from (in order of trust) a
/// `prove` summary, cargo's `test result:` lines, a `N passed` line, or TAP plans.
pub(crate) fn parse(output: &str) -> Option<u64> {
    let number = |text: &str| text.parse::<u64>().ok();
    if let Some(last) = PROVE.captures_iter(output).last() {
        return number(&last[1]);
    }
    let cargo: Vec<_> = CARGO.captures_iter(output).collect();
    if !cargo.is_empty() {
        return Some(
            cargo
                .iter()
                .filter_map(|c| Some(number(&c[1])? + number(&c[2])?))
                .sum(),
        );
    }
    if let Some(last) = PASSED.captures_iter(output).last() {
        return number(&last[1]);
    }
    let plans: Vec<u64> = TAP_PLAN
        .captures_iter(output)
        .filter_map(|c| number(&c[1]))
        .collect();
    (!plans.is_empty()).then(|| plans.iter().sum())
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn reads_common_runners() {
        assert_eq!(
            parse("All tests successful.\nFiles=23, Tests=9437, 436 wallclock secs\nResult: PASS"),
            Some(9437)
        );
        assert_eq!(
            parse("test result: ok. 12 passed; 0 failed; 0 ignored\n\ntest result: ok. 3 passed; 0 failed;"),
            Some(15)
        );
        assert_eq!(parse("===== 41 passed, 2 skipped in 0.3s ====="), Some(41));
        assert_eq!(parse("1..4\nok 1\nok 2\nok 3\nok 4\n"), Some(4));
        assert_eq!(parse("everything is fine"), None);
    }
}
