//! What the smoke gate keeps of the image it built (`xtask_core::kept_image`): the service's
//! binary, copied out of the image, and the image's SBOM, a CycloneDX 1.5 JSON document listing
//! the crates the binary carries (the list `cargo auditable` embedded, read by the xtask-audit
//! program) and the Debian packages dpkg installed (`/var/lib/dpkg/status`). The security
//! gate's `image` check audits that binary; CI keeps the folder as an artifact.
//!
//! The SBOM has no timestamp and no serial number (both optional): the same image gives the
//! same file, so a diff of two SBOMs shows what changed.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context as _, Result, bail};
use serde_json::{Value, json};

use super::{Check, failed, passed};
use crate::Context;
use crate::kept_image::{self, KeptImage};
use crate::process::Cmd;
use crate::security::audit::{Package, Packages};

/// The check's name in the smoke gate's list.
pub const CHECK: &str = "image SBOM";

/// PATH when the image sets none (Docker's default).
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Copies the binary and dpkg's status out of `image`, writes the SBOM and the record: the
/// check's verdict. Nothing kept by an earlier run is replaced unless this one succeeds.
pub fn keep(cx: &Context, docker: &Path, image: &str) -> Check {
    match try_keep(cx, docker, image) {
        Ok(kept) => passed(
            CHECK,
            format!(
                "{} crates from {} (cargo-auditable's list), {} Debian packages → {}",
                kept.crates,
                kept.shown(),
                kept.debian_packages,
                shown_path(cx, &kept_image::dir(&cx.root).join(kept_image::SBOM))
            ),
        ),
        Err(e) => failed(CHECK, format!("{e:#}")),
    }
}

fn shown_path(cx: &Context, path: &Path) -> String {
    path.strip_prefix(&cx.root).unwrap_or(path).display().to_string()
}

fn try_keep(cx: &Context, docker: &Path, image: &str) -> Result<KeptImage> {
    let id = crate::docker::image_id(docker, image).with_context(|| format!("no image {image} to read"))?;
    let config = inspect_config(docker, image)?;
    let candidates = binary_candidates(&config)
        .with_context(|| format!("{image} has neither an entrypoint nor a command: which binary is the service?"))?;
    let dir = kept_image::dir(&cx.root);
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let container = Container::create(docker, image)?;
    let binary_tmp = dir.join(format!(".binary.tmp-{}", std::process::id()));
    let status_tmp = dir.join(format!(".dpkg-status.tmp-{}", std::process::id()));
    let result = (|| {
        let in_image = candidates
            .iter()
            .find(|c| container.copy_out(c, &binary_tmp))
            .with_context(|| format!("{image}: no file at {}", candidates.join(" or ")))?
            .clone();
        let debian = if container.copy_out("/var/lib/dpkg/status", &status_tmp) {
            let text = std::fs::read_to_string(&status_tmp).context("cannot read the image's dpkg status")?;
            dpkg_installed(&text)
        } else {
            Vec::new()
        };
        let packages = crate_packages(cx, &binary_tmp, &in_image, image)?;
        let sbom = render(image, &id, &packages.packages, &debian);
        crate::output::write_atomically(&dir.join(kept_image::SBOM), |tmp| {
            std::fs::write(tmp, &sbom).with_context(|| format!("cannot write {}", tmp.display()))
        })?;
        let name =
            Path::new(&in_image).file_name().map_or_else(|| "binary".into(), |n| n.to_string_lossy().into_owned());
        std::fs::rename(&binary_tmp, dir.join(&name)).context("cannot move the binary into place")?;
        let kept = KeptImage {
            image: image.to_owned(),
            id,
            binary_in_image: in_image,
            binary: name,
            crates: packages.packages.iter().filter(|p| !p.root).count(),
            debian_packages: debian.len(),
        };
        kept.save(&dir)?;
        Ok(kept)
    })();
    container.remove();
    for tmp in [&binary_tmp, &status_tmp] {
        let _ = std::fs::remove_file(tmp);
    }
    result
}

/// The image's `Config` (entrypoint, command, environment).
fn inspect_config(docker: &Path, image: &str) -> Result<Value> {
    let out = Cmd::new(docker).args(["image", "inspect", "--format", "{{json .Config}}", image]).run()?;
    serde_json::from_slice(&out.stdout).with_context(|| format!("`docker image inspect {image}` gave no JSON config"))
}

/// Where the service's binary may be: the entrypoint's first word (else the command's), as
/// is when it is a path, else in each folder of the image's PATH, in order.
fn binary_candidates(config: &Value) -> Option<Vec<String>> {
    let first = |key: &str| config[key].as_array().and_then(|a| a.first()).and_then(Value::as_str).map(str::to_owned);
    let program = first("Entrypoint").or_else(|| first("Cmd"))?;
    if program.contains('/') {
        return Some(vec![program]);
    }
    let env = config["Env"].as_array().into_iter().flatten().filter_map(Value::as_str);
    let path = env.filter_map(|e| e.strip_prefix("PATH=")).next_back().unwrap_or(DEFAULT_PATH).to_owned();
    Some(
        path.split(':')
            .filter(|d| d.starts_with('/'))
            .map(|d| format!("{}/{program}", d.trim_end_matches('/')))
            .collect(),
    )
}

/// A created (never started) container, to copy files out of.
struct Container<'a> {
    docker: &'a Path,
    id: String,
}

impl<'a> Container<'a> {
    fn create(docker: &'a Path, image: &str) -> Result<Container<'a>> {
        let out = Cmd::new(docker).args(["create", image]).run()?;
        let id = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        if id.is_empty() {
            bail!("`docker create {image}` gave no container id");
        }
        Ok(Container { docker, id })
    }

    /// `docker cp -L`: the file itself, not a link to it. False when it is not there.
    fn copy_out(&self, path: &str, to: &Path) -> bool {
        let from = format!("{}:{path}", self.id);
        let out = Cmd::new(self.docker).args(["cp", "-L", &from]).arg(to).output();
        out.is_ok_and(|o| o.status.success()) && to.is_file()
    }

    fn remove(self) {
        let _ = Cmd::new(self.docker).args(["rm", "--force", &self.id]).output();
    }
}

/// The crates the binary carries, from the xtask-audit program. A binary without cargo-auditable's
/// list is an error naming the fix.
fn crate_packages(cx: &Context, binary: &Path, in_image: &str, image: &str) -> Result<Packages> {
    let (cmd, shown) = crate::gates::security::audit_program(cx);
    let out = cmd.arg("packages").arg(binary).output().with_context(|| format!("cannot run {shown}"))?;
    if !out.status.success() {
        let stderr =
            String::from_utf8_lossy(&out.stderr).replace(&binary.display().to_string(), &format!("{image}:{in_image}"));
        bail!(
            "{shown} could not read the binary's dependency list ({}):\n{}",
            out.status,
            crate::process::last_lines(&stderr, 10)
        );
    }
    serde_json::from_slice(&out.stdout).context("xtask-audit did not answer with its JSON list")
}

/// One installed Debian package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DebPackage {
    pub name: String,
    pub version: String,
    pub arch: String,
}

/// The packages dpkg's status file says are installed (`Status: install ok installed`).
pub fn dpkg_installed(status: &str) -> Vec<DebPackage> {
    let mut out = Vec::new();
    for stanza in status.split("\n\n") {
        let mut fields: BTreeMap<&str, &str> = BTreeMap::new();
        for line in stanza.lines().filter(|l| !l.starts_with([' ', '\t'])) {
            if let Some((key, value)) = line.split_once(':') {
                fields.insert(key, value.trim());
            }
        }
        let installed = fields.get("Status").is_some_and(|s| s.ends_with(" installed"));
        if let (true, Some(name), Some(version)) = (installed, fields.get("Package"), fields.get("Version")) {
            let arch = fields.get("Architecture").copied().unwrap_or("all");
            out.push(DebPackage { name: (*name).to_owned(), version: (*version).to_owned(), arch: arch.to_owned() });
        }
    }
    out.sort_by(|a, b| (&a.name, &a.arch).cmp(&(&b.name, &b.arch)));
    out
}

/// A package URL component: every byte outside the unreserved set percent-encoded (an epoch's
/// `:`, a Debian version's `+`).
fn purl_part(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'.' | b'-' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The CycloneDX 1.5 document: the image as the subject, the binary's crates and the Debian
/// packages as components (a crate used only to build is `scope: excluded`: it is not in the
/// binary), sorted, so one image always gives the same bytes.
pub fn render(image: &str, id: &str, crates: &[Package], debian: &[DebPackage]) -> String {
    let (name, tag) = match image.rsplit_once(':').filter(|(_, t)| !t.contains('/')) {
        Some((n, t)) => (n, t),
        None => (image, "latest"),
    };
    let mut components = Vec::new();
    let mut crates: Vec<&Package> = crates.iter().collect();
    crates.sort_by(|a, b| (&a.name, &a.version).cmp(&(&b.name, &b.version)));
    for p in crates {
        let purl = format!("pkg:cargo/{}@{}", purl_part(&p.name), purl_part(&p.version));
        let mut c = json!({
            "type": if p.root { "application" } else { "library" },
            "bom-ref": purl,
            "name": p.name,
            "version": p.version,
        });
        if p.source == "crates.io" {
            c["purl"] = json!(purl);
        } else {
            c["properties"] = json!([{ "name": "cargo:source", "value": p.source }]);
        }
        if p.build_only {
            c["scope"] = json!("excluded");
        }
        components.push(c);
    }
    for d in debian {
        let purl =
            format!("pkg:deb/debian/{}@{}?arch={}", purl_part(&d.name), purl_part(&d.version), purl_part(&d.arch));
        components.push(json!({
            "type": "library",
            "bom-ref": purl,
            "name": d.name,
            "version": d.version,
            "purl": purl,
        }));
    }
    let doc = json!({
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "version": 1,
        "metadata": {
            "tools": { "components": [{
                "type": "application",
                "name": "cargo xtask smoke",
                "version": env!("CARGO_PKG_VERSION"),
            }]},
            "component": {
                "type": "container",
                "bom-ref": format!("image:{image}"),
                "name": name,
                "version": tag,
                "hashes": id.strip_prefix("sha256:").map(|h| json!([{ "alg": "SHA-256", "content": h }])).unwrap_or(json!([])),
            },
        },
        "components": components,
    });
    let mut text = serde_json::to_string_pretty(&doc).expect("a JSON value serialises");
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUS: &str = "Package: libc6\nStatus: install ok installed\nPriority: optional\nArchitecture: amd64\n\
                          Version: 2.41-12\nDescription: GNU C Library\n some more text\n Version: 9.9\n\n\
                          Package: gone\nStatus: deinstall ok config-files\nArchitecture: amd64\nVersion: 1.0\n\n\
                          Package: base-files\nStatus: install ok installed\nArchitecture: amd64\nVersion: 13.8+deb13u1\n\n\
                          Package: tzdata\nStatus: install ok installed\nArchitecture: all\nVersion: 1:2025b-4\n";

    #[test]
    fn dpkg_status_gives_the_installed_packages_only_sorted_with_continuations_ignored() {
        let got = dpkg_installed(STATUS);
        let names: Vec<(&str, &str, &str)> =
            got.iter().map(|p| (p.name.as_str(), p.version.as_str(), p.arch.as_str())).collect();
        assert_eq!(
            names,
            [("base-files", "13.8+deb13u1", "amd64"), ("libc6", "2.41-12", "amd64"), ("tzdata", "1:2025b-4", "all")]
        );
    }

    #[test]
    fn the_binary_is_the_entrypoint_found_on_the_image_path() {
        let config = json!({ "Entrypoint": ["app"], "Cmd": ["serve"], "Env": ["PATH=/opt/bin:/usr/bin", "X=1"] });
        assert_eq!(binary_candidates(&config).unwrap(), ["/opt/bin/app", "/usr/bin/app"]);
        let config = json!({ "Entrypoint": null, "Cmd": ["/srv/server", "--port", "8000"] });
        assert_eq!(binary_candidates(&config).unwrap(), ["/srv/server"]);
        let config = json!({ "Entrypoint": null, "Cmd": ["server"], "Env": null });
        assert_eq!(binary_candidates(&config).unwrap().len(), DEFAULT_PATH.split(':').count());
        assert_eq!(binary_candidates(&json!({ "Entrypoint": null, "Cmd": null })), None);
    }

    fn package(name: &str, version: &str, source: &str, build_only: bool, root: bool) -> Package {
        Package { name: name.into(), version: version.into(), source: source.into(), build_only, root }
    }

    #[test]
    fn the_sbom_lists_crates_and_debian_packages_with_package_urls() {
        let crates = [
            package("serde", "1.0.200", "crates.io", false, false),
            package("app", "0.1.0", "local", false, true),
            package("proc-macro2", "1.0.95", "crates.io", true, false),
        ];
        let debian = dpkg_installed(STATUS);
        let text = render("clicknback:local", "sha256:abc123", &crates, &debian);
        let doc: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(doc["bomFormat"], "CycloneDX");
        assert_eq!(doc["specVersion"], "1.5");
        assert_eq!(doc["metadata"]["component"]["type"], "container");
        assert_eq!(doc["metadata"]["component"]["name"], "clicknback");
        assert_eq!(doc["metadata"]["component"]["version"], "local");
        assert_eq!(doc["metadata"]["component"]["hashes"][0]["content"], "abc123");
        let components = doc["components"].as_array().unwrap();
        let purls: Vec<&str> = components.iter().filter_map(|c| c["purl"].as_str()).collect();
        assert_eq!(
            purls,
            [
                "pkg:cargo/proc-macro2@1.0.95",
                "pkg:cargo/serde@1.0.200",
                "pkg:deb/debian/base-files@13.8%2Bdeb13u1?arch=amd64",
                "pkg:deb/debian/libc6@2.41-12?arch=amd64",
                "pkg:deb/debian/tzdata@1%3A2025b-4?arch=all",
            ]
        );
        let app = &components[0];
        assert_eq!((app["name"].as_str(), app["type"].as_str()), (Some("app"), Some("application")));
        assert_eq!(app["purl"], Value::Null, "a local crate has no registry to point at");
        assert_eq!(app["properties"][0]["value"], "local");
        assert_eq!(components[1]["scope"], "excluded", "a build-only crate is not in the binary");
        assert_eq!(components[2]["scope"], Value::Null);
        // Every bom-ref is unique (CycloneDX requires it) and the same input gives the same bytes.
        let refs: std::collections::BTreeSet<&str> = components.iter().filter_map(|c| c["bom-ref"].as_str()).collect();
        assert_eq!(refs.len(), components.len());
        assert_eq!(text, render("clicknback:local", "sha256:abc123", &crates, &debian));
    }

    #[test]
    fn an_image_without_a_tag_is_latest_and_a_registry_port_is_not_a_tag() {
        let doc: Value = serde_json::from_str(&render("localhost:5000/app", "sha256:1", &[], &[])).unwrap();
        assert_eq!(doc["metadata"]["component"]["name"], "localhost:5000/app");
        assert_eq!(doc["metadata"]["component"]["version"], "latest");
    }
}
