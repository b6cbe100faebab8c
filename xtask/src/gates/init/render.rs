//! The text of what init writes: the settings table and the xtask's profile sections appended
//! to the root `Cargo.toml`, the pre-commit config, the CI workflow, the coverage comment's
//! workflow and the suppressions file that accepts its trigger. All but the settings are
//! templates under `xtask/templates/`, so they travel with the copied folder.

use super::plan::{Plan, Table};

/// The pre-commit hooks: the lint gate on commit, coverage (`--diff`) and security on push.
pub const PRE_COMMIT_TEMPLATE: &str = include_str!("../../../templates/pre-commit-config.yaml");
/// The CI workflow: lint → test → coverage (shards, then merge) → security, pinned by SHA.
pub const WORKFLOW_TEMPLATE: &str = include_str!("../../../templates/ci.yml");
/// The workflow that posts the pull request's coverage comment (`workflow_run`, after CI).
pub const COMMENT_WORKFLOW_TEMPLATE: &str = include_str!("../../../templates/coverage-comment.yml");
/// The security gate's suppressions: zizmor's finding on the comment workflow's trigger.
pub const SUPPRESSIONS_TEMPLATE: &str = include_str!("../../../templates/security.toml");
/// The xtask's `[profile.dev.package.*]` sections, after a comment that says why.
pub const PROFILES_TEMPLATE: &str = include_str!("../../../templates/profiles.toml");

/// The tables in the order they are written (a sub-table after its table).
const ORDER: [&str; 6] = ["test", "test.env", "compose", "compose.env", "coverage", "security"];

/// The plan's tables that have a key, in the order they are written.
pub fn tables(plan: &Plan) -> Vec<&Table> {
    let mut tables: Vec<&Table> = plan.tables.iter().filter(|t| !t.entries.is_empty()).collect();
    tables.sort_by_key(|t| ORDER.iter().position(|o| *o == t.name).unwrap_or(ORDER.len()));
    tables
}

/// The settings as TOML, each key under a comment that says why; empty without a table.
pub fn settings(plan: &Plan) -> String {
    let tables = tables(plan);
    if tables.is_empty() {
        return String::new();
    }
    let mut out = String::from(
        "# The quality gates' settings (`cargo xtask <gate>`), written by `cargo xtask init` from what it\n\
         # found in this workspace; each key says why. Yours to edit: init never changes them again.\n",
    );
    for (i, t) in tables.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&format!("[workspace.metadata.xtask.{}]\n", t.name));
        for e in &t.entries {
            out.push_str(&format!("# {}\n{} = {}\n", one_line(&e.why), e.key, e.value));
        }
    }
    out
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A section of the profiles template: its header (`[profile.dev.package.xtask]`) and text.
struct Section<'a> {
    header: Option<&'a str>,
    text: &'a str,
}

/// The template's blank-line separated blocks; a block without a header is its comment.
fn sections(template: &str) -> Vec<Section<'_>> {
    template
        .split("\n\n")
        .map(|block| Section {
            header: block.lines().map(str::trim).find(|l| l.starts_with('[')),
            text: block.trim_end_matches('\n'),
        })
        .collect()
}

/// A table header as written, without spaces and quotes (`[ profile.dev.package."x" ]` →
/// `[profile.dev.package.x]`).
fn normalised(header: &str) -> String {
    let header = header.split('#').next().unwrap_or_default();
    header.chars().filter(|c| !c.is_whitespace() && *c != '"' && *c != '\'').collect()
}

/// Every table and key path `manifest` defines, dotted and normalised (`profile.dev.package.x`,
/// `profile.dev.package.x.opt-level`), read line by line.
fn defined(manifest: &str) -> Vec<String> {
    let mut table = String::new();
    let mut out = Vec::new();
    for line in manifest.lines().map(normalised) {
        if let Some(header) = line.strip_prefix('[') {
            table = header.trim_matches(['[', ']']).to_owned();
            out.push(table.clone());
        } else if let Some((key, _)) = line.split_once('=') {
            out.push(if table.is_empty() { key.to_owned() } else { format!("{table}.{key}") });
        }
    }
    out
}

/// The profile sections `manifest` lacks (with the template's comment when there are any),
/// and the headers of those it has already, however written (a header, `[profile.dev.package]`
/// with a key a package, dotted keys): appending one of those would define it twice.
pub fn profiles(manifest: &str) -> (String, Vec<String>) {
    let defined = defined(manifest);
    let mut missing = Vec::new();
    let mut kept = Vec::new();
    let mut comment = None;
    for s in sections(PROFILES_TEMPLATE) {
        let Some(header) = s.header else {
            comment = Some(s.text);
            continue;
        };
        let path = normalised(header).trim_matches(['[', ']']).to_owned();
        let there = defined.iter().any(|d| d == &path || d.starts_with(&format!("{path}.")));
        if there {
            kept.push(header.to_owned());
        } else {
            missing.push(s.text);
        }
    }
    if missing.is_empty() {
        return (String::new(), kept);
    }
    let mut out = String::new();
    if let Some(c) = comment {
        out.push_str(c);
        out.push_str("\n\n");
    }
    out.push_str(&missing.join("\n\n"));
    out.push('\n');
    (out, kept)
}

/// The text appended to `manifest`: a blank line, then `parts` separated by blank lines (a
/// newline first when the file does not end with one).
pub fn appended(manifest: &str, parts: &[&str]) -> String {
    let parts: Vec<&str> = parts.iter().map(|p| p.trim_end_matches('\n')).filter(|p| !p.is_empty()).collect();
    if parts.is_empty() {
        return String::new();
    }
    let lead = match manifest {
        "" => "",
        m if m.ends_with("\n\n") => "",
        m if m.ends_with('\n') => "\n",
        _ => "\n\n",
    };
    format!("{lead}{}\n", parts.join("\n\n"))
}

/// The pre-commit config, its patch gate's base named.
pub fn pre_commit(branch: &str) -> String {
    PRE_COMMIT_TEMPLATE.replace("origin/main", &format!("origin/{branch}"))
}

/// The workflow, run on pushes to `branch`.
pub fn workflow(branch: &str) -> String {
    WORKFLOW_TEMPLATE
        .replace("branches: [main]", &format!("branches: [{branch}]"))
        .replace("origin/main", &format!("origin/{branch}"))
        .replace("push to main", &format!("push to {branch}"))
}

/// The workflow that posts the coverage comment: the same on every branch (it checks out the
/// repository's default branch, whatever its name).
pub fn comment_workflow() -> String {
    COMMENT_WORKFLOW_TEMPLATE.to_owned()
}

/// The suppressions file, its entry due for review on `expires` (YYYY-MM-DD).
pub fn suppressions(expires: &str) -> String {
    SUPPRESSIONS_TEMPLATE.replace("expires = 1970-01-01", &format!("expires = {expires}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gates::ci::GATES;
    use crate::gates::init::plan::Entry;
    use crate::lint::yaml::{self, Node};

    fn repository_file(path: &str) -> String {
        let full = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path);
        std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn settings_with_their_reasons_in_table_order() {
        let entry = |key: &str, value: &str, why: &str| Entry { key: key.into(), value: value.into(), why: why.into() };
        let plan = Plan {
            tables: vec![
                Table { name: "security", entries: vec![entry("source-paths", "[\"app/src/**\"]", "the code")] },
                Table {
                    name: "test.env",
                    entries: vec![entry("APP_DATABASE__PORT", "\"{db.port}\"", "a.yaml:5:\n port")],
                },
                Table { name: "test", entries: vec![entry("database", "true", "compose.yaml:2 runs PostgreSQL")] },
                Table { name: "compose", entries: Vec::new() },
            ],
            ..Plan::default()
        };
        let text = settings(&plan);
        let expected = "\
[workspace.metadata.xtask.test]
# compose.yaml:2 runs PostgreSQL
database = true

[workspace.metadata.xtask.test.env]
# a.yaml:5: port
APP_DATABASE__PORT = \"{db.port}\"

[workspace.metadata.xtask.security]
# the code
source-paths = [\"app/src/**\"]
";
        assert!(text.ends_with(expected), "{text}");
        assert!(text.starts_with("# The quality gates' settings"), "{text}");
        assert_eq!(settings(&Plan::default()), "");
        assert!(crate::lint::hygiene::toml_problem(&text).is_none(), "{text}");
    }

    #[test]
    fn appended_after_a_blank_line_ending_with_a_newline() {
        assert_eq!(appended("[workspace]\n", &["a\n", "b\n"]), "\na\n\nb\n");
        assert_eq!(appended("[workspace]", &["a\n"]), "\n\na\n");
        assert_eq!(appended("[workspace]\n\n", &["a\n", ""]), "a\n");
        assert_eq!(appended("[workspace]\n", &["", ""]), "");
    }

    #[test]
    fn the_profile_sections_a_manifest_lacks() {
        let (all, kept) = profiles("[workspace]\nmembers = []\n");
        assert!(kept.is_empty());
        assert!(all.starts_with("# The xtask's build profile"), "{all}");
        assert!(all.contains("[profile.dev.package.xtask-reader]\nopt-level = 3\n"), "{all}");
        assert!(all.ends_with("codegen-units = 1\n"), "{all}");
        let manifest = "[workspace]\n\n[ profile.dev.package.\"memchr\" ]\nopt-level = 2\n\n[profile.dev.package]\n\
                        regex-lite = { opt-level = 3 }\n";
        let (some, kept) = profiles(manifest);
        assert_eq!(kept, ["[profile.dev.package.memchr]", "[profile.dev.package.regex-lite]"]);
        assert!(!some.contains("memchr]") && !some.contains("regex-lite]"), "{some}");
        assert!(some.contains("[profile.dev.package.xtask]"), "{some}");
        let full = format!("{manifest}\n{all}");
        assert_eq!(profiles(&full).0, "", "a manifest with every section gets none");
        assert!(
            crate::lint::hygiene::toml_problem(&format!("[workspace]\n{}", appended("[workspace]\n", &[&all])))
                .is_none()
        );
    }

    /// The profile sections are the xtask's own, as this repository's Cargo.toml has them.
    #[test]
    fn the_profile_sections_are_this_repository_s() {
        let root = repository_file("Cargo.toml");
        let (missing, kept) = profiles(&root);
        assert_eq!(missing, "", "every section of xtask/templates/profiles.toml is in the root Cargo.toml");
        assert_eq!(kept.len(), sections(PROFILES_TEMPLATE).iter().filter(|s| s.header.is_some()).count());
        // With the same values: each section's keys as the root manifest writes them.
        let keys = |text: &str, header: &str| -> Vec<String> {
            let at = text.find(&format!("{header}\n")).unwrap_or_else(|| panic!("{header}"));
            (text[at + header.len() + 1..].lines())
                .take_while(|l| !l.trim().is_empty() && !l.starts_with('['))
                .filter(|l| !l.starts_with('#'))
                .map(str::to_owned)
                .collect()
        };
        for header in kept {
            assert_eq!(keys(PROFILES_TEMPLATE, &header), keys(&root, &header), "{header}");
        }
    }

    fn load(text: &str) -> Node {
        let mut docs = yaml::parse(text).unwrap();
        assert_eq!(docs.len(), 1);
        docs.remove(0)
    }

    fn steps(job: &Node) -> &[Node] {
        job.get("steps").map(Node::items).unwrap_or_default()
    }

    /// The workflow is this repository's, generalised: the gates in their order (smoke left
    /// out: it needs the app's image and probes), each job running its gate, every action pinned
    /// as this repository pins it (its own workflow is what the lint and security gates check).
    #[test]
    fn the_workflow_runs_the_gates_in_order_pinned_as_this_repository_s() {
        let text = workflow("trunk");
        let wf = load(&text);
        let jobs = wf.get("jobs").unwrap().entries();
        let names: Vec<&str> = jobs.iter().filter_map(|(k, _)| k.scalar()).collect();
        let gates: Vec<String> = (GATES.iter())
            .filter(|g| **g != "smoke")
            .flat_map(
                |g| if *g == "coverage" { vec![format!("{g}-shards"), g.to_string()] } else { vec![g.to_string()] },
            )
            .chain(["mutants".to_owned()])
            .collect();
        assert_eq!(names, gates);
        // The gates one after another; then the pull requests' mutants (their own test below).
        for (i, (_, job)) in jobs.iter().enumerate().take(gates.len() - 1) {
            let gate = names[i].trim_end_matches("-shards");
            let runs: Vec<&str> = steps(job)
                .iter()
                .filter_map(|s| s.get("run").and_then(Node::scalar))
                .filter(|r| r.starts_with(&format!("cargo xtask {gate}")))
                .collect();
            assert_eq!(runs.len(), 1, "job {}: one gate step", names[i]);
            let needs = job.get("needs").and_then(Node::scalar);
            assert_eq!(needs, i.checked_sub(1).map(|p| names[p]), "job {}", names[i]);
            assert_eq!(job.get("permissions").and_then(|p| p.get("contents")).and_then(Node::scalar), Some("read"));
        }
        assert_eq!(wf.get("permissions").map(Node::entries).map(<[_]>::len), Some(0), "no default permissions");
        let branches = wf.get("on").and_then(|o| o.get("push")).and_then(|p| p.get("branches")).unwrap();
        assert_eq!(branches.items().iter().filter_map(Node::scalar).collect::<Vec<_>>(), ["trunk"]);
        assert!(!text.contains("origin/main") && !text.contains("ClickNBack") && !text.contains("clicknback"));

        let ours = repository_file(".github/workflows/ci.yml");
        let pinned = |text: &str| -> Vec<String> {
            text.lines()
                .map(str::trim)
                .filter(|l| l.contains("uses: "))
                .map(|l| l.trim_start_matches("- ").to_owned())
                .collect()
        };
        let ours = pinned(&ours);
        let mut uses = Vec::new();
        wf.find_all("uses", &mut uses);
        assert!(uses.len() >= 10);
        for (_, u) in uses {
            let u = u.scalar().unwrap();
            assert_eq!(crate::lint::policy::unpinned_action(u), None, "{u}");
        }
        for line in pinned(&text) {
            assert!(ours.contains(&line), "{line}: not as .github/workflows/ci.yml pins it");
        }
        for persist in
            steps(&jobs[0].1).iter().filter_map(|s| s.get("with")).filter_map(|w| w.get("persist-credentials"))
        {
            assert_eq!(persist.scalar(), Some("false"));
        }
    }

    /// A node without its line numbers: what the YAML says, whatever its comments.
    fn bare(node: &Node) -> Node {
        use crate::lint::yaml::Value;
        let value = match &node.value {
            Value::Scalar { text, quoted } => Value::Scalar { text: text.clone(), quoted: *quoted },
            Value::Seq(items) => Value::Seq(items.iter().map(bare).collect()),
            Value::Map(entries) => Value::Map(entries.iter().map(|(k, v)| (bare(k), bare(v))).collect()),
        };
        Node { line: 0, value }
    }

    /// The mutants job is this repository's, step for step, but for the tests' PostgreSQL (a
    /// service there; here the gate starts the workspace's services, as the test gate does)
    /// and the tools this repository's own tests need: on a pull request only, once coverage
    /// passed, a full coverage run for the per-test map, then the change's mutants, the report
    /// kept.
    #[test]
    fn the_mutants_job_is_this_repository_s_on_pull_requests_after_coverage() {
        use crate::lint::yaml::Value;
        let job = |text: &str| {
            let mut job = bare(load(text).get("jobs").unwrap().get("mutants").unwrap());
            if let Value::Map(entries) = &mut job.value {
                entries.retain(|(k, _)| !matches!(k.scalar(), Some("services" | "env")));
                for (k, v) in entries.iter_mut() {
                    if let (Some("steps"), Value::Seq(steps)) = (k.scalar(), &mut v.value) {
                        steps.retain(|s| {
                            s.get("name").and_then(Node::scalar) != Some("Tools this repository's tests need")
                        });
                    }
                }
            }
            job
        };
        let ours = job(&workflow("main"));
        assert_eq!(ours, job(&repository_file(".github/workflows/ci.yml")));
        assert_eq!(ours.get("needs").and_then(Node::scalar), Some("coverage"));
        let runs: Vec<&str> = steps(&ours).iter().filter_map(|s| s.get("run").and_then(Node::scalar)).collect();
        assert_eq!(runs, ["cargo xtask coverage", "cargo xtask mutants --diff"]);
    }

    /// The coverage job is this repository's, step for step: the merge of the shards, the
    /// history, the merge base's report restored (and this commit's kept on the default
    /// branch) where the `base-report` setting init writes reads it, the pull request's
    /// comment as an artifact.
    #[test]
    fn the_coverage_job_is_this_repository_s_with_the_base_report_init_sets() {
        let job = |text: &str| bare(load(text).get("jobs").unwrap().get("coverage").unwrap());
        assert_eq!(job(&workflow("main")), job(&repository_file(".github/workflows/ci.yml")));
        let text = workflow("trunk");
        let wf = load(&text);
        let steps = steps(wf.get("jobs").unwrap().get("coverage").unwrap());
        let paths: Vec<&str> = (steps.iter())
            .filter(|s| s.get("uses").and_then(Node::scalar).is_some_and(|u| u.starts_with("actions/cache/")))
            .filter_map(|s| s.get("with")?.get("path")?.scalar())
            .filter(|p| p.contains("base"))
            .collect();
        assert_eq!(paths, [super::super::plan::BASE_REPORT; 2], "restored and kept where the setting reads");
        let root = repository_file("Cargo.toml");
        assert!(root.contains(&format!("\nbase-report = \"{}\"\n", super::super::plan::BASE_REPORT)), "as here");
        let gate = (steps.iter()).filter_map(|s| s.get("run").and_then(Node::scalar)).find(|r| r.contains("--comment"));
        assert!(gate.is_some_and(|g| g.ends_with("--comment coverage-comment")), "{gate:?}");
    }

    /// The comment's workflow is this repository's, whatever its comments say; the entry that
    /// accepts its trigger is this repository's too, due for review on the date given.
    #[test]
    fn the_comment_workflow_and_its_suppression_are_this_repository_s() {
        let ours = repository_file(".github/workflows/coverage-comment.yml");
        assert_eq!(bare(&load(&comment_workflow())), bare(&load(&ours)));
        let ci = load(&workflow("trunk"));
        let on = load(&comment_workflow());
        let names = on.get("on").and_then(|o| o.get("workflow_run")).and_then(|r| r.get("workflows")).unwrap();
        assert_eq!(names.items()[0].scalar(), ci.get("name").and_then(Node::scalar), "it follows the CI workflow");

        let text = suppressions("2031-02-28");
        let file = crate::security::suppress::Suppressions::parse(&text, "security.toml").unwrap();
        assert_eq!(file.entries.len(), 1);
        let entry = &file.entries[0];
        assert_eq!(entry.id, "zizmor/dangerous-triggers");
        assert_eq!(entry.path.as_deref(), Some(super::super::detect::COMMENT_WORKFLOW));
        assert_eq!(entry.expires.to_string(), "2031-02-28");
        let here = crate::security::suppress::Suppressions::parse(&repository_file("security.toml"), "s").unwrap();
        let here = here.entries.iter().find(|e| e.path == entry.path).expect("this repository accepts it too");
        assert_eq!((&here.id, &here.reason), (&entry.id, &entry.reason));
    }

    /// The hooks are this repository's: the same ids, commands and stages.
    #[test]
    fn the_pre_commit_hooks_are_this_repository_s() {
        let hooks = |text: &str| -> Vec<Vec<String>> {
            let config = load(text);
            let repos = config.get("repos").unwrap().items();
            (repos.iter().flat_map(|r| r.get("hooks").map(Node::items).unwrap_or_default()))
                .map(|h| {
                    ["id", "entry", "language", "pass_filenames", "always_run"]
                        .iter()
                        .map(|k| h.get(k).and_then(Node::scalar).unwrap_or_default().to_owned())
                        .chain(
                            h.get("stages")
                                .map(Node::items)
                                .unwrap_or_default()
                                .iter()
                                .filter_map(Node::scalar)
                                .map(str::to_owned),
                        )
                        .collect()
                })
                .collect()
        };
        let ours = hooks(&repository_file(".pre-commit-config.yaml"));
        assert_eq!(hooks(&pre_commit("main")), ours);
        assert_eq!(ours.len(), 3);
        assert!(pre_commit("trunk").contains("(origin/trunk)"));
    }
}
