//! A compose file as `init` needs it: its services, what each runs (PostgreSQL, Redis, other),
//! the container ports each publishes and how, and the variables it interpolates. Read with the
//! lint engine's YAML reader, which keeps line numbers for the evidence; no program is run.

use crate::lint::yaml::{self, Node};

/// What a service runs, told by its image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Postgres,
    Redis,
    Other,
}

impl Kind {
    /// The port the server listens on in its container, by default.
    pub fn default_port(self) -> Option<u16> {
        match self {
            Kind::Postgres => Some(5432),
            Kind::Redis => Some(6379),
            Kind::Other => None,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Kind::Postgres => "PostgreSQL",
            Kind::Redis => "Redis",
            Kind::Other => "other",
        }
    }

    /// `image` (a reference such as `docker.io/library/postgres:16-alpine`, its variables'
    /// defaults filled in) by its name: `postgres*` (and PostGIS, TimescaleDB), `redis*`,
    /// `valkey*`.
    pub fn of_image(image: &str) -> Kind {
        let image = with_defaults(image).to_ascii_lowercase();
        let name = image.rsplit('/').next().unwrap_or(&image);
        let name = name.split(['@', ':']).next().unwrap_or(name);
        if ["postgres", "postgis", "timescaledb"].iter().any(|p| name.starts_with(p)) {
            Kind::Postgres
        } else if name.starts_with("redis") || name.starts_with("valkey") {
            Kind::Redis
        } else {
            Kind::Other
        }
    }
}

/// The host side of a published port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HostPort {
    /// None written: Docker picks a free one (`127.0.0.1::5432`, `"5432"`).
    Ephemeral,
    /// A fixed number (or range), as written.
    Fixed(String),
    /// From a variable (`${DB_PORT:-5432}`), with its default, if any.
    Variable { name: String, default: Option<String> },
}

/// One `ports:` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Port {
    pub line: usize,
    /// The host address it is published on (`127.0.0.1`); `None`: every interface.
    pub host_ip: Option<String>,
    pub host_port: HostPort,
    pub container: u16,
}

impl Port {
    /// Published on the loopback interface only.
    pub fn loopback(&self) -> bool {
        self.host_ip.as_deref().is_some_and(|ip| matches!(ip, "127.0.0.1" | "::1" | "[::1]" | "localhost"))
    }
}

/// A `${NAME}` (or `$NAME`) the file interpolates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Variable {
    pub name: String,
    pub line: usize,
    /// `${NAME:-default}` / `${NAME-default}`.
    pub default: Option<String>,
    /// `${NAME:?message}` / `${NAME?message}`: compose refuses to run without it.
    pub required: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Service {
    pub name: String,
    pub line: usize,
    pub image: Option<String>,
    pub kind: Kind,
    pub ports: Vec<Port>,
    /// `expose:` (container ports, not published).
    pub exposed: Vec<u16>,
    /// Every variable the service's definition interpolates.
    pub variables: Vec<Variable>,
    /// Variables interpolated in its `ports:`' host part (a free port fits them).
    pub port_variables: Vec<String>,
}

impl Service {
    /// The container port its server listens on: the image's default when it publishes or
    /// exposes it (or nothing), else the first it publishes or exposes.
    pub fn container_port(&self) -> Option<u16> {
        let declared: Vec<u16> = self.ports.iter().map(|p| p.container).chain(self.exposed.iter().copied()).collect();
        match self.kind.default_port() {
            Some(port) if declared.is_empty() || declared.contains(&port) => Some(port),
            _ => declared.first().copied(),
        }
    }

    /// The `ports:` entry that publishes `container`, preferring one on loopback.
    pub fn publishing(&self, container: u16) -> Option<&Port> {
        let mut matching = self.ports.iter().filter(|p| p.container == container);
        let first = matching.clone().next();
        matching.find(|p| p.loopback()).or(first)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ComposeFile {
    /// Relative to the workspace root.
    pub path: String,
    pub services: Vec<Service>,
    /// Variables anywhere in the file that compose requires (`${NAME:?…}`).
    pub required: Vec<Variable>,
}

impl ComposeFile {
    /// Reads `text`; an error is `path:line: what`, for the user to fix the file.
    pub fn parse(path: &str, text: &str) -> Result<ComposeFile, String> {
        let docs = yaml::parse(text).map_err(|e| format!("{path}:{}: invalid YAML: {}", e.line.max(1), e.message))?;
        let mut file = ComposeFile { path: path.to_owned(), services: Vec::new(), required: Vec::new() };
        let Some(doc) = docs.first() else { return Ok(file) };
        let mut all = Vec::new();
        variables_below(doc, &mut all);
        file.required = all.into_iter().filter(|v| v.required).collect();
        for (key, def) in doc.get("services").map(Node::entries).unwrap_or_default() {
            let Some(name) = key.scalar() else { continue };
            let image = def.get("image").and_then(Node::scalar).map(str::to_owned);
            let kind = image.as_deref().map_or(Kind::Other, Kind::of_image);
            let mut service = Service {
                name: name.to_owned(),
                line: key.line,
                image,
                kind,
                ports: Vec::new(),
                exposed: Vec::new(),
                variables: Vec::new(),
                port_variables: Vec::new(),
            };
            variables_below(def, &mut service.variables);
            for entry in def.get("ports").map(Node::items).unwrap_or_default() {
                if let Some(port) = port(entry) {
                    if let HostPort::Variable { name, .. } = &port.host_port {
                        service.port_variables.push(name.clone());
                    }
                    service.ports.push(port);
                }
            }
            for entry in def.get("expose").map(Node::items).unwrap_or_default() {
                let text = entry.scalar().map(with_defaults).unwrap_or_default();
                if let Ok(p) = text.split('/').next().unwrap_or_default().trim().parse() {
                    service.exposed.push(p);
                }
            }
            file.services.push(service);
        }
        Ok(file)
    }

    /// The file with an overlay laid over it (`compose.override.yaml`): the overlay's ports
    /// and variables are added to the services they name (compose appends `ports:`).
    pub fn overlay(&mut self, overlay: ComposeFile) {
        for over in overlay.services {
            match self.services.iter_mut().find(|s| s.name == over.name) {
                Some(s) => {
                    s.ports.extend(over.ports);
                    s.exposed.extend(over.exposed);
                    s.variables.extend(over.variables);
                    s.port_variables.extend(over.port_variables);
                    if over.image.is_some() {
                        s.kind = over.kind;
                        s.image = over.image;
                    }
                }
                None => self.services.push(over),
            }
        }
        self.required.extend(overlay.required);
    }
}

/// One `ports:` entry, short (`"127.0.0.1::5432"`) or long (`target: 5432`); `None` for what
/// cannot be read (a range of container ports, say).
fn port(entry: &Node) -> Option<Port> {
    if let Some(text) = entry.scalar() {
        let text = text.trim();
        let text = text.split('/').next().unwrap_or(text); // `5432/tcp`
        let parts = split_outside(text, ':');
        let (ip, host, container) = match parts.as_slice() {
            [container] => (None, "", *container),
            [host, container] => (None, *host, *container),
            [ip, host, container] => (Some(*ip), *host, *container),
            _ => return None,
        };
        let container = with_defaults(container).parse().ok()?;
        let host_ip = ip.map(|ip| ip.trim_matches(['[', ']']).to_owned()).filter(|ip| !ip.is_empty());
        return Some(Port { line: entry.line, host_ip, host_port: host_port(host), container });
    }
    let scalar = |key: &str| entry.get(key).and_then(Node::scalar).map(str::trim);
    let container = scalar("target").map(with_defaults)?.parse().ok()?;
    let host_port = host_port(scalar("published").unwrap_or(""));
    let host_ip = scalar("host_ip").filter(|ip| !ip.is_empty()).map(str::to_owned);
    Some(Port { line: entry.line, host_ip, host_port, container })
}

fn host_port(text: &str) -> HostPort {
    let text = text.trim();
    if text.is_empty() {
        return HostPort::Ephemeral;
    }
    let mut found = Vec::new();
    scan_variables(text, 0, &mut found);
    match found.into_iter().next() {
        Some(v) => HostPort::Variable { name: v.name, default: v.default },
        None => HostPort::Fixed(text.to_owned()),
    }
}

/// `text` split at `sep`, except inside `${…}` and `[…]` (an IPv6 address).
fn split_outside(text: &str, sep: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0usize, 0);
    let mut prev = ' ';
    for (i, c) in text.char_indices() {
        match c {
            '{' if prev == '$' => depth += 1,
            '[' => depth += 1,
            '}' | ']' => depth = depth.saturating_sub(1),
            c if c == sep && depth == 0 => {
                parts.push(&text[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
        prev = c;
    }
    parts.push(&text[start..]);
    parts
}

/// `text` with each `${NAME:-default}` replaced by its default (and other variables by nothing):
/// what compose makes of it with none of them set.
pub fn with_defaults(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(r) = after.strip_prefix('$') {
            out.push('$');
            rest = r;
        } else if let Some(inner) = after.strip_prefix('{') {
            let end = closing(inner).unwrap_or(inner.len());
            let (_, default, _) = braced(&inner[..end]);
            out.push_str(&with_defaults(default.unwrap_or_default()));
            rest = inner.get(end + 1..).unwrap_or("");
        } else {
            let len = after.bytes().take_while(|b| b.is_ascii_alphanumeric() || *b == b'_').count();
            if len == 0 {
                out.push('$');
            }
            rest = &after[len..];
        }
    }
    out.push_str(rest);
    out
}

/// The index of the `}` that closes a `${` whose inside starts `inner`.
fn closing(inner: &str) -> Option<usize> {
    let mut depth = 0usize;
    let bytes = inner.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'{' if i > 0 && bytes[i - 1] == b'$' => depth += 1,
            b'}' if depth == 0 => return Some(i),
            b'}' => depth -= 1,
            _ => {}
        }
    }
    None
}

/// The inside of `${…}`: its name, its default (`:-`/`-`, and `:+`/`+` whose value may be
/// empty), whether it is required (`:?`/`?`).
fn braced(inner: &str) -> (&str, Option<&str>, bool) {
    let len = inner.bytes().take_while(|b| b.is_ascii_alphanumeric() || *b == b'_').count();
    let (name, op) = inner.split_at(len);
    let op = op.strip_prefix(':').unwrap_or(op);
    match op.chars().next() {
        Some('-') => (name, Some(&op[1..]), false),
        Some('+') => (name, Some(""), false),
        Some('?') => (name, None, true),
        _ => (name, None, false),
    }
}

/// Every variable interpolated in the scalars at or below `node` (keys included).
fn variables_below(node: &Node, out: &mut Vec<Variable>) {
    match &node.value {
        yaml::Value::Scalar { text, .. } => scan_variables(text, node.line, out),
        yaml::Value::Seq(items) => items.iter().for_each(|i| variables_below(i, out)),
        yaml::Value::Map(entries) => {
            for (k, v) in entries {
                variables_below(k, out);
                variables_below(v, out);
            }
        }
    }
}

fn scan_variables(text: &str, line: usize, out: &mut Vec<Variable>) {
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        let after = &rest[at + 1..];
        if let Some(r) = after.strip_prefix('$') {
            rest = r;
        } else if let Some(inner) = after.strip_prefix('{') {
            let end = closing(inner).unwrap_or(inner.len());
            let (name, default, required) = braced(&inner[..end]);
            if !name.is_empty() {
                out.push(Variable { name: name.to_owned(), line, default: default.map(str::to_owned), required });
            }
            if let Some(d) = default {
                scan_variables(d, line, out);
            }
            rest = inner.get(end + 1..).unwrap_or("");
        } else {
            let len = after.bytes().take_while(|b| b.is_ascii_alphanumeric() || *b == b'_').count();
            if len > 0 && !after.as_bytes()[0].is_ascii_digit() {
                out.push(Variable { name: after[..len].to_owned(), line, default: None, required: false });
            }
            rest = &after[len..];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl ComposeFile {
        fn service(&self, name: &str) -> Option<&Service> {
            self.services.iter().find(|s| s.name == name)
        }
    }

    const ISSUE: &str = "\
services:
  db:
    image: postgres:16
    environment:
      POSTGRES_PASSWORD: ${POSTGRES_PASSWORD}
      POSTGRES_DB: ${POSTGRES_DB:-newsletter}
    ports:
      - \"127.0.0.1::5432\"
  cache:
    image: docker.io/library/redis:7-alpine
    expose: [\"6379\"]
  app:
    build: .
    image: ${APP_IMAGE:?set APP_IMAGE}
    ports:
      - \"${APP_PORT:-8000}:8000\"
      - target: 9000
        published: \"9000\"
        host_ip: 127.0.0.1
";

    #[test]
    fn services_their_kind_ports_and_variables() {
        let f = ComposeFile::parse("compose.yaml", ISSUE).unwrap();
        let names: Vec<&str> = f.services.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["db", "cache", "app"]);
        let db = f.service("db").unwrap();
        assert_eq!((db.kind, db.line, db.container_port()), (Kind::Postgres, 2, Some(5432)));
        let published = db.publishing(5432).unwrap();
        assert!(published.loopback());
        assert_eq!((published.line, &published.host_port), (8, &HostPort::Ephemeral));
        let vars: Vec<(&str, Option<&str>)> =
            db.variables.iter().map(|v| (v.name.as_str(), v.default.as_deref())).collect();
        assert_eq!(vars, [("POSTGRES_PASSWORD", None), ("POSTGRES_DB", Some("newsletter"))]);
        assert_eq!(db.variables[0].line, 5);

        let cache = f.service("cache").unwrap();
        assert_eq!((cache.kind, cache.container_port()), (Kind::Redis, Some(6379)));
        assert!(cache.publishing(6379).is_none(), "exposed is not published");

        let app = f.service("app").unwrap();
        assert_eq!(app.kind, Kind::Other);
        assert_eq!(app.ports.len(), 2);
        assert_eq!(
            app.ports[0].host_port,
            HostPort::Variable { name: "APP_PORT".into(), default: Some("8000".into()) }
        );
        assert_eq!(app.port_variables, ["APP_PORT"]);
        assert_eq!((app.ports[1].container, app.ports[1].loopback()), (9000, true));
        assert_eq!(app.ports[1].host_port, HostPort::Fixed("9000".into()));
        assert_eq!(f.required.iter().map(|v| v.name.as_str()).collect::<Vec<_>>(), ["APP_IMAGE"]);
    }

    #[test]
    fn images_by_name() {
        for (image, kind) in [
            ("postgres", Kind::Postgres),
            ("postgres:16-alpine", Kind::Postgres),
            ("ghcr.io/x/postgis/postgis:16-3.4", Kind::Postgres),
            ("${PG_IMAGE:-postgres:15}", Kind::Postgres),
            ("bitnami/redis:7.2", Kind::Redis),
            ("valkey/valkey:8", Kind::Redis),
            ("nginx:1.27", Kind::Other),
            ("my-postgres-backup", Kind::Other),
        ] {
            assert_eq!(Kind::of_image(image), kind, "{image}");
        }
    }

    #[test]
    fn short_port_syntax() {
        let ports = |yaml: &str| {
            let f = ComposeFile::parse("c.yml", &format!("services:\n  s:\n    ports:\n{yaml}")).unwrap();
            f.services[0].ports.clone()
        };
        let p = &ports("      - 5432\n")[0];
        assert_eq!((p.container, &p.host_port, p.loopback()), (5432, &HostPort::Ephemeral, false));
        let p = &ports("      - \"5433:5432/tcp\"\n")[0];
        assert_eq!((p.container, &p.host_port), (5432, &HostPort::Fixed("5433".into())));
        let p = &ports("      - \"127.0.0.1:${DB_PORT:-5432}:5432\"\n")[0];
        assert_eq!(p.host_port, HostPort::Variable { name: "DB_PORT".into(), default: Some("5432".into()) });
        assert!(p.loopback());
        let p = &ports("      - \"[::1]::6379\"\n")[0];
        assert_eq!((p.container, &p.host_port, p.loopback()), (6379, &HostPort::Ephemeral, true));
        assert!(ports("      - \"9000-9001:9000-9001\"\n").is_empty(), "a range of container ports is not read");
    }

    #[test]
    fn an_overlay_adds_its_ports() {
        let mut f = ComposeFile::parse("compose.yaml", ISSUE).unwrap();
        let over =
            ComposeFile::parse("compose.override.yaml", "services:\n  cache:\n    ports: [\"127.0.0.1::6379\"]\n")
                .unwrap();
        f.overlay(over);
        assert!(f.service("cache").unwrap().publishing(6379).unwrap().loopback());
    }

    #[test]
    fn interpolation() {
        assert_eq!(with_defaults("${A:-x}-${B}-$C-$$D-${E:-${F:-y}}"), "x---$D-y");
        let mut vars = Vec::new();
        scan_variables("${A:?need A} ${B-b} $$C ${D:+on} $1 $DB_USER/x", 7, &mut vars);
        let seen: Vec<(&str, Option<&str>, bool)> =
            vars.iter().map(|v| (v.name.as_str(), v.default.as_deref(), v.required)).collect();
        let want = [("A", None, true), ("B", Some("b"), false), ("D", Some(""), false), ("DB_USER", None, false)];
        assert_eq!(seen, want);
        assert!(vars.iter().all(|v| v.line == 7));
        let e = ComposeFile::parse("compose.yaml", "services:\n  db: [\n").unwrap_err();
        assert!(e.starts_with("compose.yaml:"), "{e}");
    }
}
