//! `cargo xtask coverage --diff BASE --html PATH`: the patch report as one HTML page, on a
//! throwaway git repository with a real change and a hand-written report, loaded in a real
//! browser (headless Chromium, Debian's `chromium`; `.ci/run` installs it): the page's text as
//! the browser renders it, the lines it marks uncovered against the verdict's, a screenshot.

mod lint_support;
mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use lint_support::Repo;
use support::Run;

/// `n` numbered lines of Rust-looking text.
fn lines(n: u32) -> Vec<String> {
    (1..=n).map(|i| format!("let x{i} = {i};")).collect()
}

fn text(lines: &[String]) -> String {
    lines.join("\n") + "\n"
}

/// A line of the change that would end the page's markup if it were not escaped.
const HOSTILE: &str =
    r#"let s = "</pre></td></tr></table><script>document.title='pwned'</script><img src=x onerror=alert(1)>";"#;

/// main: `src/a.rs` (30 lines), `src/gone.rs`, `src/old_name.rs`, a README. The change (on a
/// branch, partly uncommitted): a.rs lines 4, 5, 7 (the hostile line) and 20 changed, 6 made
/// blank, 26 removed; `src/new.rs` added; `src/gone.rs` deleted; `src/old_name.rs` renamed to
/// `src/new_name.rs` with line 2 changed; the README edited (unstaged).
fn repo_with_a_change(name: &str) -> Repo {
    let repo = Repo::new(name);
    repo.write("src/a.rs", text(&lines(30)));
    repo.write("src/gone.rs", text(&lines(3)));
    repo.write("src/old_name.rs", text(&lines(5)));
    repo.write("README.md", "# r\n");
    repo.git(&["commit", "-q", "-m", "base"]);
    repo.git(&["checkout", "-q", "-b", "feature"]);
    let mut a = lines(30);
    a[3] = "let changed4 = 4;".into();
    a[4] = "let changed5 = 5;".into();
    a[5] = String::new();
    a[6] = HOSTILE.into();
    a[19] = "let changed20 = 20;".into();
    a.remove(25);
    repo.write("src/a.rs", text(&a));
    repo.write("src/new.rs", "fn one() {}\nfn two() {}\nfn three() {}\n");
    repo.git(&["rm", "-q", "src/gone.rs"]);
    repo.git(&["mv", "src/old_name.rs", "src/new_name.rs"]);
    let mut renamed = lines(5);
    renamed[1] = "let renamed2 = 2;".into();
    repo.write("src/new_name.rs", text(&renamed));
    repo.git(&["commit", "-q", "-m", "change"]);
    repo.write_untracked("README.md", "# r\n\nMore <b>words</b>.\n");
    repo
}

/// The report: a.rs lists every line but the blank 6, with 4, 5 and 7 unrun and 20 run;
/// new.rs runs `one` only; new_name.rs leaves line 2 unrun. The README is not in it.
fn report() -> String {
    let a: Vec<(u32, u64)> = (1..=29).filter(|&n| n != 6).map(|n| (n, u64::from(![4, 5, 7].contains(&n)))).collect();
    support::cobertura(&[
        ("src/a.rs", a),
        ("src/new.rs", vec![(1, 1), (2, 0), (3, 0)]),
        ("src/new_name.rs", (1..=5).map(|n| (n, u64::from(n != 2))).collect()),
    ])
}

/// The changed lines the report lists unrun: what the page must mark uncovered.
fn expected_uncovered() -> BTreeSet<(String, u32)> {
    [("src/a.rs", 4), ("src/a.rs", 5), ("src/a.rs", 7), ("src/new.rs", 2), ("src/new.rs", 3), ("src/new_name.rs", 2)]
        .into_iter()
        .map(|(f, n)| (f.to_owned(), n))
        .collect()
}

fn gate(repo: &Repo, args: &[&str]) -> Run {
    let path = repo.scratch.0.join("coverage.xml");
    std::fs::write(&path, report()).unwrap();
    let mut all = vec!["--file", path.to_str().unwrap(), "--diff", "main"];
    all.extend_from_slice(args);
    support::run(repo.gate("coverage", &all))
}

/// The Chromium to drive: `$CHROMIUM`, else the first of Debian's and Google's names on PATH.
/// None: the test says it skipped (in CI it fails instead).
fn chromium(test: &str) -> Option<PathBuf> {
    let given = std::env::var_os("CHROMIUM").filter(|c| !c.is_empty()).map(PathBuf::from);
    let on_path = || {
        let path = std::env::var_os("PATH").unwrap_or_default();
        ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"]
            .into_iter()
            .find_map(|name| std::env::split_paths(&path).map(|dir| dir.join(name)).find(|p| p.is_file()))
    };
    if let Some(found) = given.or_else(on_path) {
        return Some(found);
    }
    assert!(!support::in_ci(), "{test}: CI is set, and this test needs Chromium (`apt-get install chromium`)");
    use std::io::Write as _;
    let _ = writeln!(
        std::io::stderr(),
        "skipped {test}: no Chromium on PATH (`apt-get install chromium`, or set CHROMIUM to one)"
    );
    None
}

/// How long one browser run may take.
const BROWSER_LIMIT: Duration = Duration::from_secs(120);

/// Headless Chromium on a page (as root it needs `--no-sandbox`; a profile of its own in the
/// scratch folder), killed when it outlives [`BROWSER_LIMIT`]; its stdout.
fn browse(browser: &Path, profile: &Path, args: &[String], page: &Path) -> String {
    let out_file = profile.with_extension("stdout");
    let mut child = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
            "--no-first-run",
            "--disable-extensions",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(format!("file://{}", page.display().to_string().replace('%', "%25").replace(' ', "%20")))
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_file).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", browser.display()));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > BROWSER_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{} {args:?} took more than {BROWSER_LIMIT:?}", browser.display());
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{} {args:?} on {}: {status}", browser.display(), page.display());
    std::fs::read_to_string(&out_file).unwrap()
}

/// The value of `name="…"` in a tag's attribute text.
fn attribute<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let start = tag.find(&format!(" {name}=\""))? + name.len() + 3;
    let len = tag[start..].find('"')?;
    Some(&tag[start..start + len])
}

/// Every start tag `<name …>` of the DOM, as its attribute text.
fn tags<'a>(dom: &'a str, name: &str) -> Vec<&'a str> {
    let open = format!("<{name} ");
    dom.match_indices(&open).filter_map(|(i, _)| dom[i..].find('>').map(|end| &dom[i..i + end])).collect()
}

/// The text a reader sees: the DOM without its tags, entities decoded, whitespace folded.
fn visible_text(dom: &str) -> String {
    let body = dom.split_once("<body>").map_or(dom, |(_, b)| b);
    let mut out = String::new();
    let mut in_tag = false;
    for c in body.chars() {
        match c {
            '<' => {
                in_tag = true;
                out.push(' ');
            }
            '>' if in_tag => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    let decoded = out.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&amp;", "&");
    decoded.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The rows of the DOM with `class` among their classes, as (file path, new line number).
fn rows_marked(dom: &str, class: &str) -> BTreeSet<(String, u32)> {
    let files: Vec<(String, String)> = tags(dom, "section")
        .into_iter()
        .filter_map(|t| Some((attribute(t, "id")?.to_owned(), attribute(t, "data-path")?.to_owned())))
        .collect();
    tags(dom, "tr")
        .into_iter()
        .filter(|t| attribute(t, "class").is_some_and(|c| c.split(' ').any(|c| c == class)))
        .map(|t| {
            let id = attribute(t, "id").unwrap_or_else(|| panic!("a marked row without an id: {t}"));
            let (file, line) = id.split_once("-L").unwrap();
            let path = files.iter().find(|(f, _)| f == file).map(|(_, p)| p.clone()).unwrap();
            (path, line.parse().unwrap())
        })
        .collect()
}

/// The verdict's uncovered lines from `--format json`: each range's lines that the report
/// lists unrun (a range may span lines the report does not list).
fn verdict_uncovered(json: &serde_json::Value) -> BTreeSet<(String, u32)> {
    let listed_unrun: BTreeSet<(String, u32)> = report_unrun();
    let mut out = BTreeSet::new();
    for f in json["patch"]["files"].as_array().unwrap() {
        let path = f["file"].as_str().unwrap();
        for r in f["uncovered"].as_array().unwrap() {
            let (a, b) = (r[0].as_u64().unwrap() as u32, r[1].as_u64().unwrap() as u32);
            out.extend((a..=b).map(|n| (path.to_owned(), n)).filter(|l| listed_unrun.contains(l)));
        }
    }
    out
}

/// Every (file, line) the report lists with no hits.
fn report_unrun() -> BTreeSet<(String, u32)> {
    let report = report();
    let mut out = BTreeSet::new();
    let mut file = String::new();
    for line in report.lines() {
        if let Some(name) = line.split("filename=\"").nth(1) {
            file = name.split('"').next().unwrap().to_owned();
        }
        if line.contains("hits=\"0\"") {
            let n = line.split("number=\"").nth(1).unwrap().split('"').next().unwrap();
            out.insert((file.clone(), n.parse().unwrap()));
        }
    }
    out
}

/// A PNG's width and height, from its IHDR chunk; panics when it is not a PNG.
fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert!(bytes.len() > 24 && bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG ({} bytes)", bytes.len());
    assert_eq!(&bytes[12..16], b"IHDR", "a PNG starts with its IHDR chunk");
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    (be(&bytes[16..20]), be(&bytes[20..24]))
}

#[test]
fn the_page_in_a_real_browser_shows_the_verdict_and_marks_exactly_its_uncovered_lines() {
    const TEST: &str = "the_page_in_a_real_browser_shows_the_verdict_and_marks_exactly_its_uncovered_lines";
    let repo = repo_with_a_change("html-browser");
    let page = repo.scratch.0.join("out/patch report.html");
    let run = gate(&repo, &["--html", page.to_str().unwrap(), "--format", "json"]);
    // 2 of 8 coverable changed lines covered: the patch gate fails.
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains(&format!("patch report: {}", page.display())), "{run:?}");
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {run:?}"));
    assert_eq!((json["patch"]["covered"].as_u64(), json["patch"]["valid"].as_u64()), (Some(2), Some(8)), "{run:?}");
    let verdict = verdict_uncovered(&json);
    assert_eq!(verdict, expected_uncovered(), "{run:?}");

    // The file as written: one page, nothing fetched, no markup from the diff.
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"), "{html}");
    let lower = html.to_ascii_lowercase();
    for absent in ["<script", "<img", "<link", "<iframe", "http://", "https://", "@import", "url("] {
        assert!(!lower.contains(absent), "the page has {absent:?}:\n{html}");
    }
    assert!(html.contains("&lt;/pre&gt;&lt;/td&gt;&lt;/tr&gt;&lt;/table&gt;&lt;script&gt;"), "{html}");

    let Some(browser) = chromium(TEST) else { return };
    let profile = repo.scratch.0.join("chromium-profile");
    let dom = browse(&browser, &profile, &["--dump-dom".into()], &page);
    assert!(dom.contains("<main>") && dom.contains("</html>"), "the browser's DOM:\n{dom}");
    // The hostile line stayed text: no element came of it, and the title is the page's own.
    let dom_lower = dom.to_ascii_lowercase();
    assert!(!dom_lower.contains("<script") && !dom_lower.contains("<img"), "markup from the diff ran:\n{dom}");
    assert!(
        !dom.contains("pwned</title>") && dom.contains("<title>Patch coverage 25.00% (FAILED) against main</title>")
    );

    // The text as rendered: the summary, the counts, the ranges, the marks in words.
    let seen = visible_text(&dom);
    for expected in [
        "Patch coverage The change against main (merge base",
        "✗ Patch gate: FAILED : 25.00% of the changed lines covered (2 / 8), below the 70% it needs: \
         cover 4 more changed lines to pass.",
        "✓ covered 2 ✗ uncovered 6 · not coverable 3 changed lines 11 changed files 5",
        "Uncovered changed lines src/a.rs : 4–7 src/new.rs : 2–3 src/new_name.rs : 2",
        "src/new_name.rs (renamed from src/old_name.rs )",
        "src/gone.rs (deleted)",
        "README.md Not in the coverage report: its 2 changed lines are not counted.",
        "src/a.rs Of its 5 changed lines: ✓ 1 covered, ✗ 3 uncovered, · 1 not coverable.",
        "7 ✗ uncovered + let s = \"</pre></td></tr></table><script>document.title='pwned'</script><img src=x onerror=alert(1)>\";",
        "20 ✓ covered + let changed20 = 20;",
        "6 · not coverable +",
    ] {
        assert!(seen.contains(expected), "the page does not read {expected:?}:\n{seen}");
    }

    // The lines marked uncovered are exactly the verdict's; the covered ones are the rest it counted.
    assert_eq!(rows_marked(&dom, "uncovered"), verdict, "{dom}");
    let covered: BTreeSet<(String, u32)> =
        [("src/a.rs".to_owned(), 20), ("src/new.rs".to_owned(), 1)].into_iter().collect();
    assert_eq!(rows_marked(&dom, "covered"), covered, "{dom}");
    // Each range of the summary links to its first line, which the diff marks uncovered.
    let section = |path: &str| {
        tags(&dom, "section")
            .into_iter()
            .find(|t| attribute(t, "data-path") == Some(path))
            .and_then(|t| attribute(t, "id"))
            .unwrap_or_else(|| panic!("no section for {path}"))
    };
    let uncovered_ids: BTreeSet<&str> = tags(&dom, "tr")
        .into_iter()
        .filter(|t| attribute(t, "class").is_some_and(|c| c.split(' ').any(|c| c == "uncovered")))
        .filter_map(|t| attribute(t, "id"))
        .collect();
    let ranges = dom.split_once("<ul class=\"ranges\">").and_then(|(_, r)| r.split_once("</ul>")).unwrap().0;
    let links: BTreeSet<String> = tags(ranges, "a")
        .into_iter()
        .filter_map(|t| attribute(t, "href"))
        .filter(|h| h.contains("-L"))
        .map(str::to_owned)
        .collect();
    let starts: BTreeSet<String> = [("src/a.rs", 4), ("src/new.rs", 2), ("src/new_name.rs", 2)]
        .into_iter()
        .map(|(path, line)| format!("#{}-L{line}", section(path)))
        .collect();
    assert_eq!(links, starts, "{ranges}");
    assert!(links.iter().all(|l| uncovered_ids.contains(&l[1..])), "{links:?} {uncovered_ids:?}");

    // A screenshot: a PNG of the window's size, with far more in it than a blank page.
    let shot = repo.scratch.0.join("shot.png");
    let size = ["--window-size=1000,1400".to_owned(), format!("--screenshot={}", shot.display())];
    browse(&browser, &profile, &size, &page);
    let png = std::fs::read(&shot).unwrap();
    assert_eq!(png_size(&png), (1000, 1400));
    let blank_page = repo.scratch.0.join("blank.html");
    std::fs::write(&blank_page, "<!DOCTYPE html><title>blank</title>").unwrap();
    let blank_shot = repo.scratch.0.join("blank.png");
    browse(
        &browser,
        &profile,
        &["--window-size=1000,1400".into(), format!("--screenshot={}", blank_shot.display())],
        &blank_page,
    );
    let blank = std::fs::read(&blank_shot).unwrap();
    assert_eq!(png_size(&blank), (1000, 1400));
    assert!(
        png.len() > 20_000 && png.len() > 5 * blank.len(),
        "the screenshot is {} bytes, a blank page's {}",
        png.len(),
        blank.len()
    );
}

#[test]
fn html_without_diff_is_a_usage_error() {
    let scratch = support::Scratch::new("html-usage");
    let report = scratch.write("coverage.xml", support::percent_report(8, 10));
    let page = scratch.path("patch.html");
    let run = support::grade(&report, &["--html", page.to_str().unwrap()]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("--diff"), "the error names what --html needs: {run:?}");
    assert!(!page.exists(), "{run:?}");
}

#[test]
fn a_file_the_gate_did_not_write_is_never_replaced_and_its_own_page_is() {
    let repo = repo_with_a_change("html-replace");
    let page = repo.scratch.0.join("notes.html");
    std::fs::write(&page, "<p>my notes</p>\n").unwrap();
    let run = gate(&repo, &["--html", page.to_str().unwrap()]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("is not a patch report this command wrote: not replaced"), "{run:?}");
    assert_eq!(std::fs::read_to_string(&page).unwrap(), "<p>my notes</p>\n");
    let folder = repo.scratch.0.join("a-folder");
    std::fs::create_dir_all(&folder).unwrap();
    let run = gate(&repo, &["--html", folder.to_str().unwrap()]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("is a folder"), "{run:?}");

    // Its own page is replaced, atomically (no temporary file left beside it), with the new verdict.
    std::fs::remove_file(&page).unwrap();
    let run = gate(&repo, &["--html", page.to_str().unwrap()]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(std::fs::read_to_string(&page).unwrap().contains("25.00%"));
    let run = gate(&repo, &["--html", page.to_str().unwrap(), "--patch-fail-under", "20", "--fail-under", "0"]);
    assert_eq!(run.code, 0, "{run:?}");
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("✓ Patch gate: passed</strong>: 25.00% of the changed lines covered (2 / 8)"), "{html}");
    let left: Vec<_> = std::fs::read_dir(&repo.scratch.0)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp-"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn a_change_with_nothing_coverable_says_so_on_the_page() {
    let repo = Repo::new("html-nothing");
    repo.write("src/a.rs", text(&lines(3)));
    repo.write("README.md", "# r\n");
    repo.git(&["commit", "-q", "-m", "base"]);
    repo.write_untracked("README.md", "# r\n\nmore\n");
    let report = repo.scratch.0.join("coverage.xml");
    std::fs::write(&report, support::cobertura(&[("src/a.rs", vec![(1, 1), (2, 1), (3, 1)])])).unwrap();
    let page = repo.scratch.0.join("patch.html");
    let args = ["--file", report.to_str().unwrap(), "--diff", "HEAD", "--html", page.to_str().unwrap()];
    let run = support::run(repo.gate("coverage", &args));
    assert_eq!(run.code, 0, "{run:?}");
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("✓ Patch gate: passed</strong>: no coverable line changed, nothing to judge."), "{html}");
    assert!(html.contains("Not in the coverage report: its 2 changed lines are not counted."), "{html}");
    assert!(!html.contains("class=\"added uncovered\""), "{html}");
}
