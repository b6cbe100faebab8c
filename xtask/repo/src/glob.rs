//! Path globs, matched against a path relative to the root with `/` separators: `*` is any run
//! of characters except `/`, `?` one character except `/`, `**` any number of whole folders
//! (`**/x` also matches `x` at the root, `a/**` everything under `a`). A pattern matches the
//! whole path; there is no implicit `**/`. The settings' globs (the lint's `exclude` and
//! `cors-paths`, the test inputs, `source-paths`), the coverage gate's `--file` patterns and
//! per-path gates, and the security suppressions' paths are all these.

/// Whether `pattern` matches all of `path`.
pub fn matches(pattern: &str, path: &str) -> bool {
    let pat: Vec<&str> = pattern.split('/').collect();
    let segs: Vec<&str> = path.split('/').collect();
    match_segments(&pat, &segs)
}

/// A list of patterns in which `!pattern` takes a path back out: a path is selected when a
/// plain pattern matches it and no `!` pattern does.
pub fn selected(patterns: &[String], path: &str) -> bool {
    let mut hit = false;
    for p in patterns {
        match p.strip_prefix('!') {
            Some(neg) if matches(neg, path) => return false,
            Some(_) => {}
            None => hit = hit || matches(p, path),
        }
    }
    hit
}

/// Why a pattern is unusable, if it is.
pub fn check(pattern: &str) -> Result<(), String> {
    let body = pattern.strip_prefix('!').unwrap_or(pattern);
    if body.is_empty() {
        return Err(format!("`{pattern}` is empty"));
    }
    if body.starts_with('/') || body.contains('\\') {
        return Err(format!("`{pattern}`: write paths relative to the root, with `/`"));
    }
    if body.split('/').any(|s| s.contains("**") && s != "**") {
        return Err(format!("`{pattern}`: `**` must be a whole path segment (`a/**/b`)"));
    }
    Ok(())
}

fn match_segments(pat: &[&str], segs: &[&str]) -> bool {
    match pat.split_first() {
        None => segs.is_empty(),
        Some((&"**", rest)) => (0..=segs.len()).any(|skip| match_segments(rest, &segs[skip..])),
        Some((p, rest)) => match segs.split_first() {
            Some((s, srest)) => match_segment(p.as_bytes(), s.as_bytes()) && match_segments(rest, srest),
            None => false,
        },
    }
}

/// `*` and `?` within one segment (iterative, with backtracking to the last `*`).
fn match_segment(p: &[u8], s: &[u8]) -> bool {
    let (mut pi, mut si) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        if pi < p.len() && (p[pi] == b'?' || p[pi] == s[si]) {
            pi += 1;
            si += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, si));
            pi += 1;
        } else if let Some((sp, ss)) = star {
            pi = sp + 1;
            si = ss + 1;
            star = Some((sp, ss + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stars_stay_within_a_segment() {
        assert!(matches("xtask/tests/fixtures/producers/*.xml", "xtask/tests/fixtures/producers/c8.xml"));
        assert!(!matches("xtask/tests/fixtures/producers/*.xml", "xtask/tests/fixtures/producers/src/a.xml"));
        assert!(matches("*.md", "README.md"));
        assert!(!matches("*.md", "docs/a.md"));
        assert!(matches("a?c", "abc"));
        assert!(!matches("a?c", "a/c"));
        assert!(matches("*a*b*", "xaybz"));
        assert!(!matches("*a*b", "xaybz"));
        assert!(matches(".env*", ".env.example"));
    }

    #[test]
    fn double_star_spans_folders() {
        assert!(matches("docs/**", "docs/a/b.md"));
        assert!(matches("**/*.md", "README.md"));
        assert!(matches("**/*.md", "docs/x/y.md"));
        assert!(matches("app/**/config.toml", "app/config.toml"));
        assert!(matches("app/**/config.toml", "app/a/b/config.toml"));
        assert!(!matches("app/**", "application/x"));
    }

    #[test]
    fn negation_takes_paths_back_out() {
        let pats = vec!["app/**".to_owned(), "!app/tests/**".to_owned()];
        assert!(selected(&pats, "app/src/main.rs"));
        assert!(!selected(&pats, "app/tests/cors.rs"));
        assert!(!selected(&pats, "docs/a.md"));
    }

    #[test]
    fn bad_patterns_are_refused() {
        assert!(check("").is_err());
        assert!(check("!").is_err());
        assert!(check("/abs").is_err());
        assert!(check("a**b").is_err());
        assert!(check("a\\b").is_err());
        assert!(check("docs/**/*.md").is_ok());
    }
}
