//! A value of `env` in `[workspace.metadata.xtask.test]`: text with placeholders for the test
//! services (`redis://127.0.0.1:{redis.port}`, `{db.url}`), parsed when the settings are read
//! (every problem at once) and rendered once the services run (`db::with_test_services`).
//! `{{` and `}}` write a brace.

use std::fmt;

/// What a placeholder asks of a service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    /// `host`: the address the tests reach the service at.
    Host,
    /// `port`: the host port of the service's first declared container port; `port.N`: of
    /// container port `N`.
    Port(Option<u16>),
    /// The database's `user`, `password`, `name` (the database) and `url`.
    User,
    Password,
    Name,
    Url,
}

impl Field {
    /// A field every service has (`host`, `port`, `port.N`), not only the database.
    pub fn of_any_service(self) -> bool {
        matches!(self, Field::Host | Field::Port(_))
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Field::Host => f.write_str("host"),
            Field::Port(None) => f.write_str("port"),
            Field::Port(Some(n)) => write!(f, "port.{n}"),
            Field::User => f.write_str("user"),
            Field::Password => f.write_str("password"),
            Field::Name => f.write_str("name"),
            Field::Url => f.write_str("url"),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Piece {
    Text(String),
    Placeholder { service: String, field: Field },
}

/// A parsed value: text and placeholders, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    pieces: Vec<Piece>,
}

/// The fields a placeholder may name, for messages.
const FIELDS: &str = "`host`, `port`, `port.<container port>`, and for the database `user`, `password`, `name`, `url`";

impl Template {
    /// Parses `text`, or gives every problem with it: a `{` or `}` without its pair, a
    /// placeholder that is not `{<service>.<field>}`, a field no service has.
    pub fn parse(text: &str) -> Result<Template, Vec<String>> {
        let mut pieces = Vec::new();
        let mut problems = Vec::new();
        let mut literal = String::new();
        let mut chars = text.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            match c {
                '{' if chars.peek().is_some_and(|&(_, n)| n == '{') => {
                    chars.next();
                    literal.push('{');
                }
                '}' if chars.peek().is_some_and(|&(_, n)| n == '}') => {
                    chars.next();
                    literal.push('}');
                }
                '}' => problems.push(format!("a `}}` without its `{{` at byte {i} (write `}}}}` for a brace)")),
                '{' => {
                    let inner_start = i + 1;
                    let mut end = None;
                    while let Some(&(j, n)) = chars.peek() {
                        if n == '}' {
                            chars.next();
                            end = Some(j);
                            break;
                        }
                        if n == '{' {
                            break;
                        }
                        chars.next();
                    }
                    let Some(end) = end else {
                        problems.push(format!("a `{{` without its `}}` at byte {i} (write `{{{{` for a brace)"));
                        continue;
                    };
                    match placeholder(&text[inner_start..end]) {
                        Ok((service, field)) => {
                            if !literal.is_empty() {
                                pieces.push(Piece::Text(std::mem::take(&mut literal)));
                            }
                            pieces.push(Piece::Placeholder { service, field });
                        }
                        Err(problem) => problems.push(problem),
                    }
                }
                c => literal.push(c),
            }
        }
        if !literal.is_empty() {
            pieces.push(Piece::Text(literal));
        }
        if problems.is_empty() { Ok(Template { pieces }) } else { Err(problems) }
    }

    /// Each placeholder's service and field, in order.
    pub fn placeholders(&self) -> impl Iterator<Item = (&str, Field)> {
        self.pieces.iter().filter_map(|p| match p {
            Piece::Placeholder { service, field } => Some((service.as_str(), *field)),
            Piece::Text(_) => None,
        })
    }

    /// The value, each placeholder replaced by what `value` gives for it; the first error it gives.
    pub fn render<E>(&self, mut value: impl FnMut(&str, Field) -> Result<String, E>) -> Result<String, E> {
        let mut out = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Text(t) => out.push_str(t),
                Piece::Placeholder { service, field } => out.push_str(&value(service, *field)?),
            }
        }
        Ok(out)
    }
}

/// `service.field` (a service name may hold dots: the field is read from the right).
fn placeholder(inner: &str) -> Result<(String, Field), String> {
    let shown = format!("`{{{inner}}}`");
    if inner.is_empty() || inner.contains(char::is_whitespace) {
        return Err(format!("{shown} is not a placeholder: write `{{<service>.<field>}}`, e.g. `{{redis.port}}`"));
    }
    // `port.N`
    if let Some((rest, number)) = inner.rsplit_once('.')
        && let Some(service) = rest.strip_suffix(".port")
        && !number.is_empty()
        && number.bytes().all(|b| b.is_ascii_digit())
    {
        let port = number.parse::<u16>().ok().filter(|p| *p > 0);
        let Some(port) = port else {
            return Err(format!("{shown}: {number} is not a port number (1 to 65535)"));
        };
        return named(service, Field::Port(Some(port)), &shown);
    }
    let Some((service, field)) = inner.rsplit_once('.') else {
        return Err(format!("{shown} names no field: write `{{<service>.<field>}}`, e.g. `{{redis.port}}`"));
    };
    let field = match field {
        "host" => Field::Host,
        "port" => Field::Port(None),
        "user" => Field::User,
        "password" => Field::Password,
        "name" => Field::Name,
        "url" => Field::Url,
        other => return Err(format!("{shown}: unknown field `{other}` (one of {FIELDS})")),
    };
    named(service, field, &shown)
}

fn named(service: &str, field: Field, shown: &str) -> Result<(String, Field), String> {
    if service.is_empty() {
        return Err(format!("{shown} names no service: write `{{<service>.<field>}}`, e.g. `{{redis.port}}`"));
    }
    Ok((service.to_owned(), field))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(service: &str, field: Field) -> Result<String, String> {
        match (service, field) {
            ("redis", Field::Host) => Ok("127.0.0.1".into()),
            ("redis", Field::Port(None)) => Ok("49153".into()),
            ("redis", Field::Port(Some(6380))) => Ok("49154".into()),
            ("db", Field::Url) => Ok("postgres://app@127.0.0.1:5555/app".into()),
            ("db", Field::User) => Ok("app".into()),
            ("my.cache", Field::Port(None)) => Ok("7000".into()),
            other => Err(format!("no value for {other:?}")),
        }
    }

    fn render(text: &str) -> String {
        Template::parse(text).unwrap().render(values).unwrap()
    }

    #[test]
    fn placeholders_are_replaced_and_double_braces_are_braces() {
        assert_eq!(render("redis://{redis.host}:{redis.port}/0"), "redis://127.0.0.1:49153/0");
        assert_eq!(render("{redis.port.6380}"), "49154");
        assert_eq!(render("{db.url}?sslmode=disable"), "postgres://app@127.0.0.1:5555/app?sslmode=disable");
        assert_eq!(render("{{\"user\": \"{db.user}\"}}"), "{\"user\": \"app\"}");
        assert_eq!(render("{{redis.port}}"), "{redis.port}", "escaped, not a placeholder");
        assert_eq!(render("{{{redis.port}}}"), "{49153}");
        assert_eq!(render("plain"), "plain");
        assert_eq!(render(""), "");
        assert_eq!(render("é{redis.port}ü"), "é49153ü");
        assert_eq!(render("{my.cache.port}"), "7000", "a service name with a dot");
    }

    #[test]
    fn rendering_stops_at_the_first_value_that_is_missing() {
        let t = Template::parse("{redis.port}{db.password}").unwrap();
        assert_eq!(t.render(values).unwrap_err(), "no value for (\"db\", Password)");
    }

    #[test]
    fn placeholders_are_listed_in_order() {
        let t = Template::parse("{db.user}:{db.password}@{redis.port.6380}{{x}}").unwrap();
        let listed: Vec<(&str, Field)> = t.placeholders().collect();
        assert_eq!(listed, [("db", Field::User), ("db", Field::Password), ("redis", Field::Port(Some(6380)))]);
        assert_eq!(listed.iter().map(|(_, f)| f.to_string()).collect::<Vec<_>>(), ["user", "password", "port.6380"]);
        assert!(Field::Port(None).of_any_service() && Field::Host.of_any_service());
        assert!(!Field::Url.of_any_service() && !Field::Name.of_any_service());
    }

    #[test]
    fn every_problem_of_a_value_at_once() {
        let problems =
            Template::parse("a}b{redis.prot}{port}{}{ x }{.port}{redis.port.0}{redis.port.70000}{redis").unwrap_err();
        assert_eq!(
            problems,
            [
                "a `}` without its `{` at byte 1 (write `}}` for a brace)".to_owned(),
                format!("`{{redis.prot}}`: unknown field `prot` (one of {FIELDS})"),
                "`{port}` names no field: write `{<service>.<field>}`, e.g. `{redis.port}`".to_owned(),
                "`{}` is not a placeholder: write `{<service>.<field>}`, e.g. `{redis.port}`".to_owned(),
                "`{ x }` is not a placeholder: write `{<service>.<field>}`, e.g. `{redis.port}`".to_owned(),
                "`{.port}` names no service: write `{<service>.<field>}`, e.g. `{redis.port}`".to_owned(),
                "`{redis.port.0}`: 0 is not a port number (1 to 65535)".to_owned(),
                "`{redis.port.70000}`: 70000 is not a port number (1 to 65535)".to_owned(),
                "a `{` without its `}` at byte 67 (write `{{` for a brace)".to_owned(),
            ]
        );
        // A `{` inside a placeholder: the first is unclosed, the second is read on.
        assert_eq!(
            Template::parse("{db{redis.port}").unwrap_err(),
            ["a `{` without its `}` at byte 0 (write `{{` for a brace)"]
        );
    }
}
