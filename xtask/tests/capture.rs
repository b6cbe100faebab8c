//! The output capture of the verdict cache (`xtask::capture`): what the process and its
//! children write to fds 1 and 2 is kept, in order, and still reaches where it went before.
//! Each test runs this test binary again as a child whose stdout and stderr are files, and
//! captures in that child, where nothing else shares its fds.

mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::Scratch;
use xtask::capture::{Capture, Stream};

/// Set in the child run: where it writes what it captured.
const CHILD: &str = "XTASK_CAPTURE_TEST_OUT";

/// Runs `test` of this binary as a child with stdout and stderr in files; returns
/// (stdout, stderr, what the child captured: stdout text, stderr text, the streams in order).
fn in_child(test: &str) -> (String, String, String, String, Vec<Stream>) {
    let dir = Scratch::new(test);
    let (out, err, kept) = (dir.path("stdout"), dir.path("stderr"), dir.path("kept.json"));
    let status = Command::new(std::env::current_exe().unwrap())
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, &kept)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .status()
        .unwrap();
    let read = |p| std::fs::read_to_string(p).unwrap();
    assert!(status.success(), "the child run failed:\n{}\n{}", read(&out), read(&err));
    let chunks: Vec<(Stream, String)> = serde_json::from_str(&read(&kept)).unwrap();
    let text = |s: Stream| chunks.iter().filter(|(c, _)| *c == s).map(|(_, t)| t.as_str()).collect::<String>();
    let order = chunks.iter().map(|(s, _)| *s).collect();
    (read(&out), read(&err), text(Stream::Stdout), text(Stream::Stderr), order)
}

/// In the child: writes what `capture` kept to the file the parent named.
fn keep(chunks: Vec<(Stream, Vec<u8>)>) {
    let chunks: Vec<(Stream, String)> =
        chunks.into_iter().map(|(s, b)| (s, String::from_utf8_lossy(&b).into_owned())).collect();
    std::fs::write(std::env::var_os(CHILD).unwrap(), serde_json::to_string(&chunks).unwrap()).unwrap();
}

#[test]
fn a_childs_output_is_kept_in_order_and_still_shown() {
    if std::env::var_os(CHILD).is_some() {
        let capture = Capture::start().unwrap();
        println!("xtask says hello");
        eprintln!("xtask warns");
        let script = "for i in 1 2 3 4 5; do echo out $i; echo err $i >&2; done";
        assert!(Command::new("sh").args(["-c", script]).status().unwrap().success());
        println!("xtask says bye");
        keep(capture.finish());
        println!("after the capture");
        return;
    }
    let (out, err, kept_out, kept_err, order) = in_child("a_childs_output_is_kept_in_order_and_still_shown");
    let expected_out = "xtask says hello\nout 1\nout 2\nout 3\nout 4\nout 5\nxtask says bye\n";
    let expected_err = "xtask warns\nerr 1\nerr 2\nerr 3\nerr 4\nerr 5\n";
    assert_eq!(kept_out, expected_out, "stdout kept in order");
    assert_eq!(kept_err, expected_err, "stderr kept in order");
    assert!(out.contains(expected_out), "and still shown on stdout: {out}");
    assert!(err.contains(expected_err), "and on stderr: {err}");
    assert!(out.contains("after the capture") && !kept_out.contains("after"), "fd 1 is restored: {out}");
    assert!(order.contains(&Stream::Stdout) && order.contains(&Stream::Stderr), "{order:?}");
}

#[test]
fn a_program_left_running_with_the_pipes_does_not_hold_the_gate() {
    if std::env::var_os(CHILD).is_some() {
        let capture = Capture::start().unwrap();
        // The background `sleep` inherits fds 1 and 2 and keeps the pipes open for 30 s; the
        // bounds leave a loaded machine seconds of room and still catch a wait for the sleep.
        let script = "echo before; sleep 30 & echo after";
        assert!(Command::new("sh").args(["-c", script]).status().unwrap().success());
        let started = Instant::now();
        let chunks = capture.finish();
        let waited = started.elapsed();
        assert!(waited < xtask::capture::DRAIN_WAIT + Duration::from_secs(8), "finish waited {waited:?}");
        keep(chunks);
        return;
    }
    let started = Instant::now();
    let (out, _, kept_out, _, _) = in_child("a_program_left_running_with_the_pipes_does_not_hold_the_gate");
    assert_eq!(kept_out, "before\nafter\n", "what arrived is kept");
    assert!(out.contains("before\nafter\n"), "{out}");
    assert!(started.elapsed() < Duration::from_secs(20), "{:?}", started.elapsed());
}
