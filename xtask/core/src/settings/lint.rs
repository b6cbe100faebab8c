//! `[workspace.metadata.xtask.lint]`. Globs are relative to the root (see `xtask/repo/src/glob.rs`).

use serde::Deserialize;

use super::check_globs;

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

/// The table as written, every key with its default.
#[derive(Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct Table {
    exclude: Vec<String>,
    max_file_size_kb: u64,
    cors_paths: Vec<String>,
}

impl Default for Table {
    fn default() -> Table {
        Table { exclude: Vec::new(), max_file_size_kb: 500, cors_paths: DEFAULT_CORS_PATHS.map(str::to_owned).to_vec() }
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
        Ok(LintSettings { exclude: self.exclude, max_file_size_kb: self.max_file_size_kb, cors_paths: self.cors_paths })
    }
}
