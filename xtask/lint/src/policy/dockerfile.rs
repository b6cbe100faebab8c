//! The Dockerfile policies: `dockerfile-non-root` and `dockerfile-workspace-members`, over a
//! small Dockerfile reader (instructions, stages, WORKDIR, where each COPY puts a file).

use xtask_repo::files::{self, Tree};
use xtask_repo::glob;

use super::{Verdict, read_text, verdict};
use crate::{Finding, dockerignore};

// ---------------------------------------------------------------------------------------------
// dockerfile-non-root

pub(super) fn dockerfiles(tree: &Tree) -> Verdict {
    let paths = tree.select(files::is_dockerfile);
    if paths.is_empty() {
        return Verdict::NotApplicable("no Dockerfile yet".into());
    }
    let mut findings = Vec::new();
    for &path in &paths {
        match read_text(tree, path) {
            Ok(text) => findings.extend(dockerfile_user(path, &text)),
            Err(f) => findings.push(f),
        }
    }
    verdict(findings, &paths)
}

/// One Dockerfile instruction: its first line, the keyword in upper case, the arguments.
#[derive(Debug)]
struct Instruction {
    line: usize,
    keyword: String,
    args: String,
}

/// Instructions with continuation lines joined, comments and heredoc bodies skipped, and
/// the `# escape=` parser directive honoured.
fn instructions(text: &str) -> Vec<Instruction> {
    let mut escape = '\\';
    for l in text.lines() {
        let t = l.trim();
        let Some(directive) = t.strip_prefix('#') else { break };
        let d = directive.trim().to_ascii_lowercase();
        if let Some(v) = d.strip_prefix("escape").map(str::trim_start).and_then(|v| v.strip_prefix('=')) {
            escape = v.trim().chars().next().unwrap_or('\\');
        } else if !d.contains('=') {
            break;
        }
    }
    let mut out = Vec::new();
    let mut lines = text.lines().enumerate().peekable();
    while let Some((i, l)) = lines.next() {
        let t = l.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let mut full = String::from(t);
        while full.ends_with(escape) {
            full.pop();
            // Comment lines inside a continuation are dropped, as Docker does.
            let Some((_, next)) = lines.next() else { break };
            let n = next.trim();
            if !n.starts_with('#') {
                full.push(' ');
                full.push_str(n);
            }
        }
        let (keyword, args) = full.split_once(char::is_whitespace).unwrap_or((&full, ""));
        let args = args.trim().to_owned();
        if let Some(delimiter) = heredoc(&args) {
            for (_, body) in lines.by_ref() {
                if body.trim() == delimiter {
                    break;
                }
            }
        }
        out.push(Instruction { line: i + 1, keyword: keyword.to_ascii_uppercase(), args });
    }
    out
}

/// The delimiter of a heredoc (`RUN <<EOF`, `<<-"EOF"`), when the arguments start one.
fn heredoc(args: &str) -> Option<String> {
    let at = args.find("<<")?;
    let rest = args[at + 2..].trim_start_matches('-');
    let word: String =
        rest.trim_start_matches(['"', '\'']).chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
    (!word.is_empty()).then_some(word)
}

/// A FROM's stage name (`AS name`) and base image, both in lower case.
fn stage(from_args: &str) -> (Option<String>, String) {
    let words: Vec<&str> = from_args.split_whitespace().filter(|w| !w.starts_with("--")).collect();
    let image = words.first().copied().unwrap_or("").to_ascii_lowercase();
    let name = match words.as_slice() {
        [_, as_, name, ..] if as_.eq_ignore_ascii_case("as") => Some(name.to_ascii_lowercase()),
        _ => None,
    };
    (name, image)
}

fn dockerfile_user(path: &str, text: &str) -> Vec<Finding> {
    let instrs = instructions(text);
    // Stages: (index of FROM, stage name, base image).
    let mut stages: Vec<(usize, Option<String>, String)> = Vec::new();
    for (i, ins) in instrs.iter().enumerate() {
        if ins.keyword == "FROM" {
            let (name, image) = stage(&ins.args);
            stages.push((i, name, image));
        }
    }
    let Some(last) = stages.len().checked_sub(1) else {
        return vec![Finding::at(path, 1, "no FROM instruction: cannot tell which user the container runs as")];
    };
    // The final stage's last USER; a stage built `FROM` an earlier stage inherits its user.
    let mut stage = last;
    let mut seen = 0;
    loop {
        let start = stages[stage].0;
        let end = stages.get(stage + 1).map_or(instrs.len(), |s| s.0);
        if let Some(user) = instrs[start..end].iter().rev().find(|i| i.keyword == "USER") {
            let name = user.args.split_whitespace().next().unwrap_or("");
            let who = name.split(':').next().unwrap_or("");
            if who.is_empty() || who == "root" || who == "0" {
                return vec![Finding::at(
                    path,
                    user.line,
                    format!("the last USER is `{name}`: the container must run as a non-root user"),
                )];
            }
            return Vec::new();
        }
        let base = &stages[stage].2;
        match stages[..stage].iter().rposition(|s| s.1.as_deref() == Some(base.as_str())) {
            Some(parent) if seen < stages.len() => {
                stage = parent;
                seen += 1;
            }
            _ => break,
        }
    }
    let from = &instrs[stages[last].0];
    vec![Finding::at(
        path,
        from.line,
        "the final stage has no USER instruction, so the container runs as the base image's user (root \
         for most images): add `USER <non-root user>`",
    )]
}

// ---------------------------------------------------------------------------------------------
// dockerfile-workspace-members

pub(super) fn workspace_members(tree: &Tree) -> Verdict {
    let paths = tree.select(files::is_dockerfile);
    if paths.is_empty() {
        return Verdict::NotApplicable("no Dockerfile yet".into());
    }
    let manifests = match workspace_manifests_of(tree) {
        Ok(m) => m,
        Err(verdict) => return verdict,
    };
    let mut findings: Vec<Finding> = Vec::new();
    let mut checked = Vec::new();
    for &path in &paths {
        let ignore = ignore_file(tree, path);
        let (text, ignore) = match (read_text(tree, path), ignore) {
            (Ok(t), Ok(i)) => (t, i),
            (Err(f), _) | (_, Err(f)) => {
                findings.push(f);
                continue;
            }
        };
        let ignore = ignore.as_ref().map(|(p, pats)| (p.as_str(), pats.as_slice()));
        if let Some(found) = dockerfile_manifests(path, &text, ignore, &manifests) {
            checked.push(path);
            for f in found {
                if !findings.contains(&f) {
                    findings.push(f);
                }
            }
        }
    }
    if checked.is_empty() && findings.is_empty() {
        return Verdict::NotApplicable(format!("no stage of {} runs a cargo build", paths.join(", ")));
    }
    verdict(findings, &checked)
}

#[derive(serde::Deserialize)]
struct RootManifest {
    workspace: Option<WorkspaceTable>,
}

#[derive(serde::Deserialize)]
struct WorkspaceTable {
    #[serde(default)]
    members: Vec<String>,
    #[serde(default)]
    exclude: Vec<String>,
}

/// The manifests of the workspace at the root ([`workspace_manifests`]); the verdict to give
/// when there is none to check (no root Cargo.toml, no `[workspace]`) or it cannot be read.
pub(super) fn workspace_manifests_of(tree: &Tree) -> Result<Vec<String>, Verdict> {
    let root = "Cargo.toml";
    let text = match tree.files.iter().any(|p| p == root).then(|| read_text(tree, root)) {
        None => return Err(Verdict::NotApplicable("no Cargo.toml with a `[workspace]` at the root".into())),
        Some(Err(f)) => return Err(Verdict::Failed(vec![f])),
        Some(Ok(t)) => t,
    };
    match workspace_manifests(&text, &tree.files) {
        Ok(Some(m)) => Ok(m),
        Ok(None) => Err(Verdict::NotApplicable("the root Cargo.toml has no `[workspace]`".into())),
        Err(e) => Err(Verdict::Failed(vec![e])),
    }
}

/// The manifests cargo reads to load the workspace: the root's, then each member's (a glob
/// member is every folder it matches that has a Cargo.toml, minus `exclude`). `None` when the
/// root Cargo.toml has no `[workspace]`.
fn workspace_manifests(text: &str, files: &[String]) -> Result<Option<Vec<String>>, Finding> {
    let root: RootManifest = toml::from_str(text).map_err(|e| {
        let line = e.span().map_or(1, |s| crate::line_of(text.as_bytes(), s.start));
        Finding::at("Cargo.toml", line, format!("cannot check: not valid TOML: {}", e.message().trim()))
    })?;
    let Some(ws) = root.workspace else { return Ok(None) };
    let exclude: Vec<String> = ws.exclude.iter().map(|e| dockerignore::clean(e)).collect();
    let mut out = vec!["Cargo.toml".to_owned()];
    for member in &ws.members {
        let pattern = dockerignore::clean(member);
        let literal = !pattern.contains(['*', '?', '[']);
        for file in files {
            let Some(dir) = file.strip_suffix("/Cargo.toml") else { continue };
            let hit = if literal { dir == pattern } else { glob::matches(&pattern, dir) };
            let excluded = exclude.iter().any(|e| dir == e || dir.starts_with(&format!("{e}/")));
            if hit && (literal || !excluded) && !out.contains(file) {
                out.push(file.clone());
            }
        }
    }
    Ok(Some(out))
}

/// The ignore file BuildKit reads for `dockerfile`, its context taken to be the root:
/// `<Dockerfile>.dockerignore` beside it, else the root's `.dockerignore`.
fn ignore_file(tree: &Tree, dockerfile: &str) -> Result<Option<(String, Vec<dockerignore::Pattern>)>, Finding> {
    let own = format!("{dockerfile}.dockerignore");
    let Some(path) = [own.as_str(), ".dockerignore"].into_iter().find(|p| tree.files.iter().any(|f| f == p)) else {
        return Ok(None);
    };
    Ok(Some((path.to_owned(), dockerignore::parse(&read_text(tree, path)?))))
}

/// A COPY or ADD from the build context, resolved against the WORKDIR of its stage.
#[derive(Clone, Debug)]
struct ContextCopy {
    line: usize,
    sources: Vec<String>,
    /// Absolute and clean.
    dest: String,
    /// The destination is a folder: it ends in `/`, is the WORKDIR, or takes several sources.
    into_dir: bool,
    /// `--parents`: each source keeps its path from the context's root.
    parents: bool,
}

/// A builder stage: its first RUN that builds with cargo, the WORKDIR there, and the context
/// copies before it (with those of the stage it is built `FROM`, if any).
#[derive(Debug)]
struct Builder {
    line: usize,
    workdir: String,
    copies: Vec<ContextCopy>,
}

/// `path` resolved against the folder `dir` (absolute), cleaned.
fn resolve(dir: &str, path: &str) -> String {
    let path = path.trim_matches(['"', '\'']);
    dockerignore::clean(&if path.starts_with('/') { path.to_owned() } else { format!("{dir}/{path}") })
}

fn builders(text: &str) -> Vec<Builder> {
    // Finished stages: (name, last WORKDIR, every context copy), for the stages built from them.
    let mut done: Vec<(Option<String>, String, Vec<ContextCopy>)> = Vec::new();
    let mut out = Vec::new();
    let mut current: Option<(Option<String>, String, Vec<ContextCopy>, bool)> = None;
    for ins in instructions(text) {
        if ins.keyword == "FROM" {
            done.extend(current.take().map(|(name, workdir, copies, _)| (name, workdir, copies)));
            let (name, image) = stage(&ins.args);
            let parent = done.iter().rev().find(|s| s.0.as_deref() == Some(image.as_str()));
            let (workdir, copies) = parent.map_or(("/".to_owned(), Vec::new()), |p| (p.1.clone(), p.2.clone()));
            current = Some((name, workdir, copies, false));
            continue;
        }
        let Some((_, workdir, copies, built)) = current.as_mut() else { continue };
        match ins.keyword.as_str() {
            "WORKDIR" => *workdir = resolve(workdir, ins.args.trim()),
            "COPY" | "ADD" => copies.extend(context_copy(ins.line, &ins.args, workdir)),
            "RUN" if !*built && runs_cargo_build(&ins.args) => {
                *built = true;
                out.push(Builder { line: ins.line, workdir: workdir.clone(), copies: copies.clone() });
            }
            _ => {}
        }
    }
    out
}

/// A COPY or ADD (shell or JSON form) from the build context; `None` for `--from=` and heredocs.
fn context_copy(line: usize, args: &str, workdir: &str) -> Option<ContextCopy> {
    let mut rest = args.trim();
    let mut parents = false;
    while rest.starts_with("--") {
        let (flag, r) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
        if flag.starts_with("--from") {
            return None;
        }
        parents |= flag == "--parents" || flag == "--parents=true";
        rest = r.trim_start();
    }
    let words: Vec<String> = if rest.starts_with('[') {
        serde_json::from_str(rest).ok()?
    } else {
        rest.split_whitespace().map(|w| w.trim_matches(['"', '\'']).to_owned()).collect()
    };
    let (dest, sources) = words.split_last()?;
    if sources.is_empty() || sources.iter().any(|s| s.starts_with("<<")) {
        return None;
    }
    let abs = resolve(workdir, dest);
    let into_dir = dest.ends_with('/') || dest.ends_with("/.") || sources.len() > 1 || abs == workdir;
    let local = sources.iter().filter(|s| !s.contains("://") && !s.starts_with("git@")).cloned().collect();
    Some(ContextCopy { line, sources: local, dest: abs, into_dir, parents })
}

/// cargo subcommands that load the workspace.
const CARGO_BUILDS: [&str; 15] =
    ["build", "b", "check", "c", "test", "t", "bench", "run", "r", "rustc", "doc", "d", "clippy", "fetch", "vendor"];

/// Whether a RUN runs a cargo subcommand that loads the workspace. `cargo install` counts with
/// `--path` (else it builds a crate from a registry); `cargo chef cook` does not (it writes the
/// manifests from its recipe), `cargo chef prepare` does; `cargo auditable build` (cargo-auditable,
/// which embeds the dependency list) is the build it wraps.
fn runs_cargo_build(command: &str) -> bool {
    let text = command.replace(['&', '|', ';', '(', ')', '\n'], ";").replace(['[', ']', ',', '"', '\''], " ");
    text.split(';').any(|part| {
        let words: Vec<&str> = part.split_whitespace().collect();
        (0..words.len()).filter(|&at| files::base(words[at]) == "cargo").any(|at| {
            let mut args = words[at + 1..].iter().copied().skip_while(|w| w.starts_with('+') || w.starts_with('-'));
            match args.next() {
                Some(sub) if CARGO_BUILDS.contains(&sub) => true,
                Some("install") => args.any(|w| w == "--path" || w.starts_with("--path=")),
                Some("chef") => args.next() == Some("prepare"),
                Some("auditable") => args.find(|w| !w.starts_with('-')).is_some_and(|sub| CARGO_BUILDS.contains(&sub)),
                _ => false,
            }
        })
    })
}

/// Where `copy` puts the context file `file` (absolute paths): a source that is the file, a
/// folder holding it (a folder's contents are copied) or a glob matching either.
fn landings(copy: &ContextCopy, file: &str) -> Vec<String> {
    let mut out = Vec::new();
    for source in &copy.sources {
        let source = dockerignore::clean(source.trim_start_matches('/'));
        let glob = source.contains(['*', '?', '[']);
        // The file's folders, outermost first (`.` is the context), then the file itself.
        let mut spots: Vec<(&str, &str)> = vec![(".", file)];
        spots.extend(file.match_indices('/').map(|(i, _)| (&file[..i], &file[i + 1..])));
        spots.push((file, ""));
        let hit = spots.into_iter().find(|(spot, _)| {
            if glob { *spot != "." && dockerignore::matches(&source, spot) } else { source == *spot }
        });
        let Some((_, rest)) = hit else { continue };
        let at = if copy.parents {
            format!("{}/{file}", copy.dest)
        } else if !rest.is_empty() {
            format!("{}/{rest}", copy.dest)
        } else if copy.into_dir || glob {
            format!("{}/{}", copy.dest, files::base(file))
        } else {
            copy.dest.clone()
        };
        out.push(dockerignore::clean(&at));
    }
    out
}

/// The findings for one Dockerfile: a manifest that no context copy puts where its builder
/// stage's first cargo build looks for it, or that the ignore file keeps out. `None` when no
/// stage builds with cargo.
fn dockerfile_manifests(
    path: &str,
    text: &str,
    ignore: Option<(&str, &[dockerignore::Pattern])>,
    manifests: &[String],
) -> Option<Vec<Finding>> {
    let builders = builders(text);
    if builders.is_empty() {
        return None;
    }
    let mut out = Vec::new();
    for b in &builders {
        for manifest in manifests {
            out.extend(manifest_finding(path, b, ignore, manifest));
        }
    }
    Some(out)
}

fn manifest_finding(
    dockerfile: &str,
    b: &Builder,
    ignore: Option<(&str, &[dockerignore::Pattern])>,
    manifest: &str,
) -> Option<Finding> {
    let target = resolve(&b.workdir, manifest);
    let landed: Vec<(usize, String)> =
        b.copies.iter().flat_map(|c| landings(c, manifest).into_iter().map(|at| (c.line, at))).collect();
    let excluded = ignore.and_then(|(p, pats)| dockerignore::excluded_by(pats, manifest).map(|pat| (p, pat)));
    let folder = manifest.strip_suffix("Cargo.toml").unwrap_or("");
    let what = match folder.strip_suffix('/') {
        Some(member) => format!("the manifest of workspace member `{member}`"),
        None => "the workspace's root manifest".to_owned(),
    };
    if let Some((copy_line, _)) = landed.iter().find(|(_, at)| *at == target) {
        let Some((ignore_path, pat)) = excluded else {
            let (ignore_path, pats) = ignore?;
            let (folder, pat) = dockerignore::skipped_by_classic_builder(pats, manifest)?;
            return Some(Finding::at(
                ignore_path,
                pat.line,
                format!(
                    "`{}` excludes the folder `{folder}`, and the classic builder (`docker build` without \
                     BuildKit, as on an engine without buildx) skips an excluded folder unless a `!` line \
                     starts with `{folder}/`, so `{manifest}` ({what}) does not reach the builder there: \
                     re-include it by name, `!{manifest}`, with no wildcard in its folders",
                    pat.text
                ),
            ));
        };
        return Some(Finding::at(
            ignore_path,
            pat.line,
            format!(
                "`{}` keeps `{manifest}` ({what}) out of the build context, so the COPY on {dockerfile} line \
                 {copy_line} does not bring it into the builder stage and cargo cannot load the workspace: \
                 re-include it with a line `!{manifest}` after this one",
                pat.text
            ),
        ));
    }
    let copy = format!("`COPY {manifest} {}`", if folder.is_empty() { "./" } else { folder });
    let also = excluded.map_or(String::new(), |(ignore_path, pat)| {
        format!(
            "; and `{}` (line {} of {ignore_path}) keeps it out of the build context: re-include it with a line \
             `!{manifest}` after that one",
            pat.text, pat.line
        )
    });
    Some(match landed.first() {
        Some((line, at)) => Finding::at(
            dockerfile,
            *line,
            format!(
                "this COPY puts `{manifest}` ({what}) at {at}, but the first cargo build (line {}) needs it at \
                 {target}, or cargo cannot load the workspace: copy it with {copy}{also}",
                b.line
            ),
        ),
        None => {
            let stub = if folder.is_empty() { String::new() } else { format!(", with a stub `{folder}src/lib.rs`") };
            Finding::at(
                dockerfile,
                b.line,
                format!(
                    "`{manifest}` ({what}) is not copied before this RUN, the stage's first cargo build, so cargo \
                     cannot load the workspace: add {copy} before it{stub}{also}"
                ),
            )
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(text: &str) -> Vec<String> {
        dockerfile_user("Dockerfile", text).iter().map(ToString::to_string).collect()
    }

    #[test]
    fn dockerfile_final_stage_must_end_non_root() {
        assert!(user("FROM python:3.13-slim\nRUN useradd app\nUSER app\nCMD [\"x\"]\n").is_empty());
        assert_eq!(
            user("FROM a\nUSER app\nUSER root\n"),
            ["Dockerfile:3: the last USER is `root`: the container must run as a non-root user"]
        );
        assert_eq!(user("from a\nuser 0:0\n").len(), 1, "case-insensitive, uid 0");
        assert!(user("FROM a\nUSER 10001:10001\n").is_empty());
        assert!(user("FROM a\nUSER ${APP_UID}\n").is_empty(), "a variable cannot be resolved: trusted");
        let no_user = user("FROM a AS build\nUSER app\nFROM b\nCOPY --from=build /x /x\n");
        assert_eq!(no_user.len(), 1);
        assert!(no_user[0].starts_with("Dockerfile:3: the final stage has no USER instruction"), "{no_user:?}");
        assert_eq!(
            user("# just a comment\n")[0],
            "Dockerfile:1: no FROM instruction: cannot tell which user the container runs as"
        );
    }

    #[test]
    fn dockerfile_stage_inherits_the_user_of_the_stage_it_is_built_from() {
        assert!(user("FROM python AS base\nUSER app\nFROM base AS final\nCMD x\n").is_empty());
        assert_eq!(user("FROM python AS base\nUSER root\nFROM base\nCMD x\n").len(), 1);
    }

    #[test]
    fn dockerfile_continuations_heredocs_and_escape_directive() {
        assert!(user("FROM a\nRUN echo \\\n  USER root\nUSER app\n").is_empty());
        assert!(user("FROM a\nUSER app\nRUN <<EOF\nUSER root\nEOF\n").is_empty(), "heredoc body is not an instruction");
        assert!(user("# escape=`\nFROM a\nRUN echo `\n  hi\nUSER app\n").is_empty());
        let with_comment = user("FROM a\nRUN a \\\n# USER app\n  && b\nUSER root\n");
        assert_eq!(with_comment, ["Dockerfile:5: the last USER is `root`: the container must run as a non-root user"]);
    }

    fn landed(copy_args: &str, workdir: &str, file: &str) -> Vec<String> {
        landings(&context_copy(1, copy_args, workdir).expect("a context copy"), file)
    }

    #[test]
    fn copies_land_where_docker_puts_them() {
        let f = "xtask/coverage/Cargo.toml";
        let at_build = ["/build/xtask/coverage/Cargo.toml"];
        assert_eq!(landed("xtask/coverage/Cargo.toml xtask/coverage/", "/build", f), at_build);
        assert_eq!(landed("xtask/coverage/Cargo.toml xtask/coverage", "/build", f), ["/build/xtask/coverage"]);
        assert_eq!(
            landed("xtask/lint/Cargo.toml xtask/", "/build", "xtask/lint/Cargo.toml"),
            ["/build/xtask/Cargo.toml"]
        );
        assert_eq!(landed("Cargo.toml Cargo.lock ./", "/build", "Cargo.toml"), ["/build/Cargo.toml"]);
        assert_eq!(landed("Cargo.toml .", "/build", "Cargo.toml"), ["/build/Cargo.toml"]);
        assert_eq!(
            landed("Cargo.toml /build", "/build", "Cargo.toml"),
            ["/build/Cargo.toml"],
            "the WORKDIR is a folder"
        );
        assert_eq!(landed("Cargo.toml ../x.toml", "/build", "Cargo.toml"), ["/x.toml"]);
        for src in [".", "./", "/"] {
            assert_eq!(landed(&format!("{src} ."), "/build", f), at_build, "{src}");
        }
        for src in ["xtask", "xtask/", "./xtask"] {
            assert_eq!(landed(&format!("{src} xtask"), "/build", f), at_build, "{src}: a folder's contents");
        }
        assert_eq!(landed("xtask /src/xtask/", "/build", f), ["/src/xtask/coverage/Cargo.toml"]);
        assert_eq!(landed("xtask/*/Cargo.toml ./", "/build", f), ["/build/Cargo.toml"], "a glob keeps the name only");
        assert_eq!(landed("xtask/* xtask/", "/build", f), ["/build/xtask/Cargo.toml"], "a matched folder's contents");
        assert_eq!(landed("--parents xtask/*/Cargo.toml ./", "/build", f), at_build);
        assert_eq!(landed(r#"["xtask", "xtask"]"#, "/build", f), at_build, "JSON form");
        assert_eq!(landed("--chown=app:app --chmod=644 --link xtask ./xtask", "/build", f), at_build);
        assert_eq!(landed("--chown=app [\"xtask\", \"/build/xtask\"]", "/", f), at_build);
        assert!(landed("app xtask-coverage app/", "/build", f).is_empty());
        assert!(landed("https://example.com/Cargo.toml ./", "/", "Cargo.toml").is_empty());
        assert!(context_copy(1, "--from=builder /build/Cargo.toml ./", "/").is_none());
        assert!(context_copy(1, "<<EOF /etc/x", "/").is_none());
    }

    #[test]
    fn cargo_builds_are_found_in_run_commands() {
        for run in [
            "cargo build --release",
            "mkdir -p src && touch src/lib.rs && cargo build",
            "cargo +nightly b",
            "cargo --locked test",
            "/usr/local/cargo/bin/cargo build",
            r#"["cargo", "build", "--release"]"#,
            "--mount=type=cache,target=/usr/local/cargo --mount=type=cache,target=/src/target cargo build",
            "cargo install --path app",
            "cargo chef prepare --recipe-path recipe.json",
            "set -e; cargo check",
            "cargo auditable build --release --locked --package app",
        ] {
            assert!(runs_cargo_build(run), "{run}");
        }
        for run in [
            "cargo install cargo-chef --locked",
            "cargo chef cook --release",
            "cargo --version",
            "cargo-audit",
            "cargo install cargo-auditable --locked --version 0.7.7",
            "cargo auditable --help",
        ] {
            assert!(!runs_cargo_build(run), "{run}");
        }
    }

    #[test]
    fn builder_stages_with_their_workdir_and_inherited_copies() {
        let b = builders(
            "ARG V\nFROM rust AS base\nWORKDIR /app\nCOPY . .\nFROM base AS build\nWORKDIR src\nRUN cargo build\n\
             RUN cargo build --release\nFROM debian\nRUN cargo build\nFROM scratch\nRUN echo\n",
        );
        assert_eq!(b.len(), 2, "{b:?}");
        assert_eq!((b[0].line, b[0].workdir.as_str(), b[0].copies.len()), (7, "/app/src", 1));
        assert_eq!((b[1].line, b[1].workdir.as_str(), b[1].copies.len()), (10, "/", 0));
        assert!(builders("FROM rust\nRUN cargo install cargo-chef\n").is_empty());
    }

    #[test]
    fn workspace_members_from_the_root_manifest() {
        let files: Vec<String> = [
            "Cargo.toml",
            "app/Cargo.toml",
            "crates/a/Cargo.toml",
            "crates/b/Cargo.toml",
            "crates/old/Cargo.toml",
            "crates/notes.md",
            "crates/a/sub/Cargo.toml",
        ]
        .map(String::from)
        .to_vec();
        let ws = |t: &str| workspace_manifests(t, &files).unwrap();
        assert_eq!(
            ws("[workspace]\nmembers = [\"app\", \"crates/*\"]\nexclude = [\"crates/old\"]\n").unwrap(),
            ["Cargo.toml", "app/Cargo.toml", "crates/a/Cargo.toml", "crates/b/Cargo.toml"]
        );
        assert_eq!(ws("[workspace]\nmembers = [\"./app/\", \"missing\"]\n").unwrap(), ["Cargo.toml", "app/Cargo.toml"]);
        assert_eq!(ws("[workspace]\n").unwrap(), ["Cargo.toml"]);
        assert_eq!(ws("[package]\nname = \"x\"\n"), None);
        let bad = workspace_manifests("[workspace]\nmembers = 1\n", &files).unwrap_err().to_string();
        assert!(bad.starts_with("Cargo.toml:2: cannot check: not valid TOML: "), "{bad}");
    }

    const MANIFESTS: [&str; 6] = [
        "Cargo.toml",
        "xtask/Cargo.toml",
        "xtask/coverage/Cargo.toml",
        "xtask/lint/Cargo.toml",
        "xtask/security/Cargo.toml",
        "app/Cargo.toml",
    ];

    /// The builder stage before the fix (03c51b5~1), and its .dockerignore's lines about xtask.
    const PREVIOUS: &str = "FROM rust:1.95-slim-trixie AS builder\nWORKDIR /build\nCOPY Cargo.toml Cargo.lock ./\n\
                            COPY app/Cargo.toml app/build.rs app/\nCOPY xtask/Cargo.toml xtask/\n\
                            RUN mkdir -p app/src xtask/src \\\n    && echo 'fn main() {}' > app/src/main.rs \\\n    \
                            && cargo build --release --locked --package app\nCOPY app/src app/src\n\
                            RUN cargo build --release\nFROM debian:trixie-slim\nUSER 10001:10001\n";
    const PREVIOUS_IGNORE: &str = "target/\napp/tests/\nxtask/*\n!xtask/Cargo.toml\n";
    /// The builder stage after the fix, and its .dockerignore's lines about xtask.
    const CURRENT: &str = "FROM rust:1.95-slim-trixie AS builder\nWORKDIR /build\nCOPY Cargo.toml Cargo.lock ./\n\
                           COPY app/Cargo.toml app/build.rs app/\nCOPY xtask xtask\n\
                           RUN for manifest in app/Cargo.toml xtask/Cargo.toml xtask/*/Cargo.toml; do \\\n        \
                           mkdir -p \"$(dirname \"$manifest\")/src\" \\\n        \
                           && touch \"$(dirname \"$manifest\")/src/lib.rs\"; \\\n    \
                           done \\\n    && cargo build --release --locked --package app\nFROM debian:trixie-slim\n";
    const CURRENT_IGNORE: &str = "target/\napp/tests/\nxtask/**\n!xtask/Cargo.toml\n!xtask/coverage/Cargo.toml\n\
                                  !xtask/lint/Cargo.toml\n!xtask/security/Cargo.toml\n";

    fn members(dockerfile: &str, ignore: &str) -> Vec<String> {
        let pats = dockerignore::parse(ignore);
        let manifests = MANIFESTS.map(String::from);
        let found = dockerfile_manifests("Dockerfile", dockerfile, Some((".dockerignore", &pats)), &manifests);
        found.expect("a builder stage").iter().map(ToString::to_string).collect()
    }

    #[test]
    fn every_member_manifest_must_reach_the_builder() {
        let previous = members(PREVIOUS, PREVIOUS_IGNORE);
        assert_eq!(previous.len(), 3, "{previous:#?}");
        assert_eq!(
            previous[0],
            "Dockerfile:6: `xtask/coverage/Cargo.toml` (the manifest of workspace member `xtask/coverage`) is not \
             copied before this RUN, the stage's first cargo build, so cargo cannot load the workspace: add \
             `COPY xtask/coverage/Cargo.toml xtask/coverage/` before it, with a stub `xtask/coverage/src/lib.rs`; \
             and `xtask/*` (line 3 of .dockerignore) keeps it out of the build context: re-include it with a line \
             `!xtask/coverage/Cargo.toml` after that one"
        );
        assert!(previous[1].contains("`xtask/lint/Cargo.toml`") && previous[2].contains("`xtask/security/Cargo.toml`"));
        assert_eq!(members(CURRENT, CURRENT_IGNORE), Vec::<String>::new());
        let wildcard = members(CURRENT, "xtask/**\n!xtask/Cargo.toml\n!xtask/*/Cargo.toml\n");
        assert_eq!(wildcard.len(), 3, "the classic builder skips the folders: {wildcard:#?}");
        assert!(members(CURRENT, "").is_empty());
        assert!(members("FROM rust\nWORKDIR /src\nCOPY . .\nRUN cargo build\n", "").is_empty());

        let excluded = members(CURRENT, PREVIOUS_IGNORE);
        assert_eq!(excluded.len(), 3, "{excluded:#?}");
        assert_eq!(
            excluded[0],
            ".dockerignore:3: `xtask/*` keeps `xtask/coverage/Cargo.toml` (the manifest of workspace member \
             `xtask/coverage`) out of the build context, so the COPY on Dockerfile line 5 does not bring it into the \
             builder stage and cargo cannot load the workspace: re-include it with a line \
             `!xtask/coverage/Cargo.toml` after this one"
        );

        let misplaced = members(&CURRENT.replace("COPY xtask xtask", "COPY xtask/ /build/\nCOPY xtask xtask"), "");
        assert!(misplaced.is_empty(), "a copy to the right place is enough: {misplaced:#?}");
        let wrong = CURRENT.replace("COPY xtask xtask", "COPY xtask/Cargo.toml xtask/coverage/Cargo.toml xtask/");
        let wrong = members(&wrong, "");
        assert_eq!(wrong.len(), 3, "{wrong:#?}");
        assert_eq!(
            wrong[0],
            "Dockerfile:5: this COPY puts `xtask/coverage/Cargo.toml` (the manifest of workspace member \
             `xtask/coverage`) at /build/xtask/Cargo.toml, but the first cargo build (line 6) needs it at \
             /build/xtask/coverage/Cargo.toml, or cargo cannot load the workspace: copy it with \
             `COPY xtask/coverage/Cargo.toml xtask/coverage/`"
        );
        assert!(wrong[1].starts_with("Dockerfile:6: `xtask/lint/Cargo.toml`"), "{wrong:#?}");

        let root = members("FROM rust\nWORKDIR /src\nCOPY app app\nCOPY xtask xtask\nRUN cargo build\n", "");
        assert_eq!(
            root[0],
            "Dockerfile:5: `Cargo.toml` (the workspace's root manifest) is not copied before this RUN, the stage's \
             first cargo build, so cargo cannot load the workspace: add `COPY Cargo.toml ./` before it"
        );
        let moved = members("FROM rust\nCOPY . /src\nWORKDIR /app\nRUN cargo build\n", "");
        assert_eq!(moved.len(), 6, "the build runs in /app, the files are in /src: {moved:#?}");
        assert!(dockerfile_manifests("Dockerfile", "FROM rust\nRUN echo\n", None, &[]).is_none());
    }
}
