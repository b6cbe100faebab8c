//! Database URLs: where one points, its password hidden for messages, whether a server
//! answers there.

use std::net::{TcpStream, ToSocketAddrs};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, anyhow, bail};

use crate::interrupt;
use crate::process::{Cmd, which};

/// The URL with any password replaced by `***` (user info and `password=` parameters).
pub fn redact(url: &str) -> String {
    let mut out = url.to_owned();
    if let Some(scheme_end) = out.find("://") {
        let start = scheme_end + 3;
        // The user info ends at the last `@` before the query: a password with an unencoded
        // `/` or `@` is still hidden whole.
        let end = out[start..].find(['?', '#']).map_or(out.len(), |i| start + i);
        if let Some(at) = out[start..end].rfind('@') {
            let userinfo = &out[start..start + at];
            if let Some(colon) = userinfo.find(':') {
                out.replace_range(start + colon + 1..start + at, "***");
            }
        }
    }
    // `password=` in the query string (URL) or as a keyword (conninfo string).
    let mut result = String::with_capacity(out.len());
    let mut rest = out.as_str();
    while let Some(i) = rest.to_ascii_lowercase().find("password=") {
        let value_start = i + "password=".len();
        result.push_str(&rest[..value_start]);
        result.push_str("***");
        let value_len = rest[value_start..].find(['&', ' ', '#']).unwrap_or(rest.len() - value_start);
        rest = &rest[value_start + value_len..];
    }
    result.push_str(rest);
    result
}

/// A `postgres://` or `postgresql://` URL without its scheme: what comes before the `?`, and
/// the query's parameters.
fn parts(url: &str) -> Result<(&str, &str)> {
    let rest = url
        .strip_prefix("postgres://")
        .or_else(|| url.strip_prefix("postgresql://"))
        .ok_or_else(|| anyhow!("it is not a postgres:// or postgresql:// URL"))?;
    Ok(rest.split_once('?').unwrap_or((rest, "")))
}

/// Where a URL points: the first host (a name, an IP or a socket folder) and the port.
#[derive(Debug, PartialEq, Eq)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
}

/// Parses `postgres[ql]://[user[:password]@][host][:port][/db][?host=…&port=…]`.
pub fn endpoint(url: &str) -> Result<Endpoint> {
    let (before_query, query) = parts(url)?;
    // As in `redact`: the user info ends at the last `@`.
    let after_userinfo = before_query.rsplit_once('@').map_or(before_query, |(_, h)| h);
    let hostlist = after_userinfo.split('/').next().unwrap_or("");
    let first = hostlist.split(',').next().unwrap_or("");
    let (mut host, mut port) = if let Some(v6) = first.strip_prefix('[') {
        let (h, after) = v6.split_once(']').ok_or_else(|| anyhow!("unclosed `[` in the host"))?;
        (h.to_owned(), after.strip_prefix(':').unwrap_or("").to_owned())
    } else {
        match first.rsplit_once(':') {
            Some((h, p)) => (h.to_owned(), p.to_owned()),
            None => (first.to_owned(), String::new()),
        }
    };
    for pair in query.split('&') {
        match pair.split_once('=') {
            Some(("host", v)) => host = v.split(',').next().unwrap_or("").to_owned(),
            Some(("port", v)) => port = v.split(',').next().unwrap_or("").to_owned(),
            _ => {}
        }
    }
    let host = percent_decode(&host);
    let port = if port.is_empty() { 5432 } else { port.parse().map_err(|_| anyhow!("the port is not a number"))? };
    Ok(Endpoint { host: if host.is_empty() { "localhost".into() } else { host }, port })
}

/// Who a URL connects as, and to which database (percent-decoded).
#[derive(Debug, PartialEq, Eq)]
pub struct Credentials {
    /// Empty when the URL names none.
    pub user: String,
    /// Empty when the URL has none (trust authentication, a `.pgpass`).
    pub password: String,
    /// The database; the user's name when the URL names none (as libpq does).
    pub name: String,
}

/// Reads `postgres[ql]://[user[:password]@]host[:port][/name][?user=…&password=…&dbname=…]`
/// (the parameters win over the URL's parts).
pub fn credentials(url: &str) -> Result<Credentials> {
    let (before_query, query) = parts(url)?;
    let before_fragment = before_query.split('#').next().unwrap_or("");
    // As in `redact`: the user info ends at the last `@`.
    let (userinfo, after) = before_fragment.rsplit_once('@').unwrap_or(("", before_fragment));
    let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
    let name = after.split_once('/').map_or("", |(_, name)| name);
    let (mut user, mut password, mut name) = (percent_decode(user), percent_decode(password), percent_decode(name));
    for pair in query.split('#').next().unwrap_or("").split('&') {
        match pair.split_once('=') {
            Some(("user", v)) => user = percent_decode(v),
            Some(("password", v)) => password = percent_decode(v),
            Some(("dbname", v)) => name = percent_decode(v),
            _ => {}
        }
    }
    if name.is_empty() {
        name = user.clone();
    }
    Ok(Credentials { user, password, name })
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(b) = s.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Percent-encodes a URL user-info part (user name or password).
pub(super) fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Whether a server accepts connections at `url`, as a one-line reason when not.
pub fn probe(url: &str, timeout: Duration) -> Result<(), String> {
    if let Some(pg_isready) = which("pg_isready") {
        let secs = timeout.as_secs().max(1).to_string();
        // Shown by name alone: the URL may hold a password.
        let out = Cmd::new(pg_isready)
            .args(["-q", "-t", &secs, "-d", url])
            .shown("pg_isready")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        return match out.map(|s| s.code()) {
            Ok(Some(0)) => Ok(()),
            Ok(Some(1)) => Err("the server rejects connections (it is starting up or shutting down)".into()),
            Ok(Some(2)) => Err("no server answers (pg_isready)".into()),
            Ok(Some(3)) => Err("pg_isready rejects the connection parameters".into()),
            Ok(_) => Err("pg_isready was killed".into()),
            Err(e) => Err(format!("cannot run pg_isready: {e}")),
        };
    }
    speak(url, timeout)
}

/// [`probe`] without `pg_isready`: the same question, in PostgreSQL's protocol ([`handshake`]).
fn speak(url: &str, timeout: Duration) -> Result<(), String> {
    let ep = endpoint(url).map_err(|e| e.to_string())?;
    let who = credentials(url).map_err(|e| e.to_string())?;
    if ep.host.starts_with('/') {
        let socket = Path::new(&ep.host).join(format!(".s.PGSQL.{}", ep.port));
        let stream = std::os::unix::net::UnixStream::connect(&socket)
            .map_err(|e| format!("cannot connect to {}: {e}", socket.display()))?;
        stream.set_read_timeout(Some(timeout)).map_err(|e| e.to_string())?;
        return handshake(stream, &who).map_err(|why| format!("{}: {why}", socket.display()));
    }
    let addrs: Vec<_> = (ep.host.as_str(), ep.port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {}: {e}", ep.host))?
        .collect();
    let mut last = format!("{} has no address", ep.host);
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(stream) => {
                stream.set_read_timeout(Some(timeout)).map_err(|e| e.to_string())?;
                match handshake(stream, &who) {
                    Ok(()) => return Ok(()),
                    Err(why) => last = format!("{addr}: {why}"),
                }
            }
            Err(e) => last = format!("cannot connect to {addr}: {e}"),
        }
    }
    Err(last)
}

/// What `pg_isready` asks, spoken without it: a startup message, then the server's first
/// answer. A connection that is accepted is not proof: Docker's proxy accepts on a published
/// port while nothing listens in the container, then closes it. An authentication request, or
/// any error but "cannot connect now" (57P03: starting up, shutting down, recovering), means a
/// server accepts connections, as libpq's `PQping` reads it; nothing is authenticated.
fn handshake(mut stream: impl std::io::Read + std::io::Write, who: &Credentials) -> Result<(), String> {
    let user = if who.user.is_empty() {
        std::env::var("USER").unwrap_or_else(|_| "postgres".into())
    } else {
        who.user.clone()
    };
    let mut params = Vec::new();
    for (key, value) in [("user", user.as_str()), ("database", who.name.as_str()), ("application_name", "xtask")] {
        if !value.is_empty() {
            for part in [key, value] {
                params.extend_from_slice(part.as_bytes());
                params.push(0);
            }
        }
    }
    params.push(0);
    let mut message = Vec::with_capacity(8 + params.len());
    message.extend_from_slice(&(8 + params.len() as u32).to_be_bytes());
    message.extend_from_slice(&0x0003_0000u32.to_be_bytes()); // protocol 3.0
    message.extend_from_slice(&params);
    stream.write_all(&message).map_err(|e| format!("the connection closed: {e}"))?;
    let mut head = [0u8; 5];
    stream.read_exact(&mut head).map_err(|e| match e.kind() {
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => "the server does not answer".to_owned(),
        _ => format!("the connection closed without an answer ({e}): no server listens behind it"),
    })?;
    match head[0] {
        b'R' => Ok(()),
        b'E' => {
            let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
            let mut body = vec![0u8; len.saturating_sub(4).min(64 * 1024)];
            stream.read_exact(&mut body).map_err(|e| format!("the server's error was cut short: {e}"))?;
            let field = |code: u8| {
                body.split(|&b| b == 0).find_map(|f| f.strip_prefix(&[code])).map(|v| String::from_utf8_lossy(v))
            };
            if field(b'C').as_deref() == Some("57P03") {
                let message = field(b'M').unwrap_or_default();
                Err(format!("the server rejects connections ({message})"))
            } else {
                Ok(())
            }
        }
        other => Err(format!("what answers is not PostgreSQL (its first byte is {other:#04x})")),
    }
}

pub(super) fn check_reachable(url: &str) -> Result<()> {
    let shown = redact(url);
    endpoint(url).with_context(|| format!("DATABASE_URL ({shown}) is not usable"))?;
    if let Err(why) = probe(url, Duration::from_secs(3)) {
        bail!(
            "DATABASE_URL is set but no PostgreSQL answers there: {shown}: {why}\n\
             Start that server, or unset DATABASE_URL to let `cargo xtask test` start a throwaway one."
        );
    }
    Ok(())
}

/// Polls until a server answers at `url` (a server that was just started), up to `timeout`.
pub(super) fn wait_ready(url: &str, timeout: Duration) -> Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        interrupt::check()?;
        match probe(url, Duration::from_secs(1)) {
            Ok(()) => return Ok(()),
            Err(why) if Instant::now() >= deadline => {
                bail!("no PostgreSQL answers at {} after {} s: {why}", redact(url), timeout.as_secs())
            }
            Err(_) => std::thread::sleep(Duration::from_millis(200)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_never_shown() {
        assert_eq!(redact("postgres://app:s3cr%40t@db:5432/app"), "postgres://app:***@db:5432/app");
        assert_eq!(redact("postgres://app@db/app"), "postgres://app@db/app");
        assert_eq!(
            redact("postgresql://db/app?user=a&password=x&sslmode=off"),
            "postgresql://db/app?user=a&password=***&sslmode=off"
        );
        assert_eq!(redact("host=db password=x user=a"), "host=db password=*** user=a");
        assert_eq!(redact("postgres://u:p@a@b/c"), "postgres://u:***@b/c");
        assert_eq!(redact("postgres://u:p/a@b/c?x=1"), "postgres://u:***@b/c?x=1");
    }

    #[test]
    fn endpoints() {
        let ep = |u| endpoint(u).unwrap();
        assert_eq!(ep("postgres://u:p@db.example:6543/x"), Endpoint { host: "db.example".into(), port: 6543 });
        assert_eq!(ep("postgresql://localhost/x"), Endpoint { host: "localhost".into(), port: 5432 });
        assert_eq!(ep("postgres://[::1]:5433/x"), Endpoint { host: "::1".into(), port: 5433 });
        assert_eq!(
            ep("postgres:///x?host=/var/run/postgresql"),
            Endpoint { host: "/var/run/postgresql".into(), port: 5432 }
        );
        // libpq's query parameters name the host and the port too, and win over the authority.
        assert_eq!(ep("postgres://h:1/x?host=/run/pg&port=5433"), Endpoint { host: "/run/pg".into(), port: 5433 });
        assert_eq!(ep("postgres://%2Ftmp:5555/x"), Endpoint { host: "/tmp".into(), port: 5555 });
        assert_eq!(ep("postgres://a:1,b:2/x"), Endpoint { host: "a".into(), port: 1 });
        assert_eq!(ep("postgres://u:p/w@h:7/x"), Endpoint { host: "h".into(), port: 7 });
        assert!(endpoint("mysql://a/b").is_err());
        assert!(credentials("mysql://a/b").is_err());
        assert!(endpoint("postgres://a:port/b").is_err());
    }

    #[test]
    fn credentials_from_the_user_info_the_path_and_the_parameters() {
        let c = |u| credentials(u).unwrap();
        let creds = |user: &str, password: &str, name: &str| Credentials {
            user: user.into(),
            password: password.into(),
            name: name.into(),
        };
        assert_eq!(c("postgres://app:s3cr%40t@127.0.0.1:5555/shop_db"), creds("app", "s3cr@t", "shop_db"));
        assert_eq!(c("postgres://cluster@127.0.0.1:5555/cluster_db"), creds("cluster", "", "cluster_db"));
        assert_eq!(c("postgresql://u:p@a@b/c?x=1"), creds("u", "p@a", "c"), "the user info ends at the last `@`");
        assert_eq!(c("postgres://shop@db"), creds("shop", "", "shop"), "no database: the user's");
        assert_eq!(c("postgres:///x?host=/run/pg&user=a&password=b%20c"), creds("a", "b c", "x"));
        assert_eq!(c("postgres://u@h/x?dbname=y"), creds("u", "", "y"));
        assert_eq!(c("postgres://h"), creds("", "", ""));
    }

    /// A one-connection server on loopback that reads the startup message, then answers
    /// `reply` (nothing: it closes, as Docker's proxy does with nothing behind it).
    fn server(reply: &'static [u8]) -> (String, std::thread::JoinHandle<Vec<u8>>) {
        use std::io::{Read as _, Write as _};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("postgres://shop:secret@127.0.0.1:{}/shop_db", listener.local_addr().unwrap().port());
        let thread = std::thread::spawn(move || {
            let (mut socket, _) = listener.accept().unwrap();
            let mut len = [0u8; 4];
            socket.read_exact(&mut len).unwrap();
            let mut rest = vec![0u8; u32::from_be_bytes(len) as usize - 4];
            socket.read_exact(&mut rest).unwrap();
            socket.write_all(reply).unwrap();
            rest
        });
        (url, thread)
    }

    fn error(code: &str) -> &'static [u8] {
        let body = format!("SFATAL\0C{code}\0Mthe database system is starting up\0\0");
        let mut m = vec![b'E'];
        m.extend_from_slice(&(4 + body.len() as u32).to_be_bytes());
        m.extend_from_slice(body.as_bytes());
        m.leak()
    }

    #[test]
    fn without_pg_isready_a_server_is_ready_only_when_it_speaks_postgres() {
        let second = Duration::from_secs(5);
        // An authentication request (SCRAM here): a server that accepts connections.
        let (url, thread) = server(b"R\0\0\0\x17\0\0\0\x0aSCRAM-SHA-256\0\0");
        assert_eq!(speak(&url, second), Ok(()));
        let startup = thread.join().unwrap();
        assert_eq!(startup[..4], [0, 3, 0, 0], "protocol 3.0");
        assert_eq!(startup[4..], *b"user\0shop\0database\0shop_db\0application_name\0xtask\0\0", "no password is sent");

        // Accepted, then closed with no answer: Docker's proxy with no server behind it.
        let (url, thread) = server(b"");
        let why = speak(&url, second).unwrap_err();
        assert!(why.contains("closed without an answer"), "{why}");
        thread.join().unwrap();

        // Starting up, shutting down or recovering: rejected, as pg_isready says.
        let (url, thread) = server(error("57P03"));
        let why = speak(&url, second).unwrap_err();
        assert!(why.ends_with(": the server rejects connections (the database system is starting up)"), "{why}");
        thread.join().unwrap();

        // Any other error comes from a server that is up (a wrong database, no pg_hba entry).
        let (url, thread) = server(error("3D000"));
        assert_eq!(speak(&url, second), Ok(()));
        thread.join().unwrap();

        let (url, thread) = server(b"HTTP/1.1 400 Bad Request\r\n\r\n");
        let why = speak(&url, second).unwrap_err();
        assert!(why.contains("not PostgreSQL (its first byte is 0x48)"), "{why}");
        thread.join().unwrap();

        // Nothing listens at all.
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("postgres://shop@127.0.0.1:{}/shop_db", closed.local_addr().unwrap().port());
        drop(closed);
        assert!(speak(&url, second).unwrap_err().starts_with("cannot connect to 127.0.0.1:"));
    }
}
