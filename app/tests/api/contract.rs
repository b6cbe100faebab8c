//! Schemathesis against the live service on a real database: cases generated from the
//! OpenAPI document (valid and invalid bodies, missing and wrong headers), a bounded number
//! per operation, with a fixed seed so a failure reproduces (`CONTRACT_SEED` picks another).
//! Any 5xx fails the test, as does a response that the document does not describe (status,
//! content type, headers, body).

use std::path::PathBuf;
use std::process::Command;

use crate::helpers::spawn_app;

/// `$SCHEMATHESIS` (`cargo xtask test` installs the pinned version and sets it).
fn schemathesis() -> PathBuf {
    let program = std::env::var_os("SCHEMATHESIS").filter(|p| !p.is_empty());
    program.map(PathBuf::from).expect(
        "SCHEMATHESIS is not set: this test runs the schemathesis fuzzer against the service. Run it with \
         `cargo xtask test`, which installs the pinned version, or set SCHEMATHESIS to a schemathesis executable",
    )
}

/// Cases per operation and phase: enough to find what a change breaks, bounded so CI stays fast.
const MAX_EXAMPLES: &str = "300";

/// The seed of every run unless `CONTRACT_SEED` names another (`xtask/bench/flake-hunt.sh`
/// varies it to look for the cases a fixed seed never generates).
const SEED: &str = "20261130";

/// `CONTRACT_SEED`, else [`SEED`].
fn seed() -> String {
    match std::env::var("CONTRACT_SEED") {
        Ok(s) if !s.trim().is_empty() => {
            let seed = s.trim().to_owned();
            assert!(seed.chars().all(|c| c.is_ascii_digit()), "CONTRACT_SEED={seed:?}: expected a number");
            seed
        }
        _ => SEED.to_owned(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn schemathesis_finds_no_server_error_and_no_response_the_document_does_not_describe() {
    let program = schemathesis();
    let seed = seed();
    println!("schemathesis seed {seed} (CONTRACT_SEED reruns it)");
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    // Its working folder too: schemathesis keeps a cache in `.schemathesis/` there.
    let reports = std::env::temp_dir().join(format!("schemathesis-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&reports).unwrap();
    let mut command = Command::new(&program);
    let config = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/api/schemathesis.toml");
    command
        .arg("--config-file")
        .arg(config)
        .arg("run")
        .arg(app.url("/api/v1/openapi.json"))
        .args(["--checks", "all", "--max-examples", MAX_EXAMPLES, "--seed", &seed])
        .args(["--phases", "examples,coverage,fuzzing", "--workers", "2"])
        .arg("--header")
        .arg(format!("Authorization: Bearer {admin}"))
        .args(["--report", "junit", "--report-dir"])
        .arg(&reports)
        .current_dir(&reports)
        .env("NO_COLOR", "1")
        .env_remove("SCHEMATHESIS_HOOKS");
    let out = tokio::task::spawn_blocking(move || command.output()).await.unwrap().unwrap_or_else(|e| {
        panic!("cannot run {}: {e}", program.display());
    });
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    println!("{text}");
    let _ = std::fs::remove_dir_all(&reports);
    assert!(out.status.success(), "schemathesis found problems ({}):\n{text}", out.status);
}
