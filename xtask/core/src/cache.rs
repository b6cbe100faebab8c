//! The verdict cache: when nothing a gate reads has changed since it last ran, the gate
//! answers from that run, in well under a second, and says so.
//!
//! A gate's inputs are a [`Manifest`] of named parts: the checkout's files (their content ids,
//! snapshot.rs), the settings, the tool pins, the toolchain (`rustc -vV`), the invocation (the
//! gate, its flags, the environment that changes what it does) and the gate's own extras (the
//! advisory database and the date, whether a Docker engine answers, …). The key is the digest
//! of the manifest: a hash of inputs, never a timestamp. An entry, `<key>.json` under
//! `target/xtask-cache/<gate>/`, keeps the verdict with the output the run printed (captured,
//! capture.rs), what it added to the step summary, and the files it wrote, which must still be
//! there, unchanged, for the entry to answer.
//!
//! Only verdicts are kept (passed, failed): a gate that could not run (exit 2) runs again next
//! time. A miss says why in one line, naming the part that changed since the gate's newest
//! entry; a cached answer replays the run's output (a pass: its report on stdout only) and says
//! how old it is. An entry that cannot be read is a miss, never an error.

use std::collections::BTreeMap;
use std::io::{Read as _, Seek as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, Result, bail};
use colored::Colorize;
use serde::{Deserialize, Serialize};

use crate::capture::{self, Capture, Stream};
use crate::repo::git;
use crate::snapshot::{self, Snapshot};
use crate::{Context, Outcome, interrupt, tools};

/// The entry format: part of every key, so a new format never answers from an old entry.
pub const FORMAT: u32 = 1;
/// How many entries a gate keeps; the oldest go first.
pub const KEEP: usize = 8;
/// How many changed files a miss names.
const NAMED_FILES: usize = 3;

/// `target/xtask-cache/` under the workspace root, or `$XTASK_CACHE_DIR`.
pub fn dir(root: &Path) -> PathBuf {
    match std::env::var_os("XTASK_CACHE_DIR").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => root.join("target").join("xtask-cache"),
    }
}

/// `XTASK_NO_CACHE` set to anything but empty, `0` or `false`: as `--no-cache`.
pub fn disabled_by_env() -> bool {
    std::env::var("XTASK_NO_CACHE").is_ok_and(|v| !v.is_empty() && v != "0" && !v.eq_ignore_ascii_case("false"))
}

/// What one gate's verdict depends on besides the files, settings, pins and toolchain, which
/// every gate reads: built by the gate ([`Inputs::new`] and the builder methods).
#[derive(Clone, Debug)]
pub struct Inputs {
    pub gate: &'static str,
    /// The flags, as a stable text (their `Debug`).
    pub args: String,
    /// Environment variables that change what the gate does or prints, as keyed.
    pub env: Vec<(&'static str, String)>,
    /// The gate's own inputs outside the checkout, named for the miss line.
    pub extras: Vec<(&'static str, String)>,
    /// Files the gate writes: an entry answers only while they are there, unchanged.
    pub outputs: Vec<PathBuf>,
    /// Why the cache cannot answer now (the key is still computed, for `cache key`).
    pub unusable: Option<String>,
}

impl Inputs {
    pub fn new(gate: &'static str, args: &impl std::fmt::Debug) -> Inputs {
        Inputs {
            gate,
            args: format!("{args:?}"),
            env: Vec::new(),
            extras: Vec::new(),
            outputs: Vec::new(),
            unusable: None,
        }
    }

    /// A variable's value (unset: empty).
    pub fn env(mut self, name: &'static str) -> Inputs {
        let value = std::env::var_os(name).map(|v| v.to_string_lossy().into_owned()).unwrap_or_default();
        self.env.push((name, value));
        self
    }

    /// Only whether a variable is set (its value may hold a password).
    pub fn env_presence(mut self, name: &'static str) -> Inputs {
        let set = std::env::var_os(name).is_some_and(|v| !v.is_empty());
        self.env.push((name, if set { "set" } else { "unset" }.to_owned()));
        self
    }

    pub fn extra(mut self, name: &'static str, value: impl Into<String>) -> Inputs {
        self.extras.push((name, value.into()));
        self
    }

    /// A file the gate writes (relative: to the current folder, as the flags take it).
    pub fn output(mut self, path: impl AsRef<Path>) -> Inputs {
        let path = path.as_ref();
        self.outputs.push(std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf()));
        self
    }

    pub fn unusable(mut self, why: impl Into<String>) -> Inputs {
        self.unusable = Some(why.into());
        self
    }
}

/// A gate's inputs, by part. Its digest is the key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub gate: String,
    /// Every file git lists (tracked, and untracked but not ignored) → its content id; the
    /// cache folder and the gate's own outputs left out.
    pub files: BTreeMap<String, String>,
    /// `[workspace.metadata.xtask]` as JSON.
    pub settings: String,
    /// The pinned versions (`cargo-llvm-cov 0.9.1`) and the content ids of the kits' pin files.
    pub pins: String,
    /// `rustc -vV`.
    pub toolchain: String,
    /// `name: value` lines: the gate, its flags, CI, GitHub Actions, the gate's variables.
    pub invocation: String,
    pub extras: BTreeMap<String, String>,
}

impl Manifest {
    /// The inputs of `inputs.gate` as they are now.
    pub fn take(cx: &Context, inputs: &Inputs) -> Result<Manifest> {
        Ok(Manifest {
            gate: inputs.gate.to_owned(),
            files: files(cx, inputs)?,
            settings: cx.settings.json.clone(),
            pins: pins(&cx.root)?,
            toolchain: toolchain(&cx.root),
            invocation: invocation(cx, inputs),
            extras: inputs.extras.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect(),
        })
    }

    /// The digest of the manifest (and the entry format).
    pub fn key(&self, root: &Path) -> Result<String> {
        let text = serde_json::to_vec(&(FORMAT, self)).context("cannot serialise the cache manifest")?;
        snapshot::digest(root, &text)
    }

    /// Why `self` (the newest entry's) is not `now`, in a few words: the first part that differs.
    pub fn why_not(&self, now: &Manifest) -> String {
        if self.toolchain != now.toolchain {
            return toolchain_change(&self.toolchain, &now.toolchain);
        }
        if self.pins != now.pins {
            return "tool pins changed".to_owned();
        }
        if self.settings != now.settings {
            return "settings changed".to_owned();
        }
        if self.invocation != now.invocation {
            return invocation_change(&self.invocation, &now.invocation);
        }
        let names: Vec<&String> = self.extras.keys().chain(now.extras.keys()).collect();
        for name in names {
            let (old, new) = (self.extras.get(name), now.extras.get(name));
            if old != new {
                return match (old, new) {
                    (Some(a), Some(b)) if short(a) && short(b) => format!("{name} changed: {a} → {b}"),
                    _ => format!("{name} changed"),
                };
            }
        }
        let old = Snapshot { files: self.files.clone() };
        let changes = old.changes(&Snapshot { files: now.files.clone() });
        if !changes.is_empty() {
            return format!("changed since the last run: {}", changes.brief(NAMED_FILES));
        }
        "the cache format changed".to_owned()
    }
}

fn short(value: &str) -> bool {
    value.len() <= 40 && !value.contains('\n')
}

/// `toolchain changed: rustc 1.95.0 → 1.96.0`
fn toolchain_change(old: &str, new: &str) -> String {
    let first = |t: &str| t.lines().next().unwrap_or("").to_owned();
    let word = |t: &str, n: usize| first(t).split_whitespace().nth(n).unwrap_or("?").to_owned();
    if word(old, 1) != word(new, 1) {
        format!("toolchain changed: {} {} → {}", word(old, 0), word(old, 1), word(new, 1))
    } else if first(old) != first(new) {
        format!("toolchain changed: {} → {}", first(old), first(new))
    } else {
        "toolchain changed".to_owned()
    }
}

/// `flags changed`, `environment changed: CI`, `flags and environment changed: CI`.
fn invocation_change(old: &str, new: &str) -> String {
    let lines = |t: &str| -> BTreeMap<String, String> {
        t.lines().filter_map(|l| l.split_once(": ")).map(|(k, v)| (k.to_owned(), v.to_owned())).collect()
    };
    let (old, new) = (lines(old), lines(new));
    let mut names: Vec<&String> = old.keys().chain(new.keys()).filter(|k| old.get(*k) != new.get(*k)).collect();
    names.sort_unstable();
    names.dedup();
    let flags = names.iter().any(|n| *n == "flags" || *n == "gate");
    let env: Vec<&str> = names.iter().filter(|n| **n != "flags" && **n != "gate").map(|n| n.as_str()).collect();
    match (flags, env.is_empty()) {
        (true, true) => "flags changed".to_owned(),
        (false, false) => format!("environment changed: {}", env.join(", ")),
        (true, false) => format!("flags and environment changed: {}", env.join(", ")),
        (false, true) => "invocation changed".to_owned(),
    }
}

/// The snapshot of the workspace, without the cache folder and the gate's outputs.
fn files(cx: &Context, inputs: &Inputs) -> Result<BTreeMap<String, String>> {
    let mut files = Snapshot::take(&cx.root)?.files;
    let relative = |p: &Path| -> Option<String> {
        let p = if p.is_absolute() { p.strip_prefix(&cx.root).ok()? } else { p };
        Some(p.to_string_lossy().into_owned())
    };
    if let Some(cache) = relative(&dir(&cx.root)) {
        let prefix = format!("{}/", cache.trim_end_matches('/'));
        files.retain(|path, _| !path.starts_with(&prefix));
    }
    for output in inputs.outputs.iter().filter_map(|p| relative(p)) {
        files.remove(&output);
    }
    Ok(files)
}

/// The pinned versions and the pin files' content ids, one line each.
fn pins(root: &Path) -> Result<String> {
    static PINS: OnceLock<String> = OnceLock::new();
    if let Some(pins) = PINS.get() {
        return Ok(pins.clone());
    }
    let mut lines = tools::pinned_versions();
    let files: Vec<PathBuf> = tools::Kit::ALL.iter().map(|k| k.pins(root)).collect();
    for (file, id) in files.iter().zip(snapshot::file_ids(root, &files)?) {
        let shown = file.strip_prefix(root).unwrap_or(file).display();
        lines.push(format!("{shown} {}", id.as_deref().unwrap_or("missing")));
    }
    Ok(PINS.get_or_init(|| lines.join("\n")).clone())
}

/// `rustc -vV`, of the `rustc` on PATH (as cargo would run it), once a process.
fn toolchain(root: &Path) -> String {
    static TOOLCHAIN: OnceLock<String> = OnceLock::new();
    TOOLCHAIN
        .get_or_init(|| match crate::process::Cmd::new("rustc").arg("-vV").current_dir(root).output() {
            Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout).trim().to_owned(),
            Ok(out) => format!("rustc -vV failed: {}", String::from_utf8_lossy(&out.stderr).trim()),
            Err(e) => format!("rustc -vV cannot run: {e}"),
        })
        .clone()
}

fn invocation(cx: &Context, inputs: &Inputs) -> String {
    let mut lines = vec![
        format!("gate: {}", inputs.gate),
        format!("flags: {}", inputs.args),
        format!("CI: {}", cx.out.ci),
        format!("GITHUB_ACTIONS: {}", cx.out.github),
    ];
    lines.extend(inputs.env.iter().map(|(k, v)| format!("{k}: {v}")));
    lines.join("\n")
}

/// What a gate's run gives the cache: its outcome, what its callers keep ([`Answer::detail`]),
/// and why the verdict must not be kept, when it must not (a check was skipped: the next run
/// tries it again).
#[derive(Clone, Debug)]
pub struct Ran {
    pub outcome: Outcome,
    pub detail: serde_json::Value,
    pub not_kept: Option<String>,
}

impl From<Outcome> for Ran {
    fn from(outcome: Outcome) -> Ran {
        Ran { outcome, detail: serde_json::Value::Null, not_kept: None }
    }
}

impl Ran {
    pub fn detail(mut self, detail: serde_json::Value) -> Ran {
        self.detail = detail;
        self
    }

    pub fn not_kept(mut self, why: impl Into<String>) -> Ran {
        self.not_kept = Some(why.into());
        self
    }
}

/// What a gate answered, and whether from the cache.
#[derive(Clone, Debug)]
pub struct Answer {
    pub outcome: Outcome,
    /// What the gate keeps for its callers (the coverage gate: the test run's verdict and time).
    pub detail: serde_json::Value,
    /// Answered from the cache: how long the recorded run took.
    pub cached: Option<Duration>,
}

/// Runs `run` (the gate) through the cache: answers from an entry when the inputs are those of
/// an earlier run, else runs it, capturing its output, and keeps the verdict. `inputs` is
/// `None` for a run that is never cached (`lint --fix`, `coverage --file`).
pub fn through(cx: &Context, inputs: Option<Inputs>, run: impl FnOnce() -> Result<Ran>) -> Result<Answer> {
    let ran = |r: Ran| Answer { outcome: r.outcome, detail: r.detail, cached: None };
    let Some(inputs) = inputs else { return run().map(ran) };
    let gate = inputs.gate;
    if let Some(why) = &inputs.unusable {
        eprintln!("{gate}: not cached ({why})");
        return run().map(ran);
    }
    let taken = Manifest::take(cx, &inputs).and_then(|m| m.key(&cx.root).map(|k| (m, k)));
    let (manifest, key) = match taken {
        Ok(taken) => taken,
        Err(e) => {
            let why = format!("{e:#}");
            eprintln!("{gate}: not cached (its inputs cannot be read: {})", why.lines().next().unwrap_or_default());
            return run().map(ran);
        }
    };
    let store = Store::new(&cx.root, gate);
    let reason = if cx.no_cache {
        "--no-cache".to_owned()
    } else {
        match store.lookup(&key, &manifest) {
            Lookup::Hit(entry) => return Ok(replay(cx, &store, &key, *entry)),
            Lookup::Miss(reason) => reason,
        }
    };
    eprintln!("{gate}: not cached ({reason})");
    record(cx, &store, &inputs, manifest, &key, run)
}

enum Lookup {
    Hit(Box<Entry>),
    Miss(String),
}

/// One cached run.
#[derive(Debug, Serialize, Deserialize)]
pub struct Entry {
    pub format: u32,
    pub manifest: Manifest,
    pub verdict: Verdict,
    /// The gate's [`Answer::detail`].
    pub detail: serde_json::Value,
    /// What the run printed, in order.
    pub output: Vec<Chunk>,
    /// Whether that output is in colour.
    pub color: bool,
    /// What the run appended to `$GITHUB_STEP_SUMMARY`.
    pub step_summary: String,
    /// When (unix seconds), and how long the run took.
    pub created: u64,
    pub seconds: f64,
    /// The commit (short) and whether the tree had uncommitted changes.
    pub head: String,
    pub uncommitted: bool,
    /// The files the run wrote, with their content ids.
    pub outputs: Vec<Written>,
}

/// Only verdicts are cached: an error (exit 2) never is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Passed,
    Failed,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Chunk {
    pub stream: Stream,
    pub text: String,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Written {
    /// Relative to the workspace root when inside it.
    pub path: String,
    pub id: String,
}

/// One gate's folder of entries.
struct Store {
    dir: PathBuf,
    /// The workspace root, to show paths relative to it.
    root: PathBuf,
}

impl Store {
    fn new(root: &Path, gate: &str) -> Store {
        Store { dir: dir(root).join(gate), root: root.to_path_buf() }
    }

    fn path(&self, key: &str) -> PathBuf {
        self.dir.join(format!("{key}.json"))
    }

    fn lookup(&self, key: &str, manifest: &Manifest) -> Lookup {
        let path = self.path(key);
        let entry = match self.read(&path) {
            Ok(Some(entry)) => entry,
            Ok(None) => return Lookup::Miss(self.why_not(manifest)),
            Err(e) => return Lookup::Miss(format!("its cache entry cannot be read: {e:#}")),
        };
        if entry.format != FORMAT || entry.manifest != *manifest {
            return Lookup::Miss(format!("its cache entry {} does not match its key", self.shown(&path)));
        }
        if let Some(why) = changed_outputs(&self.root, &entry.outputs) {
            return Lookup::Miss(why);
        }
        Lookup::Hit(Box::new(entry))
    }

    /// Why the newest entry does not answer.
    fn why_not(&self, now: &Manifest) -> String {
        let Some(newest) = self.entries().into_iter().next() else { return "no earlier run".to_owned() };
        match self.read(&newest) {
            Ok(Some(entry)) => entry.manifest.why_not(now),
            Ok(None) => "no earlier run".to_owned(),
            Err(e) => format!("the last run's cache entry cannot be read: {e:#}"),
        }
    }

    /// The entries, newest (last written or used) first.
    fn entries(&self) -> Vec<PathBuf> {
        let Ok(listing) = std::fs::read_dir(&self.dir) else { return Vec::new() };
        let mut entries: Vec<(SystemTime, PathBuf)> = listing
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .map(|p| (std::fs::metadata(&p).and_then(|m| m.modified()).unwrap_or(UNIX_EPOCH), p))
            .collect();
        entries.sort_by(|a, b| b.cmp(a));
        entries.into_iter().map(|(_, p)| p).collect()
    }

    fn save(&self, key: &str, entry: &Entry) -> Result<()> {
        let json = serde_json::to_vec(entry).context("cannot serialise the cache entry")?;
        let path = self.path(key);
        crate::output::write_atomically(&path, |tmp| {
            std::fs::write(tmp, &json).with_context(|| format!("cannot write {}", tmp.display()))
        })?;
        for old in self.entries().into_iter().skip(KEEP) {
            let _ = std::fs::remove_file(old);
        }
        Ok(())
    }

    /// The entry at `path`; `None` when there is none.
    fn read(&self, path: &Path) -> Result<Option<Entry>> {
        let text = match std::fs::read(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| self.shown(path)),
        };
        serde_json::from_slice(&text).map(Some).with_context(|| self.shown(path))
    }

    fn shown(&self, path: &Path) -> String {
        path.strip_prefix(&self.root).unwrap_or(path).display().to_string()
    }

    /// Makes an entry the newest, so it is kept and compared with first.
    fn touch(&self, key: &str) {
        if let Ok(file) = std::fs::File::options().append(true).open(self.path(key)) {
            let _ = file.set_modified(SystemTime::now());
        }
    }
}

/// `coverage.xml changed since the cached run`, when a recorded output is gone or changed.
fn changed_outputs(root: &Path, outputs: &[Written]) -> Option<String> {
    let paths: Vec<PathBuf> = outputs.iter().map(|w| PathBuf::from(&w.path)).collect();
    let ids = match snapshot::file_ids(root, &paths) {
        Ok(ids) => ids,
        Err(e) => return Some(format!("the files it wrote cannot be checked: {e:#}").replace('\n', " ")),
    };
    for (written, id) in outputs.iter().zip(ids) {
        match id {
            None => return Some(format!("{} is gone since the cached run", written.path)),
            Some(id) if id != written.id => return Some(format!("{} changed since the cached run", written.path)),
            Some(_) => {}
        }
    }
    None
}

/// Prints a cached run as it ran (a pass: its stdout only) and says so.
fn replay(cx: &Context, store: &Store, key: &str, entry: Entry) -> Answer {
    store.touch(key);
    for chunk in entry.output.iter().filter(|c| entry.verdict == Verdict::Failed || c.stream == Stream::Stdout) {
        let text = if entry.color && !cx.out.color { capture::strip_ansi(&chunk.text) } else { chunk.text.clone() };
        let _ = match chunk.stream {
            Stream::Stdout => std::io::stdout().write_all(text.as_bytes()).and_then(|()| std::io::stdout().flush()),
            Stream::Stderr => std::io::stderr().write_all(text.as_bytes()),
        };
    }
    if let Err(e) = append_step_summary(cx, &entry.step_summary) {
        eprintln!("warning: {e:#}");
    }
    let verdict = match entry.verdict {
        Verdict::Passed => "passed".green().bold(),
        Verdict::Failed => "FAILED".red().bold(),
    };
    let gate = &entry.manifest.gate;
    let age = ago(now().saturating_sub(entry.created));
    let uncommitted = if entry.uncommitted { " + uncommitted changes" } else { "" };
    eprintln!("{gate}: {verdict} (cached: same inputs as {age}, at {}{uncommitted})", entry.head);
    let outcome = match entry.verdict {
        Verdict::Passed => Outcome::Passed,
        Verdict::Failed => Outcome::Failed,
    };
    Answer { outcome, detail: entry.detail, cached: Some(Duration::from_secs_f64(entry.seconds.max(0.0))) }
}

/// Runs the gate with its output captured; keeps the verdict when there is one.
fn record(
    cx: &Context,
    store: &Store,
    inputs: &Inputs,
    manifest: Manifest,
    key: &str,
    run: impl FnOnce() -> Result<Ran>,
) -> Result<Answer> {
    let gate = inputs.gate;
    let summary_from = step_summary_len(cx);
    let capture = match Capture::start() {
        Ok(capture) => capture,
        Err(e) => {
            eprintln!("{gate}: the verdict will not be cached: {e:#}");
            return run().map(|r| Answer { outcome: r.outcome, detail: r.detail, cached: None });
        }
    };
    let started = Instant::now();
    let result = run();
    let seconds = started.elapsed().as_secs_f64();
    let chunks = capture.finish();
    let ran = result?;
    let (outcome, not_kept) = (ran.outcome, ran.not_kept);
    let answer = Answer { outcome, detail: ran.detail, cached: None };
    if interrupt::received().is_some() {
        return Ok(answer);
    }
    let kept = (|| -> Result<()> {
        if let Some(why) = not_kept {
            bail!("{why}");
        }
        let after = files(cx, inputs)?;
        let changed = Snapshot { files: manifest.files.clone() }.changes(&Snapshot { files: after });
        if !changed.is_empty() {
            bail!("the checkout changed during the run: {}", changed.brief(NAMED_FILES));
        }
        let (head, uncommitted) = head(&cx.root);
        let entry = Entry {
            format: FORMAT,
            manifest,
            verdict: if outcome == Outcome::Passed { Verdict::Passed } else { Verdict::Failed },
            detail: answer.detail.clone(),
            output: merged(chunks),
            color: cx.out.color,
            step_summary: step_summary_since(cx, summary_from),
            created: now(),
            seconds,
            head,
            uncommitted,
            outputs: written(&cx.root, &inputs.outputs)?,
        };
        store.save(key, &entry)
    })();
    if let Err(e) = kept {
        eprintln!("{gate}: the verdict was not cached: {e:#}");
    }
    Ok(answer)
}

/// Neighbouring chunks of one stream as one text.
fn merged(chunks: capture::Chunks) -> Vec<Chunk> {
    let mut runs: Vec<(Stream, Vec<u8>)> = Vec::new();
    for (stream, bytes) in chunks {
        match runs.last_mut() {
            Some((last, text)) if *last == stream => text.extend_from_slice(&bytes),
            _ => runs.push((stream, bytes)),
        }
    }
    runs.into_iter()
        .map(|(stream, bytes)| Chunk { stream, text: String::from_utf8_lossy(&bytes).into_owned() })
        .collect()
}

/// The outputs with their content ids; one that is missing is an error (nothing to keep).
fn written(root: &Path, outputs: &[PathBuf]) -> Result<Vec<Written>> {
    let ids = snapshot::file_ids(root, outputs)?;
    outputs
        .iter()
        .zip(ids)
        .map(|(path, id)| {
            let shown = path.strip_prefix(root).unwrap_or(path).display().to_string();
            match id {
                Some(id) => Ok(Written { path: shown, id }),
                None => bail!("{shown} was not written"),
            }
        })
        .collect()
}

/// The short commit and whether the tree has uncommitted changes (untracked files included).
fn head(root: &Path) -> (String, bool) {
    let text = |args: &[&str]| {
        git(root)
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    let head = crate::snapshot::head(root).unwrap_or_else(|| "no commit".to_owned());
    let uncommitted = text(&["status", "--porcelain"]).is_none_or(|s| !s.is_empty());
    (head, uncommitted)
}

fn step_summary_len(cx: &Context) -> u64 {
    cx.out.step_summary.as_ref().and_then(|p| std::fs::metadata(p).ok()).map_or(0, |m| m.len())
}

/// What was appended to the step summary since it was `from` bytes long.
fn step_summary_since(cx: &Context, from: u64) -> String {
    let Some(path) = &cx.out.step_summary else { return String::new() };
    let mut text = Vec::new();
    if let Ok(mut file) = std::fs::File::open(path)
        && file.seek(std::io::SeekFrom::Start(from)).is_ok()
    {
        let _ = file.read_to_end(&mut text);
    }
    String::from_utf8_lossy(&text).into_owned()
}

fn append_step_summary(cx: &Context, text: &str) -> Result<()> {
    let Some(path) = cx.out.step_summary.as_ref().filter(|_| !text.is_empty()) else { return Ok(()) };
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("cannot append to GITHUB_STEP_SUMMARY ({})", path.display()))?;
    file.write_all(text.as_bytes()).with_context(|| format!("cannot write GITHUB_STEP_SUMMARY ({})", path.display()))
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// `40 s ago`, `3 min ago`, `5 h ago`, `2 days ago`.
pub fn ago(seconds: u64) -> String {
    match seconds {
        0..60 => format!("{seconds} s ago"),
        60..3_600 => format!("{} min ago", seconds / 60),
        3_600..86_400 => format!("{} h ago", seconds / 3_600),
        86_400..172_800 => "1 day ago".to_owned(),
        _ => format!("{} days ago", seconds / 86_400),
    }
}

/// The key of a gate's inputs as they are now (`cargo xtask cache key`).
pub fn key(cx: &Context, inputs: &Inputs) -> Result<String> {
    Manifest::take(cx, inputs)?.key(&cx.root)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest() -> Manifest {
        Manifest {
            gate: "lint".into(),
            files: [("a.rs", "1"), ("b.rs", "2")].map(|(p, i)| (p.to_owned(), i.to_owned())).into(),
            settings: "{}".into(),
            pins: "cargo-llvm-cov 0.9.1".into(),
            toolchain: "rustc 1.95.0 (59807616e 2026-04-14)\nhost: x86_64-unknown-linux-gnu".into(),
            invocation: "gate: lint\nflags: LintArgs\nCI: false".into(),
            extras: [("date".to_owned(), "2026-12-05".to_owned())].into(),
        }
    }

    #[test]
    fn a_miss_names_the_part_that_changed() {
        let old = manifest();
        let mut now = manifest();
        now.files.insert("b.rs".into(), "3".into());
        now.files.insert("c.rs".into(), "4".into());
        assert_eq!(old.why_not(&now), "changed since the last run: b.rs, c.rs");
        now.extras.insert("date".into(), "2026-12-06".into());
        assert_eq!(old.why_not(&now), "date changed: 2026-12-05 → 2026-12-06");
        now.invocation = "gate: lint\nflags: LintArgs\nCI: true".into();
        assert_eq!(old.why_not(&now), "environment changed: CI");
        now.settings = "{\"lint\":{}}".into();
        assert_eq!(old.why_not(&now), "settings changed");
        now.pins = "cargo-llvm-cov 0.9.2".into();
        assert_eq!(old.why_not(&now), "tool pins changed");
        now.toolchain = "rustc 1.96.0 (0123 2026-06-01)".into();
        assert_eq!(old.why_not(&now), "toolchain changed: rustc 1.95.0 → 1.96.0");
        assert_eq!(old.why_not(&old), "the cache format changed");
    }

    #[test]
    fn invocation_changes_say_flags_or_which_variables() {
        let old = "gate: test\nflags: TestArgs { extra: [] }\nCI: false\nDATABASE_URL: unset";
        assert_eq!(invocation_change(old, &old.replace("[]", "[\"x\"]")), "flags changed");
        assert_eq!(
            invocation_change(old, &old.replace("[]", "[\"x\"]").replace("unset", "set")),
            "flags and environment changed: DATABASE_URL"
        );
    }

    #[test]
    fn ages_read_as_a_person_would_say_them() {
        assert_eq!(ago(5), "5 s ago");
        assert_eq!(ago(3 * 60 + 10), "3 min ago");
        assert_eq!(ago(5 * 3_600), "5 h ago");
        assert_eq!(ago(86_400 + 5), "1 day ago");
        assert_eq!(ago(3 * 86_400), "3 days ago");
    }

    #[test]
    fn neighbouring_chunks_of_a_stream_are_one() {
        let chunks = vec![
            (Stream::Stdout, b"a".to_vec()),
            (Stream::Stdout, b"b".to_vec()),
            (Stream::Stderr, b"c".to_vec()),
            (Stream::Stdout, b"d".to_vec()),
        ];
        let merged: Vec<(Stream, String)> = merged(chunks).into_iter().map(|c| (c.stream, c.text)).collect();
        assert_eq!(
            merged,
            [(Stream::Stdout, "ab".to_owned()), (Stream::Stderr, "c".to_owned()), (Stream::Stdout, "d".to_owned())]
        );
    }
}
