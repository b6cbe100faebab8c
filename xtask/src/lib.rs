//! The project's quality gates. `main.rs` parses the command line and calls one gate; each
//! gate lives in `gates/`. What they share (the context, settings, output, tools, Docker, the
//! test database, the verdict cache, impact-aware runs) is the crate below them, `xtask-core`
//! (`xtask/core/`), re-exported here whole. See docs/architecture.md.

pub use xtask_core::*;
pub mod gates;
/// The lint engine, a crate of its own (`xtask/lint/`) so it builds unoptimised; see its Cargo.toml.
pub use xtask_lint as lint;
/// The security engine, a crate of its own (`xtask/security/`) like the lint engine.
pub use xtask_security as security;
