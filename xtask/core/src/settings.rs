//! Gate settings: `[workspace.metadata.xtask]` in the root `Cargo.toml`, read through
//! `cargo metadata`. Every caller (a developer, pre-commit, CI) reads the same table;
//! flags may override a value for one run.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use serde::Deserialize;

use crate::coverage::grade::{Band, Percent};

pub use crate::coverage::Metric;
use crate::tools::Tool;

#[derive(Clone, Debug)]
pub struct Settings {
    pub coverage: CoverageSettings,
    pub test: TestSettings,
    pub lint: LintSettings,
    pub security: SecuritySettings,
    pub compose: ComposeSettings,
    pub smoke: SmokeSettings,
    /// The `[workspace.metadata.xtask]` table as read, as JSON text (`null` when absent): the
    /// verdict cache keys on it, so any change of a setting is a change of the key.
    pub json: String,
}

/// `[workspace.metadata.xtask.test]`: how `cargo xtask test` runs the suite.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TestSettings {
    /// The suite needs PostgreSQL: provide one through `DATABASE_URL` (see `db/`).
    pub database: bool,
    /// The database the tests get in a throwaway cluster.
    pub database_name: String,
    /// The role the tests connect as in a throwaway cluster.
    pub database_user: String,
    /// Tools the suite runs, installed by the gate and given to the tests by path
    /// (`tools::for_tests`).
    pub tools: Vec<Tool>,
    /// Files that are not Rust which tests read, and which tests: what an impact-aware run
    /// selects when such a file changes (`[[workspace.metadata.xtask.test.inputs]]`).
    pub inputs: Vec<TestInput>,
    /// The suite's container tests build the compose stack's images: a whole run builds them
    /// first, beside the tool installs (`images.rs`).
    pub build_images: bool,
}

/// One `[[workspace.metadata.xtask.test.inputs]]` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TestInput {
    /// Globs over repository-relative paths (`*`, `?`, `**`); a file matching any is an input.
    pub globs: Vec<String>,
    /// The tests that read the matching files, as a nextest filterset (`binary(smoke_run)`).
    pub tests: String,
}

impl Default for TestSettings {
    fn default() -> TestSettings {
        TestSettings {
            database: false,
            database_name: "app_test".into(),
            database_user: "app".into(),
            tools: Vec::new(),
            inputs: Vec::new(),
            build_images: false,
        }
    }
}

/// `[workspace.metadata.xtask.compose]`: the Docker Compose stack, for `cargo xtask up | down |
/// logs`, the smoke gate and the test database.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ComposeSettings {
    /// The compose file (absolute); `None`: the first of compose.yaml, compose.yml,
    /// docker-compose.yaml, docker-compose.yml at the workspace root.
    pub file: Option<PathBuf>,
    /// A compose file laid over `file` for development (absolute): `cargo xtask up | down |
    /// logs` and the test database use both; the smoke gate runs `file` alone, as production.
    pub dev_file: Option<PathBuf>,
    /// The service that runs PostgreSQL (the test gate starts only this one).
    pub db_service: String,
    /// The one-shot service that applies the migrations.
    pub migrate_service: String,
    /// The service the API runs in.
    pub app_service: String,
    /// The port the app listens on inside its container.
    pub app_port: u16,
    /// The app's probes (the app defines them: `app::routes::health`).
    pub live_path: String,
    pub ready_path: String,
    /// A throwaway stack's whole environment (no `.env` is read): `{secret}`, `{port}` and
    /// `{image}` are filled in on each run (see `docker::render_env`).
    pub env: BTreeMap<String, String>,
}

impl Default for ComposeSettings {
    fn default() -> ComposeSettings {
        ComposeSettings {
            file: None,
            dev_file: None,
            db_service: "db".into(),
            migrate_service: "migrate".into(),
            app_service: "app".into(),
            app_port: 8000,
            live_path: "/health/live".into(),
            ready_path: "/health/ready".into(),
            env: BTreeMap::new(),
        }
    }
}

/// `[workspace.metadata.xtask.smoke]`: what `cargo xtask smoke` builds and allows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SmokeSettings {
    /// The tag the smoke gate builds the app image as (its own: never the one `up` runs).
    pub image: String,
    /// The image's size budget, in MB (10^6 bytes, as `docker images` counts).
    pub max_image_size_mb: u64,
}

impl Default for SmokeSettings {
    fn default() -> SmokeSettings {
        SmokeSettings { image: "xtask-smoke:latest".into(), max_image_size_mb: 500 }
    }
}

#[derive(Clone, Debug)]
pub struct CoverageSettings {
    pub threshold: Percent,
    pub metric: Metric,
    /// Absolute paths.
    pub report: PathBuf,
    pub lcov: PathBuf,
    pub html: PathBuf,
    /// Where `--partition M/N` writes its shard's report (`coverage-M-of-N.xml`).
    pub shards: PathBuf,
    pub lowest_files: usize,
    pub bands: Vec<Band>,
    /// `--diff` without a base compares with this git revision (under Actions on a pull
    /// request, with the PR's base branch instead).
    pub base: Option<String>,
    /// The patch gate: covered ÷ coverable changed lines [default: `threshold`].
    pub patch_threshold: Percent,
    /// Optionally, at most this many uncovered changed lines.
    pub max_uncovered_changed_lines: Option<u64>,
    /// The ratchet's committed baseline (absolute path); no ratchet when unset.
    pub baseline: Option<PathBuf>,
    /// How far (percentage points) the total may fall below the baseline.
    pub ratchet_tolerance: Percent,
    /// Per-path gates, each graded on the files its glob matches.
    pub paths: Vec<PathGate>,
}

/// One `[[workspace.metadata.xtask.coverage.paths]]` entry.
#[derive(Clone, Debug)]
pub struct PathGate {
    /// A glob over repository-relative paths (`*`, `?`, `**`).
    pub glob: String,
    pub threshold: Percent,
}

/// `[workspace.metadata.xtask.lint]`. Globs are relative to the root (see `xtask/repo/src/glob.rs`).
#[derive(Clone, Debug)]
pub struct LintSettings {
    /// Files no lint check reads (generated or deliberately odd files). The `env-not-committed`
    /// policy still sees them: it looks at what git tracks.
    pub exclude: Vec<String>,
    /// The size limit for any file in the checkout, in KB (1024 bytes).
    pub max_file_size_kb: u64,
    /// The files the `cors-no-wildcard` policy scans; `!pattern` takes files back out.
    pub cors_paths: Vec<String>,
}

/// What `cors-no-wildcard` scans when `cors-paths` is not set: env templates, compose files and
/// Dockerfiles anywhere, the service's code and config, its deployment files; not its tests.
pub const DEFAULT_CORS_PATHS: [&str; 10] = [
    "**/.env*",
    "**/compose*.yml",
    "**/compose*.yaml",
    "**/docker-compose*.yml",
    "**/docker-compose*.yaml",
    "**/Dockerfile*",
    "app/**",
    "!app/tests/**",
    "config/**",
    "deploy/**",
];

/// `[workspace.metadata.xtask.security]`: how `cargo xtask security` runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecuritySettings {
    /// The RustSec database folder (absolute); `None`: `$CARGO_HOME/advisory-db`, cargo-audit's.
    pub advisory_db: Option<PathBuf>,
    /// A database older than this fails the gate, unless `accept_stale_db`.
    pub max_db_age_days: u32,
    /// Accept an older database (printed on every run).
    pub accept_stale_db: bool,
    /// The packages whose linked crates must not be unsound; empty: every workspace package.
    pub linked_by: Vec<String>,
    /// The production Rust files the source rules read; `!pattern` takes files back out.
    pub source_paths: Vec<String>,
    /// The suppression file (absolute).
    pub suppressions: PathBuf,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Raw {
    coverage: Option<RawCoverage>,
    test: Option<RawTest>,
    lint: Option<RawLint>,
    security: Option<RawSecurity>,
    compose: Option<RawCompose>,
    smoke: Option<RawSmoke>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawCompose {
    file: Option<PathBuf>,
    dev_file: Option<PathBuf>,
    db_service: Option<String>,
    migrate_service: Option<String>,
    app_service: Option<String>,
    app_port: Option<u16>,
    live_path: Option<String>,
    ready_path: Option<String>,
    env: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawSmoke {
    image: Option<String>,
    max_image_size_mb: Option<u64>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawSecurity {
    advisory_db: Option<PathBuf>,
    max_db_age_days: Option<u32>,
    accept_stale_db: Option<bool>,
    linked_by: Option<Vec<String>>,
    source_paths: Option<Vec<String>>,
    suppressions: Option<PathBuf>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawTest {
    database: Option<bool>,
    database_name: Option<String>,
    database_user: Option<String>,
    tools: Option<Vec<String>>,
    inputs: Option<Vec<RawTestInput>>,
    build_images: Option<bool>,
    /// Moved to [workspace.metadata.xtask.compose]: read only to say so.
    compose_file: Option<serde_json::Value>,
    compose_service: Option<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTestInput {
    /// One glob, or several.
    glob: StringOrList,
    /// One filterset, or several (any of them).
    tests: StringOrList,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum StringOrList {
    One(String),
    Many(Vec<String>),
}

impl StringOrList {
    fn into_vec(self) -> Vec<String> {
        match self {
            StringOrList::One(s) => vec![s],
            StringOrList::Many(v) => v,
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawLint {
    exclude: Option<Vec<String>>,
    max_file_size_kb: Option<u64>,
    cors_paths: Option<Vec<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawCoverage {
    threshold: Option<serde_json::Value>,
    metric: Option<Metric>,
    report: Option<PathBuf>,
    lcov: Option<PathBuf>,
    html: Option<PathBuf>,
    shards: Option<PathBuf>,
    lowest_files: Option<usize>,
    bands: Option<Vec<RawBand>>,
    base: Option<String>,
    patch_threshold: Option<serde_json::Value>,
    max_uncovered_changed_lines: Option<u64>,
    baseline: Option<PathBuf>,
    ratchet_tolerance: Option<serde_json::Value>,
    paths: Option<Vec<RawPathGate>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPathGate {
    glob: String,
    threshold: serde_json::Value,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBand {
    min: serde_json::Value,
    emoji: String,
    label: String,
    #[serde(default)]
    note: String,
}

/// A TOML number or string as an exact percentage.
fn percent(value: &serde_json::Value, key: &str) -> Result<Percent> {
    let text = match value {
        serde_json::Value::Number(n) => n.to_string(),
        serde_json::Value::String(s) => s.clone(),
        other => bail!("`{key}` must be a number, not {other}"),
    };
    text.parse::<Percent>().map_err(|e| anyhow::anyhow!("`{key}`: {e}"))
}

impl Settings {
    /// Parses the `xtask` table of the workspace metadata (`null` when absent).
    pub fn from_metadata(root: &Path, metadata: &serde_json::Value) -> Result<Settings> {
        let xtask = metadata.get("xtask").cloned().unwrap_or(serde_json::Value::Null);
        let json = xtask.to_string();
        let raw: Raw = if xtask.is_null() {
            Raw::default()
        } else {
            serde_json::from_value(xtask).context("invalid [workspace.metadata.xtask] in Cargo.toml")?
        };
        let c = raw.coverage.unwrap_or_default();
        let within = "[workspace.metadata.xtask.coverage] in Cargo.toml";
        let threshold = match &c.threshold {
            Some(v) => percent(v, "threshold").context(within)?,
            None => Percent::whole(70),
        };
        let patch_threshold = match &c.patch_threshold {
            Some(v) => percent(v, "patch-threshold").context(within)?,
            None => threshold,
        };
        if c.base.as_deref().is_some_and(|b| b.trim().is_empty() || b.starts_with('-')) {
            bail!("{within}: `base` must name a git revision, e.g. \"origin/main\"");
        }
        let ratchet_tolerance = match &c.ratchet_tolerance {
            Some(v) => percent(v, "ratchet-tolerance").context(within)?,
            None => "0.1".parse().expect("a valid percentage"),
        };
        let mut paths = Vec::new();
        for (i, raw) in c.paths.unwrap_or_default().into_iter().enumerate() {
            let at = format!("{within}: paths[{i}] ({:?})", raw.glob);
            if raw.glob.starts_with('!') {
                bail!("{at}: a path gate's glob cannot be negated: name the files it grades");
            }
            crate::repo::glob::check(&raw.glob).map_err(|e| anyhow::anyhow!("{at}: {e}"))?;
            let threshold = percent(&raw.threshold, "threshold").context(at)?;
            paths.push(PathGate { glob: raw.glob, threshold });
        }
        let bands = match c.bands {
            None => crate::coverage::grade::default_bands(),
            Some(raw) => {
                let mut bands = Vec::with_capacity(raw.len());
                for b in raw {
                    bands.push(Band {
                        min: percent(&b.min, "bands.min").context(within)?,
                        emoji: b.emoji,
                        label: b.label,
                        note: b.note,
                    });
                }
                check_bands(&bands).context(within)?;
                bands
            }
        };
        let path = |p: Option<PathBuf>, default: &str| root.join(p.unwrap_or_else(|| default.into()));
        let lint =
            lint_settings(raw.lint.unwrap_or_default()).context("[workspace.metadata.xtask.lint] in Cargo.toml")?;
        let test =
            test_settings(raw.test.unwrap_or_default()).context("[workspace.metadata.xtask.test] in Cargo.toml")?;
        let security = security_settings(root, raw.security.unwrap_or_default())
            .context("[workspace.metadata.xtask.security] in Cargo.toml")?;
        let compose = compose_settings(root, raw.compose.unwrap_or_default())
            .context("[workspace.metadata.xtask.compose] in Cargo.toml")?;
        let smoke =
            smoke_settings(raw.smoke.unwrap_or_default()).context("[workspace.metadata.xtask.smoke] in Cargo.toml")?;
        Ok(Settings {
            json,
            lint,
            test,
            security,
            compose,
            smoke,
            coverage: CoverageSettings {
                threshold,
                metric: c.metric.unwrap_or(Metric::Lines),
                report: path(c.report, "coverage.xml"),
                lcov: path(c.lcov, "target/coverage/lcov.info"),
                html: path(c.html, "target/coverage/html"),
                shards: path(c.shards, "target/coverage/shards"),
                lowest_files: c.lowest_files.unwrap_or(10),
                bands,
                base: c.base,
                patch_threshold,
                max_uncovered_changed_lines: c.max_uncovered_changed_lines,
                baseline: c.baseline.map(|b| root.join(b)),
                ratchet_tolerance,
                paths,
            },
        })
    }

    /// Reads the settings of the workspace whose manifest is `root/Cargo.toml`.
    pub fn load(cargo: &str, root: &Path) -> Result<Settings> {
        let metadata = workspace_metadata(cargo, root).context("could not read the workspace settings")?;
        Settings::from_metadata(root, &metadata.workspace_metadata)
    }
}

/// `cargo metadata --no-deps --offline` of the workspace at `root`: its settings and packages.
pub fn workspace_metadata(cargo: &str, root: &Path) -> Result<cargo_metadata::Metadata> {
    cargo_metadata::MetadataCommand::new()
        .cargo_path(cargo)
        .manifest_path(root.join("Cargo.toml"))
        .no_deps()
        .other_options(vec!["--offline".to_owned()])
        .exec()
        .context("`cargo metadata` failed")
}

fn lint_settings(raw: RawLint) -> Result<LintSettings> {
    let exclude = raw.exclude.unwrap_or_default();
    let cors_paths = raw.cors_paths.unwrap_or_else(|| DEFAULT_CORS_PATHS.map(str::to_owned).to_vec());
    for (key, patterns) in [("exclude", &exclude), ("cors-paths", &cors_paths)] {
        for p in patterns {
            crate::repo::glob::check(p).map_err(|e| anyhow::anyhow!("`{key}`: {e}"))?;
        }
    }
    let max_file_size_kb = raw.max_file_size_kb.unwrap_or(500);
    if max_file_size_kb == 0 {
        bail!("`max-file-size-kb` must be at least 1");
    }
    Ok(LintSettings { exclude, max_file_size_kb, cors_paths })
}

fn security_settings(root: &Path, s: RawSecurity) -> Result<SecuritySettings> {
    let source_paths = s.source_paths.unwrap_or_else(|| vec!["**/src/**/*.rs".to_owned()]);
    for p in &source_paths {
        crate::repo::glob::check(p).map_err(|e| anyhow::anyhow!("`source-paths`: {e}"))?;
    }
    let max_db_age_days = s.max_db_age_days.unwrap_or(90);
    if max_db_age_days == 0 {
        bail!("`max-db-age-days` must be at least 1");
    }
    Ok(SecuritySettings {
        advisory_db: s.advisory_db.map(|p| root.join(p)),
        max_db_age_days,
        accept_stale_db: s.accept_stale_db.unwrap_or(false),
        linked_by: s.linked_by.unwrap_or_default(),
        source_paths,
        suppressions: root.join(s.suppressions.unwrap_or_else(|| "security.toml".into())),
    })
}

fn test_settings(t: RawTest) -> Result<TestSettings> {
    for (old, new) in [(&t.compose_file, "file"), (&t.compose_service, "db-service")] {
        if old.is_some() {
            let old = if new == "file" { "compose-file" } else { "compose-service" };
            bail!("`{old}` has moved: write it as `{new}` in [workspace.metadata.xtask.compose]");
        }
    }
    let default = TestSettings::default();
    let database_name = t.database_name.unwrap_or(default.database_name);
    let database_user = t.database_user.unwrap_or(default.database_user);
    check_identifier("database-name", &database_name)?;
    check_identifier("database-user", &database_user)?;
    let mut tools = Vec::new();
    for name in t.tools.unwrap_or_default() {
        let Some(tool) = Tool::project_local(&name) else {
            bail!(
                "test `tools`: `{name}` is not a tool the xtask installs for the tests (one of: {})",
                Tool::project_local_names().join(", ")
            );
        };
        tools.push(tool);
    }
    let mut inputs = Vec::new();
    let mut problems = Vec::new();
    for (i, raw) in t.inputs.unwrap_or_default().into_iter().enumerate() {
        let globs = raw.glob.into_vec();
        let at = format!("inputs[{i}] ({})", globs.join(", "));
        if globs.is_empty() {
            problems.push(format!("{at}: `glob` must name the files the tests read"));
        }
        for g in &globs {
            if let Err(e) = crate::repo::glob::check(g) {
                problems.push(format!("{at}: {e}"));
            } else if g.starts_with('!') {
                problems.push(format!("{at}: an input's glob cannot be negated: name the files the tests read"));
            }
        }
        let filters = raw.tests.into_vec();
        let filters: Vec<String> = filters.into_iter().map(|f| f.trim().to_owned()).collect();
        if filters.is_empty() || filters.iter().any(String::is_empty) {
            problems
                .push(format!("{at}: `tests` must name the tests, as a nextest filterset, e.g. \"binary(smoke_run)\""));
            continue;
        }
        if let Some(f) = filters.iter().find(|f| !balanced(f)) {
            problems.push(format!("{at}: `tests` filterset {f:?} has unbalanced parentheses"));
            continue;
        }
        let tests = if filters.len() == 1 {
            filters[0].clone()
        } else {
            filters.iter().map(|f| format!("({f})")).collect::<Vec<_>>().join(" | ")
        };
        inputs.push(TestInput { globs, tests });
    }
    if !problems.is_empty() {
        bail!("{}", problems.join("; "));
    }
    Ok(TestSettings {
        database: t.database.unwrap_or(default.database),
        database_name,
        database_user,
        tools,
        inputs,
        build_images: t.build_images.unwrap_or(default.build_images),
    })
}

/// Whether the parentheses of a filterset pair up (outside quoted strings).
fn balanced(filter: &str) -> bool {
    let mut depth = 0i32;
    let mut quoted = false;
    for c in filter.chars() {
        match c {
            '"' => quoted = !quoted,
            '(' if !quoted => depth += 1,
            ')' if !quoted => {
                depth -= 1;
                if depth < 0 {
                    return false;
                }
            }
            _ => {}
        }
    }
    depth == 0 && !quoted
}

fn compose_settings(root: &Path, c: RawCompose) -> Result<ComposeSettings> {
    let default = ComposeSettings::default();
    let service = |key: &str, value: Option<String>, default: String| -> Result<String> {
        let v = value.unwrap_or(default);
        if v.is_empty() {
            bail!("`{key}` is empty");
        }
        Ok(v)
    };
    let db_service = service("db-service", c.db_service, default.db_service)?;
    let migrate_service = service("migrate-service", c.migrate_service, default.migrate_service)?;
    let app_service = service("app-service", c.app_service, default.app_service)?;
    let path = |key: &str, value: Option<String>, default: String| -> Result<String> {
        let v = value.unwrap_or(default);
        if !v.starts_with('/') || v.contains(char::is_whitespace) {
            bail!("`{key}` = {v:?} is not a URL path (e.g. \"/health/ready\")");
        }
        Ok(v)
    };
    let live_path = path("live-path", c.live_path, default.live_path)?;
    let ready_path = path("ready-path", c.ready_path, default.ready_path)?;
    let env = c.env.unwrap_or_default();
    for (key, value) in &env {
        let name_ok = key.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !name_ok {
            bail!("`env`: {key:?} is not a variable name (letters, digits and `_`)");
        }
        let mut rest = value.as_str();
        while let Some(open) = rest.find('{') {
            let close = rest[open..].find('}').map(|c| open + c + 1).unwrap_or(rest.len());
            let word = &rest[open..close];
            if !matches!(word, "{secret}" | "{port}" | "{image}") {
                bail!("`env.{key}`: unknown placeholder `{word}` (use {{secret}}, {{port}} or {{image}})");
            }
            rest = &rest[close..];
        }
    }
    Ok(ComposeSettings {
        file: c.file.map(|p| root.join(p)),
        dev_file: c.dev_file.map(|p| root.join(p)),
        db_service,
        migrate_service,
        app_service,
        app_port: match c.app_port {
            Some(0) => bail!("`app-port` must be a port number, 1 to 65535"),
            Some(p) => p,
            None => default.app_port,
        },
        live_path,
        ready_path,
        env,
    })
}

fn smoke_settings(s: RawSmoke) -> Result<SmokeSettings> {
    let default = SmokeSettings::default();
    let image = s.image.unwrap_or(default.image);
    if image.is_empty() || image.contains(char::is_whitespace) {
        bail!("`image` = {image:?} is not an image name (e.g. \"myapp:smoke\")");
    }
    let max_image_size_mb = s.max_image_size_mb.unwrap_or(default.max_image_size_mb);
    if max_image_size_mb == 0 {
        bail!("`max-image-size-mb` must be at least 1");
    }
    Ok(SmokeSettings { image, max_image_size_mb })
}

/// A plain SQL identifier (also safe in a URL): a letter or `_`, then letters, digits, `_`.
fn check_identifier(key: &str, value: &str) -> Result<()> {
    let mut chars = value.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if !first_ok || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') || value.len() > 63 {
        bail!("`{key}` = {value:?}: use at most 63 letters, digits and `_`, not starting with a digit");
    }
    Ok(())
}

fn check_bands(bands: &[Band]) -> Result<()> {
    let Some(last) = bands.last() else { bail!("`bands` is empty: give at least one band with min = 0") };
    if last.min != Percent::ZERO {
        bail!("the last band (`{}`) must have min = 0 so every report gets a grade", last.label);
    }
    for pair in bands.windows(2) {
        if !pair[1].min.less_than(pair[0].min) {
            bail!(
                "`bands` must be listed highest first: `{}` ({}) comes before `{}` ({})",
                pair[0].label,
                pair[0].min,
                pair[1].label,
                pair[1].min
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn missing_table_gives_the_runbook_defaults() {
        let s = Settings::from_metadata(Path::new("/r"), &serde_json::Value::Null).unwrap();
        assert_eq!(s.coverage.threshold, Percent::whole(70));
        assert_eq!(s.coverage.report, Path::new("/r/coverage.xml"));
        assert_eq!(s.coverage.bands.len(), 5);
        assert_eq!(s.coverage.bands[2].label, "Approved");
    }

    #[test]
    fn fractional_threshold_and_custom_bands_are_read() {
        let meta = json!({"xtask": {"coverage": {"threshold": 72.5, "metric": "branches",
            "bands": [{"min": 75, "emoji": "+", "label": "Good"}, {"min": 0, "emoji": "-", "label": "Bad"}]}}});
        let s = Settings::from_metadata(Path::new("/r"), &meta).unwrap();
        assert_eq!(s.coverage.threshold.to_string(), "72.5");
        assert_eq!(s.coverage.metric, Metric::Branches);
        assert_eq!(s.coverage.bands[0].label, "Good");
    }

    #[test]
    fn test_settings_default_to_no_database() {
        let s = Settings::from_metadata(Path::new("/r"), &serde_json::Value::Null).unwrap();
        assert_eq!(s.test, TestSettings::default());
        assert!(!s.test.database);
        let meta = json!({"xtask": {"test": {"database": true, "database-name": "shop_test",
            "database-user": "shop"}}});
        let t = Settings::from_metadata(Path::new("/r"), &meta).unwrap().test;
        assert!(t.database);
        assert_eq!((t.database_name.as_str(), t.database_user.as_str()), ("shop_test", "shop"));
        assert!(t.tools.is_empty());
        assert!(!t.build_images);
        let meta = json!({"xtask": {"test": {"tools": ["schemathesis"], "build-images": true}}});
        let t = Settings::from_metadata(Path::new("/r"), &meta).unwrap().test;
        assert_eq!(t.tools, [Tool::Schemathesis]);
        assert!(t.build_images);
        let not_a_bool = json!({"xtask": {"test": {"build-images": "yes"}}});
        let err = format!("{:#}", Settings::from_metadata(Path::new("/r"), &not_a_bool).unwrap_err());
        assert!(err.contains("invalid type: string \"yes\", expected a boolean"), "{err}");
        let unknown = json!({"xtask": {"test": {"tools": ["cargo-nextest"]}}});
        let err = format!("{:#}", Settings::from_metadata(Path::new("/r"), &unknown).unwrap_err());
        assert!(err.contains("`cargo-nextest` is not a tool the xtask installs for the tests (one of: "), "{err}");
        assert!(err.contains("schemathesis"), "{err}");
        let moved = json!({"xtask": {"test": {"compose-file": "deploy/compose.yaml"}}});
        let err = format!("{:#}", Settings::from_metadata(Path::new("/r"), &moved).unwrap_err());
        assert!(
            err.contains("`compose-file` has moved: write it as `file` in [workspace.metadata.xtask.compose]"),
            "{err}"
        );
    }

    #[test]
    fn test_inputs_are_globs_and_filtersets_and_every_problem_is_reported() {
        let meta = json!({"xtask": {"test": {"inputs": [
            {"glob": "Dockerfile", "tests": "binary(smoke_run)"},
            {"glob": ["scripts/**", "deploy/*"], "tests": ["binary(ops)", "test(/x/)"]},
        ]}}});
        let t = Settings::from_metadata(Path::new("/r"), &meta).unwrap().test;
        assert_eq!(
            t.inputs,
            [
                TestInput { globs: vec!["Dockerfile".into()], tests: "binary(smoke_run)".into() },
                TestInput {
                    globs: vec!["scripts/**".into(), "deploy/*".into()],
                    tests: "(binary(ops)) | (test(/x/))".into()
                },
            ]
        );
        let bad = json!({"xtask": {"test": {"inputs": [
            {"glob": "/abs", "tests": "binary(a)"},
            {"glob": "!x", "tests": "binary(a)"},
            {"glob": "ok", "tests": ""},
            {"glob": "ok", "tests": "binary(a"},
            {"glob": [], "tests": "all()"},
        ]}}});
        let err = format!("{:#}", Settings::from_metadata(Path::new("/r"), &bad).unwrap_err());
        for says in [
            "inputs[0] (/abs): `/abs`: write paths relative to the root",
            "inputs[1] (!x): an input's glob cannot be negated",
            "inputs[2] (ok): `tests` must name the tests",
            "inputs[3] (ok): `tests` filterset \"binary(a\" has unbalanced parentheses",
            "inputs[4] (): `glob` must name the files",
        ] {
            assert!(err.contains(says), "{says}: {err}");
        }
        let unknown = json!({"xtask": {"test": {"inputs": [{"glob": "a", "tests": "all()", "test": "x"}]}}});
        assert!(Settings::from_metadata(Path::new("/r"), &unknown).is_err());
    }

    #[test]
    fn compose_and_smoke_tables_defaults_and_values() {
        let s = Settings::from_metadata(Path::new("/r"), &serde_json::Value::Null).unwrap();
        assert_eq!(s.compose, ComposeSettings::default());
        assert_eq!((s.compose.db_service.as_str(), s.compose.app_port), ("db", 8000));
        assert_eq!(s.smoke, SmokeSettings::default());
        let meta = json!({"xtask": {
            "compose": {"file": "deploy/compose.yaml", "dev-file": "deploy/dev.yaml", "db-service": "postgres",
                        "migrate-service": "m", "app-service": "api", "app-port": 3000,
                        "env": {"PGPASSWORD": "{secret}", "PORT": "{port}", "IMAGE": "{image}", "USER": "u"}},
            "smoke": {"image": "shop:smoke", "max-image-size-mb": 90}}});
        let s = Settings::from_metadata(Path::new("/r"), &meta).unwrap();
        assert_eq!(s.compose.file.as_deref(), Some(Path::new("/r/deploy/compose.yaml")));
        assert_eq!(s.compose.dev_file.as_deref(), Some(Path::new("/r/deploy/dev.yaml")));
        assert_eq!((s.compose.db_service.as_str(), s.compose.migrate_service.as_str()), ("postgres", "m"));
        assert_eq!((s.compose.app_service.as_str(), s.compose.app_port), ("api", 3000));
        assert_eq!(s.compose.env["PGPASSWORD"], "{secret}");
        assert_eq!((s.smoke.image.as_str(), s.smoke.max_image_size_mb), ("shop:smoke", 90));
    }

    #[test]
    fn lint_table_defaults_and_values() {
        let s = Settings::from_metadata(Path::new("/r"), &serde_json::Value::Null).unwrap();
        assert!(s.lint.exclude.is_empty());
        assert_eq!(s.lint.max_file_size_kb, 500);
        assert!(s.lint.cors_paths.contains(&"app/**".to_owned()));
        let meta =
            json!({"xtask": {"lint": {"exclude": ["gen/*.xml"], "max-file-size-kb": 100, "cors-paths": ["srv/**"]}}});
        let s = Settings::from_metadata(Path::new("/r"), &meta).unwrap();
        assert_eq!(s.lint.exclude, ["gen/*.xml"]);
        assert_eq!(s.lint.max_file_size_kb, 100);
        assert_eq!(s.lint.cors_paths, ["srv/**"]);
    }

    #[test]
    fn security_table_defaults_and_values() {
        let s = Settings::from_metadata(Path::new("/r"), &serde_json::Value::Null).unwrap().security;
        assert_eq!((s.advisory_db, s.max_db_age_days, s.accept_stale_db), (None, 90, false));
        assert_eq!(s.suppressions, Path::new("/r/security.toml"));
        let meta = json!({"xtask": {"security": {"advisory-db": "db", "max-db-age-days": 30, "accept-stale-db": true,
                          "linked-by": ["app"], "source-paths": ["app/src/**"], "suppressions": "sec/s.toml"}}});
        let s = Settings::from_metadata(Path::new("/r"), &meta).unwrap().security;
        assert_eq!(s.advisory_db.as_deref(), Some(Path::new("/r/db")));
        assert_eq!((s.max_db_age_days, s.accept_stale_db), (30, true));
        assert_eq!((s.linked_by, s.source_paths), (vec!["app".to_owned()], vec!["app/src/**".to_owned()]));
        assert_eq!(s.suppressions, Path::new("/r/sec/s.toml"));
    }

    #[test]
    fn typos_and_bad_values_are_errors() {
        for meta in [
            json!({"xtask": {"coverage": {"treshold": 70}}}),
            json!({"xtask": {"coverage": {"threshold": 170}}}),
            json!({"xtask": {"coverage": {"threshold": true}}}),
            json!({"xtask": {"coverage": {"bands": [{"min": 50, "emoji": "x", "label": "x"}]}}}),
            json!({"xtask": {"coverage": {"bands": [{"min": 0, "emoji": "x", "label": "a"}, {"min": 50, "emoji": "y", "label": "b"}]}}}),
            json!({"xtask": {"test": {"datbase": true}}}),
            json!({"xtask": {"test": {"database": "yes"}}}),
            json!({"xtask": {"test": {"database-name": "drop table"}}}),
            json!({"xtask": {"test": {"database-user": "1st"}}}),
            json!({"xtask": {"test": {"compose-service": "db"}}}),
            json!({"xtask": {"compose": {"db-service": ""}}}),
            json!({"xtask": {"compose": {"app-port": 0}}}),
            json!({"xtask": {"compose": {"ready-path": "health"}}}),
            json!({"xtask": {"compose": {"app-port": 70000}}}),
            json!({"xtask": {"compose": {"env": {"A B": "x"}}}}),
            json!({"xtask": {"compose": {"env": {"A": "{random}"}}}}),
            json!({"xtask": {"compose": {"compse": "x"}}}),
            json!({"xtask": {"smoke": {"max-image-size-mb": 0}}}),
            json!({"xtask": {"smoke": {"image": "a b"}}}),
            json!({"xtask": {"lint": {"exlude": []}}}),
            json!({"xtask": {"lint": {"exclude": ["/abs/path"]}}}),
            json!({"xtask": {"lint": {"cors-paths": ["a**"]}}}),
            json!({"xtask": {"lint": {"max-file-size-kb": 0}}}),
            json!({"xtask": {"lint": {"max-file-size-kb": -5}}}),
            json!({"xtask": {"security": {"max-db-age": 30}}}),
            json!({"xtask": {"security": {"max-db-age-days": 0}}}),
            json!({"xtask": {"security": {"source-paths": ["/abs"]}}}),
            json!({"xtask": {"security": {"accept-stale-db": "yes"}}}),
        ] {
            assert!(Settings::from_metadata(Path::new("/r"), &meta).is_err(), "{meta}");
        }
    }
}
