//! The lint engine behind `cargo xtask lint`, working on a given root (the files git lists
//! there, `xtask_repo::files`): the file hygiene rules, the project policies, running the
//! external linters there and parsing their output into findings (`checks::Runner`,
//! `external`), and `--fix` (`checks::fix_hygiene`, `Runner::rustfmt_fix`). Each check returns
//! a `checks::Report`, data. The sqlx check's comparison of query data is here too (`sqlx`);
//! its build against a migrated database is the xtask's, which provides the database. Finding
//! and installing the tools, running the checks in parallel, and rendering the reports (the
//! terminal, annotations, the step summary's Markdown) are done by the xtask (`tools.rs`,
//! `gates/lint/`).
//!
//! A crate of its own since the xtask crate was built at opt-level 3, where this code more than
//! doubled that crate's compile time (see Cargo.toml). Neither is optimised now: in the dev
//! profile only `xtask-reader` and a few dependencies are (the root Cargo.toml).

pub mod checks;
pub mod compose;
pub mod dockerignore;
pub mod external;
pub mod hygiene;
pub mod nginx;
pub mod policy;
pub mod promtool;
pub mod sqlx;
pub mod yaml;

use std::fmt;

/// One problem, at a file and line when it has one: printed as `path:line: message`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// Relative to the linted root, with `/` separators.
    pub path: Option<String>,
    /// 1-based.
    pub line: Option<usize>,
    pub message: String,
}

impl Finding {
    pub fn at(path: &str, line: usize, message: impl Into<String>) -> Finding {
        Finding { path: Some(path.to_owned()), line: Some(line), message: message.into() }
    }

    pub fn file(path: &str, message: impl Into<String>) -> Finding {
        Finding { path: Some(path.to_owned()), line: None, message: message.into() }
    }

    pub fn general(message: impl Into<String>) -> Finding {
        Finding { path: None, line: None, message: message.into() }
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.path, self.line) {
            (Some(path), Some(line)) => write!(f, "{path}:{line}: {}", self.message),
            (Some(path), None) => write!(f, "{path}: {}", self.message),
            (None, _) => f.write_str(&self.message),
        }
    }
}

/// 1-based line of a byte offset.
pub fn line_of(text: &[u8], offset: usize) -> usize {
    1 + text[..offset.min(text.len())].iter().filter(|&&b| b == b'\n').count()
}
