//! `app healthcheck`: asks the running service's `/health/ready` on 127.0.0.1 and exits 0
//! when it answers 200, 1 otherwise. The container health check runs it, so the runtime image
//! needs no curl. Plain HTTP/1.1 over a `TcpStream`: the probe never leaves the host, so it
//! needs neither TLS nor an HTTP client library.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use crate::routes::health::READY_PATH;

/// How long each step (connect, send, each read) may take.
pub const TIMEOUT: Duration = Duration::from_secs(3);

/// The status code `GET path` answered with.
pub fn probe(addr: SocketAddr, path: &str, timeout: Duration) -> Result<u16, String> {
    let mut stream =
        TcpStream::connect_timeout(&addr, timeout).map_err(|e| format!("cannot connect to {addr}: {e}"))?;
    stream.set_read_timeout(Some(timeout)).map_err(|e| e.to_string())?;
    stream.set_write_timeout(Some(timeout)).map_err(|e| e.to_string())?;
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: clicknback-healthcheck\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).map_err(|e| format!("cannot send the request to {addr}: {e}"))?;
    // Only the status line is needed: read until its end (a response is far shorter than 1 KiB
    // up to there).
    let mut head = Vec::with_capacity(256);
    let mut buf = [0u8; 256];
    while !head.contains(&b'\n') && head.len() < 1024 {
        let n = stream.read(&mut buf).map_err(|e| format!("no answer from {addr}: {e}"))?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    parse_status(&head).ok_or_else(|| format!("{addr} did not answer with HTTP"))
}

/// The code in a status line such as `HTTP/1.1 200 OK`.
fn parse_status(head: &[u8]) -> Option<u16> {
    let line = head.split(|&b| b == b'\n').next()?;
    let line = std::str::from_utf8(line).ok()?;
    let mut words = line.split_whitespace();
    words.next().filter(|v| v.starts_with("HTTP/1."))?;
    words.next()?.parse().ok()
}

/// Probes `http://127.0.0.1:{port}/health/ready` ([`READY_PATH`]); `Ok` only for 200.
pub fn check(port: u16) -> Result<(), String> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    match probe(addr, READY_PATH, TIMEOUT)? {
        200 => Ok(()),
        status => Err(format!("{READY_PATH} answered {status}")),
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::{SocketAddr, TcpListener};
    use std::time::Duration;

    use super::{parse_status, probe};

    /// A server that answers `bytes` to one request and then keeps the connection open.
    fn holding(bytes: &'static [u8]) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let _ = stream.read(&mut [0u8; 512]);
            stream.write_all(bytes).unwrap();
            std::thread::sleep(Duration::from_secs(10));
        });
        addr
    }

    #[test]
    fn the_status_line_is_enough_when_the_server_keeps_the_connection_open() {
        let addr = holding(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n");
        assert_eq!(probe(addr, "/health/ready", Duration::from_secs(2)), Ok(200));
    }

    #[test]
    fn a_kibibyte_without_a_line_end_is_not_http() {
        let addr = holding(&[b'x'; 1024]);
        let error = probe(addr, "/health/ready", Duration::from_secs(2)).unwrap_err();
        assert_eq!(error, format!("{addr} did not answer with HTTP"));
    }

    #[test]
    fn status_is_read_on_http_status_line() {
        assert_eq!(parse_status(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n"), Some(200));
        assert_eq!(parse_status(b"HTTP/1.0 503 Service Unavailable\r\n"), Some(503));
    }

    #[test]
    fn status_is_refused_on_non_http_answer() {
        assert_eq!(parse_status(b""), None);
        assert_eq!(parse_status(b"SSH-2.0-OpenSSH_9.6\r\n"), None);
        assert_eq!(parse_status(b"HTTP/1.1 abc\r\n"), None);
    }
}
