//! scripts/uptime-check.sh against the real app on a real database, with a webhook receiver
//! here (a small HTTP server that records each request and, while curl waits for its answer,
//! looks through every process's command line for the webhook's secret). The app up: no
//! message; stopped: one alert; still down: none; back: one recovery message; the webhook
//! unreachable: exit 2, saying so, the state kept for the next run. A readiness probe that
//! answers 503 and one that never answers are down too. Without bash or curl the test says so
//! and passes, except in CI, where it fails.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use app::Application;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::helpers::{TestDb, free_port, test_config};

/// The secret part of the webhook's URL: it must never be printed or on a command line.
const SECRET: &str = "fake-hook-T0KEN-4f8a1c9e";

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && !v.eq_ignore_ascii_case("false"))
}

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/uptime-check.sh")
}

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Received {
    request_line: String,
    content_type: Option<String>,
    body: Value,
    /// A process whose command line held the secret while curl waited for the answer.
    secret_on_a_command_line: Option<String>,
}

/// The webhook receiver: records each request, answers 200.
struct Receiver {
    port: u16,
    received: Arc<Mutex<Vec<Received>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    async fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let log = received.clone();
        let task = tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                // Headers, then as much body as Content-Length says.
                let (head, body) = loop {
                    let n = socket.read(&mut chunk).await.unwrap_or(0);
                    buf.extend_from_slice(&chunk[..n]);
                    if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&buf[..end]).into_owned();
                        let length: usize = head
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_owned())
                            })
                            .and_then(|v| v.parse().ok())
                            .unwrap_or(0);
                        while buf.len() < end + 4 + length {
                            let n = socket.read(&mut chunk).await.unwrap_or(0);
                            if n == 0 {
                                break;
                            }
                            buf.extend_from_slice(&chunk[..n]);
                        }
                        break (head, buf[end + 4..].to_vec());
                    }
                    if n == 0 {
                        break (String::from_utf8_lossy(&buf).into_owned(), Vec::new());
                    }
                };
                let content_type = head
                    .lines()
                    .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-type:").map(|v| v.trim().to_owned()));
                log.lock().unwrap().push(Received {
                    request_line: head.lines().next().unwrap_or_default().to_owned(),
                    content_type,
                    body: serde_json::from_slice(&body).unwrap_or(Value::Null),
                    secret_on_a_command_line: secret_on_a_command_line(),
                });
                let _ = socket.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").await;
            }
        });
        Receiver { port, received, task }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hooks/{SECRET}", self.port)
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// Stops listening: the port refuses connections from now on.
    async fn stop(self) {
        self.task.abort();
        let _ = self.task.await;
    }
}

/// The command line of a process (other than this test) that holds [`SECRET`], if any.
fn secret_on_a_command_line() -> Option<String> {
    let me = std::process::id().to_string();
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name == me || !name.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else { continue };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if cmdline.contains(SECRET) {
            return Some(cmdline);
        }
    }
    None
}

/// The app serving on `port` until the returned sender is dropped or sent to; the handle ends
/// when it has stopped (its port closed).
async fn serve_on(db: &TestDb, port: u16) -> (tokio::sync::oneshot::Sender<()>, tokio::task::JoinHandle<()>) {
    let mut config = test_config(db);
    config.server.port = port;
    let app = Application::build(config).await.expect("the app starts on its port again");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let handle = tokio::spawn(async move {
        app.run_until(async {
            let _ = stopped.await;
        })
        .await
        .unwrap();
    });
    (stop, handle)
}

struct Check {
    url: String,
    webhook: String,
    state: PathBuf,
}

struct Ran {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl std::fmt::Debug for Ran {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit {:?}\n--- stdout\n{}--- stderr\n{}", self.code, self.stdout, self.stderr)
    }
}

impl Check {
    /// `bash scripts/uptime-check.sh` with only these settings (a 2 s timeout, 2 probes 1 s
    /// apart), off the test's runtime thread so the app keeps serving.
    async fn run(&self) -> Ran {
        let mut c = Command::new("bash");
        c.arg(script())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.state.parent().unwrap())
            .env("UPTIME_URL", &self.url)
            .env("UPTIME_WEBHOOK_URL", &self.webhook)
            .env("UPTIME_STATE_FILE", &self.state)
            .env("UPTIME_TIMEOUT", "2")
            .env("UPTIME_ATTEMPTS", "2")
            .env("UPTIME_RETRY_DELAY", "1");
        let out: Output = tokio::task::spawn_blocking(move || c.output().unwrap()).await.unwrap();
        let ran = Ran {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        assert!(
            !ran.stdout.contains(SECRET) && !ran.stderr.contains(SECRET),
            "the webhook's secret was printed: {ran:?}"
        );
        ran
    }

    fn state(&self) -> String {
        std::fs::read_to_string(&self.state).unwrap_or_else(|e| format!("<{e}>"))
    }
}

fn tools_present() -> bool {
    let found = |name: &str| {
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()).any(|d| d.join(name).is_file())
    };
    if found("bash") && found("curl") {
        return true;
    }
    assert!(!in_ci(), "CI is set, and the uptime check's test needs bash and curl");
    eprintln!("skipped: the uptime check needs bash and curl");
    false
}

fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("uptime-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn assert_alert(r: &Received, status: &str, words: &[&str]) {
    assert_eq!(r.request_line, format!("POST /hooks/{SECRET} HTTP/1.1"));
    assert_eq!(r.content_type.as_deref(), Some("application/json"));
    assert_eq!(r.body["status"], status, "{r:?}");
    let text = r.body["text"].as_str().unwrap_or_else(|| panic!("a text: {r:?}"));
    for word in words {
        assert!(text.contains(word), "`{word}` in the message: {text}");
    }
    assert!(r.secret_on_a_command_line.is_none(), "the secret was on a command line: {r:?}");
}

#[tokio::test]
async fn the_uptime_check_alerts_once_when_the_app_goes_down_and_once_when_it_is_back() {
    if !tools_present() {
        return;
    }
    let db = TestDb::migrated().await;
    let port = free_port();
    let receiver = Receiver::start().await;
    let dir = scratch("down-and-up");
    let url = format!("http://127.0.0.1:{port}/health/ready");
    let check = Check { url: url.clone(), webhook: receiver.url(), state: dir.join("state/uptime.state") };

    // Up: no message, the state written.
    let (stop, server) = serve_on(&db, port).await;
    let ran = check.run().await;
    assert_eq!(ran.code, Some(0), "{ran:?}");
    assert!(ran.stdout.contains(&format!("up: {url} answered 200")), "{ran:?}");
    assert_eq!(receiver.received().len(), 0);
    assert_eq!(check.state(), "up\n");

    // Stopped: both probes fail, one alert.
    stop.send(()).unwrap();
    server.await.unwrap();
    let ran = check.run().await;
    assert_eq!(ran.code, Some(1), "{ran:?}");
    assert!(ran.stdout.contains("probe 1 of 2") && ran.stdout.contains("probe 2 of 2"), "a retry: {ran:?}");
    assert!(ran.stdout.contains("(alert sent)"), "{ran:?}");
    let got = receiver.received();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_alert(
        &got[0],
        "down",
        &["ClickNBack is DOWN", url.as_str(), "failed 2 probe(s), 1 s apart", "Failed to connect"],
    );
    assert!(check.state().starts_with("down "), "{}", check.state());

    // Still down: no second alert.
    let ran = check.run().await;
    assert_eq!(ran.code, Some(1), "{ran:?}");
    assert!(ran.stdout.contains("still down since"), "{ran:?}");
    assert_eq!(receiver.received().len(), 1);

    // Back up, on the same port: one recovery message, then quiet again.
    let (stop, server) = serve_on(&db, port).await;
    let ran = check.run().await;
    assert_eq!(ran.code, Some(0), "{ran:?}");
    assert!(ran.stdout.contains("recovery message sent"), "{ran:?}");
    let got = receiver.received();
    assert_eq!(got.len(), 2, "{got:?}");
    assert_alert(&got[1], "up", &["ClickNBack is UP again", url.as_str(), "answered 200", "down (since "]);
    assert_eq!(check.state(), "up\n");
    let ran = check.run().await;
    assert_eq!(ran.code, Some(0), "{ran:?}");
    assert_eq!(receiver.received().len(), 2);

    // The webhook unreachable when the app goes down: exit 2, saying so; the state still says
    // up, so the next run tries the alert again.
    receiver.stop().await;
    stop.send(()).unwrap();
    server.await.unwrap();
    for _ in 0..2 {
        let ran = check.run().await;
        assert_eq!(ran.code, Some(2), "{ran:?}");
        assert!(
            ran.stderr.contains("the down message was not sent: the webhook (UPTIME_WEBHOOK_URL) failed: curl: (7)"),
            "{ran:?}"
        );
        assert!(ran.stderr.contains("the next run tries again"), "{ran:?}");
        assert_eq!(check.state(), "up\n");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Down is readiness, not liveness: an app whose database has no schema answers 503, and a
/// server that accepts and never answers times out; each is one alert that says which.
#[tokio::test]
async fn a_503_and_a_probe_that_times_out_are_down() {
    if !tools_present() {
        return;
    }
    let receiver = Receiver::start().await;
    let dir = scratch("503-and-hung");

    let db = TestDb::empty().await;
    let port = free_port();
    let (_stop, _server) = serve_on(&db, port).await;
    let check = Check {
        url: format!("http://127.0.0.1:{port}/health/ready"),
        webhook: receiver.url(),
        state: dir.join("a.state"),
    };
    let ran = check.run().await;
    assert_eq!(ran.code, Some(1), "{ran:?}");
    assert_eq!(receiver.received().len(), 1);
    assert_alert(&receiver.received()[0], "down", &["the last: HTTP 503"]);

    let hung = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hung_port = hung.local_addr().unwrap().port();
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = hung.accept().await {
            held.push(socket);
        }
    });
    let check = Check {
        url: format!("http://127.0.0.1:{hung_port}/health/ready"),
        webhook: receiver.url(),
        state: dir.join("b.state"),
    };
    let started = std::time::Instant::now();
    let ran = check.run().await;
    assert_eq!(ran.code, Some(1), "{ran:?}");
    assert!(started.elapsed() < Duration::from_secs(15), "bounded by the timeout: {:?}", started.elapsed());
    assert_eq!(receiver.received().len(), 2);
    assert_alert(&receiver.received()[1], "down", &["each within 2 s", "timed out"]);
    holder.abort();
    receiver.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// Settings it cannot use are a usage error (2) that names the fix, the webhook's value never
/// shown; `--help` lists the settings.
#[test]
fn bad_settings_are_usage_errors() {
    if !tools_present() {
        return;
    }
    let dir = scratch("usage");
    let run = |envs: &[(&str, &str)], args: &[&str]| {
        let out = Command::new("bash")
            .arg(script())
            .args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("UPTIME_STATE_FILE", dir.join("state"))
            .envs(envs.iter().copied())
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, stdout, _) = run(&[], &["--help"]);
    assert_eq!(code, Some(0));
    for setting in ["UPTIME_URL", "UPTIME_WEBHOOK_URL", "UPTIME_STATE_FILE", "UPTIME_TIMEOUT", "UPTIME_ATTEMPTS"] {
        assert!(stdout.contains(setting), "--help names {setting}: {stdout}");
    }
    let (code, _, stderr) = run(&[], &[]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("UPTIME_WEBHOOK_URL is not set"), "{stderr}");
    let quoted = format!("http://127.0.0.1:1/{SECRET}\"x");
    let (code, _, stderr) = run(&[("UPTIME_WEBHOOK_URL", quoted.as_str())], &[]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("UPTIME_WEBHOOK_URL is not an http(s) URL") && !stderr.contains(SECRET), "{stderr}");
    let hook = format!("http://127.0.0.1:1/{SECRET}");
    let (code, _, stderr) = run(&[("UPTIME_WEBHOOK_URL", hook.as_str()), ("UPTIME_ATTEMPTS", "0")], &[]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("UPTIME_ATTEMPTS must be a whole number, 1 or more"), "{stderr}");
    std::fs::write(dir.join("state"), "something else\n").unwrap();
    let (code, _, stderr) = run(&[("UPTIME_WEBHOOK_URL", hook.as_str())], &[]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("does not hold this script's state") && stderr.contains("remove it"), "{stderr}");
    assert_eq!(std::fs::read_to_string(dir.join("state")).unwrap(), "something else\n", "not overwritten");
    let (code, _, stderr) = run(&[("UPTIME_WEBHOOK_URL", hook.as_str())], &["--now"]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("unexpected argument '--now'"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// deploy/uptime.crontab runs this script every minute, the secret read from a file by the
/// shell, never on the command line.
#[test]
fn the_uptime_crontab_runs_the_check_every_minute_with_the_secret_from_a_file() {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/uptime.crontab")).unwrap();
    let jobs: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && l.split_once('=').is_none_or(|(k, _)| k.contains(' ')))
        .collect();
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    let fields: Vec<&str> = jobs[0].split_whitespace().collect();
    assert_eq!(fields[..5], ["*", "*", "*", "*", "*"], "every minute");
    let command = fields[5..].join(" ");
    assert!(command.contains("/uptime-check.sh >>"), "{command}");
    assert!(!command.contains("UPTIME_WEBHOOK_URL="), "the secret is not on the command line: {command}");
    assert!(command.starts_with(". /opt/clicknback-uptime/uptime.env && "), "{command}");
}
