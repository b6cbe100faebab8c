//! What `init` finds in a workspace, as data with its evidence: the members, the compose file
//! and its services, sqlx (its dependency, migrations and offline data), how the app reads its
//! database (`DATABASE_URL`, a `config` crate scheme), and which of the files init writes are
//! there already. Files only: `cargo metadata --no-deps --offline`, the files git lists, no
//! network and no Docker.

use std::path::Path;

use anyhow::{Context as _, Result, bail};

use super::Evidence;
use super::compose::ComposeFile;
use super::config::{self, ConfigKey, EnvScheme};
use crate::docker::COMPOSE_FILES;
use crate::repo::files::Tree;

/// The files init writes, beside the root `Cargo.toml`.
pub const PRE_COMMIT: &str = ".pre-commit-config.yaml";
pub const WORKFLOW: &str = ".github/workflows/ci.yml";
/// The workflow that posts the pull request's coverage comment CI's coverage job wrote.
pub const COMMENT_WORKFLOW: &str = ".github/workflows/coverage-comment.yml";
/// The overlays compose itself reads beside the file (without `-f`), in its order.
const OVERLAYS: [&str; 4] =
    ["compose.override.yaml", "compose.override.yml", "docker-compose.override.yaml", "docker-compose.override.yml"];
/// The env files read for variable names: `.env` itself (never committed), and its templates.
const ENV_FILES: [&str; 5] = [".env", ".env.example", ".env.sample", ".env.template", ".env.dist"];

/// A workspace package that is not the xtask's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    pub name: String,
    /// Its folder relative to the root (`""`: the root package).
    pub dir: String,
}

impl Member {
    /// `dir/rest`, or `rest` for the root package.
    pub fn join(&self, rest: &str) -> String {
        if self.dir.is_empty() { rest.to_owned() } else { format!("{}/{rest}", self.dir) }
    }
}

/// A member's dependency on a crate init looks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Uses {
    pub package: String,
    pub dependency: String,
    pub features: Vec<String>,
    pub at: Evidence,
}

/// A variable of an env file whose value is a URL of a server the tests get (`REDIS_URL`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UrlVariable {
    pub name: String,
    /// `postgres` or `redis`.
    pub scheme: &'static str,
    pub at: Evidence,
}

/// A variable of an env template (`.env.example`): meant to be committed, so not a secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TemplateValue {
    pub name: String,
    pub value: String,
    pub at: Evidence,
}

#[derive(Clone, Debug, Default)]
pub struct Detected {
    /// The root `Cargo.toml` as read.
    pub manifest: String,
    /// It has a `[workspace.metadata.xtask]` table already.
    pub has_settings: bool,
    pub members: Vec<Member>,
    /// The compose file, with its overlay laid over it.
    pub compose: Option<ComposeFile>,
    /// The overlay compose reads beside it (`compose.override.yaml`), if any.
    pub overlay: Option<String>,
    /// The other compose files at the root (compose reads the first).
    pub other_compose: Vec<String>,
    pub sqlx: Vec<Uses>,
    pub redis_clients: Vec<Uses>,
    pub config_crate: Vec<Uses>,
    /// The migrations folder (and how many files it holds), then any other found.
    pub migrations: Vec<(String, usize)>,
    /// sqlx's offline query data: the folder, and whether git tracks it.
    pub sqlx_data: Vec<(String, bool)>,
    /// Where the workspace names `DATABASE_URL`.
    pub database_url: Vec<Evidence>,
    /// `DATABASE_URL`'s scheme in an env file, when it says.
    pub database_url_scheme: Option<String>,
    pub url_variables: Vec<UrlVariable>,
    pub template_values: Vec<TemplateValue>,
    pub env_scheme: Option<EnvScheme>,
    /// Other environment sources with a prefix (only the first is used).
    pub other_schemes: Vec<Evidence>,
    pub config_keys: Vec<ConfigKey>,
    /// Which of the files init writes exist already (`ci.yaml` stands for `ci.yml`).
    pub pre_commit_exists: bool,
    pub workflow_exists: Option<String>,
    /// `coverage-comment.yaml` stands for `coverage-comment.yml`.
    pub comment_workflow_exists: Option<String>,
    /// The security gate's suppressions file (the `suppressions` setting, else `security.toml`)
    /// and its text when it exists: it must accept the comment workflow's trigger.
    pub suppressions: (String, Option<String>),
    /// The `base-report` setting, when the workspace's settings have one.
    pub base_report: Option<String>,
    /// The other workflows in `.github/workflows/`.
    pub other_workflows: Vec<String>,
    /// The branch pull requests merge into (`main`), and how git told it.
    pub default_branch: Option<(String, String)>,
}

/// Reads the workspace at `root` (`cargo`: the cargo to run `cargo metadata` with).
pub fn detect(cargo: &str, root: &Path) -> Result<Detected> {
    let manifest_path = root.join("Cargo.toml");
    let manifest = std::fs::read_to_string(&manifest_path).with_context(|| {
        format!(
            "cannot read {}: run `cargo xtask init` in the workspace that has copied xtask/",
            manifest_path.display()
        )
    })?;
    let metadata = crate::settings::workspace_metadata(cargo, root)?;
    let same = |a: &Path, b: &Path| a.canonicalize().ok().zip(b.canonicalize().ok()).is_some_and(|(a, b)| a == b);
    if !same(metadata.workspace_root.as_std_path(), root) {
        bail!(
            "{} is not a workspace root (its workspace is {}): xtask/ belongs at the root, beside the \
             `[workspace]` manifest",
            root.display(),
            metadata.workspace_root
        );
    }
    let tree = Tree::list(root, &[]).context("`cargo xtask init` reads the files git lists")?;
    let mut d =
        Detected { has_settings: metadata.workspace_metadata.get("xtask").is_some(), manifest, ..Detected::default() };
    let xtask_dir = root.join("xtask");
    for package in metadata.workspace_packages() {
        let manifest = package.manifest_path.as_std_path();
        if manifest.starts_with(&xtask_dir) {
            continue;
        }
        let dir = manifest.parent().and_then(|p| p.strip_prefix(root).ok()).unwrap_or(Path::new(""));
        let member = Member { name: package.name.to_string(), dir: dir.to_string_lossy().replace('\\', "/") };
        let manifest_rel = member.join("Cargo.toml");
        let manifest_text = read(root, &manifest_rel)?;
        for dep in &package.dependencies {
            let uses = || Uses {
                package: member.name.clone(),
                dependency: dep.name.clone(),
                features: dep.features.clone(),
                at: Evidence::at(&manifest_rel, mention(&manifest_text, &dep.name)),
            };
            let redis_feature = dep.features.iter().any(|f| f.contains("redis"));
            match dep.name.as_str() {
                "sqlx" => push_once(&mut d.sqlx, uses()),
                "config" => push_once(&mut d.config_crate, uses()),
                name if name.contains("redis") || name == "fred" || redis_feature => {
                    push_once(&mut d.redis_clients, uses())
                }
                _ => {}
            }
        }
        d.members.push(member);
    }
    d.members.sort_by(|a, b| a.dir.cmp(&b.dir));
    // The development overlay the settings name already (`dev-file`), else the one compose reads.
    let dev_file = metadata.workspace_metadata["xtask"]["compose"]["dev-file"].as_str().map(str::to_owned);
    compose(root, &tree, dev_file.as_deref(), &mut d)?;
    sqlx_files(&tree, &mut d);
    env_files(root, &mut d)?;
    sources(root, &tree, &mut d)?;
    config_files(root, &tree, &mut d)?;
    d.pre_commit_exists = root.join(PRE_COMMIT).exists();
    d.workflow_exists =
        [WORKFLOW, ".github/workflows/ci.yaml"].into_iter().find(|w| root.join(w).exists()).map(Into::into);
    d.comment_workflow_exists = [COMMENT_WORKFLOW, ".github/workflows/coverage-comment.yaml"]
        .into_iter()
        .find(|w| root.join(w).exists())
        .map(Into::into);
    let settings = &metadata.workspace_metadata["xtask"];
    let suppressions = settings["security"]["suppressions"].as_str().unwrap_or("security.toml").to_owned();
    let text = match std::fs::read_to_string(root.join(&suppressions)) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e).with_context(|| format!("cannot read {suppressions}")),
    };
    d.suppressions = (suppressions, text);
    d.base_report = settings["coverage"]["base-report"].as_str().map(str::to_owned);
    d.other_workflows = tree
        .select(|p| {
            p.starts_with(".github/workflows/")
                && (p.ends_with(".yml") || p.ends_with(".yaml"))
                && !p[".github/workflows/".len()..].contains('/')
        })
        .into_iter()
        .filter(|p| Some(*p) != d.workflow_exists.as_deref() && Some(*p) != d.comment_workflow_exists.as_deref())
        .map(Into::into)
        .collect();
    d.default_branch = default_branch(root);
    Ok(d)
}

/// The branch the work merges into: the remote's default (`origin/HEAD`), else `main` or
/// `master` on the remote, else the branch checked out.
fn default_branch(root: &Path) -> Option<(String, String)> {
    let git = |args: &[&str]| {
        let out = crate::repo::git(root).args(args).output().ok()?;
        let text = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        (out.status.success() && !text.is_empty()).then_some(text)
    };
    if let Some(head) = git(&["symbolic-ref", "--quiet", "--short", "refs/remotes/origin/HEAD"]) {
        let branch = head.strip_prefix("origin/").unwrap_or(&head).to_owned();
        return Some((branch, format!("git: origin/HEAD is {head}")));
    }
    for branch in ["main", "master"] {
        if git(&["rev-parse", "--verify", "--quiet", &format!("refs/remotes/origin/{branch}")]).is_some() {
            return Some((branch.to_owned(), format!("git: origin/{branch} exists")));
        }
    }
    let current = git(&["symbolic-ref", "--quiet", "--short", "HEAD"])?;
    ["main", "master", "trunk"]
        .contains(&current.as_str())
        .then(|| (current, "git: the branch checked out (no origin yet)".to_owned()))
}

fn push_once(list: &mut Vec<Uses>, uses: Uses) {
    if !list.iter().any(|u| u.package == uses.package && u.dependency == uses.dependency) {
        list.push(uses);
    }
}

fn read(root: &Path, rel: &str) -> Result<String> {
    std::fs::read_to_string(root.join(rel)).with_context(|| format!("cannot read {rel}"))
}

/// The line of a manifest where `dependency` is declared (`sqlx = …`, `[dependencies.sqlx]`);
/// 0 when not found (it comes from the workspace's table, say).
fn mention(manifest: &str, dependency: &str) -> usize {
    let declared = |line: &str| {
        let line = line.trim();
        let key = line.split(['=', ']']).next().unwrap_or_default().trim().trim_matches('"');
        (key == dependency && line.contains('='))
            || key.strip_prefix('[').is_some_and(|h| h.rsplit('.').next() == Some(dependency))
    };
    manifest.lines().position(declared).map_or(0, |i| i + 1)
}

fn compose(root: &Path, tree: &Tree, dev_file: Option<&str>, d: &mut Detected) -> Result<()> {
    let Ok(file) = crate::docker::file(root, None) else { return Ok(()) };
    let rel = crate::output::relative(root, &file);
    let mut parsed = ComposeFile::parse(&rel, &read(root, &rel)?).map_err(anyhow::Error::msg)?;
    let overlay =
        dev_file.filter(|f| root.join(f).is_file()).or_else(|| OVERLAYS.into_iter().find(|o| root.join(o).is_file()));
    if let Some(overlay) = overlay {
        parsed.overlay(ComposeFile::parse(overlay, &read(root, overlay)?).map_err(anyhow::Error::msg)?);
        d.overlay = Some(overlay.to_owned());
    }
    d.other_compose = COMPOSE_FILES
        .iter()
        .filter(|f| **f != rel && tree.files.iter().any(|p| p == *f))
        .map(|f| (*f).to_owned())
        .collect();
    d.compose = Some(parsed);
    Ok(())
}

/// The migrations folders (the root's, then the members') and sqlx's offline data, from the
/// files git lists.
fn sqlx_files(tree: &Tree, d: &mut Detected) {
    let count = |dir: &str| tree.files.iter().filter(|p| p.starts_with(&format!("{dir}/"))).count();
    let mut dirs = vec![String::new()];
    dirs.extend(d.members.iter().filter(|m| !m.dir.is_empty()).map(|m| m.dir.clone()));
    for dir in &dirs {
        let member = Member { name: String::new(), dir: dir.clone() };
        let migrations = member.join("migrations");
        let n = count(&migrations);
        if n > 0 {
            d.migrations.push((migrations, n));
        }
        let data = member.join(".sqlx");
        if count(&data) > 0 {
            let tracked = tree.tracked.iter().any(|p| p.starts_with(&format!("{data}/")));
            d.sqlx_data.push((data, tracked));
        }
    }
}

/// The workspace's Rust files (not the xtask's): the `config` crate's environment source, and
/// where `DATABASE_URL` is read.
fn sources(root: &Path, tree: &Tree, d: &mut Detected) -> Result<()> {
    for path in tree.select(|p| p.ends_with(".rs") && !p.starts_with("xtask/")) {
        let text = read(root, path)?;
        if text.contains("Environment::")
            && let Some(scheme) = EnvScheme::find(path, &text)
        {
            match d.env_scheme {
                None => d.env_scheme = Some(scheme),
                Some(_) => d.other_schemes.push(scheme.at),
            }
        }
        for (at, _) in text.match_indices("\"DATABASE_URL\"") {
            d.database_url.push(Evidence::at(path, text[..at].matches('\n').count() + 1));
        }
    }
    Ok(())
}

/// The env files at the root: which name `DATABASE_URL`, which hold a server's URL, and the
/// templates' values. `.env` itself is read for names and URL schemes only, never a value.
fn env_files(root: &Path, d: &mut Detected) -> Result<()> {
    for file in ENV_FILES {
        if !root.join(file).is_file() {
            continue;
        }
        let text = read(root, file)?;
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            let line = line.strip_prefix("export ").unwrap_or(line);
            let Some((name, value)) = line.split_once('=') else { continue };
            let name = name.trim();
            if name.starts_with('#') || name.is_empty() {
                continue;
            }
            let value = value.trim().trim_matches(['"', '\'']);
            let at = Evidence::at(file, i + 1);
            let scheme = if value.starts_with("postgres://") || value.starts_with("postgresql://") {
                Some("postgres")
            } else if value.starts_with("redis://") || value.starts_with("rediss://") {
                Some("redis")
            } else {
                None
            };
            if name == "DATABASE_URL" {
                d.database_url.push(at.clone());
                if let Some(s) = value.split_once("://").map(|(s, _)| s.to_owned()) {
                    d.database_url_scheme.get_or_insert(s);
                }
            } else if let Some(scheme) = scheme
                && !d.url_variables.iter().any(|v| v.name == name)
            {
                d.url_variables.push(UrlVariable { name: name.to_owned(), scheme, at: at.clone() });
            }
            if file != ".env" && !d.template_values.iter().any(|v| v.name == name) {
                d.template_values.push(TemplateValue { name: name.to_owned(), value: value.to_owned(), at });
            }
        }
    }
    Ok(())
}

/// The keys of the configuration files (`configuration/*`, `config/*`, at the root or in a
/// member), when the workspace reads settings with the `config` crate.
fn config_files(root: &Path, tree: &Tree, d: &mut Detected) -> Result<()> {
    if d.config_crate.is_empty() && d.env_scheme.is_none() {
        return Ok(());
    }
    let mut folders = Vec::new();
    for m in &d.members {
        folders.push(m.join("configuration"));
        folders.push(m.join("config"));
    }
    if !d.members.iter().any(|m| m.dir.is_empty()) {
        folders.extend(["configuration".to_owned(), "config".to_owned()]);
    }
    let config_file = |p: &str| {
        let (dir, name) = p.rsplit_once('/').unwrap_or(("", p));
        folders.iter().any(|f| f == dir) && [".yaml", ".yml", ".toml", ".json"].iter().any(|ext| name.ends_with(ext))
    };
    for path in tree.select(config_file) {
        d.config_keys.extend(config::keys(path, &read(root, path)?).map_err(anyhow::Error::msg)?);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dependency_s_line_in_its_manifest() {
        let manifest = "[package]\nname = \"app\"\n\n[dependencies]\nconfig = \"0.14\"\nsqlx = { workspace = true }\n\
                        \n[dependencies.redis]\nversion = \"0.27\"\n";
        assert_eq!(mention(manifest, "sqlx"), 6);
        assert_eq!(mention(manifest, "config"), 5);
        assert_eq!(mention(manifest, "redis"), 8);
        assert_eq!(mention(manifest, "tokio"), 0);
        assert_eq!(mention("name = \"sqlx-demo\"\n", "sqlx"), 0);
    }

    #[test]
    fn a_member_s_paths() {
        let root = Member { name: "svc".into(), dir: String::new() };
        let app = Member { name: "app".into(), dir: "app".into() };
        assert_eq!((root.join("src/**"), app.join("src/**")), ("src/**".to_owned(), "app/src/**".to_owned()));
    }
}
