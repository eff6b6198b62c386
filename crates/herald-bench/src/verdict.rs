//! A run's verdict: every target must have done exactly what the scenario
//! asked (every subscriber got every message, every connection opened, every
//! recovery was exact). Anything else is printed loudly and fails the
//! process, so a smoke run in `scripts/test.sh` catches a broken door.

use anyhow::bail;

/// Fails when any target has a problem; prints each one first.
pub fn check<'a>(scenario: &str, targets: impl IntoIterator<Item = (&'a str, Vec<String>)>) -> anyhow::Result<()> {
    let mut failed = Vec::new();
    for (target, problems) in targets {
        for p in &problems {
            eprintln!("FAILED {scenario} on {target}: {p}");
        }
        if !problems.is_empty() {
            failed.push(format!("{target} ({})", problems.join("; ")));
        }
    }
    if !failed.is_empty() {
        bail!("{scenario}: {} target(s) did not deliver as expected: {}", failed.len(), failed.join(", "));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_problem_fails_the_run() {
        assert!(check("fanout", [("herald", vec![]), ("raw", vec![])]).is_ok());
        let err = check("fanout", [("herald", vec![]), ("raw", vec!["delivered 9 of 10".into()])]).unwrap_err();
        assert!(err.to_string().contains("raw (delivered 9 of 10)"), "{err}");
    }
}
