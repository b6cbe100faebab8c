//! `[workspace.metadata.xtask.lint]`. Globs are relative to the root (see `xtask/repo/src/glob.rs`).

use serde::Deserialize;

use super::check_globs;

#[derive(Clone, Debug)]
pub struct LintSettings {
    /// Files no lint check reads (generated or deliberately odd files): the `exclude` setting and
    /// [`XTASK_OWN_EXCLUDES`]. The `env-not-committed` policy still sees them: it looks at what
    /// git tracks.
    pub exclude: Vec<String>,
    /// The size limit for any file in the checkout, in KB (1024 bytes).
    pub max_file_size_kb: u64,
    /// The files the `cors-no-wildcard` policy scans; `!pattern` takes files back out.
    pub cors_paths: Vec<String>,
    /// Check that sqlx's offline query data (`.sqlx/`) is what the code's queries give against
    /// a migrated database, as `cargo sqlx prepare --check` would (where a `.sqlx/` exists).
    pub sqlx_check: bool,
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

/// What no lint check reads in any workspace, whatever `exclude` says: the xtask's own test
/// data, which is byte-for-byte what other tools wrote (coverage reports, some without a final
/// newline; RustSec advisories, a TOML block before the Markdown). A team that copies `xtask/`
/// does not lint it.
pub const XTASK_OWN_EXCLUDES: [&str; 2] =
    ["xtask/tests/fixtures/producers/*.xml", "xtask/tests/fixtures/security/advisory-db/**"];

/// The table as written, every key with its default.
#[derive(Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct Table {
    exclude: Vec<String>,
    max_file_size_kb: u64,
    cors_paths: Vec<String>,
    sqlx_check: bool,
}

impl Default for Table {
    fn default() -> Table {
        Table {
            exclude: Vec::new(),
            max_file_size_kb: 500,
            cors_paths: DEFAULT_CORS_PATHS.map(str::to_owned).to_vec(),
            sqlx_check: true,
        }
    }
}

impl Table {
    /// The settings, or every problem with them.
    pub(super) fn validate(self) -> Result<LintSettings, Vec<String>> {
        let mut errors = Vec::new();
        check_globs("exclude", &self.exclude, &mut errors);
        check_globs("cors-paths", &self.cors_paths, &mut errors);
        if self.max_file_size_kb == 0 {
            errors.push("`max-file-size-kb` must be at least 1".to_owned());
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let mut exclude = self.exclude;
        for own in XTASK_OWN_EXCLUDES {
            if !exclude.iter().any(|g| g == own) {
                exclude.push(own.to_owned());
            }
        }
        Ok(LintSettings {
            exclude,
            max_file_size_kb: self.max_file_size_kb,
            cors_paths: self.cors_paths,
            sqlx_check: self.sqlx_check,
        })
    }
}
