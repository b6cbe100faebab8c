//! `cargo xtask comment post --dir DIR`: the pull request's coverage comment, one per pull
//! request, updated in place. The CI run of a pull request (a fork's too) has a read-only
//! token: its coverage gate writes the comment as files (`--comment DIR`: [`BODY_FILE`] and
//! [`SIDECAR_FILE`], the artifact). A `workflow_run` workflow, with `pull-requests: write` and
//! the default branch's code, downloads them and runs this, which reads them as data only:
//! a pull request number, a commit and a Markdown body, each checked, none ever run. The
//! pull request named must be at the commit the CI run tested, so a run cannot comment on
//! another pull request. GitHub's REST API is spoken through `curl` (no HTTP crate), the
//! token handed over on curl's stdin, never in its arguments.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use serde::{Deserialize, Serialize};

use crate::Outcome;
use crate::process::Cmd;

/// The comment's first line: how the poster finds the comment it posted before.
pub const MARKER: &str = "<!-- xtask-coverage-comment -->";
/// The comment's Markdown, in the artifact's folder.
pub const BODY_FILE: &str = "comment.md";
/// Which pull request, at which commit, in the artifact's folder.
pub const SIDECAR_FILE: &str = "comment.json";
/// GitHub refuses a comment longer than 65,536 characters; bytes are counted here, stricter.
pub const MAX_BODY_BYTES: usize = 65_536;
/// The sidecar is two values: anything larger is not one.
const MAX_SIDECAR_BYTES: u64 = 4_096;
/// Pages of 100 comments read at most while looking for the one posted before.
const MAX_PAGES: usize = 100;
/// The login GitHub shows for the workflow's `GITHUB_TOKEN`.
const ACTIONS_BOT: &str = "github-actions[bot]";

/// The sidecar: the pull request the comment is for, and the commit it describes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sidecar {
    pub pull_request: u64,
    pub head_sha: String,
}

/// Flags of `cargo xtask comment` (its help text is on the subcommand in main.rs).
#[derive(Debug, clap::Args)]
pub struct CommentArgs {
    #[command(subcommand)]
    pub command: CommentCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum CommentCommand {
    /// Post the comment a pull request's CI run wrote (`cargo xtask coverage --comment DIR`),
    /// or update the one posted before
    Post(PostArgs),
}

#[derive(Debug, clap::Args)]
pub struct PostArgs {
    /// The folder holding the CI run's comment.md and comment.json (its downloaded artifact)
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,
    /// The commit the CI run tested: the comment must be of it, and the pull request still at
    /// it [default: `workflow_run.head_sha` of the event in GITHUB_EVENT_PATH]
    #[arg(long, value_name = "SHA")]
    pub head_sha: Option<String>,
    /// Who posts the comment (the token's user): only a comment of theirs is updated
    #[arg(long, value_name = "LOGIN", default_value = ACTIONS_BOT)]
    pub author: String,
}

impl CommentArgs {
    pub fn run(self) -> Result<Outcome> {
        match self.command {
            CommentCommand::Post(args) => args.run(),
        }
    }
}

impl PostArgs {
    fn run(self) -> Result<Outcome> {
        let artifact = read_artifact(&self.dir)?;
        let tested = match &self.head_sha {
            Some(sha) => sha.clone(),
            None => workflow_run_head_sha()?,
        };
        if !is_sha(&tested) {
            bail!("--head-sha {tested:?}: not a commit (40 hexadecimal digits)");
        }
        if artifact.sidecar.head_sha != tested {
            bail!(
                "the comment is of commit {}, but the CI run tested {tested}: not posted (an artifact of another run?)",
                artifact.sidecar.head_sha
            );
        }
        let api = Api::from_env()?;
        let number = artifact.sidecar.pull_request;
        // The pull request named must be at the commit the run tested: a run cannot comment
        // on another pull request, and an older run's comment does not replace a newer one's.
        let pull = api.get_json(&format!("/repos/{}/pulls/{number}", api.repository))?;
        let head = pull.pointer("/head/sha").and_then(|s| s.as_str());
        let head = head.with_context(|| format!("pull request #{number}: the API's answer has no head.sha"))?;
        if head != tested {
            println!(
                "comment: not posted: pull request #{number} is at {head} now, not at {tested} (this run's commit); \
                 the newer commit's run comments"
            );
            return Ok(Outcome::Passed);
        }
        let existing = api.find_comment(number, &self.author)?;
        let payload = serde_json::json!({ "body": artifact.body });
        let (verb, answer) = match existing {
            Some(id) => {
                ("updated", api.send("PATCH", &format!("/repos/{}/issues/comments/{id}", api.repository), &payload)?)
            }
            None => {
                ("posted", api.send("POST", &format!("/repos/{}/issues/{number}/comments", api.repository), &payload)?)
            }
        };
        let url = answer.get("html_url").and_then(|u| u.as_str()).unwrap_or("(no address in the answer)");
        println!("comment: {verb} on pull request #{number}: {url}");
        Ok(Outcome::Passed)
    }
}

/// What `--comment DIR` wrote, read back and checked.
#[derive(Debug)]
pub struct Artifact {
    pub body: String,
    pub sidecar: Sidecar,
}

/// Writes the artifact: the body, and the sidecar when the run is a pull request's. Without
/// one, a sidecar left by an earlier run is removed, so the folder never pairs a body with
/// another run's pull request.
pub fn write_artifact(dir: &Path, body: &str, sidecar: Option<&Sidecar>) -> Result<()> {
    check_body(body)?;
    let write = |name: &str, bytes: &[u8]| {
        let path = dir.join(name);
        crate::output::write_atomically(&path, |tmp| Ok(std::fs::write(tmp, bytes)?))
            .with_context(|| format!("cannot write {}", path.display()))
    };
    write(BODY_FILE, body.as_bytes())?;
    let sidecar_path = dir.join(SIDECAR_FILE);
    match sidecar {
        Some(s) => write(SIDECAR_FILE, format!("{}\n", serde_json::to_string_pretty(s)?).as_bytes())?,
        None => match std::fs::remove_file(&sidecar_path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                bail!("cannot remove {}: {e}", sidecar_path.display())
            }
            _ => {}
        },
    }
    Ok(())
}

/// Reads the artifact as data: two regular files of bounded size, a positive pull request
/// number, a 40-digit commit, a UTF-8 body that starts with the marker.
pub fn read_artifact(dir: &Path) -> Result<Artifact> {
    let sidecar_bytes = read_bounded(&dir.join(SIDECAR_FILE), MAX_SIDECAR_BYTES)?;
    let value: serde_json::Value = serde_json::from_slice(&sidecar_bytes)
        .with_context(|| format!("{}: not JSON", dir.join(SIDECAR_FILE).display()))?;
    let sidecar = sidecar_of(&value).with_context(|| format!("{}", dir.join(SIDECAR_FILE).display()))?;
    let body_path = dir.join(BODY_FILE);
    let body = read_bounded(&body_path, MAX_BODY_BYTES as u64)?;
    let body = String::from_utf8(body).map_err(|_| anyhow::anyhow!("{}: not UTF-8 text", body_path.display()))?;
    check_body(&body).with_context(|| body_path.display().to_string())?;
    Ok(Artifact { body, sidecar })
}

/// The sidecar's two values, checked; other keys are ignored.
fn sidecar_of(value: &serde_json::Value) -> Result<Sidecar> {
    let number =
        value.get("pull_request").and_then(serde_json::Value::as_u64).filter(|n| (1..=u32::MAX as u64).contains(n));
    let Some(pull_request) = number else { bail!("`pull_request` is not a positive integer") };
    let head_sha = value.get("head_sha").and_then(|s| s.as_str()).filter(|s| is_sha(s));
    let Some(head_sha) = head_sha else { bail!("`head_sha` is not a commit (40 hexadecimal digits)") };
    Ok(Sidecar { pull_request, head_sha: head_sha.to_owned() })
}

fn check_body(body: &str) -> Result<()> {
    if body.len() > MAX_BODY_BYTES {
        bail!("the comment has {} bytes, more than GitHub's {MAX_BODY_BYTES}", body.len());
    }
    if !body.starts_with(&format!("{MARKER}\n")) {
        bail!("the comment does not start with its marker line {MARKER}");
    }
    Ok(())
}

/// A regular file (not a link, not a folder) of at most `max` bytes.
fn read_bounded(path: &Path, max: u64) -> Result<Vec<u8>> {
    let meta = std::fs::symlink_metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => anyhow::anyhow!(
            "{}: no such file (the folder the CI run's comment artifact was downloaded to, written by \
             `cargo xtask coverage --comment DIR` on a pull request)",
            path.display()
        ),
        _ => anyhow::anyhow!("{}: {e}", path.display()),
    })?;
    if !meta.file_type().is_file() {
        bail!("{}: not a regular file", path.display());
    }
    if meta.len() > max {
        bail!("{}: {} bytes, more than the {max} it may have", path.display(), meta.len());
    }
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(max + 1).read_to_end(&mut bytes))
        .with_context(|| format!("cannot read {}", path.display()))?;
    if bytes.len() as u64 > max {
        bail!("{}: more than the {max} bytes it may have", path.display());
    }
    Ok(bytes)
}

/// A full commit id: 40 lowercase hexadecimal digits.
pub fn is_sha(s: &str) -> bool {
    s.len() == 40 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// `workflow_run.head_sha` of the event that started this workflow (GitHub's, not the run's).
fn workflow_run_head_sha() -> Result<String> {
    let Some(event) = crate::output::github_event()? else {
        bail!("give --head-sha (the commit the CI run tested); under a workflow_run it is read from GITHUB_EVENT_PATH");
    };
    match event.pointer("/workflow_run/head_sha").and_then(|s| s.as_str()) {
        Some(sha) => Ok(sha.to_owned()),
        None => bail!("GITHUB_EVENT_PATH is not a workflow_run event: give --head-sha (the commit the CI run tested)"),
    }
}

/// GitHub's REST API through curl: the base address, the repository, the token.
struct Api {
    base: String,
    repository: String,
    token: String,
    scratch: Scratch,
}

/// One answer: the status, the `Link` header, the body.
struct Answer {
    status: u16,
    link: Option<String>,
    body: Vec<u8>,
}

impl Api {
    fn from_env() -> Result<Api> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let base = var("GITHUB_API_URL").unwrap_or_else(|| "https://api.github.com".to_owned());
        let base = base.trim_end_matches('/').to_owned();
        let scheme_ok = base.starts_with("https://") || base.starts_with("http://");
        if !scheme_ok || base.chars().any(|c| c.is_whitespace() || c.is_control() || c == '"' || c == '\\') {
            bail!("GITHUB_API_URL {base:?} is not an http(s) address");
        }
        let Some(repository) = var("GITHUB_REPOSITORY") else {
            bail!("GITHUB_REPOSITORY is not set: the repository (owner/name) the pull request is in");
        };
        if !is_repository(&repository) {
            bail!("GITHUB_REPOSITORY {repository:?} is not owner/name");
        }
        let Some(token) = var("GITHUB_TOKEN") else {
            bail!("GITHUB_TOKEN is not set: pass the workflow's token (`env: GITHUB_TOKEN: ${{{{ github.token }}}}`)");
        };
        if token.chars().any(|c| c.is_whitespace() || c.is_control() || c == '"' || c == '\\') {
            bail!("GITHUB_TOKEN holds a space, a quote or a control character: not a token");
        }
        Ok(Api { base, repository, token, scratch: Scratch::new()? })
    }

    /// The comment posted before: the first by `author` whose body starts with the marker.
    fn find_comment(&self, number: u64, author: &str) -> Result<Option<u64>> {
        let mut url = format!("{}/repos/{}/issues/{number}/comments?per_page=100", self.base, self.repository);
        for _ in 0..MAX_PAGES {
            let answer = self.request("GET", &url, None)?;
            let comments: Vec<serde_json::Value> = self.json(&answer, "GET", &url)?;
            let ours = comments.iter().find(|c| {
                c.pointer("/user/login").and_then(|l| l.as_str()) == Some(author)
                    && c.get("body").and_then(|b| b.as_str()).is_some_and(|b| b.starts_with(MARKER))
            });
            if let Some(comment) = ours {
                let id = comment.get("id").and_then(serde_json::Value::as_u64);
                return id.map(Some).context("the API listed the comment without its id");
            }
            match answer.link.as_deref().and_then(next_page) {
                Some(next) => {
                    // The token goes to the API alone, never to an address a header names.
                    if !next.starts_with(&format!("{}/", self.base)) {
                        bail!("the API's next page is at {next}, outside {}: not followed", self.base);
                    }
                    url = next;
                }
                None => return Ok(None),
            }
        }
        bail!(
            "pull request #{number} has more than {} comments: the coverage comment was not looked for further",
            MAX_PAGES * 100
        )
    }

    fn get_json(&self, path: &str) -> Result<serde_json::Value> {
        let url = format!("{}{path}", self.base);
        let answer = self.request("GET", &url, None)?;
        self.json(&answer, "GET", &url)
    }

    fn send(&self, method: &str, path: &str, payload: &serde_json::Value) -> Result<serde_json::Value> {
        let url = format!("{}{path}", self.base);
        let answer = self.request(method, &url, Some(payload))?;
        self.json(&answer, method, &url)
    }

    /// A 2xx answer's JSON, else the error that says why.
    fn json<T: serde::de::DeserializeOwned>(&self, answer: &Answer, method: &str, url: &str) -> Result<T> {
        let shown = url.strip_prefix(&self.base).unwrap_or(url);
        if !(200..300).contains(&answer.status) {
            let message = api_message(&answer.body);
            match answer.status {
                401 | 403 => bail!(
                    "the token cannot write comments: the workflow needs `permissions: pull-requests: write` \
                     (GitHub answered {method} {shown} with {}: {message})",
                    answer.status
                ),
                404 => bail!(
                    "GitHub answered {method} {shown} with 404 ({message}): no such pull request or comment in {}",
                    self.repository
                ),
                status => bail!("GitHub answered {method} {shown} with {status}: {message}"),
            }
        }
        serde_json::from_slice(&answer.body)
            .with_context(|| format!("{method} {shown}: the answer is not the JSON expected"))
    }

    /// One request with curl: the token, the headers and the body in a config on its stdin
    /// (never in its arguments, which other processes can read); the answer's headers in a
    /// file of our folder (the last block is the answer's, after any `100 Continue`).
    fn request(&self, method: &str, url: &str, payload: Option<&serde_json::Value>) -> Result<Answer> {
        let headers = self.scratch.0.join(format!("{}.headers", next_id()));
        let mut config = vec![
            format!("url = {}", quote(url)),
            format!("request = {}", quote(method)),
            format!("header = {}", quote(&format!("Authorization: Bearer {}", self.token))),
            format!("header = {}", quote("Accept: application/vnd.github+json")),
            format!("header = {}", quote("X-GitHub-Api-Version: 2022-11-28")),
            format!("header = {}", quote("User-Agent: cargo-xtask-comment")),
            format!("dump-header = {}", quote(&headers.to_string_lossy())),
            "silent".to_owned(),
            "show-error".to_owned(),
            "connect-timeout = 20".to_owned(),
            "max-time = 120".to_owned(),
        ];
        if let Some(payload) = payload {
            config.push(format!("header = {}", quote("Content-Type: application/json")));
            config.push(format!("data-raw = {}", quote(&payload.to_string())));
        }
        let mut input = config.join("\n");
        input.push('\n');
        // `-q` first: no ~/.curlrc; then the config from stdin.
        let mut curl = Cmd::new("curl").args(["-q", "--config", "-"]).shown(format!("curl {method} {url}"));
        let out = curl.output_with_stdin(input.into_bytes());
        let header_text = std::fs::read_to_string(&headers).unwrap_or_default();
        let _ = std::fs::remove_file(&headers);
        let out = out?;
        if !out.status.success() {
            bail!("cannot reach the GitHub API ({method} {url}): {}", String::from_utf8_lossy(&out.stderr).trim());
        }
        let (status, link) =
            last_header_block(&header_text).with_context(|| format!("{method} {url}: curl wrote no HTTP status"))?;
        Ok(Answer { status, link, body: out.stdout })
    }
}

/// A number for each request's header file, unique within the process.
fn next_id() -> usize {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// A folder of our own for curl's header dumps: created new (never one that exists, which
/// another user could have made or linked), readable by us alone, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Result<Scratch> {
        use std::os::unix::fs::DirBuilderExt as _;
        let base = std::env::temp_dir();
        let mut last = None;
        for attempt in 0..16 {
            let nanos =
                std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
            let dir = base.join(format!("xtask-comment-{}-{nanos}-{attempt}", std::process::id()));
            match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
                Ok(()) => return Ok(Scratch(dir)),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some(e),
                Err(e) => return Err(e).with_context(|| format!("cannot create a folder in {}", base.display())),
            }
        }
        Err(last.expect("an attempt failed"))
            .with_context(|| format!("cannot create a folder of our own in {}", base.display()))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A value for curl's config file: in double quotes, `\` and `"` escaped (the callers never
/// pass a line break: JSON escapes its own, and the token and addresses are checked).
fn quote(value: &str) -> String {
    format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The status and the `Link` header of the last response in curl's header dump.
fn last_header_block(dump: &str) -> Option<(u16, Option<String>)> {
    let mut found = None;
    let mut link = None;
    for line in dump.lines() {
        let line = line.trim_end_matches('\r');
        if line.starts_with("HTTP/") {
            let status = line.split_whitespace().nth(1).and_then(|s| s.parse().ok());
            found = status;
            link = None;
        } else if let Some((name, value)) = line.split_once(':')
            && name.trim().eq_ignore_ascii_case("link")
        {
            link = Some(value.trim().to_owned());
        }
    }
    found.map(|status| (status, link))
}

/// The `rel="next"` address of a `Link` header: `<url>; rel="next", <url>; rel="last"`.
fn next_page(link: &str) -> Option<String> {
    link.split(',').find_map(|part| {
        let (url, params) = part.split_once(';')?;
        let is_next = params.split(';').any(|p| p.trim().eq_ignore_ascii_case("rel=\"next\""));
        let url = url.trim().strip_prefix('<')?.strip_suffix('>')?;
        is_next.then(|| url.to_owned())
    })
}

/// The `message` of an error answer, else its first characters, printable only.
fn api_message(body: &[u8]) -> String {
    let message = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(str::to_owned))
        .unwrap_or_else(|| String::from_utf8_lossy(body).into_owned());
    let clean: String = message.chars().map(|c| if c.is_control() { ' ' } else { c }).take(300).collect();
    if clean.trim().is_empty() { "no message".to_owned() } else { clean.trim().to_owned() }
}

/// `owner/name` as GitHub allows them: letters, digits, `-`, `_`, `.`.
pub fn is_repository(s: &str) -> bool {
    let part = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    s.split_once('/').is_some_and(|(owner, name)| part(owner) && part(name) && name != "." && name != "..")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_page_is_read_from_the_link_header() {
        let link = r#"<https://api.github.com/repositories/1/issues/7/comments?per_page=100&page=2>; rel="next", <https://api.github.com/repositories/1/issues/7/comments?per_page=100&page=3>; rel="last""#;
        assert_eq!(
            next_page(link).as_deref(),
            Some("https://api.github.com/repositories/1/issues/7/comments?per_page=100&page=2")
        );
        assert_eq!(next_page(r#"<https://x/?page=1>; rel="prev", <https://x/?page=1>; rel="first""#), None);
    }

    #[test]
    fn the_last_header_block_is_the_answer() {
        let dump = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 403 Forbidden\r\nLink: <a>; rel=\"next\"\r\n\r\n";
        assert_eq!(last_header_block(dump), Some((403, Some("<a>; rel=\"next\"".to_owned()))));
        assert_eq!(last_header_block("HTTP/2 200\r\nlink: <b>\r\n\r\nHTTP/2 201\r\n\r\n"), Some((201, None)));
        assert_eq!(last_header_block(""), None);
    }

    #[test]
    fn config_values_are_quoted_for_curl() {
        assert_eq!(quote(r#"{"body":"a \"b\" \\ c\n"}"#), r#""{\"body\":\"a \\\"b\\\" \\\\ c\\n\"}""#);
    }

    #[test]
    fn the_sidecar_takes_a_positive_number_and_a_full_commit() {
        let sha = "0123456789abcdef0123456789abcdef01234567";
        let ok = serde_json::json!({ "pull_request": 7, "head_sha": sha, "other": "ignored" });
        assert_eq!(sidecar_of(&ok).unwrap(), Sidecar { pull_request: 7, head_sha: sha.to_owned() });
        for bad in [
            serde_json::json!({ "pull_request": 0, "head_sha": sha }),
            serde_json::json!({ "pull_request": -1, "head_sha": sha }),
            serde_json::json!({ "pull_request": "7", "head_sha": sha }),
            serde_json::json!({ "pull_request": 7.5, "head_sha": sha }),
            serde_json::json!({ "pull_request": 7, "head_sha": "0123456" }),
            serde_json::json!({ "pull_request": 7, "head_sha": format!("{sha}; rm -rf /") }),
            serde_json::json!({ "pull_request": 7, "head_sha": sha.to_uppercase() }),
        ] {
            assert!(sidecar_of(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn repositories_are_owner_and_name() {
        assert!(is_repository("jerosanchez/clicknback"));
        assert!(is_repository("a-b/c.d_e"));
        for bad in ["a", "a/b/c", "/b", "a/", "a/..", "a/b c", "a/$(x)"] {
            assert!(!is_repository(bad), "{bad}");
        }
    }
}
