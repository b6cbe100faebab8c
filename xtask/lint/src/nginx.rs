//! `nginx -t` on the repository's Nginx site files, in a scratch prefix: each file is included
//! in a minimal `http { }`, its certificate paths pointed at a throwaway self-signed
//! certificate (made with openssl), so the test needs neither root, the server's files, nor
//! Certbot's. An `include` of a file that the repository keeps beside the site file (the same
//! name in the same folder: what is installed at that path) reads the repository's copy.
//! Findings keep the file's own line numbers.

use std::path::{Path, PathBuf};
use xtask_process::Cmd;

use crate::Finding;

/// A site file: a `.conf` under a folder named `nginx`, or an `nginx.conf`.
pub fn is_site(path: &str) -> bool {
    path.ends_with(".conf") && (path.split('/').any(|d| d == "nginx") || path.rsplit('/').next() == Some("nginx.conf"))
}

/// The directives whose file must exist for `nginx -t`: pointed at the throwaway certificate.
const CERT_DIRECTIVES: [(&str, bool); 4] = [
    ("ssl_certificate_key", true),
    ("ssl_certificate", false),
    ("ssl_trusted_certificate", false),
    ("ssl_client_certificate", false),
];

/// The file's text with every certificate path replaced, line for line.
pub fn with_scratch_certificates(text: &str, crt: &Path, key: &Path) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start();
        let indent = &line[..line.len() - trimmed.len()];
        let directive = CERT_DIRECTIVES
            .iter()
            .find(|(name, _)| trimmed.strip_prefix(name).is_some_and(|rest| rest.starts_with(char::is_whitespace)));
        match directive {
            Some((name, is_key)) if trimmed.contains(';') => {
                let path = if *is_key { key } else { crt };
                let end = if line.ends_with('\n') { "\n" } else { "" };
                out.push_str(&format!("{indent}{name} {};{end}", path.display()));
            }
            _ => out.push_str(line),
        }
    }
    out
}

/// The file's text with every `include` of a file named like one in `folder` (the site file's
/// own folder in the repository) pointed at that file, line for line; other includes are kept.
pub fn with_repository_includes(text: &str, folder: &Path) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start();
        let indent = &line[..line.len() - trimmed.len()];
        let included = trimmed
            .strip_prefix("include")
            .filter(|rest| rest.starts_with(char::is_whitespace))
            .and_then(|rest| rest.trim().strip_suffix(';'))
            .map(str::trim)
            .filter(|path| !path.is_empty() && !path.contains(char::is_whitespace));
        let local = included.and_then(|path| path.rsplit('/').next()).map(|name| folder.join(name));
        match local {
            Some(local) if local.is_file() => {
                let end = if line.ends_with('\n') { "\n" } else { "" };
                out.push_str(&format!("{indent}include {};{end}", local.display()));
            }
            _ => out.push_str(line),
        }
    }
    out
}

/// `nginx: [emerg] unknown directive "x" in /scratch/site-0.conf:12` → a finding at the
/// original file's line 12; lines about other files (or none) are kept whole.
pub fn findings(stderr: &str, scratch: &Path, original: &str) -> Vec<Finding> {
    stderr
        .lines()
        .filter(|l| l.contains("[emerg]") || l.contains("[alert]") || l.contains("[crit]"))
        .map(|l| {
            // `nginx: [emerg] …`, or with a time and `pid#tid: ` when logged to stderr.
            let from_level = &l[l.find('[').unwrap_or(0)..];
            let message = match from_level.split_once("] ") {
                Some((level, rest)) => {
                    let rest = rest.split_once(": ").filter(|(ids, _)| ids.contains('#')).map_or(rest, |(_, r)| r);
                    format!("{level}] {rest}")
                }
                None => from_level.to_owned(),
            };
            let at = message.rsplit_once(" in ").and_then(|(msg, loc)| {
                let (file, line) = loc.rsplit_once(':')?;
                let line: usize = line.trim().parse().ok()?;
                (Path::new(file) == scratch).then(|| (msg.to_owned(), line))
            });
            match at {
                Some((msg, line)) => Finding::at(original, line, msg),
                None => Finding::at(original, 1, message),
            }
        })
        .collect()
}

/// Runs `nginx -t` on `file` (relative to `root`) in `scratch`; `Err` when it cannot be run.
pub fn test(nginx: &Path, openssl: &Path, root: &Path, file: &str, scratch: &Path) -> Result<Vec<Finding>, String> {
    std::fs::create_dir_all(scratch).map_err(|e| format!("cannot create {}: {e}", scratch.display()))?;
    let (crt, key) = (scratch.join("scratch.crt"), scratch.join("scratch.key"));
    if !crt.is_file() {
        let out = Cmd::new(openssl)
            .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=nginx-t"])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&crt)
            .shown("openssl req")
            .output()
            .map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(xtask_process::failure("openssl req", &out));
        }
    }
    let text = std::fs::read_to_string(root.join(file)).map_err(|e| format!("{file}: {e}"))?;
    let site = scratch.join(file.replace('/', "__"));
    let folder = root.join(file).parent().map_or_else(|| root.to_path_buf(), Path::to_path_buf);
    let text = with_repository_includes(&with_scratch_certificates(&text, &crt, &key), &folder);
    std::fs::write(&site, text).map_err(|e| format!("{e}"))?;
    let conf: PathBuf = scratch.join("nginx.conf");
    let main = format!(
        "pid {0}/nginx.pid;\nerror_log stderr;\nevents {{}}\nhttp {{\n    include {1};\n}}\n",
        scratch.display(),
        site.display()
    );
    std::fs::write(&conf, main).map_err(|e| format!("{e}"))?;
    let out = Cmd::new(nginx)
        .arg("-t")
        .arg("-q")
        .arg("-p")
        .arg(scratch)
        .arg("-c")
        .arg(&conf)
        .args(["-e", "stderr"])
        .shown("nginx -t")
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        return Ok(Vec::new());
    }
    let found = findings(&String::from_utf8_lossy(&out.stderr), &site, file);
    if found.is_empty() { Err(xtask_process::failure("nginx -t", &out)) } else { Ok(found) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn site_files_are_confs_under_an_nginx_folder() {
        assert!(is_site("deploy/nginx/clicknback.com.conf") && is_site("nginx/a.conf") && is_site("etc/nginx.conf"));
        assert!(!is_site("deploy/app.conf") && !is_site("nginx/readme.md") && !is_site("nginxish/a.conf"));
    }

    #[test]
    fn certificate_paths_are_replaced_line_for_line() {
        let text = "server {\n    ssl_certificate /etc/le/full.pem;\n    ssl_certificate_key /etc/le/key.pem;\n    \
                    ssl_trusted_certificate /etc/le/chain.pem;\n    ssl_certificates_x y;\n}";
        let out = with_scratch_certificates(text, Path::new("/s/c.crt"), Path::new("/s/c.key"));
        assert_eq!(
            out,
            "server {\n    ssl_certificate /s/c.crt;\n    ssl_certificate_key /s/c.key;\n    \
             ssl_trusted_certificate /s/c.crt;\n    ssl_certificates_x y;\n}"
        );
        assert_eq!(out.lines().count(), text.lines().count());
    }

    #[test]
    fn includes_of_files_beside_the_site_file_read_the_repository_copy() {
        let folder = std::env::temp_dir().join(format!("xtask-nginx-includes-{}", std::process::id()));
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::write(folder.join("upstream.conf"), "upstream u { server 127.0.0.1:1; }\n").unwrap();
        let text = "include /opt/site/upstream.conf;\n  include  upstream.conf ;\ninclude /etc/nginx/mime.types;\n\
                    # include /opt/site/upstream.conf;\ninclude_x /opt/upstream.conf;\ninclude /opt/upstream.conf";
        let out = with_repository_includes(text, &folder);
        let local = folder.join("upstream.conf");
        assert_eq!(
            out,
            format!(
                "include {0};\n  include {0};\ninclude /etc/nginx/mime.types;\n# include /opt/site/upstream.conf;\n\
                 include_x /opt/upstream.conf;\ninclude /opt/upstream.conf",
                local.display()
            )
        );
        std::fs::remove_dir_all(&folder).unwrap();
    }

    #[test]
    fn errors_point_at_the_original_file_and_line() {
        let stderr = "nginx: [emerg] unknown directive \"lisen\" in /s/deploy__nginx__a.conf:7\n\
                      2026/11/30 16:43:40 [emerg] 11418#11418: invalid value \"onn\" in /s/deploy__nginx__a.conf:9\n\
                      nginx: configuration file /s/nginx.conf test failed\n";
        let f = findings(stderr, Path::new("/s/deploy__nginx__a.conf"), "deploy/nginx/a.conf");
        assert_eq!(f.len(), 2);
        assert_eq!(f[0].to_string(), "deploy/nginx/a.conf:7: [emerg] unknown directive \"lisen\"");
        assert_eq!(f[1].to_string(), "deploy/nginx/a.conf:9: [emerg] invalid value \"onn\"");
    }
}
