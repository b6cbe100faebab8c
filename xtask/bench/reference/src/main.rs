//! Uses each dependency once, so that the build compiles and links what a small xtask would.

use clap::Parser;
use colored::Colorize;
use serde::Deserialize;

#[derive(Parser)]
struct Args {
    #[arg(long, default_value = ".")]
    root: std::path::PathBuf,
}

#[derive(Deserialize)]
struct Settings {
    #[serde(default)]
    threshold: f64,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let sh = xshell::Shell::new()?;
    sh.change_dir(&args.root);
    let files = walkdir::WalkDir::new(&args.root).into_iter().filter_map(Result::ok).count();
    let line = regex::Regex::new(r#"<line number="(\d+)" hits="(\d+)""#)?;
    let mut reader = quick_xml::Reader::from_str(r#"<line number="1" hits="0"/>"#);
    let event = reader.read_event()?;
    let metadata = cargo_metadata::MetadataCommand::new().no_deps().exec().ok();
    let settings: Option<Settings> = metadata.as_ref().and_then(|m| serde_json::from_value(m.workspace_metadata.clone()).ok());
    let cargo = which::which("cargo").ok();
    println!(
        "{} files, {:?}, {}, threshold {:?}, cargo at {cargo:?}",
        files,
        event,
        line.is_match(r#"<line number="1" hits="0""#).to_string().green(),
        settings.map(|s| s.threshold),
    );
    Ok(())
}
