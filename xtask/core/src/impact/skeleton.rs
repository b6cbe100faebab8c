//! What a change to a Rust file can reach, told from its tokens. Coverage sees only the lines a
//! test executes; a change elsewhere in a file (a `const`, a type, a derive, a macro, a
//! `static`, a signature, an `impl` header) can change what a test does without that test ever
//! executing a line of the file. So each Rust file gets three fingerprints:
//!
//! - `tokens`: every token, comments and layout left out. Equal: the change was comments or
//!   formatting only.
//! - `skeleton`: the tokens with the body of every plain `fn` replaced by `{}`, and the items
//!   under `#[cfg(test)]` left out. Equal: only function bodies (or test-only code) changed,
//!   and a body changes behaviour only when it runs, which the map sees.
//! - `tests`: the tokens of the `#[cfg(test)]` items alone (unit tests and their helpers).
//!
//! Bodies stay in the skeleton when they can act without running at test time: a `const fn`
//! (evaluated while compiling), and a body that declares an `impl`, a `macro_rules!` or an
//! exported symbol (`#[no_mangle]`, `#[export_name]`), which are visible outside it.
//!
//! The hashes are FNV-1a (64 bits), stable across builds and toolchains; they are compared
//! file by file, never used as keys across files.

/// The three fingerprints of one Rust file, as 16 hex digits each.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Fingerprint {
    pub tokens: String,
    pub skeleton: String,
    pub tests: String,
}

/// What changed between two versions of a Rust file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RustChange {
    /// Comments or layout only.
    Layout,
    /// Function bodies only (and maybe test-only code).
    Bodies,
    /// Only items under `#[cfg(test)]`.
    TestsOnly,
    /// Something outside function bodies: the change can reach code that never runs a line of
    /// this file.
    Items,
}

impl Fingerprint {
    pub fn of(text: &str) -> Fingerprint {
        let tokens = lex(text);
        let mut all = Fnv::new();
        for t in &tokens {
            all.token(t);
        }
        let (skeleton, tests) = split(&tokens);
        Fingerprint { tokens: all.hex(), skeleton: skeleton.hex(), tests: tests.hex() }
    }

    /// How `now` differs from `self` (the older version).
    pub fn change(&self, now: &Fingerprint) -> RustChange {
        if self.tokens == now.tokens {
            RustChange::Layout
        } else if self.skeleton != now.skeleton {
            RustChange::Items
        } else if self.tests != now.tests {
            RustChange::TestsOnly
        } else {
            RustChange::Bodies
        }
    }
}

/// 64-bit FNV-1a over tokens, each followed by a separator byte.
struct Fnv(u64);

impl Fnv {
    fn new() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }

    fn bytes(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    fn token(&mut self, t: &str) {
        self.bytes(t.as_bytes());
        self.bytes(&[0xff]);
    }

    fn hex(&self) -> String {
        format!("{:016x}", self.0)
    }
}

/// The tokens of `text`: identifiers, keywords, lifetimes, literals (whole), and punctuation
/// one character each; whitespace and comments (line, block, nested, doc) dropped. (The layering
/// test reads the modules' `use`s with it too.)
pub fn lex(text: &str) -> Vec<&str> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
        } else if b[i..].starts_with(b"//") {
            i = memchr(b'\n', b, i).unwrap_or(b.len());
        } else if b[i..].starts_with(b"/*") {
            i = block_comment_end(b, i);
        } else if let Some(end) = string_like(b, i) {
            out.push(&text[i..end]);
            i = end;
        } else if c == b'\'' {
            let end = char_or_lifetime(b, i);
            out.push(&text[i..end]);
            i = end;
        } else if is_ident_start(c) {
            let mut end = i + 1;
            while end < b.len() && is_ident_continue(b[end]) {
                end += 1;
            }
            out.push(&text[i..end]);
            i = end;
        } else if c.is_ascii_digit() {
            let mut end = i + 1;
            while end < b.len()
                && (b[end].is_ascii_alphanumeric() || b[end] == b'_' || (b[end] == b'.' && next_is_digit(b, end)))
            {
                end += 1;
            }
            out.push(&text[i..end]);
            i = end;
        } else {
            // Punctuation, or any other character (one UTF-8 sequence).
            let len = utf8_len(c);
            let end = (i + len).min(b.len());
            out.push(text.get(i..end).unwrap_or(""));
            i = end;
        }
    }
    out
}

fn memchr(needle: u8, b: &[u8], from: usize) -> Option<usize> {
    b[from..].iter().position(|&x| x == needle).map(|p| from + p)
}

fn next_is_digit(b: &[u8], at: usize) -> bool {
    b.get(at + 1).is_some_and(u8::is_ascii_digit)
}

fn utf8_len(first: u8) -> usize {
    match first {
        0xf0..=0xff => 4,
        0xe0..=0xef => 3,
        0xc0..=0xdf => 2,
        _ => 1,
    }
}

fn is_ident_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_' || c >= 0x80
}

fn is_ident_continue(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80
}

fn block_comment_end(b: &[u8], start: usize) -> usize {
    let mut depth = 0;
    let mut i = start;
    while i < b.len() {
        if b[i..].starts_with(b"/*") {
            depth += 1;
            i += 2;
        } else if b[i..].starts_with(b"*/") {
            depth -= 1;
            i += 2;
            if depth == 0 {
                return i;
            }
        } else {
            i += 1;
        }
    }
    b.len()
}

/// The end of a string literal starting at `i` (`"…"`, `b"…"`, `c"…"`, `r#"…"#`, `br"…"`,
/// `cr#"…"#`), or `None` when none starts there.
fn string_like(b: &[u8], i: usize) -> Option<usize> {
    let mut j = i;
    if matches!(b[j], b'b' | b'c') {
        j += 1;
    }
    let raw = b.get(j) == Some(&b'r');
    if raw {
        j += 1;
        let mut hashes = 0;
        while b.get(j) == Some(&b'#') {
            hashes += 1;
            j += 1;
        }
        if b.get(j) != Some(&b'"') {
            return None;
        }
        j += 1;
        while j < b.len() {
            if b[j] == b'"' && b[j + 1..].iter().take(hashes).filter(|&&h| h == b'#').count() == hashes {
                return Some((j + 1 + hashes).min(b.len()));
            }
            j += 1;
        }
        return Some(b.len());
    }
    if b.get(j) != Some(&b'"') {
        return None;
    }
    // `b` or `c` alone is an identifier start; only a quote right after makes a literal.
    j += 1;
    while j < b.len() {
        match b[j] {
            b'\\' => j += 2,
            b'"' => return Some(j + 1),
            _ => j += 1,
        }
    }
    Some(b.len())
}

/// A character literal (`'a'`, `'\n'`, `'\u{1F600}'`) or a lifetime (`'a`, `'static`).
fn char_or_lifetime(b: &[u8], i: usize) -> usize {
    let j = i + 1;
    if b.get(j) == Some(&b'\\') {
        // An escape: up to the closing quote.
        let mut k = j + 2;
        while k < b.len() && b[k] != b'\'' {
            k += 1;
        }
        return (k + 1).min(b.len());
    }
    // One character then a quote: a char literal; else a lifetime (identifier characters).
    if let Some(&c) = b.get(j) {
        let len = utf8_len(c);
        if b.get(j + len) == Some(&b'\'') {
            return j + len + 1;
        }
    }
    let mut k = j;
    while k < b.len() && is_ident_continue(b[k]) {
        k += 1;
    }
    k
}

/// The skeleton and the test-only fingerprints (see the module comment).
fn split(tokens: &[&str]) -> (Fnv, Fnv) {
    let mut skeleton = Fnv::new();
    let mut tests = Fnv::new();
    let mut i = 0;
    while i < tokens.len() {
        // `#[cfg(test)]` (or `#[cfg(all(test, …))]`) before an item: the item is test-only.
        if tokens[i] == "#" && tokens.get(i + 1) == Some(&"[") {
            let close = matching(tokens, i + 1);
            let attr = &tokens[i + 2..close.min(tokens.len())];
            if attr.first() == Some(&"cfg") && attr.contains(&"test") && !attr.contains(&"not") {
                let end = item_end(tokens, close + 1);
                for t in &tokens[i..end] {
                    tests.token(t);
                }
                i = end;
                continue;
            }
        }
        if tokens[i] == "fn"
            && tokens.get(i + 1).is_some_and(|t| t.as_bytes()[0].is_ascii_alphabetic() || t.starts_with('_'))
        {
            let is_const = qualifiers(&tokens[..i]).any(|t| t == "const");
            if let Some(open) = body_start(tokens, i + 2) {
                let close = matching(tokens, open);
                let body = &tokens[open..=close.min(tokens.len() - 1)];
                for t in &tokens[i..open] {
                    skeleton.token(t);
                }
                if is_const || escapes(body) {
                    for t in body {
                        skeleton.token(t);
                    }
                } else {
                    skeleton.token("{}");
                }
                i = close + 1;
                continue;
            }
        }
        skeleton.token(tokens[i]);
        i += 1;
    }
    (skeleton, tests)
}

/// The qualifiers right before `fn` (`pub(crate) const unsafe extern "C"`), nearest first.
fn qualifiers<'a>(before: &'a [&'a str]) -> impl Iterator<Item = &'a str> + 'a {
    before.iter().rev().copied().take_while(|t| {
        matches!(
            *t,
            "pub" | "(" | ")" | "crate" | "super" | "self" | "in" | "const" | "unsafe" | "async" | "extern" | "default"
        ) || t.starts_with('"')
    })
}

/// Where a function's body opens: the first `{` after the signature at bracket depth 0, or
/// `None` when a `;` comes first (a declaration without a body).
fn body_start(tokens: &[&str], from: usize) -> Option<usize> {
    let mut depth = 0i32;
    for (k, t) in tokens.iter().enumerate().skip(from) {
        match *t {
            "(" | "[" => depth += 1,
            ")" | "]" => depth -= 1,
            "{" if depth == 0 => return Some(k),
            ";" if depth == 0 => return None,
            _ => {}
        }
    }
    None
}

/// The index of the bracket closing the one at `open` (`(`, `[` or `{`), or the last index.
fn matching(tokens: &[&str], open: usize) -> usize {
    let mut depth = 0i32;
    for (k, t) in tokens.iter().enumerate().skip(open) {
        match *t {
            "(" | "[" | "{" => depth += 1,
            ")" | "]" | "}" => {
                depth -= 1;
                if depth == 0 {
                    return k;
                }
            }
            _ => {}
        }
    }
    tokens.len().saturating_sub(1)
}

/// The end (exclusive) of the item starting at `from`: up to a `;` at depth 0 or the end of
/// its first `{…}` block (a module, a function, an impl). A bracketed group is skipped whole,
/// which skips its further attributes (`#[…]`) too.
fn item_end(tokens: &[&str], from: usize) -> usize {
    let mut k = from;
    while k < tokens.len() {
        match tokens[k] {
            "{" => return matching(tokens, k) + 1,
            "(" | "[" => k = matching(tokens, k) + 1,
            ";" => return k + 1,
            _ => k += 1,
        }
    }
    tokens.len()
}

/// Whether a body declares something visible outside it.
fn escapes(body: &[&str]) -> bool {
    body.iter().enumerate().any(|(k, t)| {
        *t == "impl" && body.get(k.wrapping_sub(1)).is_none_or(|p| matches!(*p, "{" | "}" | ";" | "]"))
            || *t == "macro_rules"
            || *t == "no_mangle"
            || *t == "export_name"
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(old: &str, new: &str) -> RustChange {
        Fingerprint::of(old).change(&Fingerprint::of(new))
    }

    const BASE: &str = r#"
use std::fmt;

/// The rate.
pub const RATE: u32 = 5;

pub fn cashback(cents: u64) -> u64 {
    // a comment
    cents * u64::from(RATE) / 100
}

#[derive(Debug)]
pub struct Offer { pub percent: u32 }

impl fmt::Display for Offer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { write!(f, "{}%", self.percent) }
}

const fn twice(x: u32) -> u32 { x * 2 }

#[cfg(test)]
mod tests {
    #[test]
    fn works() { assert_eq!(super::cashback(100), 5); }
}
"#;

    #[test]
    fn comments_and_layout_only() {
        let new = BASE.replace("// a comment", "// another comment\n\n").replace("/// The rate.", "/* the rate */");
        assert_eq!(change(BASE, &new), RustChange::Layout);
        let reformatted =
            BASE.replace("cents * u64::from(RATE) / 100", "cents\n        * u64::from(RATE)\n        / 100");
        assert_eq!(change(BASE, &reformatted), RustChange::Layout);
    }

    #[test]
    fn a_body_is_narrow_a_signature_or_item_is_not() {
        assert_eq!(change(BASE, &BASE.replace("/ 100", "/ 1000")), RustChange::Bodies);
        assert_eq!(change(BASE, &BASE.replace("\"{}%\"", "\"{} %\"")), RustChange::Bodies, "a method body");
        for (old, new) in [
            ("RATE: u32 = 5", "RATE: u32 = 6"),
            ("cents: u64) -> u64", "cents: u32) -> u64"),
            ("#[derive(Debug)]", "#[derive(Debug, Clone)]"),
            ("pub percent: u32", "pub percent: u64"),
            ("x * 2", "x * 3"),
            ("use std::fmt;", "use std::fmt::{self};"),
        ] {
            assert_eq!(change(BASE, &BASE.replace(old, new)), RustChange::Items, "{old} → {new}");
        }
    }

    #[test]
    fn test_only_code_is_told_apart() {
        assert_eq!(change(BASE, &BASE.replace("cashback(100), 5", "cashback(200), 10")), RustChange::TestsOnly);
        let more = BASE.replace("mod tests {", "mod tests {\n    #[test]\n    fn more() {}\n");
        assert_eq!(change(BASE, &more), RustChange::TestsOnly);
        // …but not `cfg(not(test))`.
        let not = "#[cfg(not(test))]\nconst X: u8 = 1;\n";
        assert_eq!(change(not, &not.replace('1', "2")), RustChange::Items);
        // A test-only item ends after its body, not at the `;` of an array type in its
        // signature or fields: a bracketed group is skipped whole.
        let arrays = "#[cfg(test)]\nfn first(x: [u8; 4]) -> u8 { x[0] }\n#[cfg(test)]\nstruct Pair(u8, [u8; 4]);\n";
        assert_eq!(change(arrays, &arrays.replace("x[0]", "x[1]")), RustChange::TestsOnly);
        assert_eq!(change(arrays, &arrays.replace("u8; 4]);", "u8; 5]);")), RustChange::TestsOnly);
    }

    #[test]
    fn bodies_that_reach_outside_stay_in_the_skeleton() {
        let inner = "fn f() {\n    struct S;\n    impl Clone for S { fn clone(&self) -> S { S } }\n    let x = 1;\n}\n";
        assert_eq!(change(inner, &inner.replace("let x = 1", "let x = 2")), RustChange::Items);
        let plain = "fn f() {\n    let v: Vec<u8> = Vec::new();\n    let x = 1;\n}\n";
        assert_eq!(change(plain, &plain.replace("let x = 1", "let x = 2")), RustChange::Bodies);
    }

    #[test]
    fn literals_and_comment_markers_inside_them_are_tokens() {
        let s = "fn f() -> &'static str { \"// not a comment\" }\nconst C: char = '}';\n";
        assert_eq!(change(s, &s.replace("not a comment", "still not")), RustChange::Bodies);
        assert_eq!(change(s, &s.replace("'}'", "'{'")), RustChange::Items);
        let raw = "const R: &str = r#\"a \"quoted\" } word\"#;\nfn g() { let _ = 1; }\n";
        assert_eq!(change(raw, &raw.replace("let _ = 1", "let _ = 2")), RustChange::Bodies);
        // A raw string ends at a quote followed by as many `#` as opened it, not at the first quote.
        assert_eq!(lex("let r = r#\"a \" { b\"#;"), ["let", "r", "=", "r#\"a \" { b\"#", ";"]);
        assert_eq!(lex("let r = r\"a { b\";"), ["let", "r", "=", "r\"a { b\"", ";"]);
        let nested = "/* outer /* inner */ still comment */ fn h() {}\n";
        assert_eq!(change(nested, &nested.replace("still comment", "more words")), RustChange::Layout);
    }

    #[test]
    fn declarations_without_a_body_are_items() {
        let t = "trait T { fn f(&self) -> u32; fn g(&self) -> u32 { 1 } }\n";
        assert_eq!(change(t, &t.replace("-> u32;", "-> u64;")), RustChange::Items);
        assert_eq!(change(t, &t.replace("{ 1 }", "{ 2 }")), RustChange::Bodies);
        let ptr = "type F = fn(u32) -> u32;\nfn k() { let _ = 3; }\n";
        assert_eq!(change(ptr, &ptr.replace("fn(u32)", "fn(u64)")), RustChange::Items);
    }
}
