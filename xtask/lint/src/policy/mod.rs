//! The project's policies: the seed runbook's "Known Constraints" as executable rules. Each
//! has an id, a one-line rule, and reports the file and line it failed on. A policy whose
//! files do not exist yet is "not applicable", never a silent pass.

mod dockerfile;
mod manifest;

use dockerfile::{dockerfiles, workspace_members};

use xtask_repo::files::{self, Tree};
use xtask_repo::glob;

use super::{Finding, compose, yaml};

pub struct Policy {
    pub id: &'static str,
    /// The rule in one line, printed with every failure.
    pub rule: &'static str,
}

pub const DOCKERFILE_NON_ROOT: Policy = Policy {
    id: "dockerfile-non-root",
    rule: "the container runs as a non-root user: the Dockerfile's final stage ends with a non-root USER",
};
pub const DOCKERFILE_WORKSPACE_MEMBERS: Policy = Policy {
    id: "dockerfile-workspace-members",
    rule: "every workspace member's Cargo.toml reaches the Dockerfile's builder stage: copied by the Dockerfile before \
           the first `cargo` build, and not excluded by `.dockerignore`",
};
pub const COMPOSE_MIGRATE_NO_RESTART: Policy = Policy {
    id: "compose-migrate-no-restart",
    rule: "a failed migration is not retried: the compose `migrate` service has `restart: \"no\"`",
};
pub const ENV_NOT_COMMITTED: Policy = Policy {
    id: "env-not-committed",
    rule: "secrets stay out of git: `.env` is git-ignored and no .env file is tracked",
};
pub const CORS_NO_WILDCARD: Policy =
    Policy { id: "cors-no-wildcard", rule: "no wildcard (`*`) CORS origin in configuration that reaches production" };
pub const PRECOMMIT_PINNED: Policy = Policy {
    id: "precommit-pinned",
    rule: "pre-commit hooks are pinned: every `rev:` is a release tag or commit, never a branch",
};
pub const ACTIONS_PINNED: Policy =
    Policy { id: "actions-pinned", rule: "GitHub Actions `uses:` are pinned to a full 40-character commit SHA" };
pub const XTASK_DEPENDENCIES_EXPLAINED: Policy = Policy {
    id: "xtask-dependencies-explained",
    rule: "every dependency of an xtask crate says why it is there: a comment on its line or right above it in the \
           manifest (the xtask's cold build is a measured figure)",
};

/// A policy's check: the checkout and the paths the CORS policy scans.
type Check = fn(&Tree, &[String]) -> Verdict;

/// Every policy and its check, in the order they are reported: the one list of them.
const POLICIES: [(&Policy, Check); 8] = [
    (&DOCKERFILE_NON_ROOT, |tree, _| dockerfiles(tree)),
    (&DOCKERFILE_WORKSPACE_MEMBERS, |tree, _| workspace_members(tree)),
    (&COMPOSE_MIGRATE_NO_RESTART, |tree, _| compose(tree)),
    (&ENV_NOT_COMMITTED, |tree, _| env(tree)),
    (&CORS_NO_WILDCARD, cors),
    (&PRECOMMIT_PINNED, |tree, _| precommit(tree)),
    (&ACTIONS_PINNED, |tree, _| actions(tree)),
    (&XTASK_DEPENDENCIES_EXPLAINED, |tree, _| manifest::xtask_dependencies(tree)),
];

#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// With what was checked, e.g. "Dockerfile".
    Passed(String),
    Failed(Vec<Finding>),
    /// Why it cannot apply yet.
    NotApplicable(String),
}

/// A line with this text is never a CORS finding (for a test or a doc example that must
/// contain the pattern).
pub const CORS_ALLOW: &str = "xtask-lint: allow(cors-no-wildcard)";

/// Runs every policy on the checkout.
pub fn check_all(tree: &Tree, cors_paths: &[String]) -> Vec<(&'static Policy, Verdict)> {
    POLICIES.iter().map(|(policy, check)| (*policy, check(tree, cors_paths))).collect()
}

fn read_text(tree: &Tree, path: &str) -> Result<String, Finding> {
    let bytes = tree.read(path).map_err(|e| Finding::file(path, format!("cannot read: {e}")))?;
    String::from_utf8(bytes).map_err(|_| Finding::file(path, "cannot check: not UTF-8 text"))
}

fn read_yaml(tree: &Tree, path: &str) -> Result<Vec<yaml::Node>, Finding> {
    let text = read_text(tree, path)?;
    yaml::parse(&text)
        .map_err(|e| Finding::at(path, e.line.max(1), format!("cannot check: not valid YAML: {}", e.message)))
}

fn verdict(findings: Vec<Finding>, checked: &[&str]) -> Verdict {
    if findings.is_empty() { Verdict::Passed(checked.join(", ")) } else { Verdict::Failed(findings) }
}

// ---------------------------------------------------------------------------------------------
// compose-migrate-no-restart

fn compose(tree: &Tree) -> Verdict {
    let paths = tree.select(compose::is_compose);
    if paths.is_empty() {
        return Verdict::NotApplicable("no compose.yaml or docker-compose.yml yet".into());
    }
    let mut findings = Vec::new();
    let mut with_migrate = Vec::new();
    for &path in &paths {
        let docs = match read_yaml(tree, path) {
            Ok(d) => d,
            Err(f) => {
                findings.push(f);
                continue;
            }
        };
        let Some(migrate) = docs.first().and_then(|d| d.get("services")).and_then(|s| s.get("migrate")) else {
            continue;
        };
        with_migrate.push(path);
        findings.extend(migrate_restart(path, migrate, compose::is_main_compose(path)));
    }
    if with_migrate.is_empty() && findings.is_empty() {
        return Verdict::NotApplicable(format!("no `migrate` service in {}", paths.join(", ")));
    }
    verdict(findings, &with_migrate)
}

fn migrate_restart(path: &str, migrate: &yaml::Node, main_file: bool) -> Vec<Finding> {
    let mut out = Vec::new();
    match migrate.get("restart") {
        Some(r) if r.scalar() == Some("no") && r.is_quoted() => {}
        Some(r) if r.scalar() == Some("no") => out.push(Finding::at(
            path,
            r.line,
            "write `restart: \"no\"` with quotes: unquoted, YAML 1.1 tools read `no` as the boolean false",
        )),
        Some(r) => out.push(Finding::at(
            path,
            r.line,
            format!(
                "the migrate service has `restart: {}`: a failed migration is not a transient error and must \
                 not be retried; use `restart: \"no\"`",
                r.scalar().unwrap_or("…")
            ),
        )),
        None if main_file => out.push(Finding::at(
            path,
            migrate.line,
            "the migrate service has no `restart:`; write `restart: \"no\"` so a failed migration is never retried",
        )),
        None => {}
    }
    if let Some(cond) = migrate.get("deploy").and_then(|d| d.get("restart_policy")).and_then(|p| p.get("condition"))
        && cond.scalar() != Some("none")
    {
        out.push(Finding::at(
            path,
            cond.line,
            format!(
                "the migrate service has `deploy.restart_policy.condition: {}`: use `none`",
                cond.scalar().unwrap_or("…")
            ),
        ));
    }
    out
}

// ---------------------------------------------------------------------------------------------
// env-not-committed

fn env(tree: &Tree) -> Verdict {
    let mut findings = Vec::new();
    for path in tree.tracked.iter().filter(|p| files::is_env_file(p)) {
        findings.push(Finding::file(
            path,
            format!(
                "is tracked by git, and .env files hold secrets: `git rm --cached {path}` (and rotate what it held)"
            ),
        ));
    }
    // Whether git ignores `.env` at the root.
    let ignored = xtask_repo::git(&tree.root)
        .args(["check-ignore", "-q", "--no-index", ".env"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !ignored {
        let gitignore = tree.read(".gitignore").ok().map(|b| String::from_utf8_lossy(&b).into_owned());
        let negation = gitignore
            .as_deref()
            .and_then(|g| g.lines().position(|l| matches!(l.trim(), "!.env" | "!/.env" | "!**/.env")).map(|i| i + 1));
        findings.push(match negation {
            Some(line) => Finding::at(".gitignore", line, "this line un-ignores `.env`: remove it"),
            None if gitignore.is_none() => {
                Finding::file(".gitignore", "no .gitignore: create one with the line `.env`")
            }
            None => Finding::file(".gitignore", "`.env` is not git-ignored: add the line `.env`"),
        });
    }
    verdict(findings, &[".gitignore"])
}

// ---------------------------------------------------------------------------------------------
// cors-no-wildcard

/// Library calls that allow every origin, whatever the surrounding text.
const PERMISSIVE_CALLS: [&str; 8] = [
    "CorsLayer::permissive(",
    "CorsLayer::very_permissive(",
    "AllowOrigin::any(",
    "allow_origin(Any)",
    "allow_origin(cors::Any)",
    "allow_origin(tower_http::cors::Any)",
    "allow_any_origin(",
    "Cors::permissive(",
];

fn cors(tree: &Tree, cors_paths: &[String]) -> Verdict {
    let paths = tree.select(|p| glob::selected(cors_paths, p));
    let mut scanned = Vec::new();
    let mut findings = Vec::new();
    for &path in &paths {
        let Ok(bytes) = tree.read(path) else { continue };
        if super::hygiene::is_binary(&bytes) {
            continue;
        }
        scanned.push(path);
        findings.extend(cors_lines(path, &String::from_utf8_lossy(&bytes)));
    }
    if scanned.is_empty() {
        return Verdict::NotApplicable("no file matches `cors-paths` yet".into());
    }
    let n = scanned.len();
    if findings.is_empty() {
        Verdict::Passed(format!("{n} file{}", if n == 1 { "" } else { "s" }))
    } else {
        Verdict::Failed(findings)
    }
}

/// Line by line: a permissive library call, or a line that names an origin or CORS and has
/// a lone `*` as a value (`CORS_ORIGINS=*`, `allow_origins=["*"]`, `Access-Control-Allow-Origin: *`).
/// Comment lines and lines carrying `CORS_ALLOW` are skipped.
fn cors_lines(path: &str, text: &str) -> Vec<Finding> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let t = line.trim_start();
        let comment = ["#", "//", ";", "<!--", "/*", "* "].iter().any(|c| t.starts_with(c)) || t == "*";
        if comment {
            continue;
        }
        if line.contains(CORS_ALLOW) {
            continue;
        }
        if let Some(call) = PERMISSIVE_CALLS.iter().find(|c| line.contains(*c)) {
            let call = call.trim_end_matches('(');
            out.push(Finding::at(path, i + 1, format!("`{call}` allows every origin: list the allowed origins")));
            continue;
        }
        let lower = line.to_ascii_lowercase();
        if (lower.contains("origin") || lower.contains("cors")) && has_lone_star(line) {
            out.push(Finding::at(
                path,
                i + 1,
                "wildcard CORS origin `*`: list the allowed origins explicitly (e.g. https://clicknback.com)",
            ));
        }
    }
    out
}

/// A `*` that stands alone as a value: the nearest non-blank character before it opens a
/// value (`=`, `:`, a quote, `[`, `,`, `(`, or the start of the line) and the nearest one after
/// it closes one (a quote, `]`, `,`, `)`, `;`, `#`, or the end). So `x * y` and
/// `https://*.example.com` are not wildcards.
fn has_lone_star(line: &str) -> bool {
    let b = line.as_bytes();
    let blank = |c: &u8| *c == b' ' || *c == b'\t';
    b.iter().enumerate().any(|(i, &c)| {
        if c != b'*' {
            return false;
        }
        let before = b[..i].iter().rev().find(|c| !blank(c));
        let after = b[i + 1..].iter().find(|c| !blank(c));
        matches!(before, None | Some(b'=' | b':' | b'"' | b'\'' | b'[' | b',' | b'(' | b'`'))
            && matches!(after, None | Some(b'"' | b'\'' | b']' | b',' | b')' | b';' | b'#' | b'`'))
    })
}

// ---------------------------------------------------------------------------------------------
// precommit-pinned

/// Branch-like revisions that move.
const FLOATING: [&str; 12] =
    ["main", "master", "head", "latest", "trunk", "develop", "dev", "stable", "nightly", "edge", "next", "canary"];

fn precommit(tree: &Tree) -> Verdict {
    let path = ".pre-commit-config.yaml";
    if !tree.files.iter().any(|p| p == path) {
        return Verdict::NotApplicable("no .pre-commit-config.yaml yet".into());
    }
    let docs = match read_yaml(tree, path) {
        Ok(d) => d,
        Err(f) => return Verdict::Failed(vec![f]),
    };
    let mut findings = Vec::new();
    let repos = docs.first().and_then(|d| d.get("repos"));
    for repo in repos.map(yaml::Node::items).unwrap_or_default() {
        let name = repo.get("repo").and_then(yaml::Node::scalar).unwrap_or("");
        if name == "local" || name == "meta" {
            continue;
        }
        match repo.get("rev") {
            None => findings.push(Finding::at(
                path,
                repo.key_line("repo").unwrap_or(repo.line),
                format!("`{name}` has no `rev:`: pin a release tag or a commit SHA"),
            )),
            Some(rev) => {
                let r = rev.scalar().unwrap_or("");
                let lower = r.to_ascii_lowercase();
                if r.is_empty() || FLOATING.contains(&lower.as_str()) || lower.starts_with("refs/heads/") {
                    findings.push(Finding::at(
                        path,
                        rev.line,
                        format!("`rev: {r}` ({name}) is a branch that moves: pin a release tag or a commit SHA"),
                    ));
                }
            }
        }
    }
    verdict(findings, &[path])
}

// ---------------------------------------------------------------------------------------------
// actions-pinned

fn actions(tree: &Tree) -> Verdict {
    let paths = tree.select(files::is_workflow);
    if paths.is_empty() {
        return Verdict::NotApplicable("no workflow in .github/workflows yet".into());
    }
    let mut findings = Vec::new();
    for &path in &paths {
        let docs = match read_yaml(tree, path) {
            Ok(d) => d,
            Err(f) => {
                findings.push(f);
                continue;
            }
        };
        let mut uses = Vec::new();
        for doc in &docs {
            doc.find_all("uses", &mut uses);
        }
        for (_, value) in uses {
            if let Some(problem) = value.scalar().and_then(unpinned_action) {
                findings.push(Finding::at(path, value.line, problem));
            }
        }
    }
    verdict(findings, &paths)
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Why a `uses:` value is not pinned, if it is not.
pub fn unpinned_action(uses: &str) -> Option<String> {
    let uses = uses.trim();
    if uses.starts_with("./") {
        return None;
    }
    if let Some(image) = uses.strip_prefix("docker://") {
        return match image.split_once("@sha256:") {
            Some((_, digest)) if is_hex(digest, 64) => None,
            _ => Some(format!("`{uses}` is not pinned by digest: use `docker://<image>@sha256:<digest>`")),
        };
    }
    match uses.rsplit_once('@') {
        Some((_, sha)) if is_hex(sha, 40) => None,
        Some((action, reference)) => Some(format!(
            "`{uses}` is pinned to `{reference}`, which can move: pin the full commit SHA \
             (`{action}@<40-hex sha> # {reference}`)"
        )),
        None => Some(format!("`{uses}` has no version: pin the full commit SHA (`{uses}@<40-hex sha>`)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn restart(text: &str, main: bool) -> Vec<String> {
        let docs = yaml::parse(text).unwrap();
        let migrate = docs[0].get("services").unwrap().get("migrate").unwrap();
        migrate_restart("compose.yaml", migrate, main).iter().map(ToString::to_string).collect()
    }

    #[test]
    fn migrate_must_say_restart_no_quoted() {
        assert!(restart("services:\n  migrate:\n    restart: \"no\"\n", true).is_empty());
        assert!(restart("services:\n  migrate:\n    restart: 'no'\n", true).is_empty());
        let bad = restart("services:\n  migrate:\n    image: x\n    restart: on-failure\n", true);
        assert_eq!(bad.len(), 1);
        assert!(bad[0].starts_with("compose.yaml:4: the migrate service has `restart: on-failure`"), "{bad:?}");
        assert!(restart("services:\n  migrate:\n    restart: no\n", true)[0].contains("with quotes"));
        assert!(
            restart("services:\n  migrate:\n    image: x\n", true)[0]
                .starts_with("compose.yaml:3: the migrate service has no `restart:`")
        );
        assert!(restart("services:\n  migrate:\n    image: x\n", false).is_empty(), "an override inherits it");
        let swarm = restart(
            "services:\n  migrate:\n    restart: \"no\"\n    deploy:\n      restart_policy:\n        condition: on-failure\n",
            true,
        );
        assert_eq!(swarm.len(), 1);
        assert!(swarm[0].starts_with("compose.yaml:6:"), "{swarm:?}");
    }

    #[test]
    fn cors_wildcards_are_found_line_by_line() {
        let found = |t: &str| cors_lines("f", t).into_iter().map(|f| f.line.unwrap()).collect::<Vec<_>>();
        assert_eq!(found("CORS_ORIGINS=*\n"), [1]);
        assert_eq!(found("A=1\nALLOWED_ORIGINS=https://a.com,*\n"), [2]);
        assert_eq!(found("allow_origins=[\"*\"]\n"), [1]);
        assert_eq!(found("  Access-Control-Allow-Origin: *\n"), [1]);
        assert_eq!(found("let cors = CorsLayer::permissive();\n"), [1]);
        assert_eq!(found(".layer(CorsLayer::new().allow_origin(Any))\n"), [1]);
        assert!(found("CORS_ORIGINS=https://clicknback.com\n").is_empty());
        assert!(found("# CORS_ORIGINS=*\n// origin: *\n * origin: *\n").is_empty(), "comments");
        assert!(found("ORIGIN_GLOB=https://*.example.com\n").is_empty(), "a subdomain pattern is not `*`");
        assert!(found("let n = a * b; // no origin here\n").is_empty());
        assert!(found("let origins = x * y;\n").is_empty(), "multiplication is not a wildcard value");
        let allowed = format!("assert!(rejects(\"CORS_ORIGINS=*\")); // {CORS_ALLOW}\n");
        assert!(found(&allowed).is_empty());
        assert!(found("PATH_GLOB=*\n").is_empty(), "not about CORS");
    }

    #[test]
    fn action_pins() {
        assert_eq!(unpinned_action("actions/checkout@08c6903cd8c0fde910a37f88322edcfb5dd907a8"), None);
        assert_eq!(unpinned_action("./.github/actions/setup"), None);
        let digest = "a".repeat(64);
        assert_eq!(unpinned_action(&format!("docker://alpine@sha256:{digest}")), None);
        assert!(unpinned_action("docker://alpine:3.20").unwrap().contains("not pinned by digest"));
        let tag = unpinned_action("actions/checkout@v4").unwrap();
        assert!(tag.contains("pinned to `v4`, which can move"), "{tag}");
        assert!(unpinned_action("actions/checkout@main").is_some());
        assert!(unpinned_action("actions/checkout@08c6903").is_some(), "short SHA");
        assert!(unpinned_action("octo/repo/.github/workflows/ci.yml@v1").is_some());
        assert!(unpinned_action("actions/checkout").unwrap().contains("has no version"));
    }
}
