//! The mutants' findings as text, Markdown (the step summary) and JSON (the report file).

use std::fmt::Write as _;

use colored::Colorize as _;

use super::exec::{Tried, Verdict};
use super::plan::Planned;
use super::{Findings, Judged};

/// `--list`: each mutant and what it would run (or its remembered verdict), then those no test
/// covers.
pub fn print_list(planned: &Planned, recalled: &[Option<Tried>]) {
    for ((m, tests), known) in planned.run.iter().zip(recalled) {
        match known {
            Some(t) => println!("{} — remembered: {} ({})", m.title(), t.verdict.word(), remembered_when(t)),
            None => println!("{} — would run {}", m.title(), tests.brief()),
        }
    }
    for m in &planned.uncovered {
        println!("{} — not run: no test covers its lines", m.title());
    }
}

/// "found 3 h ago": when a remembered verdict was found.
fn remembered_when(t: &Tried) -> String {
    t.remembered.map_or_else(String::new, |at| format!("found {}", crate::impact::ago(at)))
}

/// The counts in one line: "12 caught, 1 missed, 1 timeout, 2 unviable".
fn counts_line(j: &Judged) -> String {
    let mut line = format!("{} caught, {} missed", j.caught, j.missed);
    if j.timeouts > 0 {
        let _ = write!(line, ", {} timed out", j.timeouts);
    }
    if j.unviable > 0 {
        let _ = write!(line, ", {} unviable", j.unviable);
    }
    if j.uncovered > 0 {
        let _ = write!(line, ", {} not run (uncovered)", j.uncovered);
    }
    line
}

/// "caught 85.71% of 14 viable mutants", or why there is no score.
fn score(j: &Judged) -> String {
    if j.viable() == 0 {
        return "no viable mutant to score".to_owned();
    }
    format!(
        "caught {}% of {} viable {}",
        crate::coverage::grade::percent_text(j.counts()),
        j.viable(),
        if j.viable() == 1 { "mutant" } else { "mutants" }
    )
}

/// The summary printed at the end: the missed mutants, the uncovered ones, the counts, the verdict.
pub fn text(f: &Findings) -> String {
    let mut out = String::new();
    let of = |v: Verdict| f.tried.iter().filter(move |t| t.verdict == v);
    if f.verdict.missed > 0 {
        let _ = writeln!(out, "\nMissed mutants (no test failed):");
        for t in of(Verdict::Missed) {
            let m = &t.mutant;
            let _ = writeln!(out, "  {} — no test failed", format!("{}:{}: {}", m.file, m.start.line, m.what).bold());
        }
    }
    if f.verdict.timeouts > 0 {
        let _ = writeln!(out, "\nTimed out (counted apart, not as caught):");
        for t in of(Verdict::Timeout) {
            let _ = writeln!(out, "  {}", t.mutant.title());
        }
    }
    if !f.uncovered.is_empty() {
        let _ =
            writeln!(out, "\nNot run: no test covers their lines (uncovered lines are the coverage gate's business):");
        for m in &f.uncovered {
            let _ = writeln!(out, "  {}", m.title());
        }
    }
    let _ = writeln!(out, "\nMutants of {}: {}; {}", f.scope, counts_line(&f.verdict), score(&f.verdict));
    let remembered = f.tried.iter().filter(|t| t.remembered.is_some()).count();
    if remembered > 0 {
        let _ = writeln!(out, "({remembered} of these verdicts remembered from earlier runs)");
    }
    if f.verdict.failures.is_empty() {
        let gate = if f.verdict.judged {
            "passed"
        } else {
            "passed (reported only: set `mutants-threshold` or `max-missed-mutants` to judge)"
        };
        let _ = writeln!(out, "Mutants gate: {gate}");
    } else {
        for failure in &f.verdict.failures {
            let _ = writeln!(out, "{} {failure}", "Mutants gate: FAILED:".red().bold());
        }
    }
    out
}

/// The step summary.
pub fn markdown(f: &Findings) -> String {
    let mut out = String::new();
    let verdict = if f.verdict.failures.is_empty() { "passed" } else { "**failed**" };
    let _ = writeln!(out, "### Mutants: {verdict}\n");
    let _ = writeln!(out, "Mutants of {}: {}; {}.\n", f.scope, counts_line(&f.verdict), score(&f.verdict));
    for failure in &f.verdict.failures {
        let _ = writeln!(out, "- {failure}");
    }
    let missed: Vec<_> = f.tried.iter().filter(|t| t.verdict == Verdict::Missed).collect();
    if !missed.is_empty() {
        let _ = writeln!(out, "\n| Missed mutant (no test failed) | Tests run |\n| --- | --- |");
        for t in missed {
            let _ = writeln!(out, "| `{}` | {} |", t.mutant.title().replace('|', "\\|"), t.tests);
        }
    }
    out
}

/// The report file.
pub fn json(f: &Findings) -> serde_json::Value {
    serde_json::json!({
        "scope": f.scope,
        "tests": f.how,
        "counts": f.verdict,
        "mutants": f.tried.iter().map(|t| serde_json::json!({
            "name": t.mutant.title(),
            "file": t.mutant.file,
            "line": t.mutant.start.line,
            "package": t.mutant.package,
            "genre": t.mutant.genre,
            "replacement": t.mutant.replacement,
            "verdict": t.verdict,
            "tests": t.tests,
            "seconds": (t.seconds * 10.0).round() / 10.0,
            "remembered": t.remembered.is_some(),
        })).collect::<Vec<_>>(),
        "uncovered": f.uncovered.iter().map(|m| m.title()).collect::<Vec<_>>(),
    })
}
