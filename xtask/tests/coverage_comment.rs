//! The pull request's coverage comment: `cargo xtask coverage --comment DIR` renders it from a
//! real report and a real change (a snapshot), and `cargo xtask comment post` posts it through
//! real curl to a local HTTP server that plays GitHub's comment endpoints (list with
//! pagination, create, update, a 403). What a pull request controls (its title, its branch,
//! the base's name) changes nothing but text.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use support::Run;
use support::standin::StandIn;

/// `cargo metadata` of the scratch workspace (`ws/`, the settings), nothing else.
const CARGO: &str = r#"#!/bin/sh
case "$1" in
  metadata) exec "$REAL_CARGO" metadata --format-version 1 --no-deps --offline --manifest-path "$STANDIN/ws/Cargo.toml" ;;
esac
echo "stand-in cargo: unexpected $*" >&2; exit 99
"#;

/// The pull request's head commit, as the event names it.
const HEAD: &str = "5d8f0c3b9a7e6d4c2b1a09f8e7d6c5b4a3928170";
const REPOSITORY: &str = "octo-org/covsample";
const TOKEN: &str = "ghs_placeholder_token_that_is_never_printed";
const MARKER: &str = "<!-- xtask-coverage-comment -->";
/// The committed snapshot of the comment rendered by [`the_comment_is_rendered_from_a_real_report`].
const SNAPSHOT: &str = "tests/fixtures/comment/comment.md.expected";

/// The variables of a GitHub run that would reach the xtask from the test's own environment
/// (the suite may run under Actions), and proxies that would take curl elsewhere.
const OUTSIDE: [&str; 16] = [
    "GITHUB_EVENT_PATH",
    "GITHUB_EVENT_NAME",
    "GITHUB_REPOSITORY",
    "GITHUB_SERVER_URL",
    "GITHUB_API_URL",
    "GITHUB_SHA",
    "GITHUB_RUN_ID",
    "GITHUB_BASE_REF",
    "GITHUB_HEAD_REF",
    "GITHUB_TOKEN",
    "http_proxy",
    "HTTP_PROXY",
    "https_proxy",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "all_proxy",
];

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// git at `root`, with fixed names and dates: the commits, and so the merge base the comment
/// names, are the same on every run.
fn git(root: &Path, args: &[&str]) {
    let mut c = Command::new("git");
    for var in ["GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_COMMON_DIR"] {
        c.env_remove(var);
    }
    let date = "2026-01-02T03:04:05Z";
    c.args(["-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false"])
        .args(args)
        .current_dir(root)
        .env("GIT_AUTHOR_DATE", date)
        .env("GIT_COMMITTER_DATE", date);
    assert!(c.status().unwrap().success(), "git {args:?}");
}

/// A scratch workspace whose settings have two path gates and a baseline above the report,
/// and a checkout of the Rust sample (the sources of the cargo-llvm-cov fixture) with a change
/// on a branch: edited lines in text.rs and shapes.rs, and a new file the report cannot list.
fn pull_request(name: &str) -> (StandIn, PathBuf) {
    let s = StandIn::new(name).cargo(CARGO).gate("coverage");
    let s = OUTSIDE.iter().fold(s, |s, var| s.env_remove(var));
    let baseline = s.write(
        "baseline.json",
        r#"{"metric":"lines","covered":65,"valid":79,"commit":"1f2e3d4c5b6a79881f2e3d4c5b6a79881f2e3d4c",
"files":{"src/grading.rs":[12,12],"src/lib.rs":[26,26],"src/shapes.rs":[2,8],"src/text.rs":[25,33]}}"#,
    );
    s.workspace(&format!(
        "[workspace.metadata.xtask.coverage]\nthreshold = 70\nbaseline = \"{}\"\n\
         [[workspace.metadata.xtask.coverage.paths]]\nglob = \"src/text.rs\"\nthreshold = 80\n\
         [[workspace.metadata.xtask.coverage.paths]]\nglob = \"src/grading.rs\"\nthreshold = 90\n",
        baseline.display()
    ));
    let root = s.path("repo");
    support::copy_dir(&fixtures().join("producers/src/rust-sample"), &root);
    git(&root, &["init", "-q", "-b", "main"]);
    git(&root, &["add", "-A"]);
    git(&root, &["commit", "-q", "-m", "sample"]);
    git(&root, &["checkout", "-q", "-b", "feature"]);
    edit(&root.join("src/text.rs"), &[21, 22, 28, 34, 35, 36, 37, 38, 39, 40, 41, 42]);
    edit(&root.join("src/shapes.rs"), &[13, 14, 15, 16]);
    std::fs::write(root.join("src/words.rs"), "pub fn words() -> usize {\n    0\n}\n").unwrap();
    git(&root, &["add", "-A"]);
    git(&root, &["commit", "-q", "-m", "change"]);
    (s, root)
}

/// Appends a comment to each of these lines (1-based).
fn edit(path: &Path, lines: &[usize]) {
    let text = std::fs::read_to_string(path).unwrap();
    let edited: String = text
        .lines()
        .enumerate()
        .map(|(i, l)| if lines.contains(&(i + 1)) { format!("{l} // edited\n") } else { format!("{l}\n") })
        .collect();
    std::fs::write(path, edited).unwrap();
}

/// The `pull_request` event GitHub writes for the run (`GITHUB_EVENT_PATH`).
fn event(s: &StandIn, title: &str, branch: &str) -> PathBuf {
    let event = serde_json::json!({
        "action": "synchronize",
        "number": 24,
        "pull_request": {
            "number": 24,
            "title": title,
            "body": title,
            "head": { "sha": HEAD, "ref": branch, "label": format!("octo-org:{branch}") },
            "base": { "ref": "main" },
        },
    });
    s.write("event.json", serde_json::to_string_pretty(&event).unwrap())
}

/// The coverage gate on the cargo-llvm-cov fixture, against `base`, writing the comment into
/// `<scratch>/comment`, in a GitHub run of `event`.
fn gate(s: &StandIn, root: &Path, event: &Path, base: &[&str]) -> (Run, PathBuf) {
    let dir = s.path("comment");
    let report = fixtures().join("producers/llvmcov.xml");
    let mut args = vec!["--root", root.to_str().unwrap(), "--file", report.to_str().unwrap(), "--diff"];
    args.extend_from_slice(base);
    args.extend(["--comment", dir.to_str().unwrap()]);
    let mut c = s.command(&args);
    c.env("GITHUB_EVENT_PATH", event)
        .env("GITHUB_REPOSITORY", REPOSITORY)
        .env("GITHUB_SERVER_URL", "https://github.com")
        .env("GITHUB_RUN_ID", "987654321")
        .current_dir(&s.0);
    (support::run(c), dir)
}

/// rust-analyzer's "sourcegen" way, as the app's OpenAPI copy: a stale snapshot is rewritten
/// (outside CI) and the test fails, so the change is seen, reviewed and committed.
#[test]
fn the_comment_is_rendered_from_a_real_report() {
    let (s, root) = pull_request("comment-snapshot");
    let event = event(&s, "Truncate words", "feature");
    let (run, dir) = gate(&s, &root, &event, &["main"]);
    assert_eq!(run.code, 1, "the patch, a path gate and the ratchet fail: {run:?}");
    assert!(run.stderr.contains("(pull request #24, for `cargo xtask comment post`)"), "{run:?}");
    let comment = std::fs::read_to_string(dir.join("comment.md")).unwrap();
    let sidecar: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("comment.json")).unwrap()).unwrap();
    assert_eq!(sidecar, serde_json::json!({ "pull_request": 24, "head_sha": HEAD }), "data only");

    // What a reviewer relies on, whatever the snapshot says.
    assert!(comment.starts_with(&format!("{MARKER}\n### ✅ Coverage: Approved (77.21%)\n")), "{comment}");
    assert!(comment.contains("#### ❌ Patch: 6.66% of the changed lines covered (1 / 15), gate 70%"), "{comment}");
    let link = |path: &str, anchor: &str| format!("https://github.com/{REPOSITORY}/blob/{HEAD}/{path}#{anchor}");
    assert!(
        comment.contains(&format!(
            "| `src/text.rs` | [22]({}), [28]({}), [34–42]({}) |",
            link("src/text.rs", "L22"),
            link("src/text.rs", "L28"),
            link("src/text.rs", "L34-L42")
        )),
        "each uncovered range links to its lines in the head commit: {comment}"
    );
    assert!(comment.contains(&format!("| `src/shapes.rs` | [13–16]({}) |", link("src/shapes.rs", "L13-L16"))));
    assert!(comment.contains("not in the report (not measured): `src/words.rs`"), "{comment}");
    assert!(comment.contains("#### ❌ Paths: 1 of 2 below their gate"), "{comment}");
    assert!(comment.contains("| `src/text.rs` | 23 | 33 | 69.69% | ❌ 80% |"), "{comment}");
    assert!(comment.contains("#### ❌ Ratchet: 77.21% fell from the baseline's 82.27%"), "{comment}");
    assert!(comment.contains("| `src/shapes.rs` | 2 | 0 (−2) |"), "{comment}");
    assert_eq!(comment.matches(MARKER).count(), 1);

    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(SNAPSHOT);
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed != comment {
        let mut note = "it is left as it is (CI is set)";
        if std::env::var_os("CI").is_none() {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &comment).unwrap();
            note = "it has been rewritten: review the change and commit it";
        }
        panic!("xtask/{SNAPSHOT} is not the comment rendered; {note}:\n{comment}");
    }
}

/// docs/quality-gates.md shows the comment as the snapshot has it.
#[test]
fn the_docs_show_the_snapshot() {
    let snapshot = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(SNAPSHOT)).unwrap();
    let docs = std::fs::read_to_string(support::workspace_root().join("docs/quality-gates.md")).unwrap();
    assert!(
        docs.contains(&format!("```markdown\n{snapshot}```\n")),
        "docs/quality-gates.md: the example comment is not xtask/{SNAPSHOT}"
    );
}

/// Outside a pull request's run (a push, a developer's machine) the comment is written to be
/// read, without a sidecar: nothing to post, and none left from an earlier run.
#[test]
fn outside_a_pull_request_there_is_nothing_to_post() {
    let (s, root) = pull_request("comment-push");
    let push = s.write("push.json", r#"{"ref":"refs/heads/main","after":"0000000000000000000000000000000000000000"}"#);
    let (run, dir) = gate(&s, &root, &event(&s, "t", "b"), &["main"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(dir.join("comment.json").is_file());
    let (run, dir) = gate(&s, &root, &push, &["main"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("(not a pull request's run: nothing to post)"), "{run:?}");
    assert!(dir.join("comment.md").is_file());
    assert!(!dir.join("comment.json").exists(), "the earlier run's sidecar is removed");
    // Not a GitHub run at all: no links, plain ranges.
    let mut c = s.command(&[
        "--root",
        root.to_str().unwrap(),
        "--file",
        fixtures().join("producers/llvmcov.xml").to_str().unwrap(),
        "--diff",
        "main",
        "--comment",
        dir.to_str().unwrap(),
    ]);
    c.current_dir(&s.0);
    let run = support::run(c);
    assert_eq!(run.code, 1, "{run:?}");
    let comment = std::fs::read_to_string(dir.join("comment.md")).unwrap();
    assert!(comment.contains("| `src/text.rs` | 22, 28, 34–42 |"), "{comment}");
    assert!(!comment.contains("https://"), "{comment}");

    // A malformed event is an error, not a comment on a guessed pull request.
    let bad = s.write("bad.json", r#"{"pull_request":{"number":"24; rm -rf /","head":{"sha":"x"}}}"#);
    let (run, _) = gate(&s, &root, &bad, &["main"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("pull_request.number is not a positive integer"), "{run:?}");
}

// --- The poster, against a local server that plays GitHub's API ---

#[derive(Clone, Debug)]
struct Request {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: String,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {self:?}"))
    }
}

struct Reply {
    status: u16,
    link: Option<String>,
    body: String,
}

fn reply(status: u16, body: serde_json::Value) -> Reply {
    Reply { status, link: None, body: body.to_string() }
}

/// An HTTP/1.1 server on a free port of 127.0.0.1, one request a connection, answering with
/// `route` (given the request and the server's address) and keeping every request.
struct Server {
    base: String,
    requests: Arc<Mutex<Vec<Request>>>,
}

impl Server {
    fn start(route: impl Fn(&Request, &str) -> Reply + Send + 'static) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (kept, at) = (requests.clone(), base.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let Some(request) = read_request(&mut stream) else { continue };
                let answer = route(&request, &at);
                kept.lock().unwrap().push(request);
                let reason = match answer.status {
                    200 => "OK",
                    201 => "Created",
                    403 => "Forbidden",
                    _ => "Other",
                };
                let mut head = format!(
                    "HTTP/1.1 {} {reason}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: {}\r\n\
                     Connection: close\r\n",
                    answer.status,
                    answer.body.len()
                );
                if let Some(link) = &answer.link {
                    head.push_str(&format!("Link: {link}\r\n"));
                }
                head.push_str("\r\n");
                let _ = stream.write_all(head.as_bytes());
                let _ = stream.write_all(answer.body.as_bytes());
            }
        });
        Server { base, requests }
    }

    fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }
}

fn read_request(stream: &mut std::net::TcpStream) -> Option<Request> {
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next()?.to_owned(), parts.next()?.to_owned());
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).ok()?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':')?;
        headers.push((name.trim().to_owned(), value.trim().to_owned()));
    }
    let find = |name: &str| headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone());
    if find("Expect").is_some_and(|e| e.eq_ignore_ascii_case("100-continue")) {
        stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").ok()?;
    }
    let length: usize = find("Content-Length").and_then(|l| l.parse().ok()).unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(Request { method, target, headers, body: String::from_utf8(body).ok()? })
}

fn comment(id: u64, login: &str, body: &str) -> serde_json::Value {
    serde_json::json!({ "id": id, "user": { "login": login, "type": "Bot" }, "body": body })
}

/// Writes an artifact as the coverage gate does (the marker line first).
fn artifact(s: &StandIn, number: serde_json::Value, sha: &str) -> PathBuf {
    s.write("artifact/comment.md", format!("{MARKER}\n### ✅ Coverage: Approved (75.00%)\n\n\"quotes\" \\ `x`\n"));
    s.write("artifact/comment.json", serde_json::json!({ "pull_request": number, "head_sha": sha }).to_string());
    s.path("artifact")
}

/// `cargo xtask comment post --dir DIR` against `server`, in a workflow_run whose event names
/// the CI run's commit (`HEAD`).
fn post(s: &StandIn, server: &Server, dir: &Path, extra: &[&str]) -> Run {
    let event = s.write("workflow_run.json", serde_json::json!({ "workflow_run": { "head_sha": HEAD } }).to_string());
    let mut c = support::xtask();
    for var in OUTSIDE {
        c.env_remove(var);
    }
    c.args(["comment", "post", "--dir"])
        .arg(dir)
        .args(extra)
        .env("GITHUB_API_URL", &server.base)
        .env("GITHUB_REPOSITORY", REPOSITORY)
        .env("GITHUB_TOKEN", TOKEN)
        .env("GITHUB_EVENT_PATH", event)
        .current_dir(&s.0);
    let run = support::run(c);
    assert!(!run.stdout.contains(TOKEN) && !run.stderr.contains(TOKEN), "the token is never printed: {run:?}");
    run
}

/// The pull request at `head`, and its comments in pages of two (`pages`).
fn github(head: &'static str, pages: Vec<Vec<serde_json::Value>>) -> impl Fn(&Request, &str) -> Reply {
    move |r, base| {
        let comments = format!("/repos/{REPOSITORY}/issues/24/comments");
        match (r.method.as_str(), r.target.as_str()) {
            ("GET", t) if t == format!("/repos/{REPOSITORY}/pulls/24") => {
                reply(200, serde_json::json!({ "number": 24, "head": { "sha": head } }))
            }
            ("GET", t) if t == format!("{comments}?per_page=100") || t.starts_with("/repositories/1/") => {
                let page = if t.ends_with("&page=2") { 1 } else { 0 };
                let mut answer = reply(200, serde_json::Value::Array(pages[page].clone()));
                if page + 1 < pages.len() {
                    let next = format!("{base}/repositories/1/issues/24/comments?per_page=100&page=2");
                    answer.link = Some(format!("<{next}>; rel=\"next\", <{next}>; rel=\"last\""));
                }
                answer
            }
            ("PATCH", t) if t.starts_with(&format!("/repos/{REPOSITORY}/issues/comments/")) => {
                let id: u64 = t.rsplit('/').next().unwrap().parse().unwrap();
                reply(
                    200,
                    serde_json::json!({ "id": id, "html_url": format!("https://github.com/x#issuecomment-{id}") }),
                )
            }
            ("POST", t) if t == comments => {
                reply(201, serde_json::json!({ "id": 900, "html_url": "https://github.com/x#issuecomment-900" }))
            }
            _ => reply(404, serde_json::json!({ "message": "Not Found" })),
        }
    }
}

fn requested(server: &Server) -> Vec<String> {
    server.requests().iter().map(|r| format!("{} {}", r.method, r.target)).collect()
}

#[test]
fn the_comment_posted_before_is_updated_in_place_across_pages() {
    let s = StandIn::new("comment-post-update");
    let dir = artifact(&s, 24.into(), HEAD);
    let body = std::fs::read_to_string(dir.join("comment.md")).unwrap();
    let quoting = format!("> {MARKER}\n> a reviewer quoting the comment");
    let pages = vec![
        vec![comment(101, "reviewer", &format!("{MARKER}\nnot the bot's")), comment(102, "github-actions[bot]", "hi")],
        vec![comment(103, "reviewer", &quoting), comment(555, "github-actions[bot]", &format!("{MARKER}\nold"))],
    ];
    let server = Server::start(github(HEAD, pages));
    let run = post(&s, &server, &dir, &[]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout.contains("comment: updated on pull request #24: https://github.com/x#issuecomment-555"),
        "{run:?}"
    );
    assert_eq!(
        requested(&server),
        [
            format!("GET /repos/{REPOSITORY}/pulls/24"),
            format!("GET /repos/{REPOSITORY}/issues/24/comments?per_page=100"),
            "GET /repositories/1/issues/24/comments?per_page=100&page=2".to_owned(),
            format!("PATCH /repos/{REPOSITORY}/issues/comments/555"),
        ],
        "the marker comment of another author is left alone; the bot's is found on page 2"
    );
    for r in server.requests() {
        assert_eq!(r.header("Authorization"), Some(format!("Bearer {TOKEN}").as_str()), "{r:?}");
        assert_eq!(r.header("Accept"), Some("application/vnd.github+json"), "{r:?}");
    }
    let patch = server.requests().pop().unwrap();
    assert_eq!(patch.header("Content-Type"), Some("application/json"));
    assert_eq!(patch.json(), serde_json::json!({ "body": body }), "the Markdown, byte for byte");
}

#[test]
fn without_one_a_comment_is_posted() {
    let s = StandIn::new("comment-post-new");
    let dir = artifact(&s, 24.into(), HEAD);
    let body = std::fs::read_to_string(dir.join("comment.md")).unwrap();
    let server = Server::start(github(HEAD, vec![vec![comment(7, "github-actions[bot]", "no marker here")]]));
    let run = post(&s, &server, &dir, &[]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("comment: posted on pull request #24: https://github.com/x#issuecomment-900"));
    assert_eq!(
        requested(&server),
        [
            format!("GET /repos/{REPOSITORY}/pulls/24"),
            format!("GET /repos/{REPOSITORY}/issues/24/comments?per_page=100"),
            format!("POST /repos/{REPOSITORY}/issues/24/comments"),
        ]
    );
    assert_eq!(server.requests()[2].json(), serde_json::json!({ "body": body }));
}

#[test]
fn a_token_without_the_permission_is_exit_2_naming_it() {
    let s = StandIn::new("comment-post-403");
    let dir = artifact(&s, 24.into(), HEAD);
    let github = github(HEAD, vec![vec![]]);
    let server = Server::start(move |r, base| {
        if r.method == "POST" {
            return reply(403, serde_json::json!({ "message": "Resource not accessible by integration" }));
        }
        github(r, base)
    });
    let run = post(&s, &server, &dir, &[]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains("the token cannot write comments: the workflow needs `permissions: pull-requests: write`"),
        "{run:?}"
    );
    assert!(run.stderr.contains("403: Resource not accessible by integration"), "{run:?}");

    let server = Server::start(|_, _| reply(500, serde_json::json!({ "message": "Server Error" })));
    let run = post(&s, &server, &dir, &[]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains(&format!("GitHub answered GET /repos/{REPOSITORY}/pulls/24 with 500: Server Error")));
}

/// The artifact is data from a run of code nobody reviewed yet: it is checked, and it cannot
/// make the poster comment on another pull request or send the token elsewhere.
#[test]
fn the_artifact_cannot_steer_the_poster() {
    let s = StandIn::new("comment-post-guard");
    let server = Server::start(github(HEAD, vec![vec![]]));
    let other = "0123456789abcdef0123456789abcdef01234567";
    for (number, sha, why) in [
        (serde_json::json!("24; rm -rf /"), HEAD, "`pull_request` is not a positive integer"),
        (serde_json::json!(0), HEAD, "`pull_request` is not a positive integer"),
        (serde_json::json!(24), "HEAD", "`head_sha` is not a commit"),
        (serde_json::json!(24), other, &format!("the comment is of commit {other}, but the CI run tested {HEAD}")),
    ] {
        let dir = artifact(&s, number, sha);
        let run = post(&s, &server, &dir, &[]);
        assert_eq!(run.code, 2, "{run:?}");
        assert!(run.stderr.contains(why), "{why}: {run:?}");
    }
    let dir = artifact(&s, 24.into(), HEAD);
    s.write("artifact/comment.md", "no marker\n");
    let run = post(&s, &server, &dir, &[]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("does not start with its marker line"), "{run:?}");
    s.write("artifact/comment.md", format!("{MARKER}\n{}", "x".repeat(70_000)));
    let run = post(&s, &server, &dir, &[]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("more than the 65536 it may have"), "{run:?}");
    std::fs::remove_file(dir.join("comment.md")).unwrap();
    std::os::unix::fs::symlink(s.path("workflow_run.json"), dir.join("comment.md")).unwrap();
    let run = post(&s, &server, &dir, &[]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("comment.md: not a regular file"), "{run:?}");
    std::fs::remove_file(dir.join("comment.md")).unwrap();
    assert!(server.requests().is_empty(), "nothing reached the API: {:?}", requested(&server));

    // A pull request that moved on since the run: the newer run comments, this one does not.
    let dir = artifact(&s, 24.into(), HEAD);
    let moved = Server::start(github("ffffffffffffffffffffffffffffffffffffffff", vec![vec![]]));
    let run = post(&s, &moved, &dir, &[]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("not posted: pull request #24 is at ffffffffffffffffffffffffffffffffffffffff now"));
    assert_eq!(requested(&moved), [format!("GET /repos/{REPOSITORY}/pulls/24")]);

    // A next page elsewhere is not followed: the token goes to the API alone.
    let github = github(HEAD, vec![vec![]]);
    let elsewhere = Server::start(move |r, base| {
        let mut answer = github(r, base);
        if r.target.contains("/comments") {
            answer.link = Some("<https://attacker.example/steal?page=2>; rel=\"next\"".to_owned());
        }
        answer
    });
    let run = post(&s, &elsewhere, &dir, &[]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("the API's next page is at https://attacker.example/steal?page=2"), "{run:?}");
}

/// A pull request's title and branch, and a base branch named to look like commands, Markdown
/// and the marker: neither the gate nor the poster runs any of it, the comment shows the
/// base's name as text only (the title and branch not at all), and the server gets exactly
/// the Markdown written.
#[test]
fn metacharacters_in_a_pull_request_change_nothing_but_text() {
    let (s, root) = pull_request("comment-metachar");
    // The file any of these commands would create: here, in the temporary folder, anywhere.
    let canary = format!("xtask-comment-pwned-{}", std::process::id());
    let tmp = std::env::temp_dir().join(&canary);
    let title = format!(
        "$(touch {canary}) $(touch {tmp}) `touch {canary}` ; rm -rf {canary} && touch {canary} | tee {canary} \
         {MARKER} <!-- [click](javascript:alert(1)) ](javascript:alert(1)) \\\" ' \n# heading",
        tmp = tmp.display()
    );
    let branch = format!("x/$(touch${{IFS}}{canary})`touch${{IFS}}{canary}`;touch${{IFS}}{canary}");
    let event = event(&s, &title, &branch);
    // A base branch with such a name (git allows these characters in a branch name).
    let base = format!("main`$(touch${{IFS}}{canary})`;rm${{IFS}}-rf${{IFS}}{canary}<!--");
    git(&root, &["update-ref", &format!("refs/remotes/origin/{base}"), "main"]);
    let summary = s.path("summary.md");
    let s = (s.env("GITHUB_ACTIONS", "true").env("GITHUB_BASE_REF", &base).env("GITHUB_HEAD_REF", &branch))
        .env("GITHUB_STEP_SUMMARY", summary);
    let (run, dir) = gate(&s, &root, &event, &[]);
    assert_eq!(run.code, 1, "{run:?}");
    let comment = std::fs::read_to_string(dir.join("comment.md")).unwrap();
    assert_eq!(comment.matches(MARKER).count(), 1, "{comment}");
    assert!(comment.starts_with(MARKER));
    assert!(
        comment.contains(&format!("Changed against ``origin/{base}`` (merge base `")),
        "the base's name in a code span no backtick in it closes: {comment}"
    );
    assert!(!comment.contains("javascript") && !comment.contains("touch "), "the title is not shown: {comment}");
    assert!(!comment.contains("x/$("), "the branch is not shown: {comment}");
    let sidecar = std::fs::read_to_string(dir.join("comment.json")).unwrap();
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&sidecar).unwrap(),
        serde_json::json!({ "pull_request": 24, "head_sha": HEAD })
    );

    let server = Server::start(github(HEAD, vec![vec![]]));
    let run = post(&s, &server, &dir, &[]);
    assert_eq!(run.code, 0, "{run:?}");
    let posted = server.requests().pop().unwrap();
    assert_eq!(posted.json(), serde_json::json!({ "body": comment }), "the body, byte for byte");

    for folder in [s.0.clone(), root.clone(), std::env::current_dir().unwrap(), std::env::temp_dir()] {
        assert!(!folder.join(&canary).exists(), "{}: a command ran", folder.display());
    }
}
