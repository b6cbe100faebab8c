//! `cargo xtask cache key <GATE> | clean`: the verdict cache (cache.rs) from outside. `key`
//! prints the key of a gate's inputs as they are now, with the gate's default flags: CI stores
//! the cache folder under it. `clean` removes the folder.

use std::path::Path;

use anyhow::{Context as _, Result};

use crate::cache::{self, Inputs};
use crate::gates::coverage::CoverageArgs;
use crate::gates::lint::LintArgs;
use crate::gates::security::SecurityArgs;
use crate::gates::smoke::SmokeArgs;
use crate::gates::test::TestArgs;
use crate::{Context, Outcome};

/// Flags of `cargo xtask cache` (its help text is on the subcommand in main.rs).
#[derive(Debug, clap::Args)]
pub struct CacheArgs {
    #[command(subcommand)]
    pub command: CacheCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum CacheCommand {
    /// Print the key of a gate's inputs as they are now, with the gate's default flags
    Key {
        #[arg(value_enum)]
        gate: CachedGate,
    },
    /// Remove every entry: the cache folder (target/xtask-cache, or $XTASK_CACHE_DIR)
    Clean,
}

/// The gates the cache answers for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum CachedGate {
    Lint,
    Test,
    Coverage,
    Security,
    Smoke,
}

impl CacheArgs {
    pub fn run(self, cx: &Context) -> Result<Outcome> {
        match self.command {
            CacheCommand::Key { gate } => {
                let inputs = inputs(cx, gate);
                if let Some(why) = &inputs.unusable {
                    eprintln!("note: the cache cannot answer for {} now: {why}", inputs.gate);
                }
                println!("{}", cache::key(cx, &inputs)?);
            }
            CacheCommand::Clean => clean(&cx.root)?,
        }
        Ok(Outcome::Passed)
    }
}

/// A gate's inputs with its default flags (which are always cached).
fn inputs(cx: &Context, gate: CachedGate) -> Inputs {
    let inputs = match gate {
        CachedGate::Lint => LintArgs::default().cache_inputs(cx),
        CachedGate::Test => TestArgs::default().cache_inputs(),
        CachedGate::Coverage => CoverageArgs::default().cache_inputs(cx),
        CachedGate::Security => SecurityArgs::default().cache_inputs(cx),
        CachedGate::Smoke => SmokeArgs::default().cache_inputs(cx),
    };
    inputs.expect("a gate's default flags are cached")
}

/// Removes the cache folder, saying what it held.
fn clean(root: &Path) -> Result<()> {
    let dir = cache::dir(root);
    let shown = crate::output::relative(root, &dir);
    if !dir.exists() {
        println!("nothing to remove: {shown} does not exist");
        return Ok(());
    }
    let (entries, bytes) = count(&dir);
    std::fs::remove_dir_all(&dir).with_context(|| format!("cannot remove {}", dir.display()))?;
    let size = if bytes < 1024 * 1024 {
        format!("{} KB", bytes.div_ceil(1024))
    } else {
        format!("{:.1} MB", bytes as f64 / (1024.0 * 1024.0))
    };
    let noun = if entries == 1 { "entry" } else { "entries" };
    println!("removed {shown} ({entries} {noun}, {size})");
    Ok(())
}

/// The entries under `dir` and the bytes of every file there.
fn count(dir: &Path) -> (usize, u64) {
    let Ok(listing) = std::fs::read_dir(dir) else { return (0, 0) };
    let mut total = (0, 0);
    for e in listing.filter_map(|e| e.ok()) {
        let (entries, bytes) = match e.file_type() {
            Ok(t) if t.is_dir() => count(&e.path()),
            Ok(_) => {
                let entry = e.path().extension().is_some_and(|x| x == "json");
                (usize::from(entry), e.metadata().map_or(0, |m| m.len()))
            }
            Err(_) => (0, 0),
        };
        total = (total.0 + entries, total.1 + bytes);
    }
    total
}
