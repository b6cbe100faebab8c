//! How results are shown: colour decisions, GitHub Actions annotations and the step summary.
//! What is checked never depends on this; only how it looks.

use std::ffi::OsString;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};

/// `--color` values.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorChoice {
    /// Colour when stdout is a terminal, unless NO_COLOR is set (CLICOLOR_FORCE forces it).
    #[default]
    Auto,
    Always,
    Never,
}

/// The environment variables that decide colour and CI behaviour, read once.
#[derive(Clone, Debug, Default)]
pub struct Env {
    pub no_color: Option<OsString>,
    pub clicolor_force: Option<OsString>,
    pub github_actions: Option<OsString>,
    pub github_step_summary: Option<OsString>,
    pub ci: Option<OsString>,
}

impl Env {
    pub fn from_process() -> Env {
        Env {
            no_color: std::env::var_os("NO_COLOR"),
            clicolor_force: std::env::var_os("CLICOLOR_FORCE"),
            github_actions: std::env::var_os("GITHUB_ACTIONS"),
            github_step_summary: std::env::var_os("GITHUB_STEP_SUMMARY"),
            ci: std::env::var_os("CI"),
        }
    }
}

fn set(v: &Option<OsString>) -> bool {
    v.as_ref().is_some_and(|v| !v.is_empty())
}

/// `--color` beats `NO_COLOR`, which beats `CLICOLOR_FORCE`, which beats terminal detection.
pub fn use_color(choice: ColorChoice, env: &Env, is_terminal: bool) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto if set(&env.no_color) => false,
        ColorChoice::Auto if set(&env.clicolor_force) && env.clicolor_force.as_deref() != Some("0".as_ref()) => true,
        ColorChoice::Auto => is_terminal,
    }
}

#[derive(Clone, Debug)]
pub struct Output {
    pub color: bool,
    /// Running under GitHub Actions (`GITHUB_ACTIONS=true`).
    pub github: bool,
    pub step_summary: Option<PathBuf>,
    /// Running in CI (`CI` set to anything but empty, `0` or `false`): a missing tool is an
    /// error there, not a warning.
    pub ci: bool,
    /// Workflow commands on stderr (see [`Output::keep_stdout_for_the_report`]); shared by
    /// the clones, so `main`'s copy follows the gate's choice.
    annotations_to_stderr: std::rc::Rc<std::cell::Cell<bool>>,
}

/// How an annotation shows in GitHub: a failure or a warning.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Error,
    Warning,
}

/// Where an annotation points.
#[derive(Clone, Copy, Debug)]
pub struct At<'a> {
    pub file: &'a str,
    pub line: Option<usize>,
    /// The last line of a range (`endLine`).
    pub end_line: Option<usize>,
    pub col: Option<usize>,
}

/// The workflow command: `::error file=F,line=L,col=C,title=T::message`, escaped.
pub fn annotation(level: Level, at: Option<At<'_>>, title: &str, message: &str) -> String {
    let kind = match level {
        Level::Error => "error",
        Level::Warning => "warning",
    };
    let mut properties = String::new();
    if let Some(at) = at {
        properties.push_str(&format!("file={},", escape_property(at.file)));
        if let Some(line) = at.line {
            properties.push_str(&format!("line={line},"));
        }
        if let Some(end) = at.end_line {
            properties.push_str(&format!("endLine={end},"));
        }
        if let Some(col) = at.col {
            properties.push_str(&format!("col={col},"));
        }
    }
    format!("::{kind} {properties}title={}::{}", escape_property(title), escape_data(message))
}

impl Output {
    pub fn new(choice: ColorChoice, env: &Env) -> Output {
        let color = use_color(choice, env, std::io::stdout().is_terminal());
        colored::control::set_override(color);
        let github = env.github_actions.as_deref() == Some("true".as_ref());
        let ci = env.ci.as_deref().is_some_and(|v| !v.is_empty() && v != "0" && !v.eq_ignore_ascii_case("false"));
        let step_summary = env.github_step_summary.clone().filter(|_| github).map(PathBuf::from);
        Output { color, github, step_summary, ci, annotations_to_stderr: Default::default() }
    }

    /// The value to hand to cargo so its colours follow ours.
    pub fn cargo_term_color(&self) -> &'static str {
        if self.color { "always" } else { "never" }
    }

    /// From now on, workflow commands go to stderr: stdout is one document (`--format json`).
    /// The runner reads workflow commands from both streams.
    pub fn keep_stdout_for_the_report(&self) {
        self.annotations_to_stderr.set(true);
    }

    /// Where a program the gate runs should print: stderr when stdout is the report's
    /// (`--format json`), so the document stays parseable; else the terminal's stdout.
    pub fn stdout_for_programs(&self) -> std::process::Stdio {
        if self.annotations_to_stderr.get() { std::io::stderr().into() } else { std::process::Stdio::inherit() }
    }

    /// One annotation (`::error` or `::warning` workflow command) when under Actions, on a
    /// file's line when `at` says so; nothing otherwise. The one place workflow commands are
    /// written.
    pub fn annotate(&self, level: Level, at: Option<At<'_>>, title: &str, message: &str) {
        if !self.github {
            return;
        }
        let line = annotation(level, at, title, message);
        if self.annotations_to_stderr.get() {
            eprintln!("{line}");
        } else {
            println!("{line}");
        }
    }

    /// Appends markdown to `$GITHUB_STEP_SUMMARY` when under Actions.
    pub fn step_summary(&self, markdown: &str) -> anyhow::Result<()> {
        let Some(path) = &self.step_summary else { return Ok(()) };
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("cannot append to GITHUB_STEP_SUMMARY ({})", path.display()))?;
        writeln!(f, "{markdown}").with_context(|| format!("cannot write GITHUB_STEP_SUMMARY ({})", path.display()))
    }
}

/// Lets `write` produce a temporary file next to `dest`, then renames it into place, so a
/// reader never sees half a report and a failed write leaves the previous one intact.
pub fn write_atomically(
    dest: &std::path::Path,
    write: impl FnOnce(&std::path::Path) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    // A bare file name has the empty path as its parent: the current folder.
    let dir = dest.parent().context("the path to write has no folder")?;
    let dir = if dir.as_os_str().is_empty() { std::path::Path::new(".") } else { dir };
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let file_name = dest.file_name().context("the path to write has no file name")?.to_string_lossy();
    let tmp = dir.join(format!(".{file_name}.tmp-{}", std::process::id()));
    let result = write(&tmp).and_then(|()| {
        std::fs::rename(&tmp, dest).with_context(|| format!("cannot move the file into place at {}", dest.display()))
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Workflow-command data escaping: `%`, CR and LF.
pub fn escape_data(s: &str) -> String {
    s.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

/// Workflow-command property escaping: data escaping plus `:` and `,`.
pub fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// The event that started this GitHub Actions run (`GITHUB_EVENT_PATH`, the webhook's payload
/// as JSON): `None` outside Actions; an error naming the file when it cannot be read or is not
/// JSON.
pub fn github_event() -> Result<Option<serde_json::Value>> {
    let Some(path) = std::env::var_os("GITHUB_EVENT_PATH").filter(|p| !p.is_empty()) else { return Ok(None) };
    let path = PathBuf::from(path);
    let text = std::fs::read(&path).with_context(|| format!("GITHUB_EVENT_PATH: cannot read {}", path.display()))?;
    let event =
        serde_json::from_slice(&text).with_context(|| format!("GITHUB_EVENT_PATH {}: not JSON", path.display()))?;
    Ok(Some(event))
}

/// How often a long quiet step says it is still going ([`wait_saying`]).
pub const PROGRESS_EVERY: std::time::Duration = std::time::Duration::from_secs(15);

/// A path relative to `root` when inside it, for messages and commands a person can copy.
pub fn relative(root: &std::path::Path, path: &std::path::Path) -> String {
    path.strip_prefix(root).unwrap_or(path).display().to_string()
}

/// Waits for a long quiet step, saying now and then how it is going, since minutes of silence
/// look like a hang: `status` answers `None` once the step is done, else what to say; every
/// `every` seconds that is printed with the time so far, `… (30 s)`. The one way the xtask's
/// own long steps show progress.
pub fn wait_saying(every: std::time::Duration, mut status: impl FnMut() -> Option<String>) {
    let started = std::time::Instant::now();
    let mut said = 0;
    while let Some(what) = status() {
        let elapsed = started.elapsed();
        let periods = elapsed.as_millis() / every.as_millis().max(1);
        if periods > said {
            said = periods;
            eprintln!("{what} ({} s)", elapsed.as_secs());
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

/// Puts the folder `new` at `dest`, replacing what is there. Another run in the same workspace
/// may swap its own report in at the same moment: the old folder is renamed aside (atomic)
/// before the new one takes its name, and a race lost to the other run is tried again.
pub fn swap_dir(new: &Path, dest: &Path) -> Result<()> {
    swap_dir_between(new, dest, |_| {})
}

/// [`swap_dir`], calling `between` where another run can get in first: after the old folder is
/// set aside, before the new one moves in.
fn swap_dir_between(new: &Path, dest: &Path, mut between: impl FnMut(usize)) -> Result<()> {
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let aside = dest.with_file_name(format!(
        ".{}.old-{}-{call}",
        dest.file_name().map_or_else(|| "dir".into(), |n| n.to_string_lossy()),
        std::process::id()
    ));
    for attempt in 0..5 {
        match std::fs::rename(dest, &aside) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("cannot replace {}", dest.display())),
        }
        between(attempt);
        let moved = std::fs::rename(new, dest);
        let _ = std::fs::remove_dir_all(&aside);
        match moved {
            Ok(()) => return Ok(()),
            Err(_) if dest.exists() => continue,
            Err(e) => return Err(e).with_context(|| format!("cannot move the HTML report to {}", dest.display())),
        }
    }
    bail!("cannot replace {}: another run keeps writing it", dest.display())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(no_color: Option<&str>, force: Option<&str>) -> Env {
        Env { no_color: no_color.map(Into::into), clicolor_force: force.map(Into::into), ..Env::default() }
    }

    #[test]
    fn colour_precedence() {
        assert!(use_color(ColorChoice::Always, &env(Some("1"), None), false));
        assert!(!use_color(ColorChoice::Never, &env(None, Some("1")), true));
        assert!(!use_color(ColorChoice::Auto, &env(Some("1"), Some("1")), true));
        assert!(use_color(ColorChoice::Auto, &env(None, Some("1")), false));
        assert!(!use_color(ColorChoice::Auto, &env(None, Some("0")), false));
        assert!(use_color(ColorChoice::Auto, &env(Some(""), None), true));
        assert!(!use_color(ColorChoice::Auto, &env(None, None), false));
    }

    #[test]
    fn ci_is_any_value_but_empty_zero_or_false() {
        for (value, ci) in [
            (None, false),
            (Some(""), false),
            (Some("0"), false),
            (Some("False"), false),
            (Some("true"), true),
            (Some("1"), true),
        ] {
            let env = Env { ci: value.map(Into::into), ..Env::default() };
            assert_eq!(Output::new(ColorChoice::Never, &env).ci, ci, "{value:?}");
        }
    }

    #[test]
    fn annotations_with_and_without_a_place() {
        assert_eq!(annotation(Level::Error, None, "Coverage gate", "65%"), "::error title=Coverage gate::65%25");
        let at = At { file: "src/a,b.rs", line: Some(3), end_line: None, col: Some(7) };
        assert_eq!(
            annotation(Level::Warning, Some(at), "rule: x", "msg"),
            "::warning file=src/a%2Cb.rs,line=3,col=7,title=rule%3A x::msg"
        );
        let at = At { file: "f", line: None, end_line: None, col: None };
        assert_eq!(annotation(Level::Error, Some(at), "t", "m"), "::error file=f,title=t::m");
    }

    #[test]
    fn annotation_text_is_escaped() {
        assert_eq!(escape_data("65% < 70%\nnext"), "65%25 < 70%25%0Anext");
        assert_eq!(escape_property("a: b, c"), "a%3A b%2C c");
    }

    /// Deterministic (no threads racing), so that every run covers the same lines.
    #[test]
    fn a_report_folder_replaces_the_last_one_even_when_another_run_swaps_its_own_in_first() {
        let root = std::env::temp_dir().join(format!("xtask-swap-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let (dest, new) = (root.join("html"), root.join("new"));
        for (dir, page) in [(&dest, "last"), (&new, "ours")] {
            std::fs::create_dir_all(dir).unwrap();
            std::fs::write(dir.join("index.html"), page).unwrap();
        }
        let mut attempts = Vec::new();
        super::swap_dir_between(&new, &dest, |attempt| {
            attempts.push(attempt);
            if attempt == 0 {
                // The other run's report takes the name first.
                std::fs::create_dir_all(&dest).unwrap();
                std::fs::write(dest.join("index.html"), "theirs").unwrap();
            }
        })
        .unwrap();
        assert_eq!(attempts, [0, 1], "the lost race is tried again");
        assert_eq!(std::fs::read_to_string(dest.join("index.html")).unwrap(), "ours");
        let left: Vec<_> = std::fs::read_dir(&root).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(left, ["html"], "nothing set aside is left");
        std::fs::remove_dir_all(&root).unwrap();
    }
}
