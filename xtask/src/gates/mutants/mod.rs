//! `cargo xtask mutants`: would a test notice if a line were wrong? cargo-mutants lists the
//! mutants (a comparison flipped, a body replaced by a default); the xtask tests each one in
//! a copy of the checkout, running only the tests that cover its lines (the per-test map of
//! the last full coverage run), and judges the result.
//!
//! `inputs` (the mutants: of the change with `--diff`, else of the workspace) → `plan` (each
//! mutant's tests; the uncovered ones are not run) → `memory` (the verdicts of earlier runs
//! that still hold) → `exec` (the baseline, then each other mutant in the copy, its verdict
//! kept) → `report` (printed, the step summary, the annotations, the JSON report, and the
//! outcome the settings decide).

pub mod exec;
pub mod list;
pub mod memory;
pub mod plan;
pub mod render;
pub mod scratch;

use anyhow::{Context as _, Result};

use crate::output::{At, Level};
use crate::tools::{self, Tool, WhenMissing};
use crate::{Context, Outcome, db, interrupt, test_run};
use exec::{Runner, Tried, Verdict};
use list::Mutant;
use plan::TestSet;
use scratch::Scratch;

/// Flags of `cargo xtask mutants` (its help text is on the subcommand in main.rs).
#[derive(Debug, Default, clap::Args)]
pub struct MutantsArgs {
    /// Mutate only the lines changed since the merge base with BASE (default: the pull
    /// request's base under GitHub Actions, else `base` in the coverage settings)
    #[arg(long, value_name = "BASE", num_args = 0..=1, default_missing_value = "")]
    pub diff: Option<String>,
    /// Mutate only these packages (repeatable); default: every package the test gate tests
    #[arg(long, short = 'p', value_name = "NAME")]
    pub package: Vec<String>,
    /// Mutate only files matching this glob (repeatable), as cargo-mutants' `--file` reads it:
    /// with a `/`, from the workspace root (`'app/src/domain/**'`), else a file name anywhere
    #[arg(long, short = 'f', value_name = "GLOB")]
    pub file: Vec<String>,
    /// Mutate only mutants whose name matches this regex (repeatable), as cargo-mutants'
    /// `--re` reads it, e.g. `'replace > with >= in earns'`
    #[arg(long = "re", value_name = "REGEX")]
    pub regex: Vec<String>,
    /// Run only part M of N of the mutants, e.g. one job of a matrix; a mutant's part is fixed by
    /// its file and name, so a part keeps its mutants (and their remembered verdicts) as code moves
    #[arg(long, value_name = "M/N", value_parser = test_run::parse_partition)]
    pub shard: Option<test_run::Partition>,
    /// List the mutants and the tests each would run, and run none
    #[arg(long)]
    pub list: bool,
    /// Do not install cargo-mutants or cargo-nextest when missing; fail instead
    #[arg(long)]
    pub no_install: bool,
}

/// Where the gate's JSON report goes, under the target folder.
pub const REPORT: &str = "xtask-mutants/report.json";

/// What a run found, for the renderers.
pub struct Findings {
    /// What was mutated: "the change since abc123 (merge base with origin/main)" or "the workspace".
    pub scope: String,
    pub how: String,
    pub tried: Vec<Tried>,
    pub uncovered: Vec<Mutant>,
    pub verdict: Judged,
}

/// The counts and the gate's verdict on them.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Judged {
    pub caught: u64,
    pub missed: u64,
    pub timeouts: u64,
    pub unviable: u64,
    pub uncovered: u64,
    /// Why the gate fails, a line each; empty when it passes.
    pub failures: Vec<String>,
    /// Whether any gate is set (`mutants-threshold`, `max-missed-mutants`).
    pub judged: bool,
}

impl Judged {
    /// Caught, missed and timed out: the mutants that built and ran.
    pub fn viable(&self) -> u64 {
        self.caught + self.missed + self.timeouts
    }

    /// Caught ÷ viable, as counts the coverage grading reads.
    pub fn counts(&self) -> crate::coverage::cobertura::Counts {
        crate::coverage::cobertura::Counts { covered: self.caught, valid: self.viable() }
    }
}

impl MutantsArgs {
    pub fn run(self, cx: &Context) -> Result<Outcome> {
        tools::provide(cx, &[Tool::CargoMutants, Tool::CargoNextest], !self.no_install, WhenMissing::Fail)?;
        let target = crate::target_dir(&cx.root);
        let scratch = Scratch::at(&target);
        std::fs::create_dir_all(&scratch.home).with_context(|| format!("cannot create {}", scratch.home.display()))?;
        let (scope, mutants) = self.inputs(cx, &scratch)?;
        let planned = plan::plan(cx, mutants)?;
        eprintln!("mutants: {} of {scope}", count(planned.run.len() + planned.uncovered.len(), "mutant"));
        eprintln!("  {}", planned.how);
        for note in &planned.notes {
            eprintln!("  {note}");
        }
        let now = crate::snapshot::Snapshot::take(&cx.root)?;
        let mut memory = memory::Memory::open(cx);
        let recalled = if cx.no_cache {
            vec![None; planned.run.len()]
        } else {
            memory.recall(cx, planned.map.as_ref(), &now, &planned.run)?
        };
        let remembered = recalled.iter().flatten().count();
        if remembered > 0 {
            eprintln!(
                "  {remembered} of the {} to run keep the verdicts of earlier runs: nothing their tests reach \
                 changed since (--no-cache runs them)",
                count(planned.run.len(), "mutant")
            );
        }
        if self.list {
            render::print_list(&planned, &recalled);
            return Ok(Outcome::Passed);
        }
        let to_run: Vec<&(Mutant, TestSet)> =
            planned.run.iter().zip(&recalled).filter(|(_, r)| r.is_none()).map(|(run, _)| run).collect();
        let mut fresh = if to_run.is_empty() {
            Vec::new()
        } else {
            self.exec(cx, &scratch, planned.map.as_ref(), &to_run, &mut memory, &now)?
        }
        .into_iter();
        if let Err(e) = memory.tidy() {
            eprintln!("  the remembered verdicts could not be tidied ({e:#})");
        }
        let tried: Vec<Tried> = recalled.into_iter().filter_map(|r| r.or_else(|| fresh.next())).collect();
        let verdict = judge(cx, &tried, planned.uncovered.len());
        let findings = Findings { scope, how: planned.how, tried, uncovered: planned.uncovered, verdict };
        report(cx, &findings, &target.join(REPORT))
    }

    /// The mutants, and what they are of.
    fn inputs(&self, cx: &Context, scratch: &Scratch) -> Result<(String, Vec<Mutant>)> {
        let (scope, mutants) = self.listed(cx, scratch)?;
        if let Some(unknown) = self.package.iter().find(|p| !mutants.iter().any(|m| &m.package == *p)) {
            let packages = crate::impact::workspace::Workspace::load(&cx.cargo, &cx.root)?;
            if !packages.packages.iter().any(|p| &p.name == unknown) {
                anyhow::bail!("--package {unknown}: no such package in the workspace");
            }
        }
        let own = |m: &Mutant| cx.settings.test.xtask_tests || !cx.settings.xtask_packages.contains(&m.package);
        let chosen = |m: &Mutant| self.package.is_empty() || self.package.contains(&m.package);
        let mutants: Vec<Mutant> = mutants.into_iter().filter(|m| own(m) && chosen(m)).collect();
        let Some(shard) = self.shard else { return Ok((scope, mutants)) };
        let part: Vec<Mutant> = mutants.into_iter().filter(|m| shard_of(m, shard.count) == shard.index).collect();
        Ok((format!("{scope}, shard {shard}"), part))
    }

    /// Every mutant cargo-mutants lists, of the change or of the workspace.
    fn listed(&self, cx: &Context, scratch: &Scratch) -> Result<(String, Vec<Mutant>)> {
        let narrowed = self.narrowing();
        let Some(base) = &self.diff else {
            return Ok((format!("the workspace{narrowed}"), list::list(cx, None, &self.file, &self.regex)?));
        };
        let change = crate::change::read_with_context(cx, &cx.root, base, Some(3))?;
        let diff = scratch.home.join("change.diff");
        crate::output::write_atomically(&diff, |tmp| {
            std::fs::write(tmp, change.text.as_deref().unwrap_or_default()).map_err(Into::into)
        })?;
        let scope = format!(
            "the change since {} (the merge base with {}, {}){narrowed}",
            change.merge_base, change.base, change.base_from
        );
        let rust_changed = change.lines.files().any(|(path, _)| path.ends_with(".rs"));
        let mutants = if rust_changed { list::list(cx, Some(&diff), &self.file, &self.regex)? } else { Vec::new() };
        Ok((scope, mutants))
    }

    /// What `--file` and `--re` narrow the scope to, for its line: ", in files matching `x`".
    fn narrowing(&self) -> String {
        let quoted = |all: &[String]| match all {
            [_, _, _, _, ..] => format!("any of {} patterns", all.len()),
            _ => all.iter().map(|g| format!("`{g}`")).collect::<Vec<_>>().join(" or "),
        };
        let mut text = String::new();
        if !self.file.is_empty() {
            text.push_str(&format!(", in files matching {}", quoted(&self.file)));
        }
        if !self.regex.is_empty() {
            text.push_str(&format!(", named as {}", quoted(&self.regex)));
        }
        text
    }

    /// The copy synced, the services started, the baseline, then each mutant, its verdict kept
    /// as soon as it is known.
    fn exec(
        &self,
        cx: &Context,
        scratch: &Scratch,
        map: Option<&crate::impact::map::Map>,
        run: &[&(Mutant, TestSet)],
        memory: &mut memory::Memory,
        tree: &crate::snapshot::Snapshot,
    ) -> Result<Vec<Tried>> {
        let written = scratch.sync(&cx.root)?;
        eprintln!(
            "  the copy: {} ({written} {} copied since its last run)",
            crate::output::relative(&cx.root, &scratch.tree),
            if written == 1 { "file" } else { "files" }
        );
        let tool_env = tools::for_tests(cx, !self.no_install)?;
        let wanted = db::Wanted { database: cx.settings.test.database, services: true };
        let mut union = TestSet::default();
        for (_, set) in run {
            union.extend(set);
        }
        db::with_test_services(cx, wanted, |services| {
            let mut env: Vec<(String, String)> =
                tool_env.iter().map(|(k, v)| (k.clone(), v.to_string_lossy().into_owned())).collect();
            env.extend(services.vars().map(|(k, v)| (k.to_owned(), v.to_owned())));
            let runner = Runner { cx, scratch, map, env, exclusions: test_run::exclusions(cx) };
            eprintln!("  baseline: building and running {} unmutated", union.brief());
            let baseline = runner.baseline(&union)?;
            let total = run.len();
            let mut tried = Vec::with_capacity(total);
            let mut unkept = false;
            for (i, (mutant, set)) in run.iter().enumerate() {
                let one = runner.try_one(&baseline, mutant, set)?;
                eprintln!(
                    "[{}/{total}] {} … {} ({:.1} s, {})",
                    i + 1,
                    mutant.title(),
                    one.verdict.word(),
                    one.seconds,
                    one.tests
                );
                if let Err(e) = memory.keep(cx, map, tree, &one, set)
                    && !std::mem::replace(&mut unkept, true)
                {
                    eprintln!("  this run's verdicts cannot be remembered ({e:#}); the run goes on");
                }
                tried.push(one);
                interrupt::check()?;
            }
            Ok(tried)
        })
    }
}

/// Counts the verdicts and applies the settings' gates.
fn judge(cx: &Context, tried: &[Tried], uncovered: usize) -> Judged {
    let of = |v: Verdict| tried.iter().filter(|t| t.verdict == v).count() as u64;
    let mut j = Judged {
        caught: of(Verdict::Caught),
        missed: of(Verdict::Missed),
        timeouts: of(Verdict::Timeout),
        unviable: of(Verdict::Unviable),
        uncovered: uncovered as u64,
        failures: Vec::new(),
        judged: false,
    };
    let s = &cx.settings.mutants;
    if let Some(threshold) = s.threshold {
        j.judged = true;
        if j.viable() > 0 && !threshold.reached_by(j.counts()) {
            j.failures.push(format!(
                "{} of the viable mutants caught, below `mutants-threshold` = {threshold}%",
                crate::coverage::grade::percent_text(j.counts())
            ));
        }
    }
    if let Some(max) = s.max_missed {
        j.judged = true;
        if j.missed > max {
            j.failures.push(format!("{} missed, more than `max-missed-mutants` = {max}", j.missed));
        }
    }
    j
}

/// Prints the findings, writes the JSON report, the step summary and the annotations; the
/// outcome the verdict decides.
fn report(cx: &Context, findings: &Findings, file: &std::path::Path) -> Result<Outcome> {
    print!("{}", render::text(findings));
    let json = serde_json::to_vec_pretty(&render::json(findings)).context("cannot serialise the mutants' report")?;
    crate::output::write_atomically(file, |tmp| std::fs::write(tmp, &json).map_err(Into::into))
        .with_context(|| format!("cannot write {}", file.display()))?;
    println!("Report: {}", crate::output::relative(&cx.root, file));
    cx.out.step_summary(&render::markdown(findings))?;
    let level = if findings.verdict.failures.is_empty() { Level::Warning } else { Level::Error };
    for t in findings.tried.iter().filter(|t| t.verdict == Verdict::Missed) {
        let at = At { file: &t.mutant.file, line: Some(t.mutant.start.line as usize), end_line: None, col: None };
        cx.out.annotate(level, Some(at), "Missed mutant", &format!("{}: no test failed", t.mutant.what));
    }
    if findings.verdict.failures.is_empty() {
        return Ok(Outcome::Passed);
    }
    for failure in &findings.verdict.failures {
        cx.out.annotate(Level::Error, None, "Mutants gate", failure);
    }
    Ok(Outcome::Failed)
}

/// The part (1 to `count`) a mutant is in: a hash (FNV-1a) of its file and its name, which has
/// no line number. Not its place in the list: a mutant added or removed anywhere would move
/// every mutant after it to another part, and away from the verdicts that part remembers.
fn shard_of(m: &Mutant, count: u32) -> u32 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in m.file.bytes().chain([0]).chain(m.what.bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    (hash % u64::from(count.max(1))) as u32 + 1
}

fn count(n: usize, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}

#[cfg(test)]
mod tests {
    use super::*;
    use list::Position;

    fn mutant(file: &str, line: u32, what: &str) -> Mutant {
        Mutant {
            package: "a".into(),
            file: file.into(),
            start: Position { line, column: 1 },
            end: Position { line, column: 2 },
            replacement: "x".into(),
            what: what.into(),
            genre: "BinaryOperator".into(),
        }
    }

    #[test]
    fn a_mutant_s_shard_is_fixed_by_its_file_and_name_and_the_shards_are_even() {
        let m = mutant("a/src/lib.rs", 8, "replace > with >= in earns");
        // Lines added above it move it, not its shard.
        assert_eq!(shard_of(&m, 12), shard_of(&mutant("a/src/lib.rs", 30, "replace > with >= in earns"), 12));
        assert!((1..=12).contains(&shard_of(&m, 12)));
        assert_eq!(shard_of(&m, 1), 1);
        let all: Vec<Mutant> =
            (0..1200).map(|i| mutant(&format!("p{}/src/f{}.rs", i % 7, i % 31), 1, &format!("replace f{i}"))).collect();
        let mut sizes = [0usize; 12];
        for m in &all {
            sizes[shard_of(m, 12) as usize - 1] += 1;
        }
        assert!(sizes.iter().all(|&n| (70..=130).contains(&n)), "about 100 each: {sizes:?}");
    }
}
