//! `xtask-audit`: reads a [`xtask_audit::Request`] as JSON on stdin, writes the
//! [`xtask_audit::Response`] as JSON on stdout. Exit 0 with a response (findings or not), 2 with
//! an error on stderr. Run by `cargo xtask security`; not meant to be typed.

use std::io::Read as _;
use std::process::ExitCode;

fn main() -> ExitCode {
    let result = (|| -> anyhow::Result<String> {
        let mut input = String::new();
        std::io::stdin().read_to_string(&mut input)?;
        let request: xtask_audit::Request = serde_json::from_str(&input)?;
        Ok(serde_json::to_string(&xtask_audit::run(&request)?)?)
    })();
    match result {
        Ok(json) => {
            println!("{json}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e:#}");
            ExitCode::from(2)
        }
    }
}
