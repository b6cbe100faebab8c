//! `.dockerignore` as Docker reads it (moby's patternmatcher): a pattern a line (lines starting
//! with `#` and blank lines skipped, whitespace trimmed, the path cleaned, a leading `/`
//! dropped), `!` taking paths back in. A pattern that matches a folder matches everything in
//! it, and the last pattern that matches a path or one of its folders decides.

/// One pattern of an ignore file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    /// 1-based.
    pub line: usize,
    /// As written (trimmed), for messages.
    pub text: String,
    /// A `!` pattern: the paths it matches are taken back into the build context.
    pub include: bool,
    body: String,
}

pub fn parse(text: &str) -> Vec<Pattern> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let t = raw.trim();
        // Only a `#` in the first column starts a comment.
        if raw.starts_with('#') || t.is_empty() {
            continue;
        }
        let (include, body) = match t.strip_prefix('!') {
            Some(b) => (true, b.trim()),
            None => (false, t),
        };
        if body.is_empty() {
            continue;
        }
        let body = clean(body);
        let body = body.strip_prefix('/').filter(|b| !b.is_empty()).map_or(body.clone(), str::to_owned);
        out.push(Pattern { line: i + 1, text: t.to_owned(), include, body });
    }
    out
}

/// The pattern that decides whether `path` (relative to the context) is sent: the last one
/// that matches it or one of its folders.
pub fn decisive<'a>(patterns: &'a [Pattern], path: &str) -> Option<&'a Pattern> {
    let folders: Vec<&str> = path.match_indices('/').map(|(i, _)| &path[..i]).collect();
    patterns.iter().rev().find(|p| matches(&p.body, path) || folders.iter().any(|f| matches(&p.body, f)))
}

/// The pattern that leaves `path` out of the build context, if one does.
pub fn excluded_by<'a>(patterns: &'a [Pattern], path: &str) -> Option<&'a Pattern> {
    decisive(patterns, path).filter(|p| !p.include)
}

/// The classic builder (`docker build` without BuildKit) sends a file from a folder the
/// patterns exclude only when a `!` pattern *starts with* that folder (moby's `TarWithOptions`
/// skips the folder otherwise): after `xtask/**`, `!xtask/*/Cargo.toml` brings nothing back
/// from `xtask/coverage/`, while `!xtask/coverage/Cargo.toml` does. The first such folder of
/// `path`, and the pattern that excludes it.
pub fn skipped_by_classic_builder<'a>(patterns: &'a [Pattern], path: &str) -> Option<(String, &'a Pattern)> {
    path.match_indices('/').map(|(i, _)| &path[..i]).find_map(|folder| {
        let excluding = excluded_by(patterns, folder)?;
        let opened = patterns.iter().any(|p| p.include && p.body.starts_with(&format!("{folder}/")));
        (!opened).then(|| (folder.to_owned(), excluding))
    })
}

/// Go's `path.Clean`: no empty or `.` segments, `..` resolved where it can be, `.` for nothing.
pub fn clean(path: &str) -> String {
    let rooted = path.starts_with('/');
    let mut segs: Vec<&str> = Vec::new();
    for seg in path.split('/') {
        match seg {
            "" | "." => {}
            ".." if segs.last().is_some_and(|s| *s != "..") => {
                segs.pop();
            }
            ".." if rooted => {}
            s => segs.push(s),
        }
    }
    match (rooted, segs.join("/")) {
        (true, s) => format!("/{s}"),
        (false, s) if s.is_empty() => ".".to_owned(),
        (false, s) => s,
    }
}

/// Whether `pattern` matches all of `path`: `*` is any run of characters but `/`, `?` one of
/// them, `[a-z]` (`[^a-z]`) a class, `\` escapes, and `**` any number of folders, even none.
pub fn matches(pattern: &str, path: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let s: Vec<char> = path.chars().collect();
    match_from(&p, &s)
}

fn match_from(p: &[char], s: &[char]) -> bool {
    match p {
        [] => s.is_empty(),
        ['*', '*', rest @ ..] => {
            // `**` at the end matches the rest; else it is `(.*/)?`, as moby compiles it.
            let rest = rest.strip_prefix(&['/']).unwrap_or(rest);
            rest.is_empty() || (0..=s.len()).any(|i| (i == 0 || s[i - 1] == '/') && match_from(rest, &s[i..]))
        }
        ['*', rest @ ..] => {
            let run = s.iter().position(|&c| c == '/').unwrap_or(s.len());
            (0..=run).any(|i| match_from(rest, &s[i..]))
        }
        ['?', rest @ ..] => s.first().is_some_and(|&c| c != '/') && match_from(rest, &s[1..]),
        ['[', rest @ ..] => match (s.split_first(), class(rest)) {
            (Some((&c, s_rest)), Some((set, negate, p_rest))) => {
                let hit = set.chunks(2).any(|r| (r[0]..=r[1]).contains(&c));
                hit != negate && match_from(p_rest, s_rest)
            }
            (Some((&c, s_rest)), None) => c == '[' && match_from(rest, s_rest),
            (None, _) => false,
        },
        ['\\', c, rest @ ..] | [c, rest @ ..] => s.first() == Some(c) && match_from(rest, &s[1..]),
    }
}

/// A `[…]` class (`p` starts after the `[`): its ranges as (low, high) pairs, whether it is
/// negated, and the pattern after the `]`. `None` when it is not closed.
fn class(p: &[char]) -> Option<(Vec<char>, bool, &[char])> {
    let (negate, mut p) = match p {
        ['^', rest @ ..] => (true, rest),
        _ => (false, p),
    };
    let mut set = Vec::new();
    let mut first = true;
    loop {
        match p {
            [] => return None,
            [']', rest @ ..] if !first => return Some((set, negate, rest)),
            [lo, '-', hi, rest @ ..] if *hi != ']' => {
                set.extend([*lo, *hi]);
                p = rest;
            }
            [c, rest @ ..] => {
                set.extend([*c, *c]);
                p = rest;
            }
        }
        first = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_classic_builder_needs_exceptions_that_name_the_folder() {
        let wildcard = parse("xtask/**\n!xtask/Cargo.toml\n!xtask/*/Cargo.toml\n");
        assert!(excluded_by(&wildcard, "xtask/coverage/Cargo.toml").is_none(), "BuildKit sends it");
        let (folder, pattern) = skipped_by_classic_builder(&wildcard, "xtask/coverage/Cargo.toml").unwrap();
        assert_eq!((folder.as_str(), pattern.line), ("xtask/coverage", 1));
        assert!(skipped_by_classic_builder(&wildcard, "xtask/Cargo.toml").is_none(), "`xtask` itself is not excluded");
        let named = parse("xtask/**\n!xtask/Cargo.toml\n!xtask/coverage/Cargo.toml\n");
        assert!(skipped_by_classic_builder(&named, "xtask/coverage/Cargo.toml").is_none());
        assert!(skipped_by_classic_builder(&parse("target/\n"), "app/Cargo.toml").is_none());
    }

    fn excluded(ignore: &str, path: &str) -> Option<(usize, String)> {
        excluded_by(&parse(ignore), path).map(|p| (p.line, p.text.clone()))
    }

    #[test]
    fn patterns_are_trimmed_cleaned_and_comments_skipped() {
        let pats = parse("\u{feff}# comment\n\n  /target/  \n./docs\n!  xtask/Cargo.toml\n a/../b//c \n #x\n!\n");
        let bodies: Vec<(usize, &str, bool)> = pats.iter().map(|p| (p.line, p.body.as_str(), p.include)).collect();
        assert_eq!(
            bodies,
            [
                (3, "target", false),
                (4, "docs", false),
                (5, "xtask/Cargo.toml", true),
                (6, "b/c", false),
                (7, "#x", false)
            ]
        );
        assert_eq!(pats[0].text, "/target/");
    }

    #[test]
    fn stars_questions_and_classes() {
        assert!(matches("*.swp", "a.swp"));
        assert!(!matches("*.swp", "docs/a.swp"), "`*` does not cross `/`");
        assert!(matches("xtask/*", "xtask/coverage"));
        assert!(!matches("xtask/*", "xtask/coverage/Cargo.toml"));
        assert!(matches("a?c", "abc"));
        assert!(!matches("a?c", "a/c"));
        assert!(matches("file[0-9].txt", "file7.txt"));
        assert!(!matches("file[^0-9].txt", "file7.txt"));
        assert!(matches("[]x]", "]"));
        assert!(matches("a[", "a["), "an unclosed class is literal");
        assert!(matches("a\\*", "a*"));
        assert!(!matches("a\\*", "ab"));
    }

    #[test]
    fn double_star_is_any_number_of_folders() {
        assert!(matches("**/*.md", "README.md"));
        assert!(matches("**/*.md", "docs/x/y.md"));
        assert!(matches("xtask/**", "xtask/lint/src/lib.rs"));
        assert!(!matches("xtask/**", "xtask"), "moby: `xtask/**` needs something under xtask/");
        assert!(matches("a/**/b", "a/b"));
        assert!(matches("a/**/b", "a/x/y/b"));
        assert!(!matches("a/**/b", "a/xb"));
    }

    #[test]
    fn a_folder_pattern_excludes_what_it_holds_and_the_last_match_decides() {
        assert_eq!(excluded("target/\n", "target/debug/x"), Some((1, "target/".into())));
        let old = "app/tests/\nxtask/*\n!xtask/Cargo.toml\n";
        assert_eq!(excluded(old, "xtask/coverage/Cargo.toml"), Some((2, "xtask/*".into())), "its folder matches");
        assert_eq!(excluded(old, "xtask/Cargo.toml"), None);
        assert_eq!(excluded(old, "app/Cargo.toml"), None);
        let new = "xtask/**\n!xtask/Cargo.toml\n!xtask/*/Cargo.toml\n";
        assert_eq!(excluded(new, "xtask/coverage/Cargo.toml"), None);
        assert_eq!(excluded(new, "xtask/coverage/src/lib.rs"), Some((1, "xtask/**".into())));
        assert_eq!(excluded("!a/Cargo.toml\na\n", "a/Cargo.toml"), Some((2, "a".into())), "order matters");
        assert_eq!(excluded("*\n!Cargo.toml\n", "Cargo.toml"), None);
        assert_eq!(excluded("/xtask\n", "xtask/Cargo.toml"), Some((1, "/xtask".into())));
        assert_eq!(excluded("", "Cargo.toml"), None);
    }

    #[test]
    fn paths_are_cleaned_like_go() {
        assert_eq!(clean("./a//b/"), "a/b");
        assert_eq!(clean("a/../../b"), "../b");
        assert_eq!(clean("/build/../x/."), "/x");
        assert_eq!(clean("/.."), "/");
        assert_eq!(clean(""), ".");
        assert_eq!(clean("."), ".");
    }
}
