//! The `config` crate's conventions as `init` reads them: the environment source a workspace
//! builds (`Environment::with_prefix("APP").prefix_separator("_").separator("__")`), and the
//! keys of its configuration files (`configuration/base.yaml`: `database: { host, port, … }`),
//! from which the variables the app reads follow (`APP_DATABASE__HOST`). Text in, data out.

use super::Evidence;
use crate::lint::yaml::{self, Node};

/// How the app's settings come from the environment (the `config` crate's `Environment`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvScheme {
    pub prefix: String,
    /// Between the prefix and the key: `prefix_separator`, else `separator`, else `_` (the
    /// `config` crate's rule).
    pub prefix_separator: String,
    /// Between the levels of a nested key; `None`: nested keys cannot be set.
    pub separator: Option<String>,
    pub at: Evidence,
}

impl EnvScheme {
    /// The first environment source with a prefix in `text` (a Rust file), if any.
    pub fn find(file: &str, text: &str) -> Option<EnvScheme> {
        for (at, _) in text.match_indices("Environment::") {
            // The builder chain: up to the end of the statement.
            let chain = &text[at..];
            let chain = &chain[..chain.find(';').unwrap_or(chain.len()).min(800)];
            let prefix = literal_after(chain, "with_prefix(").or_else(|| literal_after(chain, ".prefix("));
            let Some(prefix) = prefix else { continue };
            let separator = literal_after(chain, ".separator(");
            let prefix_separator = literal_after(chain, ".prefix_separator(")
                .or_else(|| separator.clone())
                .unwrap_or_else(|| "_".to_owned());
            let line = text[..at].matches('\n').count() + 1;
            return Some(EnvScheme { prefix, prefix_separator, separator, at: Evidence::at(file, line) });
        }
        None
    }

    /// The variable that sets the key at `path` (`["database", "host"]` → `APP_DATABASE__HOST`);
    /// `None` for a nested key without a separator.
    pub fn variable(&self, path: &[String]) -> Option<String> {
        if path.len() > 1 && self.separator.is_none() {
            return None;
        }
        let key = path.join(self.separator.as_deref().unwrap_or(""));
        Some(format!("{}{}{key}", self.prefix, self.prefix_separator).to_ascii_uppercase())
    }
}

/// The string literal of the first `call"…"` in `chain` (`with_prefix("APP")` → `APP`).
fn literal_after(chain: &str, call: &str) -> Option<String> {
    let at = chain.find(call)? + call.len();
    let rest = chain[at..].trim_start().strip_prefix('"')?;
    Some(rest[..rest.find('"')?].to_owned())
}

/// A key of a configuration file: its path from the top (`["database", "host"]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigKey {
    pub path: Vec<String>,
    pub at: Evidence,
}

/// The keys of a configuration file, two levels deep, by its extension (YAML, TOML, JSON).
/// Errors are `file:line: what`.
pub fn keys(file: &str, text: &str) -> Result<Vec<ConfigKey>, String> {
    let ext = file.rsplit('.').next().unwrap_or_default();
    match ext {
        "yaml" | "yml" => yaml_keys(file, text),
        "toml" => Ok(toml_keys(file, text)),
        "json" => json_keys(file, text),
        _ => Ok(Vec::new()),
    }
}

fn yaml_keys(file: &str, text: &str) -> Result<Vec<ConfigKey>, String> {
    let docs = yaml::parse(text).map_err(|e| format!("{file}:{}: invalid YAML: {}", e.line.max(1), e.message))?;
    let mut out = Vec::new();
    for (k, v) in docs.first().map(Node::entries).unwrap_or_default() {
        let Some(top) = k.scalar() else { continue };
        match &v.value {
            yaml::Value::Map(entries) => {
                for (k2, _) in entries {
                    if let Some(key) = k2.scalar() {
                        out.push(ConfigKey { path: vec![top.into(), key.into()], at: Evidence::at(file, k2.line) });
                    }
                }
            }
            _ => out.push(ConfigKey { path: vec![top.into()], at: Evidence::at(file, k.line) }),
        }
    }
    Ok(out)
}

/// TOML by its lines: `[table]` headers and `key = value` under them (what configuration
/// files hold; inline tables and arrays of tables are not followed).
fn toml_keys(file: &str, text: &str) -> Vec<ConfigKey> {
    let mut out = Vec::new();
    // The table the lines are in: `Some(vec![])` at the top, `None` where keys are not followed.
    let mut table: Option<Vec<String>> = Some(Vec::new());
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if let Some(header) = line.strip_prefix('[') {
            let name = header.split(']').next().unwrap_or_default().trim().trim_matches('"');
            table = (!header.starts_with('[') && !name.contains('.')).then(|| vec![name.to_owned()]);
            continue;
        }
        let Some((key, _)) = line.split_once('=') else { continue };
        let key = key.trim().trim_matches('"');
        if key.is_empty() || key.starts_with('#') || key.contains('.') {
            continue;
        }
        if let Some(table) = &table {
            let mut path = table.clone();
            path.push(key.to_owned());
            out.push(ConfigKey { path, at: Evidence::at(file, i + 1) });
        }
    }
    out
}

fn json_keys(file: &str, text: &str) -> Result<Vec<ConfigKey>, String> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("{file}:{}: invalid JSON: {e}", e.line()))?;
    // Lines by a search for the quoted key, after its table's.
    let line_of = |key: &str, from: usize| {
        let quoted = format!("\"{key}\"");
        text[from..].find(&quoted).map_or((0, from), |at| (text[..from + at].matches('\n').count() + 1, from + at))
    };
    let mut out = Vec::new();
    for (top, v) in value.as_object().into_iter().flatten() {
        let (line, at) = line_of(top, 0);
        match v.as_object() {
            Some(inner) => {
                for key in inner.keys() {
                    let (line, _) = line_of(key, at);
                    out.push(ConfigKey { path: vec![top.clone(), key.clone()], at: Evidence::at(file, line) });
                }
            }
            None => out.push(ConfigKey { path: vec![top.clone()], at: Evidence::at(file, line) }),
        }
    }
    Ok(out)
}

/// The field of the test run's database that fills a database key (`host` → `host`, for
/// `{db.host}`), by the key's name.
pub fn database_field(key: &str) -> Option<&'static str> {
    Some(match key.to_ascii_lowercase().as_str() {
        "host" | "hostname" => "host",
        "port" => "port",
        "username" | "user" => "user",
        "password" => "password",
        "database_name" | "database" | "dbname" | "db_name" | "name" => "name",
        "url" | "uri" | "database_url" | "connection_string" => "url",
        _ => return None,
    })
}

/// Whether a top-level table of a configuration file is the database's.
pub fn is_database_table(name: &str) -> bool {
    matches!(name.to_ascii_lowercase().as_str(), "database" | "db" | "postgres" | "postgresql" | "pg")
}

/// Whether a key names a Redis URL (`redis_uri`, `redis_url`, or `uri` / `url` in a `redis`
/// table).
pub fn is_redis_url(path: &[String]) -> bool {
    let lower: Vec<String> = path.iter().map(|p| p.to_ascii_lowercase()).collect();
    match lower.as_slice() {
        [key] => key.contains("redis") && (key.ends_with("uri") || key.ends_with("url")),
        [table, key] => table.contains("redis") && matches!(key.as_str(), "uri" | "url"),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(p: &[&str]) -> Vec<String> {
        p.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn the_environment_source_and_its_variables() {
        let src = "use config::{Config, Environment};\n\
                   fn get() {\n    let s = Config::builder()\n        .add_source(\n            \
                   Environment::with_prefix(\"APP\")\n                .prefix_separator(\"_\")\n                \
                   .separator(\"__\"),\n        )\n        .build();\n}\n";
        let scheme = EnvScheme::find("src/configuration.rs", src).unwrap();
        assert_eq!(scheme.at.to_string(), "src/configuration.rs:5");
        assert_eq!(scheme.variable(&path(&["database", "host"])).unwrap(), "APP_DATABASE__HOST");
        assert_eq!(scheme.variable(&path(&["redis_uri"])).unwrap(), "APP_REDIS_URI");

        // Without prefix_separator, the config crate puts the separator after the prefix too.
        let scheme = EnvScheme::find("a.rs", "Environment::with_prefix(\"app\").separator(\"__\");").unwrap();
        assert_eq!(scheme.variable(&path(&["database", "port"])).unwrap(), "APP__DATABASE__PORT");
        // Without a separator nested keys cannot be set; the prefix separator is `_`.
        let scheme = EnvScheme::find("a.rs", "Environment::default().prefix(\"SVC\");").unwrap();
        assert_eq!(scheme.variable(&path(&["database", "port"])), None);
        assert_eq!(scheme.variable(&path(&["port"])).unwrap(), "SVC_PORT");
        assert_eq!(EnvScheme::find("a.rs", "let e = Environment::default(); // no prefix"), None);
    }

    #[test]
    fn configuration_keys_in_yaml_toml_and_json() {
        let yaml = "application:\n  port: 8000\ndatabase:\n  host: \"127.0.0.1\"\n  port: 5432\nredis_uri: \"redis://127.0.0.1:6379\"\n";
        let found = keys("configuration/base.yaml", yaml).unwrap();
        let shown: Vec<String> = found.iter().map(|k| format!("{} {}", k.path.join("."), k.at)).collect();
        assert_eq!(
            shown,
            [
                "application.port configuration/base.yaml:2",
                "database.host configuration/base.yaml:4",
                "database.port configuration/base.yaml:5",
                "redis_uri configuration/base.yaml:6"
            ]
        );
        let toml = "redis_url = \"redis://x\"\n[database]\nusername = \"app\" # who\n[database.pool]\nsize = 4\n[[x]]\ny = 1\n";
        let shown: Vec<String> =
            keys("config/base.toml", toml).unwrap().iter().map(|k| format!("{} {}", k.path.join("."), k.at)).collect();
        assert_eq!(shown, ["redis_url config/base.toml:1", "database.username config/base.toml:3"]);
        let json = "{\n  \"database\": {\n    \"password\": \"x\"\n  },\n  \"debug\": true\n}\n";
        let shown: Vec<String> =
            keys("config/base.json", json).unwrap().iter().map(|k| format!("{} {}", k.path.join("."), k.at)).collect();
        assert_eq!(shown, ["database.password config/base.json:3", "debug config/base.json:5"]);
        assert!(keys("configuration/base.yaml", "a: [\n").unwrap_err().starts_with("configuration/base.yaml:"));
    }

    #[test]
    fn placeholders_by_key() {
        assert_eq!(database_field("database_name"), Some("name"));
        assert_eq!(database_field("USERNAME"), Some("user"));
        assert_eq!(database_field("require_ssl"), None);
        assert!(is_database_table("Database") && !is_database_table("application"));
        assert!(is_redis_url(&path(&["redis_uri"])) && is_redis_url(&path(&["redis", "url"])));
        assert!(!is_redis_url(&path(&["redis", "pool_size"])) && !is_redis_url(&path(&["database", "url"])));
    }
}
