//! Impact-aware test runs: which tests a change can affect, from a per-test coverage map
//! recorded by the last full coverage run. See docs/quality-gates.md ("Impact-aware runs").

pub mod compose;
pub mod map;
pub mod record;
pub mod select;
pub mod skeleton;
pub mod workspace;

use std::path::Path;

use anyhow::Result;

use crate::Context;
use crate::snapshot::Snapshot;
use map::{Map, Unusable};
use select::Plan;

/// The plan for a run now: the map, and what to run. Without a usable map, or when the change
/// needs it, the plan is to run everything, with the reason.
pub struct Decision {
    pub map: Option<Map>,
    pub plan: Plan,
}

/// Decides what an impact-aware run runs, for the change since the map's run plus `extra`
/// paths (changed since a base).
pub fn decide(cx: &Context, extra: &[String]) -> Result<Decision> {
    let now = Snapshot::take(&cx.root)?;
    let everything = |why: String, map: Option<Map>| Decision { map, plan: Plan::Everything(why) };
    let map = match Map::load(&map::path(&crate::target_dir(&cx.root))) {
        Ok(m) => m,
        Err(Unusable::Missing) => return Ok(everything(Unusable::Missing.to_string(), None)),
        Err(e) => return Ok(everything(e.to_string(), None)),
    };
    let toolchain = record::Toolchain::find()?;
    let workspace = workspace::Workspace::load(&cx.cargo, &cx.root)?;
    let validity = record::validity(&toolchain, &now, &workspace);
    if let Some(why) = map.validity.mismatch(&validity) {
        return Ok(everything(format!("{why} since the map's run"), Some(map)));
    }
    if map.unattributed > 0 {
        let why = format!("the map's run covered {} lines no recorded test accounts for", map.unattributed);
        return Ok(everything(why, Some(map)));
    }
    let read = |path: &str| std::fs::read_to_string(cx.root.join(path)).ok();
    let plan = select::plan(&map, &now, extra, &workspace, &cx.settings.test.inputs, &read);
    Ok(Decision { map: Some(map), plan })
}

/// "3 min ago", for a time in seconds since the epoch.
pub fn ago(then: u64) -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    crate::cache::ago(now.saturating_sub(then))
}

/// Prints the decision: one line, then the reasons, indented.
pub fn explain(decision: &Decision) {
    match (&decision.plan, &decision.map) {
        (Plan::Everything(why), _) => eprintln!("impact: running every test: {why}"),
        (Plan::Selected(s), Some(map)) => {
            let changed = s.changes.paths().len();
            let filters = match s.filters.len() {
                0 => String::new(),
                1 => ", and the tests of 1 filterset".to_owned(),
                n => format!(", and the tests of {n} filtersets"),
            };
            eprintln!(
                "impact: {} of the map's {} tests{filters} (map of {}, {}; {changed} {} changed since)",
                s.tests.len(),
                map.tests.len(),
                map.commit,
                ago(map.recorded),
                if changed == 1 { "file" } else { "files" },
            );
            for reason in &s.reasons {
                eprintln!("  {reason}");
            }
        }
        (Plan::Selected(_), None) => unreachable!("a selection comes from a map"),
    }
}

/// The map, for `--why`: exit 2 when there is none.
pub fn load_for_why(root: &Path) -> Result<Map> {
    Map::load(&map::path(&crate::target_dir(root))).map_err(|e| anyhow::anyhow!("--why reads the per-test map: {e}"))
}

/// The packages with a Rust file changed (other than in layout) among `changes`: their
/// doctests may have changed.
pub fn packages_with_rust_changes(cx: &Context, changes: &crate::snapshot::Changes) -> Result<Vec<String>> {
    let workspace = workspace::Workspace::load(&cx.cargo, &cx.root)?;
    let mut names: Vec<String> = changes
        .paths()
        .into_iter()
        .filter(|p| p.ends_with(".rs"))
        .filter_map(|p| workspace.owner(p).map(|pkg| pkg.name.clone()))
        .collect();
    names.sort();
    names.dedup();
    Ok(names)
}
