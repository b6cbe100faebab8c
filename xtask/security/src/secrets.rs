//! The secret scanner: credentials in tracked text files, and tracked `.env` files. Pure
//! functions over a file's path and text; the caller lists the files and skips binary and huge
//! ones.
//!
//! A finding never carries the secret: titles show a redacted form (the first four characters
//! and the length), and a URL's password is shown as `***`.

use std::ops::Range;
use std::sync::OnceLock;

use regex_lite::{Captures, Regex};

use crate::{Check, Finding, Severity, line_col};

/// One rule of the scanner: its id (what a suppression names), severity and one-line rationale.
#[derive(Debug)]
pub struct Rule {
    pub id: &'static str,
    pub severity: Severity,
    pub rationale: &'static str,
    detector: Detector,
}

#[derive(Debug)]
enum Detector {
    /// Credentials with a fixed format.
    Tokens(&'static [Token]),
    /// `scheme://user:password@host`.
    PasswordInUrl,
    /// `key = value` where the key names a secret and the value looks random.
    Assignment,
    /// By path, in [`tracked_env_file`].
    EnvFile,
}

/// A fixed-format credential. The regex's first group, if any, is the random part that is
/// checked for placeholders (`AKIAXXXXXXXXXXXXXXXX` is not a key); without a group the match is
/// never a placeholder.
#[derive(Debug)]
struct Token {
    regex: &'static str,
    /// What it is, for the title.
    name: &'static str,
}

const fn tokens(tokens: &'static [Token]) -> Detector {
    Detector::Tokens(tokens)
}

static RULES: [Rule; 9] = [
    Rule {
        id: "secrets/private-key",
        severity: Severity::Critical,
        rationale: "a committed private key is compromised: revoke it, remove it from history and load keys at runtime",
        detector: tokens(&[Token {
            regex: r"-{5}BEGIN ?(?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-{5}",
            name: "private key",
        }]),
    },
    Rule {
        id: "secrets/aws-access-key",
        severity: Severity::Critical,
        rationale: "a committed AWS access key is compromised: deactivate it in IAM and use roles or the environment",
        detector: tokens(&[Token { regex: r"(?:AKIA|ASIA)([0-9A-Z]{16})", name: "AWS access key id" }]),
    },
    Rule {
        id: "secrets/github-token",
        severity: Severity::Critical,
        rationale: "a committed GitHub token is compromised: revoke it and use the workflow's GITHUB_TOKEN or a secret",
        detector: tokens(&[
            Token { regex: r"gh[pousr]_([A-Za-z0-9]{36,})", name: "GitHub token" },
            Token { regex: r"github_pat_([A-Za-z0-9_]{22,})", name: "GitHub fine-grained token" },
        ]),
    },
    Rule {
        id: "secrets/slack-token",
        severity: Severity::High,
        rationale: "a committed Slack token or webhook lets anyone post as the app: revoke it and load it at runtime",
        detector: tokens(&[
            Token { regex: r"xox[abprs]-([0-9A-Za-z-]{10,})", name: "Slack token" },
            Token {
                regex: r"https://hooks\.slack\.com/services/T[0-9A-Za-z]+/B[0-9A-Za-z]+/([0-9A-Za-z]{16,})",
                name: "Slack webhook URL",
            },
        ]),
    },
    Rule {
        id: "secrets/google-api-key",
        severity: Severity::High,
        rationale: "a committed Google API key can be used on your bill: restrict or regenerate it and load it at runtime",
        detector: tokens(&[Token { regex: r"AIza([0-9A-Za-z_-]{35})", name: "Google API key" }]),
    },
    Rule {
        id: "secrets/stripe-secret-key",
        severity: Severity::Critical,
        rationale: "a committed Stripe live key can move money: roll it in the dashboard and load it at runtime",
        detector: tokens(&[Token { regex: r"(?:sk|rk)_live_([0-9a-zA-Z]{24,})", name: "Stripe live secret key" }]),
    },
    Rule {
        id: "secrets/password-in-url",
        severity: Severity::High,
        rationale: "a password written into a URL is a committed credential: take it from the environment",
        detector: Detector::PasswordInUrl,
    },
    Rule {
        id: "secrets/high-entropy-assignment",
        severity: Severity::Medium,
        rationale: "a random-looking value assigned to a secret's name is probably a real credential: load it at runtime",
        detector: Detector::Assignment,
    },
    Rule {
        id: "secrets/env-file-tracked",
        severity: Severity::High,
        rationale: ".env files hold real secrets: untrack it (`git rm --cached`), commit a .env.example, rotate its values",
        detector: Detector::EnvFile,
    },
];

/// Every rule, for the documentation and `--list-rules`.
pub fn rules() -> &'static [Rule] {
    &RULES
}

/// `scheme://user:password@host`: the scheme, user, password and host (up to a path, query or
/// fragment). A password may not hold `@`, `/`, `?` or `#` unencoded.
const URL_WITH_PASSWORD: &str = r#"([A-Za-z][A-Za-z0-9+.-]*)://([^\s:/?#@"'`<>]*):([^\s/?#@"'`<>]+)@([^\s/?#@"'`<>]+)"#;

/// A key naming a secret (any case, env, YAML, TOML, JSON or Rust style, a Rust `: &str` type
/// allowed), `=`, `:`, `:=` or `=>`, an optional quote, then the value's characters.
const SECRET_ASSIGNMENT: &str = concat!(
    r"(?i)([A-Za-z0-9_.-]*(?:secret|token|passwd|password|api[_-]?key|private[_-]?key|access[_-]?key)",
    r#"[A-Za-z0-9_.-]*)["']?[ \t]*(?::[ \t]*&(?:'static[ \t]+)?str[ \t]*)?(?:=>|:=|=|:)[ \t]*["'`]?"#,
    r"([A-Za-z0-9+/=_.-]{20,})",
);

/// The least Shannon entropy, in bits per character, of a value reported by the assignment rule.
const MIN_ENTROPY: f64 = 3.5;

struct Compiled {
    tokens: Vec<(&'static Rule, &'static Token, Regex)>,
    url: Regex,
    assignment: Regex,
}

fn compiled() -> &'static Compiled {
    static COMPILED: OnceLock<Compiled> = OnceLock::new();
    COMPILED.get_or_init(|| {
        let re = |p: &str| Regex::new(p).unwrap_or_else(|e| panic!("secret rule regex {p:?}: {e}"));
        let mut tokens = Vec::new();
        for rule in &RULES {
            if let Detector::Tokens(list) = &rule.detector {
                tokens.extend(list.iter().map(|t| (rule, t, re(t.regex))));
            }
        }
        Compiled { tokens, url: re(URL_WITH_PASSWORD), assignment: re(SECRET_ASSIGNMENT) }
    })
}

fn rule(id: &str) -> &'static Rule {
    RULES.iter().find(|r| r.id == id).unwrap_or_else(|| panic!("no secrets rule {id}"))
}

/// Scan one tracked text file (the caller skips binary and huge files). One finding per match,
/// in the order of the text; the secret itself is never in the finding.
pub fn scan_text(path: &str, text: &str) -> Vec<Finding> {
    let c = compiled();
    let mut hits: Vec<(Range<usize>, &'static Rule, String)> = Vec::new();
    let overlaps = |hits: &[(Range<usize>, &Rule, String)], r: &Range<usize>| {
        hits.iter().any(|(s, _, _)| s.start < r.end && r.start < s.end)
    };

    for (rule, token, regex) in &c.tokens {
        for caps in regex.captures_iter(text) {
            let whole = caps.get(0).map_or(0..0, |m| m.range());
            let body = caps.get(1).map(|m| m.as_str());
            if !standalone(text, &whole) || body.is_some_and(is_placeholder_token) {
                continue;
            }
            let title = match rule.id {
                "secrets/private-key" => {
                    let header = &text[whole.clone()];
                    let kind = header.split_once("BEGIN").map_or("", |(_, k)| k).split("PRIVATE").next().unwrap_or("");
                    let kind = kind.trim();
                    let kind = if kind.is_empty() { String::new() } else { format!(" ({kind})") };
                    format!("private key block{kind}")
                }
                _ => format!("{}: {}", token.name, redact(&text[whole.clone()])),
            };
            hits.push((whole, rule, title));
        }
    }

    let url_rule = rule("secrets/password-in-url");
    for caps in c.url.captures_iter(text) {
        let (Some(whole), Some(password)) = (caps.get(0), caps.get(3)) else { continue };
        if is_placeholder(password.as_str()) || overlaps(&hits, &password.range()) {
            continue;
        }
        let part = |i: usize| caps.get(i).map_or("", |m| m.as_str());
        let shown = format!("{}://{}:***@{}", part(1), part(2), part(4));
        hits.push((whole.range(), url_rule, format!("password in a URL: {shown}")));
    }

    let assignment_rule = rule("secrets/high-entropy-assignment");
    for caps in c.assignment.captures_iter(text) {
        let Some((key, value)) = assignment(text, &caps) else { continue };
        if !overlaps(&hits, &value.range()) {
            let title = format!("high-entropy value assigned to `{key}`: {}", redact(value.as_str()));
            hits.push((value.range(), assignment_rule, title));
        }
    }

    hits.sort_by_key(|(r, rule, _)| (r.start, rule.id));
    hits.into_iter()
        .map(|(range, rule, title)| {
            let (line, column) = line_col(text, range.start);
            Finding::new(Check::Secrets, rule.id, rule.severity, title).help(rule.rationale).at(
                path,
                Some(line),
                Some(column),
            )
        })
        .collect()
}

/// The key and the value of a secret assignment that counts: long, random-looking, not a
/// placeholder, and not the start of a call or a path in code (`token = make_token_v2(…)`).
fn assignment<'h>(text: &str, caps: &Captures<'h>) -> Option<(&'h str, regex_lite::Match<'h>)> {
    let (key, value) = (caps.get(1)?, caps.get(2)?);
    let v = value.as_str();
    let rest = &text[value.end()..];
    let code = rest.starts_with('(') || rest.starts_with('!') || rest.starts_with("::");
    let mixed = v.chars().any(|c| c.is_ascii_alphabetic()) && v.chars().any(|c| c.is_ascii_digit());
    let random = entropy(v) >= MIN_ENTROPY && !repeats(v);
    (mixed && !code && random && !is_placeholder(v)).then_some((key.as_str(), value))
}

/// A shorter unit repeated (`0123456789abcdef0123456789abcdef`): made up, however high its entropy.
fn repeats(v: &str) -> bool {
    let b = v.as_bytes();
    (1..=b.len() / 2).any(|p| b[p..].iter().zip(b).all(|(x, y)| x == y))
}

/// A tracked `.env` file (not `.env.example`, `.env.sample`, `.env.template` or `.env.dist`:
/// the same files as the lint's `env-not-committed` policy) is a finding by itself.
pub fn tracked_env_file(path: &str) -> Option<Finding> {
    if !xtask_repo::files::is_env_file(path) {
        return None;
    }
    let rule = rule("secrets/env-file-tracked");
    let name = path.rsplit('/').next().unwrap_or(path);
    Some(
        Finding::new(Check::Secrets, rule.id, rule.severity, format!("`{name}` is tracked by git"))
            .help(rule.rationale)
            .at(path, None, None),
    )
}

/// The match is not part of a longer word (`xAKIA…`, `…_ghp_…1234z`).
fn standalone(text: &str, r: &Range<usize>) -> bool {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    !text[..r.start].chars().next_back().is_some_and(word) && !text[r.end..].chars().next().is_some_and(word)
}

/// What a finding shows of a secret: its first four characters and its length, e.g.
/// `AKIA… (20 chars)`.
pub fn redact(secret: &str) -> String {
    let head: String = secret.chars().take(4).collect();
    format!("{head}… ({} chars)", secret.chars().count())
}

/// Shannon entropy in bits per character.
fn entropy(s: &str) -> f64 {
    let mut counts = [0usize; 256];
    for b in s.bytes() {
        counts[usize::from(b)] += 1;
    }
    let n = s.len() as f64;
    counts.iter().filter(|&&c| c > 0).map(|&c| c as f64 / n).map(|p| -p * p.log2()).sum()
}

// ---------------------------------------------------------------------------------------------
// Placeholders

/// Words that mark a value as an example, in any case.
const PLACEHOLDER_WORDS: [&str; 11] = [
    "password",
    "passwd",
    "changeme",
    "change-me",
    "example",
    "placeholder",
    "dummy",
    "fake",
    "redacted",
    "your-",
    "your_",
];

/// Whether a value is a placeholder, never a secret. A value is a placeholder when it
/// - starts with `$` (`$DB_PASSWORD`, `${JWT_SECRET}`),
/// - is wrapped in `<…>` or `{…}` (`<token>`, `{{ secret }}`, a `format!` argument `{pw}`),
/// - consists only of `*`, `x` and `X` (`****`, `xxxxxxxx`),
/// - is all-uppercase words (`PASSWORD`, `USER`, `DB_PASSWORD`),
/// - or contains one of [`PLACEHOLDER_WORDS`], in any case (`changeme`, `my-example-key`).
///
/// Fixed-format tokens use [`is_placeholder_token`] on their random part.
fn is_placeholder(value: &str) -> bool {
    let v = value.trim();
    let upper_words =
        v.chars().any(|c| c.is_ascii_uppercase()) && v.chars().all(|c| c.is_ascii_uppercase() || c == '_' || c == '-');
    is_placeholder_token(v) || upper_words
}

/// [`is_placeholder`] without the all-uppercase rule: a token's random part may be all
/// capitals (`AKIA` and 16 letters), `AKIAXXXXXXXXXXXXXXXX` is still a placeholder.
fn is_placeholder_token(value: &str) -> bool {
    let v = value.trim();
    let lower = v.to_ascii_lowercase();
    v.is_empty()
        || v.starts_with('$')
        || (v.starts_with('<') && v.ends_with('>'))
        || (v.starts_with('{') && v.ends_with('}'))
        || v.chars().all(|c| matches!(c, '*' | 'x' | 'X'))
        || PLACEHOLDER_WORDS.iter().any(|w| lower.contains(w))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Fixtures are joined at run time, so this file holds no secret-shaped text itself.
    fn join(parts: &[&str]) -> String {
        parts.concat()
    }

    fn aws() -> String {
        join(&["AK", "IA5NH575LZ6M7MPETF"])
    }

    fn github() -> String {
        join(&["gh", "p_NjvFlj7HIz9Q4wcrUs", "Bi7gOSFSb61rtqadji"])
    }

    fn random40() -> String {
        join(&["LijLOtyVlm9YPAn5bg8l", "8sThfxz6KugiJpF7ZrPe"])
    }

    /// (rule, line, column) of each finding.
    fn found(text: &str) -> Vec<(String, usize, usize)> {
        scan_text("f.txt", text).into_iter().map(|f| (f.rule, f.line.unwrap(), f.column.unwrap())).collect()
    }

    fn rules_found(text: &str) -> Vec<String> {
        found(text).into_iter().map(|(r, _, _)| r).collect()
    }

    fn assert_flags(rule: &str, bad: &str, good: &str) {
        let id = format!("secrets/{rule}");
        assert_eq!(rules_found(bad), vec![id.clone()], "{id} should flag {bad:?}");
        assert_eq!(rules_found(good), Vec::<String>::new(), "{id} should not flag {good:?}");
    }

    #[test]
    fn every_rule_has_an_id_a_severity_and_a_one_line_rationale() {
        let mut seen = std::collections::BTreeSet::new();
        for rule in rules() {
            assert!(rule.id.starts_with("secrets/"), "{}", rule.id);
            assert!(seen.insert(rule.id), "duplicate {}", rule.id);
            assert!(!rule.rationale.is_empty() && !rule.rationale.contains('\n'), "{}", rule.id);
            assert!(rule.severity.fails(), "{}", rule.id);
        }
        assert_eq!(compiled().tokens.len(), 8);
    }

    #[test]
    fn private_key() {
        let header = |kind: &str| format!("-----BEGIN {kind}PRIVATE KEY-----\nMIIE\n");
        for kind in ["", "RSA ", "EC ", "OPENSSH ", "ENCRYPTED "] {
            assert_eq!(rules_found(&header(kind)), ["secrets/private-key"], "{kind}");
        }
        assert_eq!(rules_found(&format!("-----BEGIN PGP {}-----", "PRIVATE KEY BLOCK")), ["secrets/private-key"]);
        assert_flags("private-key", &header("RSA "), &format!("-----BEGIN {}-----\nMIIB", "PUBLIC KEY"));
        assert_eq!(scan_text("k.pem", &header("RSA "))[0].title, "private key block (RSA)");
    }

    #[test]
    fn aws_access_key() {
        assert_flags("aws-access-key", &format!("key_id = {}", aws()), &format!("key_id = {}Z", aws()));
        assert_flags("aws-access-key", &format!("\"{}\"", aws().replacen("AKIA", "ASIA", 1)), "AKIA-not-a-key");
        // Documentation examples and masked keys are placeholders.
        assert_eq!(rules_found(&join(&["AKIA", "IOSFODNN7EXAMPLE"])), Vec::<String>::new());
        assert_eq!(rules_found(&join(&["AKIA", "XXXXXXXXXXXXXXXX"])), Vec::<String>::new());
        // A random part of capitals only is still a key.
        assert_eq!(rules_found(&join(&["AKIA", "QWERTYUIOPASDFGH"])), ["secrets/aws-access-key"]);
    }

    #[test]
    fn github_token() {
        assert_flags("github-token", &format!("GH={}", github()), &format!("GH={}", &github()[..30]));
        let pat = join(&["github_", "pat_11ABCDEFG0", "abcdefghijKLMNOP_qrstuv"]);
        assert_flags("github-token", &pat, "github_pat_short");
    }

    #[test]
    fn slack_token() {
        assert_flags("slack-token", &join(&["xo", "xb-2048-", "71193a-Zq9Xr"]), "xoxb-short");
        let hook = join(&["https://hooks.slack.com/services/", "T0001/B0002/", "Qm3Zx7Lp2Rt5Vw9Yb1Nc"]);
        assert_flags("slack-token", &hook, "https://hooks.slack.com/services/T0001/B0002/short");
    }

    #[test]
    fn google_api_key() {
        let key = join(&["AI", "za", "dlnKDLbZ48QP06Ff6NtC0dcDmLa4Rzk0A9W"]);
        assert_flags("google-api-key", &format!("key: {key}"), &format!("key: {}", &key[..30]));
    }

    #[test]
    fn stripe_secret_key() {
        let key = join(&["sk_", "live_", "eQgIQG9EvbiauceFVURhnk61"]);
        assert_flags("stripe-secret-key", &key, &key.replace("live", "test"));
    }

    #[test]
    fn password_in_url() {
        let pw = join(&["hun", "ter2-db"]);
        let url = format!("DATABASE_URL=postgres://app:{pw}@db:5432/app");
        assert_flags("password-in-url", &url, "DATABASE_URL=postgres://app@db:5432/app");
        let findings = scan_text(".env.example", &url);
        assert_eq!(findings[0].title, "password in a URL: postgres://app:***@db:5432");
        assert_eq!((findings[0].line, findings[0].column), (Some(1), Some(14)));
        for placeholder in ["${POSTGRES_PASSWORD}", "$PW", "PASSWORD", "<pw>", "{pw}", "{{ pw }}", "****", "changeme"] {
            let text = format!("postgres://USER:{placeholder}@HOST:5432/DATABASE");
            assert_eq!(rules_found(&text), Vec::<String>::new(), "{placeholder}");
        }
        assert_eq!(
            rules_found("postgres://clicknback:clicknback-dev-password@127.0.0.1:5432/db"),
            Vec::<String>::new()
        );
    }

    #[test]
    fn high_entropy_assignment() {
        let v = random40();
        for bad in [
            format!("JWT_SECRET={v}"),
            format!("  api_key: \"{v}\""),
            format!("client_secret = '{v}'"),
            format!("{{\"accessKey\": \"{v}\"}}"),
            format!("'auth_token' => '{v}',"),
            format!("const API_TOKEN: &str = \"{v}\";"),
            format!("let private_key = \"{v}\";"),
        ] {
            assert_eq!(rules_found(&bad), ["secrets/high-entropy-assignment"], "{bad}");
        }
        for good in [
            format!("JWT_SECRET_LENGTH={}", "12345678901234567890123"), // digits only
            "JWT_SECRET=aaaaaaaaaaaaaaaaaaaaaaa1".to_owned(),           // low entropy
            format!("REQUEST_ID={v}"),                                  // not a secret's name
            format!("JWT_SECRET={}", &v[..19]),                         // too short
            "JWT_SECRET=change-me-to-at-least-32-random-bytes-in-production".to_owned(),
            format!("JWT_SECRET=${{{v}}}"),
            format!("let token = issue_token_v2{}(claims);", &v[..20]),
            format!("jwt_secret: \"{}\"", "0123456789abcdef".repeat(2)), // a repeated unit
        ] {
            assert_eq!(rules_found(&good), Vec::<String>::new(), "{good}");
        }
        let findings = scan_text("config.toml", &format!("[app]\ntoken = \"{v}\""));
        assert_eq!(findings[0].title, format!("high-entropy value assigned to `token`: {}… (40 chars)", &v[..4]));
        assert_eq!((findings[0].line, findings[0].column), (Some(2), Some(10)));
    }

    #[test]
    fn a_secret_found_by_a_format_rule_is_not_reported_again_as_an_assignment() {
        assert_eq!(rules_found(&format!("GITHUB_TOKEN={}", github())), ["secrets/github-token"]);
        let url = format!("https://x-access-token:{}@github.com/o/r", github());
        assert_eq!(rules_found(&url), ["secrets/github-token"]);
    }

    #[test]
    fn every_match_is_a_finding_at_its_column() {
        let line = format!("a={k} b={k}\n  {k}", k = aws());
        let at: Vec<_> = found(&line).into_iter().map(|(_, l, c)| (l, c)).collect();
        assert_eq!(at, [(1, 3), (1, 26), (2, 3)]);
    }

    #[test]
    fn findings_never_hold_the_secret() {
        let text = format!(
            "{aws}\n{gh}\nJWT_SECRET={v}\nredis://:{pw}@cache:6379\n",
            aws = aws(),
            gh = github(),
            v = random40(),
            pw = join(&["s3", "cr3t-pw-9"])
        );
        let findings = scan_text("f", &text);
        assert_eq!(findings.len(), 4, "{findings:#?}");
        let secrets = [aws(), github(), random40(), join(&["s3", "cr3t-pw-9"])];
        for f in &findings {
            let shown = format!("{} {}", f.title, f.help.as_deref().unwrap_or(""));
            assert!(secrets.iter().all(|s| !shown.contains(&s[4..])), "{shown}");
        }
        assert_eq!(findings[0].title, "AWS access key id: AKIA… (20 chars)");
        assert_eq!(findings[3].title, "password in a URL: redis://:***@cache:6379");
    }

    #[test]
    fn placeholders() {
        for p in
            ["$X", "${X}", "<secret>", "{{ secret }}", "{pw}", "***", "xxxx", "XXXX", "PASSWORD", "USER", "DB_PASSWORD"]
        {
            assert!(is_placeholder(p), "{p}");
        }
        for p in
            ["my-Example-value", "ChangeMe", "change-me-now", "your_key", "dummy1", "FAKE", "redacted", "placeholder"]
        {
            assert!(is_placeholder(p), "{p}");
        }
        for p in ["hunter2", "s3cr3t", "Xx1", "<unterminated", "User"] {
            assert!(!is_placeholder(p), "{p}");
        }
        assert!(is_placeholder("QWERTYUIOP") && !is_placeholder_token("QWERTYUIOP"));
    }

    #[test]
    fn tracked_env_files() {
        let f = tracked_env_file("deploy/.env").expect("a finding");
        assert_eq!(
            (f.rule.as_str(), f.severity, f.path.as_deref()),
            ("secrets/env-file-tracked", Severity::High, Some("deploy/.env"))
        );
        assert_eq!(f.title, "`.env` is tracked by git");
        assert!(tracked_env_file(".env.production").is_some());
        for ok in [".env.example", ".env.sample", "app/.env.template", ".envrc", "src/env.rs"] {
            assert_eq!(tracked_env_file(ok), None, "{ok}");
        }
    }

    #[test]
    fn private_key_blocks_are_named_by_kind_and_other_pem_blocks_are_not_keys() {
        let pkcs8 = format!("-----BEGIN {}-----\nMIIE\n", "PRIVATE KEY");
        assert_eq!(scan_text("k.pem", &pkcs8)[0].title, "private key block");
        let pgp = format!("-----BEGIN PGP {}-----", "PRIVATE KEY BLOCK");
        assert_eq!(scan_text("k.asc", &pgp)[0].title, "private key block (PGP)");
        for near in [
            format!("-----BEGIN {}-----\nMIIC", "CERTIFICATE"),
            format!("-----BEGIN RSA {}-----\nMIIB", "PUBLIC KEY"),
            format!("-----BEGIN {}-----\nMIIB", "CERTIFICATE REQUEST"),
            // Prose that names the header, without the dashes.
            format!("reject files that start with BEGIN RSA {}", "PRIVATE KEY"),
        ] {
            assert_eq!(rules_found(&near), Vec::<String>::new(), "{near}");
        }
    }

    #[test]
    fn every_github_token_prefix_is_a_token() {
        let random = &github()[4..];
        for prefix in ["ghp_", "gho_", "ghu_", "ghs_", "ghr_"] {
            let token = format!("{prefix}{random}");
            let findings = scan_text("ci.yml", &format!("token: {token}"));
            assert_eq!(findings.len(), 1, "{prefix}: {findings:#?}");
            assert_eq!(findings[0].rule, "secrets/github-token");
            assert_eq!(findings[0].title, format!("GitHub token: {}… (40 chars)", &token[..4]));
        }
        // Not a GitHub prefix; a masked token; a token's shape inside a longer word.
        assert_eq!(rules_found(&format!("ghx_{random}")), Vec::<String>::new());
        assert_eq!(rules_found(&join(&["gh", "p_", &"x".repeat(36)])), Vec::<String>::new());
        assert_eq!(rules_found(&format!("sha{}", github())), Vec::<String>::new());
    }

    #[test]
    fn every_slack_token_kind_is_a_token_and_documentation_examples_are_not() {
        for kind in ["a", "b", "p", "r", "s"] {
            let token = join(&["xo", "x", kind, "-2048-", "71193a-Zq9Xr"]);
            assert_eq!(rules_found(&token), ["secrets/slack-token"], "{token}");
        }
        // Slack's own examples: a token to fill in, and a webhook URL with the secret masked.
        assert_eq!(rules_found(&join(&["SLACK_TOKEN=xo", "xb-your-token-here"])), Vec::<String>::new());
        let masked = join(&["https://hooks.slack.com/services/", "T00000000/B00000000/", &"X".repeat(24)]);
        assert_eq!(rules_found(&masked), Vec::<String>::new());
    }

    #[test]
    fn google_api_keys_are_exactly_39_characters() {
        let key = join(&["AI", "za", "dlnKDLbZ48QP06Ff6NtC0dcDmLa4Rzk0A9W"]);
        assert_eq!(scan_text("a.js", &format!("key={key}&q=1"))[0].title, "Google API key: AIza… (39 chars)");
        // One more character makes it some other identifier; a masked key is a placeholder.
        assert_eq!(rules_found(&format!("{key}Q")), Vec::<String>::new());
        assert_eq!(rules_found(&join(&["AI", "za", &"x".repeat(35)])), Vec::<String>::new());
    }

    #[test]
    fn stripe_restricted_live_keys_are_secret_and_publishable_or_test_keys_are_not() {
        let random = "eQgIQG9EvbiauceFVURhnk61";
        let restricted = join(&["rk_", "live_", random]);
        assert_eq!(rules_found(&format!("STRIPE_KEY={restricted}")), ["secrets/stripe-secret-key"]);
        assert_eq!(
            scan_text("f", &restricted)[0].title,
            format!("Stripe live secret key: rk_l… ({} chars)", restricted.len())
        );
        // A publishable key is public by design; test-mode keys move no money.
        for near in [join(&["pk_", "live_", random]), join(&["sk_", "test_", random]), join(&["sk_", "live_", "short"])]
        {
            assert_eq!(rules_found(&near), Vec::<String>::new(), "{near}");
        }
    }

    #[test]
    fn password_in_url_near_misses() {
        let pw = join(&["Tr0ub", "4dor-33"]);
        let found = scan_text("f", &format!("MONGO=mongodb+srv://admin:{pw}@cluster0.example.net/db?w=1"));
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(found[0].title, "password in a URL: mongodb+srv://admin:***@cluster0.example.net");
        for near in [
            "git@github.com:clicknback/app.git",                      // an SSH remote: no scheme
            "https://deploy@git.example.com/app.git",                 // a user, no password
            "postgres://app:@db:5432/app",                            // an empty password
            "https://x-access-token:${{ secrets.TOKEN }}@github.com", // a workflow expression
            "let url = format!(\"postgres://{user}:{password}@{host}/{db}\");",
            "http://localhost:8000/api/v1/users?email=a@example.com", // `@` after the path
        ] {
            assert_eq!(rules_found(near), Vec::<String>::new(), "{near}");
        }
    }

    #[test]
    fn high_entropy_assignment_near_misses() {
        let v = random40();
        for near in [
            // A workflow reads the secret from the store: nothing is written here.
            "          password: ${{ secrets.DB_PASSWORD }}".to_owned(),
            // Random-looking, but not assigned to a secret's name.
            format!("checksum = \"{}\"", "9c5a0e11c2a0bd93b3bcbd7d8a4be7d8ab6c2e1e2ef5b4a4d0f4dd0c91cf0c93"),
            format!("session_id = \"{v}\""),
            // A secret's name with a URL as its value.
            "token_url = \"https://oauth2.googleapis.com/token\"".to_owned(),
            // Code that computes the value.
            format!("let password = hash_password_with_argon2id_{}(&input)?;", &v[..8]),
        ] {
            assert_eq!(rules_found(&near), Vec::<String>::new(), "{near}");
        }
        // The value is found after a type annotation with a lifetime too.
        let found = found(&format!("pub const SIGNING_SECRET: &'static str = \"{v}\";"));
        assert_eq!(found, [("secrets/high-entropy-assignment".to_owned(), 1, 43)]);
    }

    #[test]
    fn env_files_of_any_environment_are_tracked_secrets_and_templates_are_not() {
        for tracked in [".env.local", "config/.env.production", "deploy/staging/.env"] {
            let f = tracked_env_file(tracked).unwrap_or_else(|| panic!("{tracked}"));
            assert_eq!((f.path.as_deref(), f.line), (Some(tracked), None));
            assert!(f.title.ends_with(" is tracked by git") && f.fails(), "{f:?}");
        }
        for template in [".env.dist", "deploy/.env.sample", "env.example", "docs/dotenv.md"] {
            assert_eq!(tracked_env_file(template), None, "{template}");
        }
    }

    #[test]
    fn the_security_sources_hold_no_secrets() {
        assert_eq!(scan_text("xtask/security/src/secrets.rs", include_str!("secrets.rs")), []);
        assert_eq!(scan_text("xtask/security/src/source.rs", include_str!("source.rs")), []);
    }
}
