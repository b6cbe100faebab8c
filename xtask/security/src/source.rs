//! The production source rules (the successor of `bandit -r app/ -ll`): `unsafe` without a
//! `// SAFETY:` comment, and a curated set of dangerous APIs. Pure functions over a file's text.
//!
//! A small lexer splits the text into code, comments and literal contents, so nothing inside a
//! comment or a string ever matches an API rule, and braces inside them do not confuse the
//! skipping of test-only items (`#[cfg(test)]`, `#[test]`). API rules are regexes over the
//! *masked* view (comments and literal contents blanked, delimiters kept); rules about a
//! literal's contents look at the literal that is an argument of the matched call.

use std::ops::Range;
use std::sync::OnceLock;

use regex_lite::Regex;

use crate::{Check, Finding, Severity, line_col};

/// One built-in rule: its id (what a suppression names), severity and one-line rationale.
#[derive(Debug)]
pub struct Rule {
    pub id: &'static str,
    pub severity: Severity,
    pub rationale: &'static str,
    patterns: &'static [Pattern],
}

/// One way a rule matches, with the finding's title.
#[derive(Debug)]
struct Pattern {
    matcher: Matcher,
    title: &'static str,
}

#[derive(Debug)]
enum Matcher {
    /// A regex over the masked code.
    Code(&'static str),
    /// A regex over the masked code that ends where a string literal starts, and a regex the
    /// literal's contents must match: the literal is an argument of the call.
    CodeThenLiteral { code: &'static str, literal: &'static str },
    /// A regex any string literal's contents must match (literals in attributes excepted).
    Literal(&'static str),
}

const fn code(code: &'static str, title: &'static str) -> Pattern {
    Pattern { matcher: Matcher::Code(code), title }
}

const fn call_with(code: &'static str, literal: &'static str, title: &'static str) -> Pattern {
    Pattern { matcher: Matcher::CodeThenLiteral { code, literal }, title }
}

/// The id of the `unsafe` rule, which the lexer checks itself (it has no patterns).
pub const UNSAFE_WITHOUT_SAFETY_COMMENT: &str = "source/unsafe-without-safety-comment";

/// A shell's name as the program of a command, optionally with its `/bin/` path.
const SHELL_PROGRAM: &str =
    r"(?i)^(?:(?:/usr)?/bin/)?(?:sh|bash|zsh|dash|ksh|fish|cmd|cmd\.exe|powershell|powershell\.exe|pwsh|pwsh\.exe)$";

static RULES: [Rule; 8] = [
    Rule {
        id: UNSAFE_WITHOUT_SAFETY_COMMENT,
        severity: Severity::High,
        rationale: "unsafe code is forbidden unless justified: put a `// SAFETY:` comment right above it",
        patterns: &[],
    },
    Rule {
        id: "source/tls-verification-disabled",
        severity: Severity::High,
        rationale: "without certificate and hostname checks anyone on the network can read and alter the traffic",
        patterns: &[
            code(r"danger_accept_invalid_certs\s*\(\s*true\s*\)", "TLS certificate verification is turned off"),
            code(r"danger_accept_invalid_hostnames\s*\(\s*true\s*\)", "TLS hostname verification is turned off"),
            code(r"\.\s*dangerous\s*\(\s*\)", "rustls `dangerous()`: a custom certificate verifier"),
            code(r"\bSslVerifyMode\s*::\s*NONE\b|\bSSL_VERIFY_NONE\b", "OpenSSL peer verification is turned off"),
        ],
    },
    Rule {
        id: "source/shell-command-string",
        severity: Severity::High,
        rationale: "a string run through a shell is open to command injection: run the program with separate arguments",
        patterns: &[
            call_with(r"\bCommand\s*::\s*new\s*\(\s*", SHELL_PROGRAM, "a command run through a shell"),
            call_with(r"\bcmd!\s*\(\s*|\bduct\s*::\s*cmd\s*\(\s*", SHELL_PROGRAM, "a command run through a shell"),
            call_with(
                r"\bcmd!\s*[(\[{][^,]*,\s*",
                r"(?i)^\s*(?:(?:(?:/usr)?/bin/)?(?:sh|bash|zsh|dash|ksh)\s+-[a-z]*c\b|cmd(?:\.exe)?\s+/c\b|(?:powershell|pwsh)(?:\.exe)?\s+-c)",
                "an xshell command run through a shell",
            ),
        ],
    },
    Rule {
        id: "source/weak-hash",
        severity: Severity::Medium,
        rationale: "MD5 and SHA-1 are broken for security: use SHA-256 or better (or BLAKE3), argon2 for passwords",
        patterns: &[
            code(r"\bmd5\s*::\s*compute\s*\(", "MD5 digest (`md5::compute`)"),
            code(r"\bMd5\s*::\s*(?:new|new_with_prefix|default|digest)\s*\(", "MD5 hasher"),
            code(r"\bSha1\s*::\s*(?:new|new_with_prefix|default|digest)\s*\(", "SHA-1 hasher"),
            code(r"\bMessageDigest\s*::\s*(?:md5|sha1)\s*\(", "OpenSSL MD5 or SHA-1 digest"),
            code(r"\bSHA1_FOR_LEGACY_USE_ONLY\b", "ring's legacy SHA-1 digest"),
        ],
    },
    Rule {
        id: "source/sql-string-formatting",
        severity: Severity::High,
        rationale: "SQL built with `format!` is open to injection: bind the values (`$1`, `.bind(…)`) instead",
        patterns: &[
            code(
                r"\b(?:query|query_as|query_scalar|query_with|query_as_with|query_scalar_with|raw_sql|execute|prepare|batch_execute|simple_query)(?:\s*::\s*<[^;(){}]*?>)?\s*\(\s*&?\s*format!\s*[(\[{]",
                "SQL query built with `format!`",
            ),
            call_with(
                r"\bformat!\s*[(\[{]\s*",
                // A statement with an interpolation (`{…}`, not an escaped `{{`) after its keywords,
                // or a table or column list interpolated before FROM or SET.
                concat!(
                    r"(?is)^\s*(?:",
                    r"(?:select\s.*\sfrom|insert\s+into|update\s.*\sset|delete\s+from)\s(?:.*[^{])?\{[^{]",
                    r"|select\s(?:.*[^{])?\{[^{].*\sfrom\s",
                    r"|update\s(?:.*[^{])?\{[^{].*\sset\s",
                    r")",
                ),
                "SQL statement built with `format!`",
            ),
        ],
    },
    Rule {
        id: "source/cors-allow-any-origin",
        severity: Severity::High,
        rationale: "a CORS policy that allows every origin lets any website call the API: list the allowed origins",
        patterns: &[
            code(r"\bCorsLayer\s*::\s*(?:very_)?permissive\s*\(", "CORS layer allows every origin (`permissive`)"),
            code(r"\bAllowOrigin\s*::\s*any\s*\(", "CORS allows every origin (`AllowOrigin::any()`)"),
            code(
                r"\.\s*allow_origin\s*\(\s*(?:(?:tower_http\s*::\s*)?cors\s*::\s*)?Any\s*\)",
                "CORS allows every origin (`allow_origin(Any)`)",
            ),
            code(r"\.\s*allow_any_origin\s*\(|\bCors\s*::\s*permissive\s*\(", "CORS allows every origin"),
        ],
    },
    Rule {
        id: "source/jwt-signature-unchecked",
        severity: Severity::High,
        rationale: "a token whose signature is not checked can be forged by anyone: always validate it",
        patterns: &[
            code(r"\binsecure_disable_signature_validation\s*\(", "JWT signature validation is turned off"),
            code(
                r"\b(?:dangerous_)?insecure_decode\w*(?:\s*::\s*<[^;(){}]*?>)?\s*\(",
                "JWT decoded without checking its signature",
            ),
        ],
    },
    Rule {
        id: "source/hardcoded-tmp-path",
        severity: Severity::Medium,
        rationale: "a fixed path in a shared temporary directory can be pre-created or raced: use the tempfile crate",
        patterns: &[Pattern {
            matcher: Matcher::Literal(r"^/(?:tmp|var/tmp|dev/shm)(?:/|$)"),
            title: "hard-coded temporary path",
        }],
    },
];

/// Every rule, for the documentation and `--list-rules`.
pub fn rules() -> &'static [Rule] {
    &RULES
}

/// A pattern with its regexes compiled (once, see [`compiled`]).
struct Compiled {
    rule: &'static Rule,
    title: &'static str,
    code: Option<Regex>,
    literal: Option<Regex>,
}

fn compiled() -> &'static [Compiled] {
    static COMPILED: OnceLock<Vec<Compiled>> = OnceLock::new();
    COMPILED.get_or_init(|| {
        let re = |p: &str| Regex::new(p).unwrap_or_else(|e| panic!("source rule regex {p:?}: {e}"));
        let mut out = Vec::new();
        for rule in &RULES {
            for pattern in rule.patterns {
                let (code, literal) = match pattern.matcher {
                    Matcher::Code(c) => (Some(re(c)), None),
                    Matcher::CodeThenLiteral { code, literal } => (Some(re(code)), Some(re(literal))),
                    Matcher::Literal(l) => (None, Some(re(l))),
                };
                out.push(Compiled { rule, title: pattern.title, code, literal });
            }
        }
        out
    })
}

fn unsafe_keyword() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"\bunsafe\b").unwrap_or_else(|e| panic!("{e}")))
}

/// Scan one production Rust file. `path` is relative with `/` separators (it goes into
/// `Finding.path`). Test-only items and comments never produce findings.
pub fn scan_rust(path: &str, text: &str) -> Vec<Finding> {
    let lexed = Lexed::new(text);
    let attrs = lexed.attributes();
    let excluded = test_only(&lexed, &attrs);
    let in_attr = |at: usize| attrs.iter().any(|a| a.range.contains(&at));
    let skip = |at: usize| excluded.iter().any(|r| r.contains(&at));

    // (span, rule, title): spans let one rule's second pattern skip what its first already reported.
    let mut hits: Vec<(Range<usize>, &'static Rule, String)> = Vec::new();
    let unsafe_rule = &RULES[0];
    debug_assert_eq!(unsafe_rule.id, UNSAFE_WITHOUT_SAFETY_COMMENT);
    for m in unsafe_keyword().find_iter(&lexed.masked) {
        let at = m.start();
        let attr = attrs.iter().find(|a| a.range.contains(&at));
        // `#[unsafe(no_mangle)]` is a use; `unsafe` anywhere else in an attribute is not.
        let use_in_attr = attr.is_none_or(|a| a.inner.trim_start().starts_with("unsafe"));
        if skip(at) || lexed.masked[..at].ends_with("r#") || !use_in_attr || lexed.justified(at, &attrs) {
            continue;
        }
        let title = format!("`unsafe` {} without a `// SAFETY:` comment", unsafe_kind(&lexed.masked[m.end()..]));
        hits.push((m.range(), unsafe_rule, title));
    }
    for c in compiled() {
        // (span, title) of each match of this pattern.
        let mut found = Vec::new();
        match (&c.code, &c.literal) {
            (Some(code), None) => found.extend(code.find_iter(&lexed.masked).map(|m| (m.range(), c.title.to_owned()))),
            (Some(code), Some(literal)) => {
                for m in code.find_iter(&lexed.masked) {
                    let Some(lit) = lexed.literal_at(m.end()) else { continue };
                    let contents = &text[lit.contents.clone()];
                    if literal.is_match(contents) {
                        found.push((m.start()..lit.end, titled(c.title, contents)));
                    }
                }
            }
            (None, literal) => {
                for lit in lexed.literals.iter().filter(|l| !in_attr(l.start)) {
                    let contents = &text[lit.contents.clone()];
                    if literal.as_ref().is_some_and(|re| re.is_match(contents)) {
                        found.push((lit.start..lit.end, titled(c.title, contents)));
                    }
                }
            }
        }
        for (span, title) in found {
            let overlaps = hits.iter().any(|(s, r, _)| r.id == c.rule.id && s.start < span.end && span.start < s.end);
            if !skip(span.start) && !overlaps {
                hits.push((span, c.rule, title));
            }
        }
    }
    hits.sort_by(|a, b| (a.0.start, a.1.id).cmp(&(b.0.start, b.1.id)));
    hits.into_iter()
        .map(|(span, rule, title)| {
            let (line, column) = line_col(text, span.start);
            Finding::new(Check::Source, rule.id, rule.severity, title).help(rule.rationale).at(
                path,
                Some(line),
                Some(column),
            )
        })
        .collect()
}

/// The title with the literal's contents (shortened) in quotes.
fn titled(title: &str, contents: &str) -> String {
    let shown: String = contents.chars().take(60).collect();
    let more = if shown.len() < contents.len() { "…" } else { "" };
    format!("{title}: \"{shown}{more}\"")
}

/// What the `unsafe` keyword introduces, from the masked code right after it.
fn unsafe_kind(after: &str) -> &'static str {
    let next = after.trim_start();
    let word = next.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).next().unwrap_or("");
    match word {
        _ if next.starts_with('{') => "block",
        "fn" => "function",
        "impl" => "impl",
        "trait" => "trait",
        "extern" => "extern block",
        _ => "use",
    }
}

// ---------------------------------------------------------------------------------------------
// The lexer

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Code,
    Comment,
    /// The contents of a string, byte-string, raw-string or char literal (not its delimiters).
    Literal,
}

#[derive(Debug)]
struct Literal {
    /// The literal's first byte (its prefix or opening quote).
    start: usize,
    /// Just past its closing delimiter.
    end: usize,
    contents: Range<usize>,
}

struct Lexed<'a> {
    text: &'a str,
    /// The kind of every byte of `text`.
    kinds: Vec<Kind>,
    /// `text` with comments and literal contents replaced by spaces (newlines kept): same offsets.
    masked: String,
    /// In source order.
    literals: Vec<Literal>,
    /// Byte offset of each line's start.
    lines: Vec<usize>,
}

fn is_ident_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_' || c >= 0x80
}

fn is_ident_continue(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80
}

impl<'a> Lexed<'a> {
    fn new(text: &'a str) -> Lexed<'a> {
        let b = text.as_bytes();
        let n = b.len();
        let at = |i: usize| b.get(i).copied().unwrap_or(0);
        let mut kinds = vec![Kind::Code; n];
        let mut literals = Vec::new();
        let mut mark = |r: Range<usize>, kind: Kind| kinds[r].fill(kind);
        let mut i = 0;
        while i < n {
            let c = b[i];
            if c == b'/' && at(i + 1) == b'/' {
                let end = text[i..].find('\n').map_or(n, |p| i + p);
                mark(i..end, Kind::Comment);
                i = end;
            } else if c == b'/' && at(i + 1) == b'*' {
                let (mut j, mut depth) = (i + 2, 1);
                while j < n && depth > 0 {
                    if b[j] == b'/' && at(j + 1) == b'*' {
                        depth += 1;
                        j += 2;
                    } else if b[j] == b'*' && at(j + 1) == b'/' {
                        depth -= 1;
                        j += 2;
                    } else {
                        j += 1;
                    }
                }
                let end = j.min(n);
                mark(i..end, Kind::Comment);
                i = end;
            } else if c == b'"' {
                i = string(b, i, i, &mut literals);
            } else if c == b'\'' {
                i = match char_literal(text, i, i, &mut literals) {
                    Some(end) => end,
                    None => i + 1, // a lifetime or a label: its name is lexed as code
                };
            } else if is_ident_start(c) {
                let mut j = i + 1;
                while j < n && is_ident_continue(b[j]) {
                    j += 1;
                }
                let ident = &text[i..j];
                let hashes = b[j..].iter().take_while(|&&h| h == b'#').count();
                i = match (ident, at(j)) {
                    ("r" | "br" | "cr", b'"' | b'#') if at(j + hashes) == b'"' => {
                        raw_string(b, i, j + hashes, hashes, &mut literals)
                    }
                    ("b" | "c", b'"') => string(b, i, j, &mut literals),
                    ("b", b'\'') => char_literal(text, i, j, &mut literals).unwrap_or(j + 1),
                    _ => j,
                };
            } else {
                i += 1;
            }
        }
        for l in &literals {
            mark(l.contents.clone(), Kind::Literal);
        }
        let mut masked = String::with_capacity(n);
        for (k, ch) in text.char_indices() {
            if kinds[k] == Kind::Code || ch == '\n' {
                masked.push(ch);
            } else {
                masked.extend(std::iter::repeat_n(' ', ch.len_utf8()));
            }
        }
        let lines = std::iter::once(0).chain(text.match_indices('\n').map(|(p, _)| p + 1)).collect();
        Lexed { text, kinds, masked, literals, lines }
    }

    /// The literal that starts exactly at `at`.
    fn literal_at(&self, at: usize) -> Option<&Literal> {
        let k = self.literals.binary_search_by_key(&at, |l| l.start).ok()?;
        self.literals.get(k)
    }

    fn line_of(&self, at: usize) -> usize {
        self.lines.partition_point(|&s| s <= at) - 1
    }

    fn line_range(&self, line: usize) -> Range<usize> {
        let start = self.lines[line];
        let end = self.lines.get(line + 1).map_or(self.text.len(), |&s| s - 1);
        start..end
    }

    /// The comment text on a line.
    fn comment_on(&self, line: usize) -> String {
        let r = self.line_range(line);
        let bytes: Vec<u8> = r.filter(|&k| self.kinds[k] == Kind::Comment).map(|k| self.text.as_bytes()[k]).collect();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// Whether the `unsafe` at `at` has a `SAFETY:` comment on its line, or in the comment lines
    /// right above it (attribute lines between are allowed; a blank or code line ends the search).
    fn justified(&self, at: usize, attrs: &[Attribute]) -> bool {
        const MARK: &str = "SAFETY:";
        let line = self.line_of(at);
        if self.comment_on(line).contains(MARK) {
            return true;
        }
        for above in (0..line).rev() {
            let r = self.line_range(above);
            let masked = &self.masked[r.clone()];
            let code_outside_attrs = masked
                .char_indices()
                .any(|(k, c)| !c.is_whitespace() && !attrs.iter().any(|a| a.range.contains(&(r.start + k))));
            let comment = self.comment_on(above);
            if code_outside_attrs {
                return false;
            }
            if comment.contains(MARK) {
                return true;
            }
            if comment.trim().is_empty() && masked.trim().is_empty() {
                return false;
            }
        }
        false
    }

    /// Every attribute, `#[…]` and `#![…]`, in source order.
    fn attributes(&self) -> Vec<Attribute> {
        let b = self.masked.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while let Some(p) = self.masked[i..].find('#') {
            let start = i + p;
            let mut j = start + 1;
            let inner = b.get(j) == Some(&b'!');
            if inner {
                j += 1;
            }
            while b.get(j).is_some_and(u8::is_ascii_whitespace) {
                j += 1;
            }
            if b.get(j) != Some(&b'[') {
                i = start + 1;
                continue;
            }
            let close = matching(b, j);
            out.push(Attribute {
                range: start..close,
                inner: self.masked[j + 1..close.saturating_sub(1).max(j + 1)].to_owned(),
                is_inner: inner,
            });
            i = close.max(start + 1);
        }
        out
    }
}

/// A string literal whose opening quote is at `quote` (`start` is its prefix, if any).
fn string(b: &[u8], start: usize, quote: usize, literals: &mut Vec<Literal>) -> usize {
    let mut j = quote + 1;
    while j < b.len() && b[j] != b'"' {
        j += if b[j] == b'\\' { 2 } else { 1 };
    }
    let close = j.min(b.len());
    literals.push(Literal { start, end: (close + 1).min(b.len()), contents: quote + 1..close });
    (close + 1).min(b.len())
}

/// A raw string `r#"…"#` whose opening quote is at `quote`, with `hashes` hashes.
fn raw_string(b: &[u8], start: usize, quote: usize, hashes: usize, literals: &mut Vec<Literal>) -> usize {
    let mut j = quote + 1;
    while j < b.len() {
        if b[j] == b'"' && b[j + 1..].iter().take(hashes).filter(|&&h| h == b'#').count() == hashes {
            break;
        }
        j += 1;
    }
    let close = j.min(b.len());
    let end = (close + 1 + hashes).min(b.len());
    literals.push(Literal { start, end, contents: quote + 1..close });
    end
}

/// A char literal at `quote`, or `None` when the quote starts a lifetime or a label.
fn char_literal(text: &str, start: usize, quote: usize, literals: &mut Vec<Literal>) -> Option<usize> {
    let b = text.as_bytes();
    let first = text[quote + 1..].chars().next()?;
    let close = if first == '\\' {
        // `'\n'`, `'\''`, `'\u{…}'`: skip the escaped character, then up to the closing quote.
        let from = quote + 2 + text[quote + 2..].chars().next().map_or(0, char::len_utf8);
        from + b[from..].iter().position(|&c| c == b'\'' || c == b'\n')?
    } else {
        let after = quote + 1 + first.len_utf8();
        if b.get(after) != Some(&b'\'') || first == '\n' {
            return None;
        }
        after
    };
    literals.push(Literal { start, end: close + 1, contents: quote + 1..close });
    Some(close + 1)
}

/// Just past the bracket that closes the one at `open` (any of `()[]{}` nest), or the end.
fn matching(b: &[u8], open: usize) -> usize {
    let mut depth = 0usize;
    for (k, &c) in b.iter().enumerate().skip(open) {
        match c {
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return k + 1;
                }
            }
            _ => {}
        }
    }
    b.len()
}

#[derive(Debug)]
struct Attribute {
    /// From `#` to just past `]`.
    range: Range<usize>,
    /// Between the brackets (masked).
    inner: String,
    /// `#![…]`: applies to the enclosing item.
    is_inner: bool,
}

impl Attribute {
    /// `#[cfg(test)]`, `#[cfg(all(test, …))]`, `#[test]`, `#[tokio::test]`, `#[sqlx::test(…)]`.
    fn is_test_only(&self) -> bool {
        let inner: String = self.inner.chars().filter(|c| !c.is_whitespace()).collect();
        let path = inner.split('(').next().unwrap_or("");
        if path == "test" || path.ends_with("::test") {
            return !self.is_inner;
        }
        let Some(predicate) = inner.strip_prefix("cfg(").and_then(|p| p.strip_suffix(')')) else { return false };
        predicate == "test"
            || predicate
                .strip_prefix("all(")
                .and_then(|p| p.strip_suffix(')'))
                .is_some_and(|args| top_level_args(args).any(|a| a == "test"))
    }
}

/// The comma-separated arguments of a list, not splitting inside nested parentheses.
fn top_level_args(list: &str) -> impl Iterator<Item = &str> {
    let mut depth = 0i32;
    list.split(move |c| {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            _ => {}
        }
        c == ',' && depth == 0
    })
}

/// The byte ranges of test-only code: each item under a test attribute, and the rest of the
/// enclosing block (or file) after an inner `#![cfg(test)]`.
fn test_only(lexed: &Lexed, attrs: &[Attribute]) -> Vec<Range<usize>> {
    let b = lexed.masked.as_bytes();
    attrs
        .iter()
        .filter(|a| a.is_test_only())
        .map(|a| a.range.start..if a.is_inner { block_end(b, a.range.end) } else { item_end(b, a.range.end) })
        .collect()
}

/// The end of the item starting at `from`: just past its `;` or its `{…}` block, or at a
/// closing bracket of the enclosing code (a field or an argument), or the end of the text.
fn item_end(b: &[u8], from: usize) -> usize {
    let mut depth = 0usize;
    for (k, &c) in b.iter().enumerate().skip(from) {
        match c {
            b'{' if depth == 0 => return matching(b, k),
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' if depth == 0 => return k,
            b')' | b']' | b'}' => depth -= 1,
            b';' if depth == 0 => return k + 1,
            _ => {}
        }
    }
    b.len()
}

/// Where the block enclosing `from` closes, or the end of the text.
fn block_end(b: &[u8], from: usize) -> usize {
    let mut depth = 0usize;
    for (k, &c) in b.iter().enumerate().skip(from) {
        match c {
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' if depth == 0 => return k,
            b')' | b']' | b'}' => depth -= 1,
            _ => {}
        }
    }
    b.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rule ids found in a snippet, in order.
    fn ids(text: &str) -> Vec<String> {
        scan_rust("app/src/x.rs", text).into_iter().map(|f| f.rule).collect()
    }

    fn count(text: &str, rule: &str) -> usize {
        ids(text).iter().filter(|id| *id == rule).count()
    }

    fn assert_flags(rule: &str, bad: &str, good: &str) {
        let id = format!("source/{rule}");
        assert_eq!(count(bad, &id), 1, "{id} should flag:\n{bad}\n{:#?}", scan_rust("x.rs", bad));
        assert_eq!(count(good, &id), 0, "{id} should not flag:\n{good}\n{:#?}", scan_rust("x.rs", good));
    }

    #[test]
    fn every_rule_has_an_id_a_severity_and_a_one_line_rationale() {
        let mut seen = std::collections::BTreeSet::new();
        for rule in rules() {
            assert!(rule.id.starts_with("source/"), "{}", rule.id);
            assert!(seen.insert(rule.id), "duplicate {}", rule.id);
            assert!(!rule.rationale.is_empty() && !rule.rationale.contains('\n'), "{}", rule.id);
            assert!(rule.severity.fails(), "{} would never fail the gate", rule.id);
        }
        assert_eq!(compiled().len(), rules().iter().map(|r| r.patterns.len()).sum::<usize>());
    }

    #[test]
    fn unsafe_needs_a_safety_comment() {
        let rule = "unsafe-without-safety-comment";
        assert_flags(
            rule,
            "fn f() { let x = unsafe { *p }; }",
            "fn f() {\n    // SAFETY: p is valid\n    let x = unsafe { *p };\n}",
        );
        assert_flags(rule, "unsafe fn f() {}", "unsafe fn f() {} // SAFETY: nothing to uphold");
        assert_flags(
            rule,
            "// SAFETY: not adjacent\n\nunsafe impl Send for X {}",
            "/* SAFETY: X holds no thread-bound state,\n   checked by hand */\n#[allow(dead_code)]\nunsafe impl Send for X {}",
        );
        assert_flags(rule, "// a comment\nunsafe trait T {}", "// why:\n// SAFETY: see above\nunsafe trait T {}");
        assert_flags(
            rule,
            "let a = 1;\nunsafe { f() }",
            "let a = 1; // SAFETY: on the code line above\n// SAFETY: ok\nunsafe { f() }",
        );
        let found = scan_rust("app/src/x.rs", "fn f() {\n    let v = unsafe { g() };\n}");
        assert_eq!(found[0].title, "`unsafe` block without a `// SAFETY:` comment");
        assert_eq!((found[0].line, found[0].column), (Some(2), Some(13)));
        assert_eq!(found[0].severity, Severity::High);
        assert_eq!(found[0].path.as_deref(), Some("app/src/x.rs"));
    }

    #[test]
    fn unsafe_in_strings_comments_attributes_and_identifiers_is_not_a_use() {
        let text = r####"#![forbid(unsafe_code)]
#[deny(unsafe_op_in_unsafe_fn)]
// unsafe { in a comment }
/* unsafe /* nested unsafe */ still a comment unsafe */
/// unsafe in a doc comment
fn f() {
    let s = "unsafe { }";
    let r = r#"unsafe "quoted" unsafe"#;
    let b = br"unsafe";
    let c = b"unsafe\" unsafe";
    let my_unsafe = r#unsafe;
}
"####;
        assert_eq!(ids(text), Vec::<String>::new());
        assert_eq!(ids("#[unsafe(no_mangle)]\nextern \"C\" fn f() {}"), ["source/unsafe-without-safety-comment"]);
        // An escaped quote ends no char literal: what follows `'\''` is lexed as code, so a
        // `"` in the next literal starts no string that would hide the `unsafe` after it.
        let quotes = "fn f() {\n    let q = ['\\'','\"'];\n    let v = unsafe { g() };\n}";
        assert_eq!(ids(quotes), ["source/unsafe-without-safety-comment"], "{quotes}");
    }

    #[test]
    fn test_only_items_are_skipped() {
        let test_mod = "#[cfg(test)]\nmod tests {\n    fn f() { let s = \"}\"; let c = '}'; unsafe { g() } }\n}\n";
        assert_eq!(ids(test_mod), Vec::<String>::new());
        // After the test module, production code is scanned again.
        assert_eq!(ids(&format!("{test_mod}fn h() {{ unsafe {{ g() }} }}")), ["source/unsafe-without-safety-comment"]);
        assert_eq!(ids("#[cfg(test)]\nmod tests;\nunsafe fn h() {}"), ["source/unsafe-without-safety-comment"]);
        assert_eq!(ids("#[test]\nfn t() { unsafe { g() } }\nfn p() { unsafe { g() } }").len(), 1);
        assert_eq!(ids("#[tokio::test]\nasync fn t() { unsafe { g() } }"), Vec::<String>::new());
        assert_eq!(ids("#[cfg(all(unix, test))]\nfn t() { unsafe { g() } }"), Vec::<String>::new());
        assert_eq!(ids("#![cfg(test)]\nfn t() { unsafe { g() } }"), Vec::<String>::new());
        // Not test-only: `not(test)`, `any(test, …)`, `cfg_attr(test, …)`.
        assert_eq!(ids("#[cfg(not(test))]\nfn t() { unsafe { g() } }").len(), 1);
        assert_eq!(ids("#[cfg(any(test, feature = \"x\"))]\nfn t() { unsafe { g() } }").len(), 1);
        assert_eq!(ids("#[cfg_attr(test, derive(Debug))]\nstruct S;\nunsafe fn h() {}").len(), 1);
        // Lifetimes do not start char literals that would swallow the braces.
        let lifetimes = "#[cfg(test)]\nmod tests {\n    fn f<'a>(x: &'a str) -> &'a str { x }\n}\nunsafe fn h() {}";
        assert_eq!(ids(lifetimes).len(), 1);
    }

    #[test]
    fn tls_verification_disabled() {
        let rule = "tls-verification-disabled";
        assert_flags(
            rule,
            "let c = reqwest::Client::builder().danger_accept_invalid_certs(true).build()?;",
            "let c = reqwest::Client::builder().danger_accept_invalid_certs(false).build()?;",
        );
        assert_flags(rule, "b.danger_accept_invalid_hostnames( true );", "b.danger_accept_invalid_hostnames(false);");
        assert_flags(
            rule,
            "let cfg = ClientConfig::builder().dangerous().with_custom_certificate_verifier(v);",
            "let cfg = ClientConfig::builder().with_root_certificates(roots); // .dangerous() later",
        );
        assert_flags(rule, "ctx.set_verify(SslVerifyMode::NONE);", "ctx.set_verify(SslVerifyMode::PEER);");
    }

    #[test]
    fn shell_command_string() {
        let rule = "shell-command-string";
        assert_flags(
            rule,
            "std::process::Command::new(\"sh\").arg(\"-c\").arg(script).status()?;",
            "std::process::Command::new(\"git\").args([\"status\", \"--short\"]).status()?;",
        );
        assert_flags(rule, "Command::new(r\"/bin/bash\")", "Command::new(\"bashful\")");
        assert_flags(rule, "tokio::process::Command::new(\"cmd.exe\")", "Command::new(shell_from_config)");
        assert_flags(rule, "cmd!(sh, \"bash -c {script}\").run()?;", "cmd!(sh, \"cargo build --release\").run()?;");
        assert_flags(rule, "cmd!(sh, \"sh -ec 'make all'\")", "cmd!(sh, \"echo sh -c\")");
        // The shell's name outside the call (a log message, a comment) is not a use.
        assert_eq!(
            ids("let s = \"sh\"; // Command::new(\"sh\")\nlog(\"Command::new(\\\"bash\\\")\");"),
            Vec::<String>::new()
        );
        let found = scan_rust("a.rs", "fn f() { Command::new(\"zsh\"); }");
        assert_eq!(found[0].title, "a command run through a shell: \"zsh\"");
        assert_eq!(found[0].column, Some(10));
    }

    #[test]
    fn weak_hash() {
        let rule = "weak-hash";
        assert_flags(rule, "let d = md5::compute(bytes);", "let d = sha2::Sha256::digest(bytes);");
        assert_flags(rule, "let mut h = Md5::new();", "let mut h = Sha256::new();");
        assert_flags(rule, "let mut h = sha1::Sha1::new();", "use sha1::Sha1; // Sha1::new() is not called");
        assert_flags(rule, "hash(MessageDigest::sha1(), data)", "hash(MessageDigest::sha256(), data)");
    }

    #[test]
    fn sql_string_formatting() {
        let rule = "sql-string-formatting";
        assert_flags(
            rule,
            "sqlx::query(&format!(\"SELECT * FROM users WHERE email = '{email}'\")).fetch_one(&pool)",
            "sqlx::query(\"SELECT * FROM users WHERE email = $1\").bind(email).fetch_one(&pool)",
        );
        assert_flags(
            rule,
            "sqlx::query_as::<_, User>(&format!(\"SELECT id FROM {table}\"))",
            "sqlx::query_as::<_, User>(\"SELECT id FROM users\")",
        );
        assert_flags(rule, "conn.execute(&format!(\"DROP TABLE {t}\"), &[])", "conn.execute(&sql, &[])");
        assert_flags(
            rule,
            "let sql = format!(\"DELETE FROM users WHERE id = {}\", id);",
            "let msg = format!(\"deleted {} users from the table\", n);",
        );
        assert_flags(rule, "format!(\"UPDATE t SET a = {a}\")", "format!(\"UPDATE t SET a = {{literal braces}}\")");
    }

    #[test]
    fn cors_allow_any_origin() {
        let rule = "cors-allow-any-origin";
        assert_flags(rule, "let cors = CorsLayer::permissive();", "let cors = CorsLayer::new().allow_origin(list);");
        assert_flags(rule, "CorsLayer::very_permissive()", "CorsLayer::new()");
        assert_flags(rule, "let o = AllowOrigin::any();", "let o = AllowOrigin::list(origins);");
        assert_flags(rule, "CorsLayer::new().allow_origin(Any)", "CorsLayer::new().allow_origin(AnyOrigins::from(x))");
        assert_flags(rule, ".allow_origin(tower_http::cors::Any)", ".allow_methods(tower_http::cors::Any)");
    }

    #[test]
    fn jwt_signature_unchecked() {
        let rule = "jwt-signature-unchecked";
        assert_flags(
            rule,
            "validation.insecure_disable_signature_validation();",
            "validation.set_audience(&[\"api\"]);",
        );
        assert_flags(
            rule,
            "let data = dangerous_insecure_decode::<Claims>(token)?;",
            "let data = decode::<Claims>(token, &key, &validation)?;",
        );
    }

    #[test]
    fn hardcoded_tmp_path() {
        let rule = "hardcoded-tmp-path";
        assert_flags(rule, "let p = Path::new(\"/tmp/app.sock\");", "let p = std::env::temp_dir().join(\"app.sock\");");
        assert_flags(rule, "File::create(r\"/var/tmp/cache\")", "File::create(\"/var/lib/app/tmp/cache\")");
        assert_flags(rule, "let d = \"/tmp\";", "let d = \"/tmpfs-is-not-tmp\"; // \"/tmp/in-a-comment\"");
        assert_eq!(ids("#[doc = \"/tmp/x\"]\nfn f() {}"), Vec::<String>::new());
        let found = scan_rust("a.rs", "fn f() {\n  let p = \"/tmp/x\";\n}");
        assert_eq!(
            (found[0].line, found[0].column, found[0].title.as_str()),
            (Some(2), Some(11), "hard-coded temporary path: \"/tmp/x\"")
        );
    }

    #[test]
    fn one_finding_per_match_in_source_order() {
        let found = scan_rust("a.rs", "fn f() { md5::compute(a); md5::compute(b); }\nfn g() { AllowOrigin::any() }");
        let at: Vec<_> = found.iter().map(|f| (f.rule.as_str(), f.line.unwrap(), f.column.unwrap())).collect();
        assert_eq!(
            at,
            [("source/weak-hash", 1, 10), ("source/weak-hash", 1, 27), ("source/cors-allow-any-origin", 2, 10)]
        );
        assert!(found.iter().all(|f| f.check == Check::Source && f.help.is_some()));
    }

    #[test]
    fn lexer_separates_code_comments_and_literals() {
        let text = "let a = 'x'; let b = b'\\''; let c = '\\u{1F600}'; fn f<'a>() {} /* } */ let d = \"\\\"}\";";
        let lexed = Lexed::new(text);
        let contents: Vec<&str> = lexed.literals.iter().map(|l| &text[l.contents.clone()]).collect();
        assert_eq!(contents, ["x", "\\'", "\\u{1F600}", "\\\"}"]);
        // Each literal whole, from its prefix or opening quote to just past its closing one.
        let whole: Vec<&str> = lexed.literals.iter().map(|l| &text[l.start..l.end]).collect();
        assert_eq!(whole, ["'x'", "b'\\''", "'\\u{1F600}'", "\"\\\"}\""]);
        let masked = "let a = ' '; let b = b'  '; let c = '         '; fn f<'a>() {}         let d = \"   \";";
        assert_eq!(lexed.masked, masked);
    }

    #[test]
    fn an_escape_is_read_after_its_backslash_whatever_comes_before_the_literal() {
        // A call of a non-ASCII identifier: the byte two before the quote is inside `λ`.
        let text = "fn f() {\n    λ('\\n');\n    let v = unsafe { g() };\n}";
        let contents: Vec<&str> = Lexed::new(text).literals.iter().map(|l| &text[l.contents.clone()]).collect();
        assert_eq!(contents, ["\\n"]);
        assert_eq!(ids(text), ["source/unsafe-without-safety-comment"], "{text}");
    }

    #[test]
    fn the_unsafe_title_names_what_it_introduces() {
        let title = |text: &str| scan_rust("a.rs", text).into_iter().map(|f| f.title).collect::<Vec<_>>();
        let expect = |kind: &str| vec![format!("`unsafe` {kind} without a `// SAFETY:` comment")];
        assert_eq!(title("pub unsafe fn read(p: *const u8) -> u8 { *p }"), expect("function"));
        assert_eq!(title("unsafe impl Sync for Pool {}"), expect("impl"));
        assert_eq!(title("pub unsafe trait Zeroable {}"), expect("trait"));
        assert_eq!(title("unsafe extern \"C\" {\n    fn abs(x: i32) -> i32;\n}"), expect("extern block"));
        assert_eq!(title("#[unsafe(no_mangle)]\npub extern \"C\" fn f() {}"), expect("use"));
    }

    #[test]
    fn tls_verification_disabled_by_openssl_constant() {
        let rule = "tls-verification-disabled";
        assert_flags(rule, "ctx.set_verify(SSL_VERIFY_NONE);", "ctx.set_verify(SSL_VERIFY_PEER);");
        assert_flags(
            rule,
            "builder.set_verify(openssl::ssl::SslVerifyMode::NONE);",
            "let none = SslVerifyModeNONE; // SslVerifyMode::NONE is off",
        );
    }

    #[test]
    fn shell_command_string_through_duct_and_xshell() {
        let rule = "shell-command-string";
        // duct: the program is the first argument of `cmd` / `cmd!`.
        assert_flags(
            rule,
            "duct::cmd(\"sh\", [\"-c\", &script]).run()?;",
            "duct::cmd(\"git\", [\"status\", \"--short\"]).run()?;",
        );
        assert_flags(rule, "cmd!(\"bash\", \"-c\", script).run()?;", "cmd!(\"cargo\", \"build\").run()?;");
        // xshell: a shell with `-c` (or `/c`) inside the command string.
        assert_flags(rule, "cmd!(sh, \"cmd /c dir\").run()?;", "cmd!(sh, \"cmd-runner /c dir\").run()?;");
        assert_flags(
            rule,
            "cmd!(sh, \"pwsh -c Get-ChildItem\").run()?;",
            "cmd!(sh, \"shellcheck -x scripts/backup.sh\").run()?;",
        );
        // A script file run by bash, with no command string, is not a string run through a shell.
        assert_flags(rule, "cmd!(sh, \"/bin/sh -c {line}\").run()?;", "cmd!(sh, \"bash scripts/backup.sh\").run()?;");
        let found = scan_rust("a.rs", "fn f(sh: &Shell) {\n    cmd!(sh, \"bash -c {s}\").run();\n}");
        assert_eq!(found[0].title, "an xshell command run through a shell: \"bash -c {s}\"");
        assert_eq!((found[0].line, found[0].column), (Some(2), Some(5)));
    }

    #[test]
    fn weak_hash_in_every_form() {
        let rule = "weak-hash";
        assert_flags(rule, "let d = Md5::digest(bytes);", "let d = Sha256::digest(bytes);");
        assert_flags(rule, "let h = Sha1::new_with_prefix(b\"x\");", "let h = Sha512::new_with_prefix(b\"x\");");
        assert_flags(rule, "let h = sha1::Sha1::default();", "let h = sha1_smol::Sha1Legacy::default();");
        assert_flags(rule, "hash(MessageDigest::md5(), data)", "hash(MessageDigest::sha3_256(), data)");
        assert_flags(
            rule,
            "digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, data)",
            "digest::digest(&digest::SHA256, data)",
        );
        // Importing the crate is not hashing with it.
        assert_eq!(count("use md5::compute;\nuse sha1::Sha1;", "source/weak-hash"), 0);
    }

    #[test]
    fn sql_string_formatting_in_every_query_function() {
        let rule = "sql-string-formatting";
        for call in ["query_scalar", "raw_sql", "batch_execute", "simple_query", "prepare"] {
            assert_flags(
                rule,
                &format!("client.{call}(&format!(\"SELECT count(*) FROM {{table}}\"))"),
                &format!("client.{call}(\"SELECT count(*) FROM users\")"),
            );
        }
        assert_flags(rule, "sqlx::raw_sql(&format![\"TRUNCATE {}\", t])", "sqlx::raw_sql(MIGRATION)");
        // sqlx's checked macro binds its arguments.
        assert_flags(
            rule,
            "let sql = format!(\"INSERT INTO users (email) VALUES ('{}')\", email);",
            "sqlx::query!(\"INSERT INTO users (email) VALUES ($1)\", email)",
        );
        assert_flags(
            rule,
            "let q = format!(\"select id\\n  from users\\n  where name = '{name}'\");",
            "let msg = format!(\"selected {n} rows from the report\");",
        );
        // The interpolation may come right after a keyword, or before FROM / SET.
        for bad in [
            "let q = format!(\"SELECT * FROM {}\", table);",
            "let q = format!(\"DELETE FROM {table} WHERE id = $1\");",
            "let q = format!(\"INSERT INTO {table} (email) VALUES ($1)\");",
            "let q = format!(\"UPDATE {table} SET email = $1 WHERE id = $2\");",
            "let q = format!(\"SELECT {columns} FROM users WHERE id = $1\");",
        ] {
            assert_flags(rule, bad, "log(format!(\"insert {n} coins into the machine\"));");
        }
        assert_eq!(
            count("let q = format!(\"SELECT * FROM users WHERE id = {{id}}\");", "source/sql-string-formatting"),
            0
        );
    }

    #[test]
    fn cors_allow_any_origin_in_actix() {
        let rule = "cors-allow-any-origin";
        assert_flags(
            rule,
            "let cors = Cors::default().allow_any_origin().allow_any_method();",
            "let cors = Cors::default().allowed_origin(\"https://app.example.com\").allow_any_method();",
        );
        assert_flags(rule, "App::new().wrap(Cors::permissive())", "App::new().wrap(Cors::default())");
    }

    #[test]
    fn jwt_decoded_without_its_signature() {
        let rule = "jwt-signature-unchecked";
        assert_flags(
            rule,
            "let claims = jsonwebtoken::dangerous::insecure_decode::<Claims>(token)?;",
            "let header = jsonwebtoken::decode_header(token)?;",
        );
        assert_flags(rule, "let c = insecure_decode_without_validation(t);", "let insecure_decoder = None;");
    }

    #[test]
    fn hardcoded_tmp_path_in_shared_memory_and_near_misses() {
        let rule = "hardcoded-tmp-path";
        assert_flags(rule, "let p = \"/dev/shm/app.lock\";", "let p = \"/dev/shmem/app.lock\";");
        assert_flags(rule, "let p = b\"/tmp/x\";", "let p = \"tmp/cache\";");
        assert_flags(rule, "let d = r#\"/var/tmp\"#;", "let d = \"/home/app/tmp/cache\";");
    }

    #[test]
    fn nested_cfg_predicates_decide_whether_code_is_test_only() {
        let unsafe_fn = "fn t() { unsafe { g() } }";
        // all(test, …) with a nested predicate is test-only.
        let nested = format!("#[cfg(all(test, not(feature = \"x\")))]\n{unsafe_fn}");
        assert_eq!(ids(&nested), Vec::<String>::new());
        // `test` inside a nested any(…) does not make the item test-only: it is built without tests too.
        let any = format!("#[cfg(all(feature = \"x\", any(windows, test, unix)))]\n{unsafe_fn}");
        assert_eq!(ids(&any), ["source/unsafe-without-safety-comment"]);
        assert_eq!(
            ids(&format!("#[sqlx::test(migrations = \"./migrations\")]\nasync {unsafe_fn}")),
            Vec::<String>::new()
        );
        // An inner #![cfg(test)] covers the rest of its module only.
        let inner = format!("mod helpers {{\n    #![cfg(test)]\n    {unsafe_fn}\n}}\n{unsafe_fn}");
        let found = scan_rust("a.rs", &inner);
        assert_eq!(found.iter().map(|f| f.line).collect::<Vec<_>>(), [Some(5)]);
    }

    #[test]
    fn a_file_cut_short_is_scanned_without_panicking() {
        // A test module that never closes runs to the end of the file.
        let open_module = "unsafe fn a() {}\n#[cfg(test)]\nmod tests {\n    fn t() { unsafe { g() }";
        let found = scan_rust("a.rs", open_module);
        assert_eq!(found.iter().map(|f| f.line).collect::<Vec<_>>(), [Some(1)]);
        // A test item ends with its block; with no `;` and no block, at the end of the file.
        assert_eq!(ids("unsafe fn a() {}\n#[cfg(test)]\nstatic X: u8 = unsafe { f() }").len(), 1);
        assert_eq!(
            ids("unsafe fn a() {}\n#[cfg(test)]\nconst P: &str = \"/tmp/x\""),
            ["source/unsafe-without-safety-comment"]
        );
        // Unterminated literals and comments end at the end of the file.
        for tail in ["\"unsafe { ", "r#\"unsafe { ", "/* unsafe { ", "b'"] {
            let text = format!("unsafe fn a() {{}}\nlet s = {tail}");
            assert_eq!(ids(&text), ["source/unsafe-without-safety-comment"], "{text}");
        }
    }

    #[test]
    fn the_security_sources_pass_their_own_rules() {
        assert_eq!(scan_rust("xtask/security/src/source.rs", include_str!("source.rs")), []);
        assert_eq!(scan_rust("xtask/security/src/secrets.rs", include_str!("secrets.rs")), []);
    }
}
