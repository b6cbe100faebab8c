//! Surviving Ctrl-C long enough to clean up.
//!
//! A gate that starts something (a test database) calls [`install`] first: from then on
//! SIGINT, SIGTERM and SIGHUP no longer kill the xtask, they are only recorded. Long steps
//! poll [`check`]; the test command runs through [`run`], which hands the signal on to it;
//! guards stop what was started when they are dropped; and the gate ends with
//! [`exit_if_received`], which re-delivers the signal with its default action so the shell
//! sees the usual 130 (SIGINT) or 143 (SIGTERM). No `unsafe`: signal-hook registers the
//! handlers, rustix sends signals.

use std::process::{Child, ExitStatus, Output, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, anyhow};
use signal_hook::consts::signal::{SIGHUP, SIGINT, SIGTERM};

use crate::process::Cmd;

/// The last signal received (its number), 0 for none.
static RECEIVED: AtomicUsize = AtomicUsize::new(0);
static INSTALLED: OnceLock<Result<(), String>> = OnceLock::new();

/// A child that got no signal from the terminal (the signal was sent to the xtask alone)
/// gets it from us after this long; a terminal's Ctrl-C reaches it directly.
const FORWARD_AFTER: Duration = Duration::from_millis(500);
/// Then it is killed if it still runs.
const KILL_AFTER: Duration = Duration::from_secs(10);

/// Records SIGINT, SIGTERM and SIGHUP instead of dying of them. Idempotent.
pub fn install() -> Result<()> {
    INSTALLED
        .get_or_init(|| {
            for signal in [SIGINT, SIGTERM, SIGHUP] {
                signal_hook::flag::register_usize(signal, &RECEIVED, signal as usize)
                    .map_err(|e| format!("cannot handle {}: {e}", name(signal)))?;
            }
            Ok(())
        })
        .clone()
        .map_err(|e| anyhow!(e))
}

/// The signal received since [`install`], if any.
pub fn received() -> Option<i32> {
    match RECEIVED.load(Ordering::SeqCst) {
        0 => None,
        n => Some(n as i32),
    }
}

/// The error a step returns when a signal arrived: everything is cleaned up on the way out.
#[derive(Debug)]
pub struct Interrupted(pub i32);

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "interrupted by {}", name(self.0))
    }
}

impl std::error::Error for Interrupted {}

/// `Err(Interrupted)` once a signal arrived.
pub fn check() -> Result<()> {
    match received() {
        Some(signal) => Err(Interrupted(signal).into()),
        None => Ok(()),
    }
}

pub fn name(signal: i32) -> &'static str {
    match signal {
        SIGINT => "SIGINT",
        SIGTERM => "SIGTERM",
        SIGHUP => "SIGHUP",
        _ => "a signal",
    }
}

/// Runs `cmd` and waits for it. When a signal arrives meanwhile the child gets the same
/// signal (after a short grace, since a terminal's Ctrl-C reaches the whole foreground
/// process group anyway), and SIGKILL if it still runs later, so the caller regains control
/// and can clean up.
pub fn run(mut cmd: Cmd) -> Result<ExitStatus> {
    let child = cmd.spawn()?;
    wait(child, &cmd.display())
}

/// [`run`] with stdout and stderr captured (stdin closed), for a step that is shown only
/// when it fails.
pub fn output(cmd: Cmd) -> Result<Output> {
    let mut cmd = cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn()?;
    let shown = cmd.display();
    let (stdout, stderr) = (crate::process::drain(child.stdout.take()), crate::process::drain(child.stderr.take()));
    let status = wait(child, &shown)?;
    Ok(Output { status, stdout: stdout.join().unwrap_or_default(), stderr: stderr.join().unwrap_or_default() })
}

/// Runs `cmd` in a process group of its own until it exits or `timeout` passes (`Ok(None)`: the
/// whole group is stopped, SIGTERM then SIGKILL). What the group leaves behind when its leader
/// exits is ended too. A signal received meanwhile stops the group and is an error
/// ([`check`]). Where its output goes is `cmd`'s to say.
pub fn status_within(cmd: Cmd, timeout: Duration) -> Result<Option<ExitStatus>> {
    let mut cmd = cmd.process_group();
    let mut child = cmd.spawn()?;
    let pgid = rustix::process::Pid::from_child(&child);
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().with_context(|| format!("cannot wait for {cmd}"))? {
            let _ = rustix::process::kill_process_group(pgid, rustix::process::Signal::KILL);
            return Ok(Some(status));
        }
        if received().is_some() {
            crate::process::stop_group(pgid, &mut child, Duration::from_secs(2));
            check()?;
        }
        if Instant::now() >= deadline {
            crate::process::stop_group(pgid, &mut child, Duration::from_secs(2));
            return Ok(None);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn wait(mut child: Child, shown: &str) -> Result<ExitStatus> {
    let pid = rustix::process::Pid::from_child(&child);
    let (tx, rx) = mpsc::channel();
    let waiter = std::thread::spawn(move || {
        let _ = tx.send(child.wait());
    });
    let mut since: Option<Instant> = None;
    let (mut forwarded, mut killed) = (false, false);
    loop {
        match rx.recv_timeout(Duration::from_millis(25)) {
            Ok(status) => {
                let _ = waiter.join();
                return status.with_context(|| format!("cannot wait for {shown}"));
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => return Err(anyhow!("lost track of {shown}")),
        }
        let Some(signal) = received() else { continue };
        let elapsed = since.get_or_insert_with(Instant::now).elapsed();
        if !forwarded && elapsed >= FORWARD_AFTER {
            forwarded = true;
            if let Some(sig) = rustix::process::Signal::from_named_raw(signal) {
                let _ = rustix::process::kill_process(pid, sig);
            }
        }
        if !killed && elapsed >= KILL_AFTER {
            killed = true;
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
        }
    }
}

/// Call last, after every guard has been dropped: when a signal arrived, end the process
/// the way that signal would have (exit status 128 + signal number in a shell).
pub fn exit_if_received() {
    if let Some(signal) = received() {
        eprintln!("cargo xtask: interrupted by {}; what this run had started is stopped", name(signal));
        // Under coverage instrumentation the profile is written at exit, which a death by
        // signal skips: exit with the shell's code instead, so the interrupt paths are measured.
        if !cfg!(coverage) {
            let _ = signal_hook::low_level::emulate_default_handler(signal);
        }
        // Not reached for the signals handled here but under coverage; the shell's convention.
        std::process::exit(128 + signal);
    }
}
