//! One definition of every gate: the pre-commit hooks and the CI workflow must call exactly
//! the xtask's own gates (`xtask::gates::ci::GATES`), with the same commands, in the same order;
//! the docs list them in that order.

mod support;

use std::path::Path;

use xtask::gates::ci::GATES;
use xtask::lint::yaml::{self, Node};

fn load(path: &str) -> Node {
    let full = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path);
    let text = std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut docs = yaml::parse(&text).unwrap_or_else(|e| panic!("{path}:{}: {}", e.line, e.message));
    assert_eq!(docs.len(), 1, "{path}: one YAML document");
    docs.remove(0)
}

fn text<'a>(node: &'a Node, key: &str) -> Option<&'a str> {
    node.get(key).and_then(Node::scalar)
}

/// Every `cargo xtask …` command a workflow job runs.
fn xtask_runs(job: &Node) -> Vec<String> {
    job.get("steps")
        .map(Node::items)
        .unwrap_or_default()
        .iter()
        .filter_map(|step| text(step, "run"))
        .flat_map(str::lines)
        .map(str::trim)
        .filter(|line| line.starts_with("cargo xtask"))
        .map(str::to_owned)
        .collect()
}

/// Flags CI may add to a gate command: where the inputs come from, where reports (and the pull
/// request's comment) go and which part of the suite a matrix job runs, never the policy
/// (thresholds, accepted ages, which checks run), so CI judges what a hook judges. Each but
/// `--fetch` takes a value.
const CI_ONLY_FLAGS: [&str; 6] = ["--fetch", "--sarif", "--file", "--output", "--partition", "--comment"];

/// The command without the CI-only flags (and their values).
fn gate_of(command: &str) -> String {
    let mut words = command.split_whitespace();
    let mut kept = Vec::new();
    while let Some(w) = words.next() {
        let flag = w.split('=').next().unwrap_or(w);
        if !CI_ONLY_FLAGS.contains(&flag) {
            kept.push(w);
        } else if flag == w && w != "--fetch" {
            words.next();
        }
    }
    kept.join(" ")
}

#[test]
fn ci_only_flags_are_transport_not_policy() {
    assert_eq!(gate_of("cargo xtask security --fetch --sarif out.sarif"), "cargo xtask security");
    assert_eq!(gate_of("cargo xtask security --accept-stale-db"), "cargo xtask security --accept-stale-db");
    assert_eq!(gate_of("cargo xtask coverage --file 'a/*.xml' --diff --output=c.xml"), "cargo xtask coverage --diff");
    assert_eq!(gate_of("cargo xtask coverage --partition \"$P\""), "cargo xtask coverage");
    assert_eq!(gate_of("cargo xtask coverage --diff --comment dir"), "cargo xtask coverage --diff");
}

/// The gates whose CI job is a matrix of shards (`<gate>-shards`) followed by the job that
/// merges and grades them (`<gate>`).
const SHARDED: [&str; 1] = ["coverage"];

/// Jobs outside the gates' chain: they run on pull requests only, after the job named (the
/// mutants of the change, too slow for every push).
const PULL_REQUEST_ONLY: [(&str, &str); 1] = [("mutants", "coverage")];

#[test]
fn workflow_jobs_are_the_xtask_gates_in_order_each_running_its_gate() {
    let workflow = load(".github/workflows/ci.yml");
    let jobs = workflow.get("jobs").expect("jobs").entries();
    let jobs: Vec<_> =
        jobs.iter().filter(|(k, _)| !PULL_REQUEST_ONLY.iter().any(|(name, _)| k.scalar() == Some(name))).collect();
    let names: Vec<&str> = jobs.iter().filter_map(|(k, _)| k.scalar()).collect();
    let expected: Vec<String> = GATES
        .iter()
        .flat_map(
            |g| if SHARDED.contains(g) { vec![format!("{g}-shards"), g.to_string()] } else { vec![g.to_string()] },
        )
        .collect();
    assert_eq!(
        names, expected,
        "one CI job per gate (a sharded gate: its shards, then its merge), in the xtask's order"
    );
    for (i, (_, job)) in jobs.iter().enumerate() {
        let name = names[i];
        let gate = name.strip_suffix("-shards").unwrap_or(name);
        let runs = xtask_runs(job);
        assert_eq!(runs.len(), 1, "job {name}: one gate step: {runs:?}");
        let command = gate_of(&runs[0]);
        let words: Vec<&str> = command.split_whitespace().collect();
        assert_eq!(words[..3], ["cargo", "xtask", gate], "job {name}: its gate step is the xtask command");
        assert!(words[3..].iter().all(|w| w.starts_with("--")), "job {name}: flags at most: {command}");
        let needs = text(job, "needs");
        assert_eq!(needs, i.checked_sub(1).map(|p| names[p]), "job {name}: `needs` chains the jobs in order");
    }
}

/// The jobs whose gate the verdict cache answers (with the gate's default flags): each stores
/// `target/xtask-cache` with actions/cache, pinned, under the key of the gate's inputs, which a
/// step computes with `cargo xtask cache key <gate>` before the cache is restored. The security
/// job has none: it fetches a fresh advisory database every run (`--fetch`, never cached), so a
/// stored verdict could never answer it.
const CACHED_JOBS: [&str; 2] = ["lint", "test"];

#[test]
fn the_gates_the_cache_answers_restore_it_under_the_key_of_their_inputs() {
    let workflow = load(".github/workflows/ci.yml");
    let jobs = workflow.get("jobs").unwrap();
    for gate in CACHED_JOBS {
        let steps = jobs.get(gate).and_then(|j| j.get("steps")).map(Node::items).unwrap_or_default();
        let at = |found: &dyn Fn(&Node) -> bool, what: &str| {
            steps.iter().position(found).unwrap_or_else(|| panic!("job {gate}: no {what} step"))
        };
        let key = at(&|s| text(s, "id") == Some("verdict-key"), "`id: verdict-key`");
        assert_eq!(
            text(&steps[key], "run"),
            Some(format!("echo \"key=$(cargo xtask cache key {gate})\" >> \"$GITHUB_OUTPUT\"").as_str()),
            "job {gate}: the key of the gate's own inputs"
        );
        let cache = at(&|s| text(s, "uses").is_some_and(|u| u.starts_with("actions/cache@")), "actions/cache");
        let uses = text(&steps[cache], "uses").unwrap();
        let sha = uses.strip_prefix("actions/cache@").unwrap();
        assert!(sha.len() == 40 && sha.chars().all(|c| c.is_ascii_hexdigit()), "job {gate}: pinned by SHA: {uses}");
        let with = steps[cache].get("with").expect("actions/cache with");
        assert_eq!(text(with, "path"), Some("target/xtask-cache"), "job {gate}");
        assert_eq!(
            text(with, "key"),
            Some(format!("xtask-verdict-{gate}-${{{{ steps.verdict-key.outputs.key }}}}").as_str()),
            "job {gate}: one cache a gate, under its key"
        );
        let gate_step = at(&|s| text(s, "run").is_some_and(|r| r.starts_with(&format!("cargo xtask {gate}"))), "gate");
        assert!(key < cache && cache < gate_step, "job {gate}: the key, then the cache, then the gate");
    }
    let security = jobs.get("security").and_then(|j| j.get("steps")).map(Node::items).unwrap_or_default();
    assert!(
        !security.iter().any(|s| text(s, "uses").is_some_and(|u| u.starts_with("actions/cache@"))),
        "the security job fetches a fresh database: no verdict cache"
    );
    // The key is only ever read by `with:` (never spliced into a script: template injection).
    for (name, job) in jobs.entries() {
        for step in job.get("steps").map(Node::items).unwrap_or_default() {
            let run = text(step, "run").unwrap_or_default();
            assert!(!run.contains("steps.verdict-key"), "job {:?}: the key reaches scripts through env", name.scalar());
        }
    }
}

/// The coverage matrix: N shards (the count written once, read back as `strategy.job-total`),
/// each uploading the report `--partition` writes; the merge job grades exactly those files.
#[test]
fn the_coverage_shards_are_one_matrix_and_the_merge_grades_what_they_upload() {
    let workflow = load(".github/workflows/ci.yml");
    let jobs = workflow.get("jobs").unwrap();
    let shards = jobs.get("coverage-shards").expect("a coverage-shards job");
    let matrix: Vec<&str> = shards
        .get("strategy")
        .and_then(|s| s.get("matrix"))
        .and_then(|m| m.get("shard"))
        .map(Node::items)
        .unwrap_or_default()
        .iter()
        .filter_map(Node::scalar)
        .collect();
    let count = matrix.len();
    assert!(count >= 2, "at least two shards: {matrix:?}");
    let numbered: Vec<String> = (1..=count).map(|i| i.to_string()).collect();
    assert_eq!(matrix, numbered, "the shards are 1..=N, each once");
    let fail_fast = shards.get("strategy").and_then(|s| s.get("fail-fast")).and_then(Node::scalar);
    assert_eq!(fail_fast, Some("false"), "every shard reports, not only the first to fail");
    let env = shards.get("env").expect("the shard job's env");
    assert_eq!(
        text(env, "PARTITION"),
        Some("${{ matrix.shard }}/${{ strategy.job-total }}"),
        "the count is the matrix's length, not a second number to keep in step"
    );
    assert_eq!(xtask_runs(shards), ["cargo xtask coverage --partition \"$PARTITION\""]);

    // What a shard writes (the `shards` setting) is what it uploads.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let folder = xtask::settings::Settings::load(&cargo, root).unwrap().coverage.shards;
    let folder = folder.strip_prefix(root).unwrap().to_str().unwrap().to_owned();
    let steps = shards.get("steps").unwrap().items();
    let upload = steps
        .iter()
        .find(|s| text(s, "uses").is_some_and(|u| u.starts_with("actions/upload-artifact@")))
        .expect("each shard uploads its report");
    assert_eq!(text(upload, "if"), Some("always()"), "a shard whose tests failed still uploads what it measured");
    let with = upload.get("with").unwrap();
    assert_eq!(text(with, "path").map(|p| p.trim_end_matches('/')), Some(folder.as_str()));
    assert_eq!(text(with, "name"), Some("coverage-shard-${{ matrix.shard }}"));

    let merge = jobs.get("coverage").unwrap();
    let download = merge
        .get("steps")
        .unwrap()
        .items()
        .iter()
        .find(|s| text(s, "uses").is_some_and(|u| u.starts_with("actions/download-artifact@")))
        .expect("the merge job downloads the shards");
    let with = download.get("with").unwrap();
    assert_eq!(text(with, "pattern"), Some("coverage-shard-*"));
    assert_eq!(text(with, "merge-multiple"), Some("true"));
    let into = text(with, "path").expect("a download folder");
    let gate = &xtask_runs(merge)[0];
    assert!(gate.contains(&format!("--file '{into}/*.xml'")), "the merge grades every downloaded shard: {gate}");
    assert!(gate.contains("--output coverage.xml"), "the merged report is kept: {gate}");
}

#[test]
fn pre_commit_hooks_run_the_same_commands_as_ci() {
    let config = load(".pre-commit-config.yaml");
    let repos = config.get("repos").expect("repos").items();
    let workflow = load(".github/workflows/ci.yml");
    let ci_commands: Vec<String> = workflow
        .get("jobs")
        .unwrap()
        .entries()
        .iter()
        .flat_map(|(_, job)| xtask_runs(job))
        .map(|c| gate_of(&c))
        .collect();
    let mut hooks = Vec::new();
    for repo in repos {
        for hook in repo.get("hooks").map(Node::items).unwrap_or_default() {
            let id = text(hook, "id").expect("hook id");
            let entry = text(hook, "entry").unwrap_or_default();
            if !entry.starts_with("cargo xtask") {
                continue;
            }
            assert_eq!(text(repo, "repo"), Some("local"), "{id}: gate hooks are local");
            assert!(GATES.contains(&id), "hook {id} is not one of the xtask's gates {GATES:?}");
            let gate = format!("cargo xtask {id}");
            assert!(
                entry == gate || entry.starts_with(&format!("{gate} --")),
                "hook {id}: the gate's command (with flags at most): {entry}"
            );
            assert!(ci_commands.contains(&entry.to_owned()), "hook {id}: CI runs `{entry}` too");
            assert_eq!(text(hook, "language"), Some("system"), "hook {id}");
            assert_eq!(text(hook, "pass_filenames"), Some("false"), "hook {id}: one cargo process, not one per file");
            let stages: Vec<&str> =
                hook.get("stages").map(Node::items).unwrap_or_default().iter().filter_map(Node::scalar).collect();
            hooks.push((id.to_owned(), stages));
        }
    }
    let stage = |id: &str| hooks.iter().find(|(h, _)| h == id).map(|(_, s)| s.clone());
    assert_eq!(stage("lint"), Some(vec!["pre-commit"]), "lint runs on every commit");
    assert_eq!(stage("coverage"), Some(vec!["pre-push"]), "the coverage run (the whole suite) waits for the push");
    assert_eq!(stage("security"), Some(vec!["pre-push"]), "the security gate runs clippy: it waits for the push too");
    assert_eq!(stage("smoke"), None, "the smoke gate builds an image and runs the stack: CI only, not a hook");
}

#[test]
fn the_patch_gate_runs_before_a_push_and_on_pull_requests_with_the_history_it_needs() {
    let config = load(".pre-commit-config.yaml");
    let hooks: Vec<&Node> = config
        .get("repos")
        .unwrap()
        .items()
        .iter()
        .flat_map(|r| r.get("hooks").map(Node::items).unwrap_or_default())
        .collect();
    let coverage = hooks.iter().find(|h| text(h, "id") == Some("coverage")).expect("a coverage hook");
    assert_eq!(text(coverage, "entry"), Some("cargo xtask coverage --diff"), "the hook judges the change too");

    let workflow = load(".github/workflows/ci.yml");
    let job = workflow.get("jobs").unwrap().get("coverage").expect("a coverage job");
    let steps = job.get("steps").unwrap().items();
    assert_eq!(
        xtask_runs(job).iter().map(|c| gate_of(c)).collect::<Vec<_>>(),
        ["cargo xtask coverage --diff"],
        "the coverage job runs the patch gate (on a pull request, against its base)"
    );
    let checkout = steps
        .iter()
        .find(|s| text(s, "uses").is_some_and(|u| u.starts_with("actions/checkout@")))
        .expect("a checkout step");
    let depth = checkout.get("with").and_then(|w| w.get("fetch-depth")).and_then(Node::scalar);
    assert_eq!(depth, Some("0"), "the merge base needs the history: a shallow clone would be exit 2");
}

#[test]
fn every_listed_gate_is_a_working_subcommand() {
    for gate in GATES {
        let mut c = support::xtask();
        c.args([gate, "--help"]);
        let run = support::run(c);
        assert_eq!(run.code, 0, "cargo xtask {gate} --help: {run:?}");
        assert!(run.stdout.contains(&format!("Usage: cargo xtask {gate}")), "{run:?}");
    }
}

/// The docs list the gates as `GATES` does, in its order: the tables of gate commands in the
/// README and docs/quality-gates.md, and every `lint → test → …` chain there and in the help.
#[test]
fn the_docs_list_the_gates_in_their_order() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let chain = GATES.join(" → ");
    let mut help = support::xtask();
    help.arg("--help");
    let help = support::run(help).stdout;
    let mut texts = vec![("cargo xtask --help", help)];
    for doc in ["README.md", "docs/quality-gates.md"] {
        let text = std::fs::read_to_string(root.join(doc)).unwrap_or_else(|e| panic!("{doc}: {e}"));
        let table: Vec<&str> = (text.lines())
            .filter(|l| l.starts_with('|'))
            .filter_map(|l| l.split("`cargo xtask ").nth(1)?.split('`').next())
            .filter(|command| GATES.contains(command))
            .collect();
        assert_eq!(table, GATES, "{doc}: the table of gates, in the xtask's order");
        texts.push((doc, text));
    }
    for (name, text) in texts {
        let text = text.replace('`', "");
        let chains: Vec<&str> = text.match_indices("lint → ").map(|(at, _)| &text[at..]).collect();
        assert!(!chains.is_empty(), "{name}: the gates' order, as {chain}");
        for found in chains {
            assert!(found.starts_with(&chain), "{name}: {} is not {chain}", found.lines().next().unwrap());
        }
    }
}

/// The probe paths the xtask waits for (`[workspace.metadata.xtask.compose]`) are the ones the
/// app serves (`app/src/routes/health.rs`): a renamed route fails here, not in a smoke run.
#[test]
fn the_probe_settings_are_the_apps_routes() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let settings = xtask::settings::Settings::load(&cargo, root).unwrap().compose;
    let health = std::fs::read_to_string(root.join("app/src/routes/health.rs")).unwrap();
    let constant = |name: &str| {
        let prefix = format!("pub const {name}: &str = \"");
        let line = health.lines().find_map(|l| l.trim().strip_prefix(&prefix)).unwrap_or_else(|| panic!("{name}"));
        line.trim_end_matches("\";").to_owned()
    };
    assert_eq!(settings.live_path, constant("LIVE_PATH"));
    assert_eq!(settings.ready_path, constant("READY_PATH"));
}

/// The mutants of a pull request's change: after the coverage merge, on pull requests only, a
/// full coverage run (the shards record no per-test map) and then `cargo xtask mutants --diff`,
/// with the history the merge base needs; the report kept, read-only.
#[test]
fn pull_requests_mutate_their_change_after_the_coverage_merge() {
    let workflow = load(".github/workflows/ci.yml");
    let jobs = workflow.get("jobs").unwrap();
    for (name, after) in PULL_REQUEST_ONLY {
        let job = jobs.get(name).unwrap_or_else(|| panic!("a {name} job"));
        assert_eq!(text(job, "needs"), Some(after), "job {name}");
        assert_eq!(text(job, "if"), Some("github.event_name == 'pull_request'"), "job {name}: pull requests only");
    }
    let job = jobs.get("mutants").unwrap();
    assert_eq!(xtask_runs(job), ["cargo xtask coverage", "cargo xtask mutants --diff"]);
    let steps = job.get("steps").map(Node::items).unwrap_or_default();
    let checkout = steps.iter().find(|s| text(s, "uses").is_some_and(|u| u.starts_with("actions/checkout@"))).unwrap();
    assert_eq!(text(checkout.get("with").unwrap(), "fetch-depth"), Some("0"), "the merge base is in the history");
    let keep = steps.iter().find(|s| text(s, "uses").is_some_and(|u| u.starts_with("actions/upload-artifact@")));
    let keep = keep.expect("the report is kept");
    assert_eq!(text(keep, "if"), Some("always()"), "also when the gate failed");
    assert_eq!(text(keep.get("with").unwrap(), "path"), Some("target/xtask-mutants/report.json"));
    assert_eq!(text(job.get("permissions").unwrap(), "contents"), Some("read"));
}

/// The weekly mutants: the whole workspace on main, split across a matrix whose size is
/// written once (`--shard` reads it back as `strategy.job-total`), each shard's report kept.
#[test]
fn a_weekly_run_mutates_the_whole_workspace_in_shards() {
    let workflow = load(".github/workflows/mutants-weekly.yml");
    let on = workflow.get("on").expect("triggers");
    assert_eq!(on.get("schedule").map(Node::items).map(|s| s.len()), Some(1), "one schedule");
    assert!(on.get("workflow_dispatch").is_some(), "it can be run by hand");
    assert_eq!(workflow.get("permissions").map(Node::entries).map(<[_]>::len), Some(0), "no default permissions");
    let jobs = workflow.get("jobs").expect("jobs").entries();
    assert_eq!(jobs.len(), 1);
    let job = &jobs[0].1;
    assert_eq!(xtask_runs(job), ["cargo xtask coverage", "cargo xtask mutants --shard \"$SHARD\""]);
    let env = job.get("env").expect("env");
    assert_eq!(text(env, "SHARD"), Some("${{ matrix.shard }}/${{ strategy.job-total }}"));
    let shards = job.get("strategy").and_then(|s| s.get("matrix")).and_then(|m| m.get("shard")).map(Node::items);
    assert!(shards.is_some_and(|s| s.len() > 1), "a matrix of shards");
    let steps = job.get("steps").map(Node::items).unwrap_or_default();
    let checkout = steps.iter().find(|s| text(s, "uses").is_some_and(|u| u.starts_with("actions/checkout@"))).unwrap();
    assert_eq!(text(checkout.get("with").unwrap(), "ref"), Some("main"));
    let keep = steps.iter().find(|s| text(s, "uses").is_some_and(|u| u.starts_with("actions/upload-artifact@")));
    let with = keep.expect("each shard's report is kept").get("with").unwrap();
    assert_eq!(text(with, "path"), Some("target/xtask-mutants/report.json"));
    assert_eq!(text(with, "name"), Some("mutants-shard-${{ matrix.shard }}"));
}

/// The weekly run: the security gate alone, on main, with a fresh advisory database, read-only.
#[test]
fn a_weekly_run_audits_main_with_a_fresh_advisory_database() {
    let workflow = load(".github/workflows/security-weekly.yml");
    let on = workflow.get("on").expect("triggers");
    let crons: Vec<&str> =
        on.get("schedule").map(Node::items).unwrap_or_default().iter().filter_map(|s| text(s, "cron")).collect();
    assert_eq!(crons.len(), 1, "one schedule");
    let fields: Vec<&str> = crons[0].split_whitespace().collect();
    assert_eq!(fields.len(), 5, "{}", crons[0]);
    assert!(fields[..2].iter().all(|f| f.parse::<u32>().is_ok()), "one time of day: {}", crons[0]);
    assert_eq!(fields[2..4], ["*", "*"], "every month: {}", crons[0]);
    assert!(fields[4].parse::<u32>().is_ok_and(|d| d <= 6), "one day of the week: {}", crons[0]);
    assert!(on.get("workflow_dispatch").is_some(), "it can be run by hand");
    assert_eq!(workflow.get("permissions").map(Node::entries).map(<[_]>::len), Some(0), "no default permissions");

    let jobs = workflow.get("jobs").expect("jobs");
    let job = jobs.get("security").expect("the security job");
    let permissions: Vec<(&str, &str)> = job
        .get("permissions")
        .map(Node::entries)
        .unwrap_or_default()
        .iter()
        .filter_map(|(k, v)| Some((k.scalar()?, v.scalar()?)))
        .collect();
    assert_eq!(permissions, [("contents", "read")], "least privilege");
    assert_eq!(xtask_runs(job), ["cargo xtask security --fetch"]);
    assert_eq!(gate_of("cargo xtask security --fetch"), "cargo xtask security", "the CI job's gate");
    let checkout = job
        .get("steps")
        .map(Node::items)
        .unwrap_or_default()
        .iter()
        .find(|s| text(s, "uses").is_some_and(|u| u.starts_with("actions/checkout@")));
    let with = checkout.and_then(|s| s.get("with")).expect("checkout with");
    assert_eq!(text(with, "ref"), Some("main"));
    assert_eq!(text(with, "persist-credentials"), Some("false"));
}

/// Trivy scans the image CD pushed and, every week, the tree and `latest`: CRITICAL and HIGH,
/// unfixed ones left out, a finding fails the step, and each scan's SARIF is uploaded, also
/// when the scan failed. CodeQL analyses the Rust code with the security-extended queries.
#[test]
fn the_image_and_the_code_are_scanned_by_trivy_and_codeql() {
    let steps = |workflow: &Node, job: &str| -> Vec<Node> {
        let job = workflow.get("jobs").and_then(|j| j.get(job)).unwrap_or_else(|| panic!("job {job}"));
        job.get("steps").map(Node::items).unwrap_or_default().to_vec()
    };
    let uses = |s: &Node, action: &str| text(s, "uses").is_some_and(|u| u.starts_with(&format!("{action}@")));
    let check = |workflow: &str, job: &str, scans: usize| {
        let steps = steps(&load(workflow), job);
        let trivy: Vec<&Node> = steps.iter().filter(|s| uses(s, "aquasecurity/trivy-action")).collect();
        assert_eq!(trivy.len(), scans, "{workflow}");
        for scan in trivy {
            let with = scan.get("with").expect("with");
            assert_eq!(text(with, "severity"), Some("CRITICAL,HIGH"), "{workflow}");
            assert_eq!(text(with, "ignore-unfixed"), Some("true"), "{workflow}");
            assert_eq!(text(with, "format"), Some("sarif"), "{workflow}");
            assert_eq!(text(with, "exit-code"), Some("1"), "{workflow}: a finding fails the step");
            let output = text(with, "output").expect("output");
            let upload = (steps.iter())
                .find(|s| {
                    uses(s, "github/codeql-action/upload-sarif")
                        && s.get("with").and_then(|w| text(w, "sarif_file")) == Some(output)
                })
                .unwrap_or_else(|| panic!("{workflow}: {output} is uploaded"));
            assert!(text(upload, "if").is_some_and(|c| c.contains("always()")), "{workflow}: uploaded after a finding");
        }
    };
    check(".github/workflows/cd.yml", "scan", 1);
    check(".github/workflows/security-weekly.yml", "trivy", 2);
    let cd = load(".github/workflows/cd.yml");
    let scan = cd.get("jobs").and_then(|j| j.get("scan")).unwrap();
    assert_eq!(text(scan, "needs"), Some("build-push"), "the image pushed");
    let deploy = cd.get("jobs").and_then(|j| j.get("deploy")).unwrap();
    assert_eq!(text(deploy, "needs"), Some("build-push"), "a finding does not hold the deploy back");

    let codeql = steps(&load(".github/workflows/codeql.yml"), "analyze");
    let init = codeql.iter().find(|s| uses(s, "github/codeql-action/init")).expect("init");
    let with = init.get("with").expect("with");
    assert_eq!(text(with, "languages"), Some("rust"));
    assert_eq!(text(with, "queries"), Some("security-extended"));
    assert!(codeql.iter().any(|s| uses(s, "github/codeql-action/analyze")));
}

/// CD deploys with scripts/deploy.sh, nothing inline, and by hand through workflow_dispatch
/// with the same script; the commit reaches the script through the environment only.
#[test]
fn cd_deploys_with_the_script_after_a_build_or_by_hand() {
    let workflow = load(".github/workflows/cd.yml");
    let on = workflow.get("on").expect("triggers");
    assert!(on.get("workflow_run").is_some());
    let commit = on.get("workflow_dispatch").and_then(|d| d.get("inputs")).and_then(|i| i.get("commit"));
    assert_eq!(commit.and_then(|c| text(c, "required")), Some("true"), "a manual deploy names its commit");

    let deploy = workflow.get("jobs").and_then(|j| j.get("deploy")).expect("the deploy job");
    let condition = text(deploy, "if").unwrap_or_default();
    assert!(condition.contains("workflow_dispatch") && condition.contains("needs.build-push.result"), "{condition}");
    let steps = deploy.get("steps").map(Node::items).unwrap_or_default();
    let ssh = steps.iter().find(|s| text(s, "uses").is_some_and(|u| u.starts_with("appleboy/ssh-action@"))).unwrap();
    let script = ssh.get("with").and_then(|w| text(w, "script")).unwrap();
    let lines: Vec<&str> = script.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    assert_eq!(
        lines,
        ["set -eu", r#"IMAGE="$IMAGE" DEPLOY_DIR="$DEPLOY_PATH" bash "$DEPLOY_PATH/scripts/deploy.sh" "sha-$COMMIT""#]
    );
    assert!(!script.contains("${{"), "no expression is inlined into the remote script");
    let env = ssh.get("env").and_then(|e| text(e, "COMMIT")).unwrap_or_default();
    assert!(env.contains("inputs.commit") && env.contains("workflow_run.head_sha"), "{env}");
    assert!(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/deploy.sh").is_file());
}

/// The coverage history is kept between runs as the test history is (actions/cache restore and
/// save, pinned alike, under a key of each run's own), at the path the `trend` setting gives:
/// every run restores it, only a run on the default branch saves it (the gate adds to it only
/// there), also when the gate failed; and the merged report's artifact carries the badge and
/// the chart.
#[test]
fn the_coverage_history_is_kept_from_the_default_branch_and_the_pictures_uploaded() {
    let workflow = load(".github/workflows/ci.yml");
    let jobs = workflow.get("jobs").unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let trend = xtask::settings::Settings::load(&cargo, root).unwrap().coverage.trend;
    let trend = trend.strip_prefix(root).unwrap().to_str().unwrap().to_owned();
    let history = format!("{trend}/history.jsonl");

    let steps = |job: &str| jobs.get(job).and_then(|j| j.get("steps")).map(Node::items).unwrap_or_default();
    let action = |steps: &[Node], action: &str, path: &str| -> Option<usize> {
        steps.iter().position(|s| {
            text(s, "uses").is_some_and(|u| u.starts_with(&format!("{action}@")))
                && s.get("with").and_then(|w| text(w, "path")) == Some(path)
        })
    };
    let coverage = steps("coverage");
    let restore = action(coverage, "actions/cache/restore", &history).expect("the coverage job restores the history");
    let save = action(coverage, "actions/cache/save", &history).expect("the coverage job saves the history");
    let gate = coverage.iter().position(|s| text(s, "run").is_some_and(|r| r.starts_with("cargo xtask coverage")));
    assert!(Some(restore) < gate && gate < Some(save), "restored, then the gate, then saved");
    assert_eq!(text(&coverage[restore], "if"), None, "every run restores it: a pull request's chart shows main's runs");
    assert_eq!(
        text(&coverage[save], "if"),
        Some("always() && github.ref_name == github.event.repository.default_branch"),
        "saved from the default branch only, the gate's verdict aside"
    );
    let with = |i: usize, key: &str| coverage[i].get("with").and_then(|w| text(w, key)).map(str::to_owned);
    let key = with(save, "key").expect("a key");
    assert_eq!(with(restore, "key").as_ref(), Some(&key));
    assert!(key.contains("${{ github.run_id }}-${{ github.run_attempt }}"), "a key of each run's own: {key}");
    let prefix = with(restore, "restore-keys").expect("restore-keys: the newest earlier copy");
    assert!(key.starts_with(&prefix), "{prefix} {key}");

    // Pinned as the test history's steps are.
    let tests = steps("test");
    let test_history = "target/xtask-tests/history.jsonl";
    for (action_name, ours) in [("actions/cache/restore", restore), ("actions/cache/save", save)] {
        let theirs = action(tests, action_name, test_history).expect("the test job keeps its history");
        assert_eq!(text(&coverage[ours], "uses"), text(&tests[theirs], "uses"), "{action_name}");
    }

    let upload = coverage
        .iter()
        .find(|s| text(s, "name") == Some("Keep the merged report"))
        .expect("the merged report's upload");
    assert_eq!(text(upload, "if"), Some("always()"));
    let paths: Vec<&str> =
        upload.get("with").and_then(|w| text(w, "path")).unwrap_or_default().lines().map(str::trim).collect();
    for file in
        ["coverage.xml".to_owned(), format!("{trend}/coverage-badge.svg"), format!("{trend}/coverage-trend.svg")]
    {
        assert!(paths.contains(&file.as_str()), "{file} in the artifact: {paths:?}");
    }
}

/// The indirect changes in CI: a push to the default branch keeps its merged report in the
/// Actions cache under the commit's id (a pull request's run cannot write that branch's cache),
/// at the path of the `base-report` setting; a pull request's run restores, by that exact key
/// (no prefix: another commit's report would misplace lines), the report of the merge base the
/// patch gate judges against, which the xtask names (`--diff --print-merge-base`, the gate's
/// own `--diff`). Pinned as the other cache steps are.
#[test]
fn the_merge_base_s_report_is_kept_from_the_default_branch_and_restored_under_its_commit() {
    let workflow = load(".github/workflows/ci.yml");
    let jobs = workflow.get("jobs").unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let setting = xtask::settings::Settings::load(&cargo, root).unwrap().coverage.base_report;
    let setting = setting.expect("this repository sets `base-report`");
    let path = setting.strip_prefix(root).unwrap().to_str().unwrap().to_owned();

    let steps = |job: &str| jobs.get(job).and_then(|j| j.get("steps")).map(Node::items).unwrap_or_default();
    let coverage = steps("coverage");
    let find = |what: &str, found: &dyn Fn(&Node) -> bool| -> usize {
        let at: Vec<usize> = (0..coverage.len()).filter(|&i| found(&coverage[i])).collect();
        assert_eq!(at.len(), 1, "one {what} step: {at:?}");
        at[0]
    };
    let cache = |action: &'static str| {
        move |s: &Node| {
            text(s, "uses").is_some_and(|u| u.starts_with(&format!("{action}@")))
                && s.get("with").and_then(|w| text(w, "key")).is_some_and(|k| k.starts_with("xtask-coverage-report-"))
        }
    };
    let merge_base = find("merge base", &|s| text(s, "id") == Some("merge-base"));
    let restore = find("restore", &cache("actions/cache/restore"));
    let gate = find("gate", &|s| text(s, "run").is_some_and(|r| r.starts_with("cargo xtask coverage")));
    let copy = find("copy", &|s| text(s, "run").is_some_and(|r| r.contains(&path)));
    let save = find("save", &cache("actions/cache/save"));
    assert!(
        merge_base < restore && restore < gate && gate < copy && copy < save,
        "{merge_base} {restore} {gate} {copy} {save}"
    );

    // The merge base is the xtask's, with the gate's own --diff (no BASE: the same one).
    let pull_request = Some("github.event_name == 'pull_request'");
    assert_eq!(text(&coverage[merge_base], "if"), pull_request);
    let lines: Vec<&str> = text(&coverage[merge_base], "run").unwrap().lines().collect();
    assert_eq!(
        lines,
        ["commit=$(cargo xtask coverage --diff --print-merge-base)", "echo \"commit=$commit\" >> \"$GITHUB_OUTPUT\""],
        "an assignment, so a failing xtask fails the step rather than giving an empty key that every report would match"
    );
    let command = text(&coverage[gate], "run").unwrap();
    assert!(command.contains(" --diff --"), "the gate's --diff names no BASE, as the merge base's: {command}");

    let with = |i: usize, key: &str| coverage[i].get("with").and_then(|w| text(w, key)).map(str::to_owned);
    assert_eq!(text(&coverage[restore], "if"), pull_request);
    assert_eq!(with(restore, "path").as_deref(), Some(path.as_str()), "restored where the `base-report` setting reads");
    assert_eq!(with(restore, "key").as_deref(), Some("xtask-coverage-report-${{ steps.merge-base.outputs.commit }}"));
    assert_eq!(with(restore, "restore-keys"), None, "the merge base's report or none");

    // Kept from the default branch only, also when the gate failed, when the gate wrote it.
    let kept =
        "always() && github.ref_name == github.event.repository.default_branch && hashFiles('coverage.xml') != ''";
    assert_eq!(text(&coverage[save], "if"), Some(kept));
    assert_eq!(text(&coverage[copy], "if"), Some(kept));
    assert!(command.contains("--output coverage.xml"), "{command}");
    assert_eq!(
        text(&coverage[copy], "run"),
        Some(format!("mkdir -p {} && cp coverage.xml {path}", Path::new(&path).parent().unwrap().display()).as_str()),
        "the merged report, where the pull requests restore it (a cache entry comes back where it was saved)"
    );
    assert_eq!(with(save, "path").as_deref(), Some(path.as_str()));
    assert_eq!(with(save, "key").as_deref(), Some("xtask-coverage-report-${{ github.sha }}"), "the commit's id");

    // No other cache key starts with this one's prefix, nor it with theirs: prefix matching
    // never crosses them.
    let mut keys = Vec::new();
    workflow.find_all("key", &mut keys);
    workflow.find_all("restore-keys", &mut keys);
    for (_, key) in keys {
        let key = key.scalar().unwrap_or_default();
        let ours = key.starts_with("xtask-coverage-report-");
        assert!(ours || !"xtask-coverage-report-".starts_with(key.split("${{").next().unwrap()), "{key}");
    }

    // Pinned as the test history's steps are, and the commit never spliced into a script.
    let tests = steps("test");
    for (action, ours) in [("actions/cache/restore", restore), ("actions/cache/save", save)] {
        let theirs = tests.iter().find(|s| text(s, "uses").is_some_and(|u| u.starts_with(&format!("{action}@"))));
        assert_eq!(text(&coverage[ours], "uses"), theirs.and_then(|s| text(s, "uses")), "{action}");
    }
    for step in coverage {
        let run = text(step, "run").unwrap_or_default();
        assert!(!run.contains("steps.merge-base"), "the commit reaches scripts through env only: {run}");
    }
}

/// A `uses:` pinned by a full commit SHA (`owner/repo@<40 hex> # vX`).
fn pinned_by_sha(uses: &str) -> bool {
    uses.split_once('@').is_some_and(|(_, sha)| sha.len() == 40 && sha.chars().all(|c| c.is_ascii_hexdigit()))
}

/// The pull request's comment: CI's coverage job writes it with its read-only token and keeps
/// it as an artifact on pull requests; coverage-comment.yml, on `workflow_run`, posts it with
/// `pull-requests: write`, from the default branch's code, the artifact read as data (never
/// checked out, run or interpolated into a script).
#[test]
fn the_coverage_comment_is_written_read_only_and_posted_from_the_default_branch() {
    let ci = load(".github/workflows/ci.yml");
    let coverage = ci.get("jobs").and_then(|j| j.get("coverage")).expect("a coverage job");
    let permissions: Vec<(&str, &str)> = (coverage.get("permissions").map(Node::entries).unwrap_or_default().iter())
        .filter_map(|(k, v)| Some((k.scalar()?, v.scalar()?)))
        .collect();
    assert_eq!(permissions, [("contents", "read")], "the job that writes the comment cannot post it");
    let gate = &xtask_runs(coverage)[0];
    let dir = gate.split("--comment ").nth(1).and_then(|r| r.split_whitespace().next()).expect("--comment DIR");
    let upload = (coverage.get("steps").unwrap().items().iter())
        .find(|s| {
            text(s, "uses").is_some_and(|u| u.starts_with("actions/upload-artifact@"))
                && s.get("with").and_then(|w| text(w, "name")) == Some("coverage-comment")
        })
        .expect("the coverage job keeps the comment as an artifact");
    assert_eq!(
        text(upload, "if"),
        Some("always() && github.event_name == 'pull_request'"),
        "on pull requests, pass or fail"
    );
    assert_eq!(upload.get("with").and_then(|w| text(w, "path")).map(|p| p.trim_end_matches('/')), Some(dir));

    let workflow = load(".github/workflows/coverage-comment.yml");
    let raw = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../.github/workflows/coverage-comment.yml"),
    )
    .unwrap();
    let on = workflow.get("on").expect("triggers");
    assert_eq!(on.entries().len(), 1, "workflow_run alone");
    let run = on.get("workflow_run").expect("on workflow_run");
    let names = |n: Option<&Node>| -> Vec<String> {
        n.map(Node::items).unwrap_or_default().iter().filter_map(Node::scalar).map(str::to_owned).collect()
    };
    assert_eq!(names(run.get("workflows")), [text(&ci, "name").unwrap()], "after the CI workflow");
    assert_eq!(names(run.get("types")), ["completed"]);
    assert_eq!(workflow.get("permissions").map(Node::entries).map(<[_]>::len), Some(0), "no default permissions");

    let jobs = workflow.get("jobs").expect("jobs").entries();
    assert_eq!(jobs.len(), 1);
    let job = &jobs[0].1;
    assert_eq!(text(job, "if"), Some("github.event.workflow_run.event == 'pull_request'"));
    let permissions: Vec<(&str, &str)> = (job.get("permissions").map(Node::entries).unwrap_or_default().iter())
        .filter_map(|(k, v)| Some((k.scalar()?, v.scalar()?)))
        .collect();
    assert_eq!(
        permissions,
        [("contents", "read"), ("actions", "read"), ("pull-requests", "write")],
        "least privilege: the default branch, the artifact, the comment"
    );
    let steps = job.get("steps").map(Node::items).unwrap_or_default();
    let pins: Vec<&str> = raw.lines().map(str::trim).filter(|l| l.contains("uses: ")).collect();
    let ci_text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../.github/workflows/ci.yml")).unwrap();
    for step in steps {
        if let Some(uses) = text(step, "uses") {
            assert!(pinned_by_sha(uses), "pinned by SHA: {uses}");
            let line = pins.iter().find(|l| l.contains(uses)).unwrap().trim_start_matches("- ");
            assert!(ci_text.contains(line), "{line}: pinned as ci.yml pins it");
        }
        // No script is ever given an expression: the event's text reaches it through env.
        if let Some(run) = text(step, "run") {
            assert!(!run.contains("${{"), "{run}");
        }
    }
    assert!(
        !steps.iter().any(|s| text(s, "uses").is_some_and(|u| u.contains("cache"))),
        "no cache a pull request's run could have written"
    );
    // The checkout is the default branch's, never the pull request's.
    let checkouts: Vec<&Node> =
        steps.iter().filter(|s| text(s, "uses").is_some_and(|u| u.starts_with("actions/checkout@"))).collect();
    assert_eq!(checkouts.len(), 1);
    let with = checkouts[0].get("with").expect("checkout with");
    assert_eq!(text(with, "ref"), Some("${{ github.event.repository.default_branch }}"));
    assert_eq!(text(with, "persist-credentials"), Some("false"));
    for head in ["workflow_run.head_sha", "workflow_run.head_branch", "pull_requests", "refs/pull"] {
        let used: Vec<&str> = raw.lines().filter(|l| l.contains(head) && !l.trim_start().starts_with('#')).collect();
        assert!(used.iter().all(|l| l.contains("group:")), "only the concurrency group names the head: {used:?}");
    }
    // The artifact of the triggering run, outside the checkout, then the poster on it.
    let download = (steps.iter())
        .find(|s| text(s, "uses").is_some_and(|u| u.starts_with("actions/download-artifact@")))
        .expect("the artifact is downloaded");
    let with = download.get("with").unwrap();
    assert_eq!(text(with, "name"), Some("coverage-comment"));
    assert_eq!(text(with, "run-id"), Some("${{ github.event.workflow_run.id }}"));
    let into = text(with, "path").unwrap();
    assert!(into.starts_with("${{ runner.temp }}/"), "outside the checkout: {into}");
    let id = text(download, "id").expect("the download step's id");
    let post = steps.last().unwrap();
    assert_eq!(text(post, "run"), Some("cargo xtask comment post --dir \"$COMMENT_DIR\""));
    assert_eq!(text(post, "if"), Some(format!("steps.{id}.outcome == 'success'").as_str()));
    let env = post.get("env").expect("the poster's env");
    assert_eq!(text(env, "COMMENT_DIR"), Some(into));
    assert_eq!(text(env, "GITHUB_TOKEN"), Some("${{ github.token }}"));

    // The trigger's finding is accepted in one place, with a reason, for this file alone.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let suppressions = std::fs::read_to_string(root.join("security.toml")).unwrap();
    assert!(
        suppressions.contains(
            "id = \"zizmor/dangerous-triggers\"\npath = \".github/workflows/coverage-comment.yml\"\nreason = "
        )
    );
}

/// The uptime check's workflow: scripts/uptime-check.sh on a schedule, no default permissions
/// (the job reads the repository, nothing else), actions pinned as ci.yml pins them, the
/// webhook's secret only in the probe's `env:`, and the last verdict carried between runs by
/// the Actions cache (restored before the probe, saved after it whatever it found).
#[test]
fn the_uptime_workflow_probes_on_a_schedule_with_the_secret_in_env_only() {
    let raw =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../.github/workflows/uptime.yml")).unwrap();
    let workflow = load(".github/workflows/uptime.yml");
    let on = workflow.get("on").expect("triggers");
    let crons: Vec<&str> =
        on.get("schedule").map(Node::items).unwrap_or_default().iter().filter_map(|s| text(s, "cron")).collect();
    assert_eq!(crons, ["*/5 * * * *"], "every 5 minutes, GitHub's shortest schedule");
    assert!(on.get("workflow_dispatch").is_some(), "it can be run by hand");
    assert_eq!(workflow.get("permissions").map(Node::entries).map(<[_]>::len), Some(0), "no default permissions");

    let jobs = workflow.get("jobs").expect("jobs").entries();
    assert_eq!(jobs.len(), 1);
    let job = &jobs[0].1;
    let permissions: Vec<(&str, &str)> = (job.get("permissions").map(Node::entries).unwrap_or_default().iter())
        .filter_map(|(k, v)| Some((k.scalar()?, v.scalar()?)))
        .collect();
    assert_eq!(permissions, [("contents", "read")], "least privilege: the checkout");
    let steps = job.get("steps").map(Node::items).unwrap_or_default();
    let ci_text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../.github/workflows/ci.yml")).unwrap();
    let pins: Vec<&str> = raw.lines().map(str::trim).filter(|l| l.contains("uses: ")).collect();
    for step in steps {
        if let Some(uses) = text(step, "uses") {
            assert!(pinned_by_sha(uses), "pinned by SHA: {uses}");
            let line = pins.iter().find(|l| l.contains(uses)).unwrap().trim_start_matches("- ");
            let line = line.trim_start_matches("uses: ");
            assert!(ci_text.contains(line), "{line}: pinned as ci.yml pins it");
        }
        if let Some(run) = text(step, "run") {
            assert!(!run.contains("${{"), "no expression in a script: {run}");
        }
    }
    let checkout = steps.iter().find(|s| text(s, "uses").is_some_and(|u| u.starts_with("actions/checkout@")));
    let with = checkout.and_then(|s| s.get("with")).expect("checkout with");
    assert_eq!(text(with, "ref"), Some("main"));
    assert_eq!(text(with, "persist-credentials"), Some("false"));

    let position = |pred: &dyn Fn(&Node) -> bool| steps.iter().position(pred).expect("the step");
    let restore = position(&|s| text(s, "uses").is_some_and(|u| u.starts_with("actions/cache/restore@")));
    let probe = position(&|s| text(s, "run") == Some("bash scripts/uptime-check.sh"));
    let save = position(&|s| text(s, "uses").is_some_and(|u| u.starts_with("actions/cache/save@")));
    assert!(restore < probe && probe < save, "restore, probe, save");
    assert_eq!(text(&steps[save], "if"), Some("always()"), "the verdict is kept when the app is down too");
    let cached = |i: usize| text(steps[i].get("with").unwrap(), "path").unwrap().to_owned();
    assert_eq!(cached(restore), cached(save));
    let env = steps[probe].get("env").expect("the probe's env");
    assert_eq!(text(env, "UPTIME_WEBHOOK_URL"), Some("${{ secrets.UPTIME_WEBHOOK_URL }}"));
    let state = text(env, "UPTIME_STATE_FILE").expect("the state file");
    assert!(state.starts_with(&format!("{}/", cached(save))), "the state file is in the cached folder: {state}");
    assert_eq!(raw.matches("secrets.").count(), 1, "the secret is named once, in the probe's env");
}
