//! Where in the repository a compiler diagnostic belongs. A lint raised inside a macro's
//! expansion has its primary span in the macro's body, which for a dependency's macro is a
//! file of the cargo registry; the user's code is where the macro was called, further up the
//! span's expansion chain. Both engines (the lint gate's clippy check and the security gate's
//! curated lints) place clippy's findings with [`site`].

use std::path::{Component, Path};

use cargo_metadata::diagnostic::{Diagnostic, DiagnosticSpan};

/// The span a finding is shown at, and the macro to name when that span is not where the
/// macro was called.
pub struct Site<'a> {
    pub span: &'a DiagnosticSpan,
    pub in_macro: Option<&'a str>,
}

impl Site<'_> {
    /// What follows the diagnostic's message: ` (in the expansion of `m!`)`, or nothing.
    pub fn note(&self) -> String {
        self.in_macro.map(|m| format!(" (in the expansion of `{m}`)")).unwrap_or_default()
    }
}

/// The diagnostic's first primary span when it is in the workspace (as it always was); else the
/// first span of its expansion chain that is (the call site in the user's code); else the first
/// span of the diagnostic in the workspace (primary spans, the others, the children's), naming
/// the outermost macro of the chain; else the primary span. None without a primary span.
pub fn site<'a>(d: &'a Diagnostic, root: &Path) -> Option<Site<'a>> {
    let primary = d.spans.iter().find(|s| s.is_primary)?;
    let ours = |s: &&DiagnosticSpan| in_workspace(&s.file_name, root);
    let chain = std::iter::successors(Some(primary), |s| s.expansion.as_deref().map(|e| &e.span));
    if let Some(span) = chain.clone().find(ours) {
        return Some(Site { span, in_macro: None });
    }
    let spans = d.spans.iter().filter(|s| s.is_primary).chain(d.spans.iter().filter(|s| !s.is_primary));
    match spans.chain(d.children.iter().flat_map(|c| &c.spans)).find(ours) {
        Some(span) => {
            let outermost = chain.filter_map(|s| s.expansion.as_deref()).last();
            Some(Site { span, in_macro: outermost.map(|e| e.macro_decl_name.as_str()) })
        }
        None => Some(Site { span: primary, in_macro: None }),
    }
}

/// A file a diagnostic names is in the workspace when cargo printed it relative (it does so for
/// the workspace's own files, never with `..`) or it is under `root`, but not in a cargo home's
/// registry or git checkouts nor a toolchain's library there (a `CARGO_HOME` inside the root).
pub fn in_workspace(file: &str, root: &Path) -> bool {
    let path = Path::new(file);
    if !(path.has_root() || path.is_absolute()) {
        return !matches!(path.components().next(), Some(Component::ParentDir | Component::Prefix(_)));
    }
    let inside = super::relative(file, root);
    let parts: Vec<Component> = Path::new(&inside).components().collect();
    if parts.first().is_some_and(|c| matches!(c, Component::RootDir | Component::Prefix(_))) {
        return false;
    }
    !parts.windows(2).any(|w| {
        let pair = (w[0].as_os_str().to_str(), w[1].as_os_str().to_str());
        matches!(
            pair,
            (Some("registry"), Some("src")) | (Some("git"), Some("checkouts")) | (Some("lib"), Some("rustlib"))
        )
    })
}

#[cfg(test)]
mod tests {
    use cargo_metadata::Message;

    use super::*;

    /// Real `cargo clippy --message-format=json -- -W clippy::mem_forget` messages (paths made
    /// neutral): a workspace at `/w` whose `src/lib.rs` calls the `macro_rules!` of a path
    /// dependency outside it, `/home/user/other-crate`. `call_old!()` at line 32 expands to a
    /// deprecated call, `forget!(v)` at 36 to `std::mem::forget(v)`, `forget_twice!(v)` at 44
    /// calls `$crate::forget!` twice (nested: two messages), and line 40 dereferences a raw
    /// pointer in the workspace's own code. The last message, from a second run with line 40 as
    /// `typed!(u32)` (expanding to `let n: $t = "a";`), is the compiler's own error.
    const FIXTURE: &str = include_str!("../tests/fixtures/clippy-macros.jsonl");

    fn diagnostics() -> Vec<Diagnostic> {
        Message::parse_stream(FIXTURE.as_bytes())
            .filter_map(|m| match m {
                Ok(Message::CompilerMessage(m)) => Some(m.message),
                _ => None,
            })
            .collect()
    }

    fn placed(d: &Diagnostic) -> (String, usize, String) {
        let s = site(d, Path::new("/w")).unwrap();
        (s.span.file_name.clone(), s.span.line_start, s.note())
    }

    #[test]
    fn a_finding_in_a_macro_lands_at_the_call_in_the_workspace() {
        let found: Vec<_> = diagnostics().iter().map(placed).collect();
        let at = |line: usize| ("src/lib.rs".to_owned(), line, String::new());
        assert_eq!(found, [at(32), at(36), at(40), at(44), at(44), at(40)]);
    }

    #[test]
    fn without_a_call_in_the_workspace_the_first_span_there_names_the_macro() {
        // The mismatched-types error as though `typed!` had been called from another crate's
        // code: its chain leaves the workspace, its "expected due to this" label does not.
        let mut d = diagnostics().pop().unwrap();
        let registry = "/home/user/.cargo/registry/src/index.crates.io-0000/other-1.0.0/src/lib.rs";
        d.spans[0].expansion.as_mut().unwrap().span.file_name = registry.to_owned();
        assert_eq!(
            placed(&d),
            ("src/lib.rs".to_owned(), 40, " (in the expansion of `other_crate::typed!`)".to_owned())
        );
        // Nothing in the workspace at all: the primary span, as before.
        d.spans[1].file_name = registry.to_owned();
        assert_eq!(placed(&d), ("/home/user/other-crate/src/lib.rs".to_owned(), 75, String::new()));
        d.spans.retain(|s| !s.is_primary);
        assert!(site(&d, Path::new("/w")).is_none());
    }

    #[test]
    fn the_workspace_is_relative_paths_and_the_root_without_cargo_and_rustup_homes() {
        let root = Path::new("/w");
        for ours in ["src/lib.rs", "app/src/main.rs", "/w/xtask/src/main.rs", "lib/rustlib/a.rs"] {
            assert!(in_workspace(ours, root), "{ours}");
        }
        for theirs in [
            "/home/user/other-crate/src/lib.rs",
            "/home/user/.cargo/registry/src/index.crates.io-0000/sqlx-0.8.1/src/macros/mod.rs",
            "/w/.cargo/registry/src/index.crates.io-0000/sqlx-0.8.1/src/macros/mod.rs",
            "/w/.cargo/git/checkouts/dep-1234/abcdef/src/lib.rs",
            "/w/.rustup/toolchains/stable-x86_64-unknown-linux-gnu/lib/rustlib/src/rust/library/core/src/macros/mod.rs",
            "/rustc/59807616e1/library/core/src/macros/mod.rs",
            "../other-crate/src/lib.rs",
        ] {
            assert!(!in_workspace(theirs, root), "{theirs}");
        }
    }
}
