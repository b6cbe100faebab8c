//! Recording the per-test map during a full coverage run.
//!
//! nextest runs every test in a process of its own, through a target runner when one is set
//! (`CARGO_TARGET_<TRIPLE>_RUNNER`). During the coverage run that runner is this xtask
//! ([`RUNNER_ARG`]): it gives the test process an `LLVM_PROFILE_FILE` naming the test
//! (`xtask-t<id>-%p-%m.profraw`, inherited by every program the test starts, such as the
//! instrumented xtask or app), notes the test's name and its exit status in an index, and
//! otherwise gets out of the way. cargo-llvm-cov still finds every profile, so the total report
//! is what it always was. Afterwards each test's profiles are merged on their own
//! (`llvm-profdata merge`) and read back as lines (`llvm-cov export -format=lcov`, on the
//! test's own binary and the workspace's programs), in parallel, into the map.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ffi::OsString;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::Instant;

use anyhow::{Context as _, Result, bail};

use super::map::{self, Map, TestEntry, TestId, Validity};
use super::skeleton;
use super::workspace::Workspace;
use crate::Context;
use crate::coverage::cobertura::{ParseOptions, Report};
use crate::coverage::patch::repo_key;
use crate::process::Cmd;
use crate::snapshot::Snapshot;

/// The first argument that makes `xtask` act as nextest's target runner (see the module docs).
pub const RUNNER_ARG: &str = "__coverage-map-runner";
const PROFILES_VAR: &str = "XTASK_MAP_PROFILES";
const INDEX_VAR: &str = "XTASK_MAP_INDEX";
const RUNNER_VAR_VAR: &str = "XTASK_MAP_RUNNER_VAR";
/// The start of a test's profile names; the list phase keeps cargo-llvm-cov's names.
const PREFIX: &str = "xtask-t";

/// A test's id in profile names: 16 hex digits of FNV-1a over its binary id and name.
pub fn test_key(binary: &str, name: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in binary.as_bytes().iter().chain(&[0]).chain(name.as_bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// The target runner: `xtask __coverage-map-runner BINARY ARGS…`. Runs the test binary with its
/// own profile name and records it; any other invocation (nextest's listing) is passed through.
pub fn runner(args: &[OsString]) -> ExitCode {
    let Some((binary, rest)) = args.split_first() else {
        eprintln!("{RUNNER_ARG}: no program to run");
        return ExitCode::from(2);
    };
    let mut cmd = Cmd::new(binary).args(rest);
    // Programs the test starts (a nested cargo, say) must not meet this runner or its index.
    if let Some(var) = std::env::var_os(RUNNER_VAR_VAR) {
        cmd = cmd.env_remove(var);
    }
    for var in [PROFILES_VAR, INDEX_VAR, RUNNER_VAR_VAR] {
        cmd = cmd.env_remove(var);
    }
    let phase = std::env::var("NEXTEST_TEST_PHASE").unwrap_or_default();
    let test = (std::env::var("NEXTEST_BINARY_ID"), std::env::var("NEXTEST_TEST_NAME"));
    let (Some(profiles), Some(index), (Ok(binary_id), Ok(name))) =
        (std::env::var_os(PROFILES_VAR), std::env::var_os(INDEX_VAR), test)
    else {
        return exec(cmd);
    };
    if phase != "run" {
        return exec(cmd);
    }
    let key = test_key(&binary_id, &name);
    let mut cmd = cmd.env("LLVM_PROFILE_FILE", Path::new(&profiles).join(format!("{PREFIX}{key}-%p-%m.profraw")));
    let index = Path::new(&index);
    note(index, &format!("start\t{key}\t{binary_id}\t{name}\t{}\n", binary.to_string_lossy()));
    let status = match cmd.status() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{RUNNER_ARG}: {e}");
            return ExitCode::from(2);
        }
    };
    use std::os::unix::process::ExitStatusExt as _;
    note(index, &format!("end\t{key}\t{}\n", if status.success() { "passed" } else { "failed" }));
    if let Some(code) = status.code() {
        return ExitCode::from(u8::try_from(code).unwrap_or(1));
    }
    // Killed by a signal: end the same way, so nextest reports the signal.
    if let Some(signal) = status.signal().and_then(rustix::process::Signal::from_named_raw) {
        let _ = rustix::process::kill_process(rustix::process::getpid(), signal);
    }
    ExitCode::from(128 + status.signal().unwrap_or(0).clamp(0, 127) as u8)
}

fn exec(cmd: Cmd) -> ExitCode {
    eprintln!("{RUNNER_ARG}: {}", cmd.exec());
    ExitCode::from(2)
}

/// Appends one line; a short `O_APPEND` write lands whole even with tests running in parallel.
fn note(index: &Path, line: &str) {
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(index)
        .and_then(|mut f| f.write_all(line.as_bytes()));
    if let Err(e) = written {
        eprintln!("{RUNNER_ARG}: cannot note the test in {}: {e}", index.display());
    }
}

/// A recording in progress: what the coverage run needs to pass to nextest, and what was true
/// when it started.
pub struct Recorder {
    profiles: PathBuf,
    index: PathBuf,
    runner_var: String,
    runner: PathBuf,
    before: Snapshot,
    validity: Validity,
    workspace: Workspace,
    sysroot_bin: PathBuf,
}

/// What the toolchain is: `rustc -vV`, its host triple and the folder of its LLVM tools.
pub struct Toolchain {
    pub version: String,
    pub host: String,
    pub llvm_bin: PathBuf,
}

impl Toolchain {
    pub fn find() -> Result<Toolchain> {
        let rustc = |args: &[&str]| -> Result<String> {
            let out = Cmd::new("rustc").args(args).run()?;
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
        };
        let version = rustc(&["-vV"])?;
        let host =
            version.lines().find_map(|l| l.strip_prefix("host: ")).context("`rustc -vV` names no host")?.to_owned();
        let sysroot = rustc(&["--print", "sysroot"])?;
        let llvm_bin = Path::new(&sysroot).join("lib/rustlib").join(&host).join("bin");
        Ok(Toolchain { version, host, llvm_bin })
    }
}

/// The values a map is valid for, now.
pub fn validity(toolchain: &Toolchain, tree: &Snapshot, workspace: &Workspace) -> Validity {
    Validity {
        toolchain: toolchain.version.clone(),
        lockfile: tree.files.get("Cargo.lock").cloned().unwrap_or_default(),
        settings: workspace.settings_json.clone(),
        tools: format!(
            "cargo-llvm-cov {} cargo-nextest {} map {}",
            crate::tools::CARGO_LLVM_COV_VERSION,
            crate::tools::CARGO_NEXTEST_VERSION,
            map::FORMAT
        ),
    }
}

impl Recorder {
    /// Prepares a recording, or says why this run cannot record a map (the run goes on).
    pub fn start(cx: &Context) -> std::result::Result<Recorder, String> {
        Recorder::prepare(cx).map_err(|e| format!("{e:#}"))
    }

    fn prepare(cx: &Context) -> Result<Recorder> {
        let runner = std::env::current_exe().context("cannot find the xtask's own program")?;
        if runner.to_string_lossy().chars().any(char::is_whitespace) {
            bail!("the xtask's path has a space ({}), which a target runner cannot have", runner.display());
        }
        let toolchain = Toolchain::find()?;
        let workspace = Workspace::load(&cx.cargo, &cx.root)?;
        let before = Snapshot::take(&cx.root).context("the map records the checkout as git sees it")?;
        let target = crate::target_dir(&cx.root);
        let profiles = target.join("llvm-cov-target");
        let index = target.join("coverage").join(".test-map-index.tsv");
        // A test of a recording run that starts a coverage run on the same target folder (the
        // xtask's own tests do) would remove and read the enclosing run's index.
        if std::env::var_os(INDEX_VAR).is_some_and(|outer| Path::new(&outer) == index) {
            bail!("this run is a test of a recording run on the same target folder ({})", target.display());
        }
        std::fs::create_dir_all(index.parent().expect("a folder")).context("cannot create target/coverage")?;
        match std::fs::remove_file(&index) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("cannot remove {}", index.display())),
        }
        let runner_var = format!("CARGO_TARGET_{}_RUNNER", toolchain.host.to_uppercase().replace(['-', '.'], "_"));
        let validity = validity(&toolchain, &before, &workspace);
        Ok(Recorder {
            profiles,
            index,
            runner_var,
            runner,
            before,
            validity,
            workspace,
            sysroot_bin: toolchain.llvm_bin,
        })
    }

    /// The variables the coverage run gives nextest.
    pub fn env(&self) -> Vec<(OsString, OsString)> {
        let mut runner = self.runner.clone().into_os_string();
        runner.push(" ");
        runner.push(RUNNER_ARG);
        vec![
            (self.runner_var.clone().into(), runner),
            (PROFILES_VAR.into(), self.profiles.clone().into_os_string()),
            (INDEX_VAR.into(), self.index.clone().into_os_string()),
            (RUNNER_VAR_VAR.into(), self.runner_var.clone().into()),
        ]
    }

    /// The tests that ran through the recorder, and whether each passed.
    pub fn ran(&self) -> Result<BTreeMap<TestId, bool>> {
        Ok(read_index(&self.index)?.into_values().map(|n| (n.id, n.passed)).collect())
    }

    /// Reads every test's profiles into the map and saves it, next to the run's `report` (the
    /// total, whose files the map keeps). Says what it wrote, or why it wrote nothing.
    pub fn finish(self, cx: &Context, report: &Report) -> Result<()> {
        let started = Instant::now();
        let after = Snapshot::take(&cx.root)?;
        let changes = self.before.changes(&after);
        // The build writes Cargo.lock when the checkout has none: that is not an edit.
        let lockfile_written =
            changes.added == ["Cargo.lock"] && changes.removed.is_empty() && changes.modified.is_empty();
        if !changes.is_empty() && !lockfile_written {
            eprintln!("map: not saved: the checkout changed during the run ({})", changes.brief(3));
            return Ok(());
        }
        let mut validity = self.validity.clone();
        validity.lockfile = after.files.get("Cargo.lock").cloned().unwrap_or_default();
        let tests = read_index(&self.index)?;
        if tests.is_empty() {
            eprintln!("map: not saved: no test ran through the recorder");
            return Ok(());
        }
        let profiles = group_profiles(&self.profiles)?;
        eprintln!("map: reading the lines of each of {} tests from their profiles", tests.len());
        let root = cx.root.to_string_lossy().into_owned();
        let bins: Vec<PathBuf> = self
            .workspace
            .bins()
            .map(|b| self.profiles.join("debug").join(b))
            .filter(|p| crate::process::is_executable(p))
            .collect();
        let measured: BTreeSet<String> =
            report.files.iter().map(|f| repo_key(&f.name, &report.sources, &root)).collect();
        let keep = |path: &str| measured.contains(path) || self.before.files.contains_key(path);

        // Each test on its own: merge its profiles, read them back as lines.
        let jobs: Mutex<Vec<(&String, &Noted)>> = Mutex::new(tests.iter().collect());
        let results: Mutex<Vec<(String, Result<Lines>)>> = Mutex::new(Vec::new());
        let scratch = self.index.with_file_name(format!(".test-map-{}", std::process::id()));
        std::fs::create_dir_all(&scratch).with_context(|| format!("cannot create {}", scratch.display()))?;
        let reader =
            LineReader { llvm_bin: &self.sysroot_bin, scratch: &scratch, bins: &bins, root: &root, keep: &keep };
        let workers = std::thread::available_parallelism().map_or(2, usize::from).clamp(1, 8);
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..workers)
                .map(|_| {
                    s.spawn(|| {
                        loop {
                            let Some((key, noted)) = jobs.lock().expect("not poisoned").pop() else { break };
                            let files = profiles.get(key.as_str()).map(Vec::as_slice).unwrap_or_default();
                            let lines = if files.is_empty() {
                                Ok(BTreeMap::new())
                            } else {
                                reader.read(key, files, &noted.binary_path)
                            };
                            results.lock().expect("not poisoned").push((key.clone(), lines));
                        }
                    })
                })
                .collect();
            // On a large suite this takes a while: say how far along it is now and then.
            crate::output::wait_saying(std::time::Duration::from_secs(10), || {
                handles.iter().any(|h| !h.is_finished()).then(|| {
                    let done = results.lock().expect("not poisoned").len();
                    format!("map: {done} of {} tests read", tests.len())
                })
            });
        });
        let _ = std::fs::remove_dir_all(&scratch);

        let mut entries: Vec<(String, TestEntry)> =
            tests.iter().map(|(key, n)| (key.clone(), TestEntry { id: n.id.clone(), passed: n.passed })).collect();
        entries.sort_by(|a, b| a.1.id.cmp(&b.1.id));
        let position: HashMap<&str, usize> = entries.iter().enumerate().map(|(i, (k, _))| (k.as_str(), i)).collect();
        let mut files: BTreeMap<String, BTreeMap<usize, String>> = BTreeMap::new();
        let mut union = Lines::new();
        for (key, lines) in results.into_inner().expect("not poisoned") {
            let lines = lines.with_context(|| format!("cannot read the profiles of {}", tests[&key].id))?;
            let t = position[key.as_str()];
            for (file, set) in lines {
                union.entry(file.clone()).or_default().extend(set.iter().copied());
                files.entry(file).or_default().insert(t, map::ranges_text(&set));
            }
        }
        let rust = after
            .files
            .keys()
            .filter(|p| p.ends_with(".rs"))
            .filter_map(|p| {
                std::fs::read_to_string(cx.root.join(p)).ok().map(|text| (p.clone(), skeleton::Fingerprint::of(&text)))
            })
            .collect();
        let missed = missed_lines(report, &root, &union);
        let map = Map {
            format: map::FORMAT,
            validity,
            recorded: std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs()),
            commit: crate::snapshot::head(&cx.root).unwrap_or_else(|| "(no commit)".to_owned()),
            tree: after,
            rust,
            tests: entries.into_iter().map(|(_, e)| e).collect(),
            files,
            unattributed: missed.len(),
        };
        let path = map::path(&crate::target_dir(&cx.root));
        map.save(&path)?;
        let size = std::fs::metadata(&path).map_or(0, |m| m.len());
        eprintln!(
            "map: {} tests, {} files, {:.1} MB ({}), read in {:.1} s",
            map.tests.len(),
            map.files.len(),
            size as f64 / 1e6,
            path.strip_prefix(&cx.root).unwrap_or(&path).display(),
            started.elapsed().as_secs_f64()
        );
        if !missed.is_empty() {
            eprintln!(
                "map: warning: {} covered lines of the report are covered by no recorded test (e.g. {}): \
                 impact-aware runs will run every test until a full run records them all",
                missed.len(),
                missed.iter().take(3).cloned().collect::<Vec<_>>().join(", ")
            );
        }
        Ok(())
    }
}

/// Covered lines by repository path.
type Lines = BTreeMap<String, BTreeSet<u32>>;

/// Reads one test's profiles back as lines: what every test's reading shares.
struct LineReader<'a> {
    llvm_bin: &'a Path,
    /// Where the merged profiles go (removed after each test).
    scratch: &'a Path,
    /// The workspace's programs, which any test may have started.
    bins: &'a [PathBuf],
    root: &'a str,
    /// The files worth keeping (the report's and the checkout's).
    keep: &'a (dyn Fn(&str) -> bool + Sync),
}

impl LineReader<'_> {
    /// The lines test `key` covered, from its profiles, run by `binary`.
    fn read(&self, key: &str, profiles: &[PathBuf], binary: &Path) -> Result<Lines> {
        let profdata = self.scratch.join(format!("{key}.profdata"));
        Cmd::new(self.llvm_bin.join("llvm-profdata"))
            .args(["merge", "-sparse"])
            .args(profiles)
            .arg("-o")
            .arg(&profdata)
            .shown("llvm-profdata merge")
            .run()?;
        let objects =
            self.bins.iter().filter(|b| b.as_path() != binary).flat_map(|bin| [Path::new("-object"), bin.as_path()]);
        let out = Cmd::new(self.llvm_bin.join("llvm-cov"))
            .args(["export", "-format=lcov", "-skip-functions"])
            .arg(format!("-instr-profile={}", profdata.display()))
            .arg(binary)
            .args(objects)
            .shown("llvm-cov export -format=lcov")
            .run()?;
        let _ = std::fs::remove_file(&profdata);
        let report = crate::coverage::parse_lcov_bytes(&out.stdout, ParseOptions::default())
            .map_err(|e| anyhow::anyhow!("llvm-cov's LCOV output: {}", e.message))?;
        let mut lines = Lines::new();
        for f in &report.files {
            let path = repo_key(&f.name, &[], self.root);
            if !(self.keep)(&path) {
                continue;
            }
            let covered: BTreeSet<u32> = f.line_table.iter().filter(|&(_, c)| c).map(|(l, _)| l).collect();
            if !covered.is_empty() {
                lines.entry(path).or_default().extend(covered);
            }
        }
        Ok(lines)
    }
}

/// One test as the runner noted it.
struct Noted {
    id: TestId,
    binary_path: PathBuf,
    /// It ended with status 0 (an attempt that never ended counts as failed).
    passed: bool,
}

fn read_index(index: &Path) -> Result<BTreeMap<String, Noted>> {
    let text = match std::fs::read_to_string(index) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", index.display())),
    };
    let mut tests: BTreeMap<String, Noted> = BTreeMap::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.split('\t').collect();
        match fields.as_slice() {
            ["start", key, binary, name, path] => {
                let noted = tests.entry((*key).to_owned()).or_insert_with(|| Noted {
                    id: TestId { binary: (*binary).to_owned(), name: (*name).to_owned() },
                    binary_path: PathBuf::from(path),
                    passed: false,
                });
                noted.passed = false; // a new attempt: its end decides
            }
            ["end", key, status] => {
                if let Some(noted) = tests.get_mut(*key) {
                    noted.passed = *status == "passed";
                }
            }
            _ => bail!("{}: unreadable line {line:?}", index.display()),
        }
    }
    Ok(tests)
}

/// The test profiles in `dir`, by test key.
fn group_profiles(dir: &Path) -> Result<HashMap<String, Vec<PathBuf>>> {
    let mut groups: HashMap<String, Vec<PathBuf>> = HashMap::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(rest) = name.strip_prefix(PREFIX)
            && name.ends_with(".profraw")
            && let Some((key, _)) = rest.split_once('-')
        {
            groups.entry(key.to_owned()).or_default().push(entry.path());
        }
    }
    Ok(groups)
}

/// Covered lines of the report that no test's lines include, as `file:line`.
fn missed_lines(report: &Report, root: &str, union: &Lines) -> Vec<String> {
    let mut missed = Vec::new();
    for f in &report.files {
        let path = repo_key(&f.name, &report.sources, root);
        let have = union.get(&path);
        for (line, covered) in f.line_table.iter() {
            if covered && !have.is_some_and(|h| h.contains(&line)) {
                missed.push(format!("{path}:{line}"));
            }
        }
    }
    missed
}
