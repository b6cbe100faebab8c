//! What a gate prints, kept while it is still printed: for the run, fds 1 and 2 point at two
//! pipes, and one thread a pipe copies what arrives to where the output went before (the
//! terminal, a file, CI's log) and keeps a copy, with its stream, in the order it arrived.
//! Child processes inherit fds 1 and 2, so their output is kept too. The verdict cache
//! (cache.rs) records a gate's output this way, to replay it later.
//!
//! No `unsafe`: rustix duplicates the descriptors (`dup2_stdout`, `dup2_stderr`). A program
//! the gate started in the background may keep a pipe open after the run: [`Capture::finish`]
//! waits for the pipes to close at most [`DRAIN_WAIT`], then keeps what arrived.

use std::fs::File;
use std::io::Write as _;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::{Arc, Mutex, PoisonError, mpsc};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use rustix::pipe::{PipeFlags, pipe_with};

/// Which stream a piece of output was written to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stream {
    Stdout,
    Stderr,
}

/// What arrived, in order: each read from a pipe, with its stream.
pub type Chunks = Vec<(Stream, Vec<u8>)>;

/// How long [`Capture::finish`] waits for the pipes to close once the gate is done.
pub const DRAIN_WAIT: Duration = Duration::from_secs(2);

/// Fds 1 and 2 captured until [`Capture::finish`] (or the drop, on a panic) restores them.
pub struct Capture {
    /// The original fd 1 and fd 2.
    saved: [OwnedFd; 2],
    /// The pipes' write ends (fds 1 and 2 are copies of them meanwhile).
    writers: Option<[OwnedFd; 2]>,
    chunks: Arc<Mutex<Chunks>>,
    /// One message a tee thread when its pipe is closed.
    drained: mpsc::Receiver<()>,
    restored: bool,
}

impl Capture {
    /// From now on, what this process and its children write to fds 1 and 2 is kept (and still
    /// shown where it went before).
    pub fn start() -> Result<Capture> {
        flush();
        let saved = [dup(std::io::stdout().as_fd())?, dup(std::io::stderr().as_fd())?];
        let chunks = Arc::new(Mutex::new(Vec::new()));
        let (done, drained) = mpsc::channel();
        let mut writers = Vec::with_capacity(2);
        for (stream, original) in [(Stream::Stdout, &saved[0]), (Stream::Stderr, &saved[1])] {
            // Close-on-exec: children get fds 1 and 2 only, never a second copy of a write end.
            let (reader, writer) = pipe_with(PipeFlags::CLOEXEC).context("cannot create a pipe to capture output")?;
            let shown = File::from(dup(original.as_fd())?);
            let (chunks, done) = (Arc::clone(&chunks), done.clone());
            std::thread::Builder::new()
                .name(format!("capture-{stream:?}"))
                .spawn(move || tee(stream, &reader, shown, &chunks, &done))
                .context("cannot start the output capture")?;
            writers.push(writer);
        }
        let [out, err] = <[OwnedFd; 2]>::try_from(writers).expect("two pipes");
        let capture = Capture { saved, writers: Some([out, err]), chunks, drained, restored: false };
        let writers = capture.writers.as_ref().expect("just set");
        // On an error the drop restores whichever was redirected.
        rustix::stdio::dup2_stdout(&writers[0]).context("cannot capture stdout")?;
        rustix::stdio::dup2_stderr(&writers[1]).context("cannot capture stderr")?;
        Ok(capture)
    }

    /// Restores fds 1 and 2 and returns what was written meanwhile. Waits for the pipes to be
    /// closed by every program that inherited them, for [`DRAIN_WAIT`] at most.
    pub fn finish(mut self) -> Chunks {
        self.restore();
        drop(self.writers.take());
        let deadline = Instant::now() + DRAIN_WAIT;
        for _ in 0..2 {
            let left = deadline.saturating_duration_since(Instant::now());
            if self.drained.recv_timeout(left).is_err() {
                break; // a program still holds a pipe: keep what arrived
            }
        }
        std::mem::take(&mut *self.chunks.lock().unwrap_or_else(PoisonError::into_inner))
    }

    fn restore(&mut self) {
        if self.restored {
            return;
        }
        flush();
        let _ = rustix::stdio::dup2_stdout(&self.saved[0]);
        let _ = rustix::stdio::dup2_stderr(&self.saved[1]);
        self.restored = true;
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        self.restore();
    }
}

/// Copies a pipe to `shown` and into `chunks` until every write end is closed.
fn tee(stream: Stream, reader: &OwnedFd, mut shown: File, chunks: &Mutex<Chunks>, done: &mpsc::Sender<()>) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match rustix::io::read(reader, &mut buf) {
            Ok(0) => break,
            Ok(n) => {
                // The terminal may be gone (a closed pipe): keep capturing all the same.
                let _ = shown.write_all(&buf[..n]);
                chunks.lock().unwrap_or_else(PoisonError::into_inner).push((stream, buf[..n].to_vec()));
            }
            Err(rustix::io::Errno::INTR) => {}
            Err(_) => break,
        }
    }
    let _ = done.send(());
}

/// A close-on-exec copy of `fd`, above the standard three.
fn dup(fd: std::os::fd::BorrowedFd<'_>) -> Result<OwnedFd> {
    rustix::io::fcntl_dupfd_cloexec(fd, 3).context("cannot duplicate stdout or stderr to capture it")
}

fn flush() {
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
}

/// `text` without ANSI escape sequences (colours, cursor moves, OSC hyperlinks): output
/// recorded in colour, replayed where colour is off.
pub fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\u{1b}' {
            out.push(c);
            continue;
        }
        match chars.next() {
            // CSI: parameters and intermediates, then one final byte in @..~.
            Some('[') => {
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
            // OSC: up to BEL or ST (ESC \).
            Some(']') => {
                while let Some(c) = chars.next() {
                    if c == '\u{7}' {
                        break;
                    }
                    if c == '\u{1b}' && chars.peek() == Some(&'\\') {
                        chars.next();
                        break;
                    }
                }
            }
            // A two-character sequence (ESC 7, ESC =, …).
            Some(_) | None => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_sequences_are_stripped_and_text_is_kept() {
        assert_eq!(strip_ansi("\u{1b}[1;31mFAILED\u{1b}[0m — 3 ✗"), "FAILED — 3 ✗");
        assert_eq!(strip_ansi("a\u{1b}]8;;https://x\u{7}link\u{1b}]8;;\u{1b}\\b"), "alinkb");
        assert_eq!(strip_ansi("\u{1b}7saved\u{1b}8"), "saved");
        assert_eq!(strip_ansi("plain\n"), "plain\n");
        assert_eq!(strip_ansi("cut \u{1b}[3"), "cut ");
    }
}
