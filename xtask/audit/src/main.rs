//! `xtask-audit`: reads a [`xtask_audit::Request`] as JSON on stdin, writes the
//! [`xtask_audit::Response`] as JSON on stdout; `xtask-audit packages BINARY` writes the
//! [`xtask_audit::Packages`] a binary built with `cargo auditable` carries. Exit 0 with an
//! answer (findings or not), 2 with an error on stderr. Run by `cargo xtask security` and
//! `cargo xtask smoke`; not meant to be typed.

use std::io::Read as _;
use std::process::ExitCode;

fn main() -> ExitCode {
    let result = (|| -> anyhow::Result<String> {
        let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
        if let [command, binary] = args.as_slice()
            && command == "packages"
        {
            return Ok(serde_json::to_string(&xtask_audit::binary::packages_of(std::path::Path::new(binary))?)?);
        }
        if !args.is_empty() {
            anyhow::bail!("usage: xtask-audit < REQUEST.json, or xtask-audit packages BINARY");
        }
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
