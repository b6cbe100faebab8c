//! The dependency list `cargo auditable` embeds in a binary (a compressed JSON in a section of
//! its own): read, listed for an SBOM, or turned into the lockfile the audit checks.

use std::path::Path;
use std::str::FromStr as _;

use anyhow::{Context as _, Result};
use auditable_info::{Error, Limits};
use auditable_serde::{DependencyKind, Source, VersionInfo};
use rustsec::cargo_lock::{Dependency, Lockfile, Name, Package, ResolveVersion, SourceId};
use xtask_security::audit;

/// The list `binary` carries; `None` for a binary without one (not built with `cargo auditable`).
pub fn read(binary: &Path) -> Result<Option<VersionInfo>> {
    match auditable_info::audit_info_from_file(binary, Limits::default()) {
        Ok(info) => Ok(Some(info)),
        Err(Error::NoAuditData) => Ok(None),
        Err(Error::Io(e)) => Err(e).with_context(|| format!("cannot read {}", binary.display())),
        Err(e) => {
            Err(anyhow::anyhow!("{e}")).with_context(|| format!("{}: unreadable dependency list", binary.display()))
        }
    }
}

/// The packages `binary` carries, for the SBOM: an error names the fix for a binary without
/// a list.
pub fn packages_of(binary: &Path) -> Result<audit::Packages> {
    match read(binary)? {
        Some(info) => Ok(packages(&info)),
        None => anyhow::bail!(
            "{} carries no dependency list: build it with `cargo auditable build` (cargo-auditable), not `cargo build`",
            binary.display()
        ),
    }
}

/// The packages of a list.
pub fn packages(info: &VersionInfo) -> audit::Packages {
    let packages = info
        .packages
        .iter()
        .map(|p| audit::Package {
            name: p.name.clone(),
            version: p.version.to_string(),
            source: String::from(p.source.clone()),
            build_only: p.kind == DependencyKind::Build,
            root: p.root,
        })
        .collect();
    audit::Packages { packages }
}

/// The list as a lockfile: crates.io packages with crates.io's source, every other source
/// none (as a workspace member's), so the advisories, which are about crates.io crates, apply
/// to the crates.io ones alone.
pub fn lockfile(info: &VersionInfo) -> Result<Lockfile> {
    let source = |p: &auditable_serde::Package| match p.source {
        Source::CratesIo => Some(SourceId::default()),
        _ => None,
    };
    let mut packages = Vec::with_capacity(info.packages.len());
    for p in &info.packages {
        let mut dependencies = Vec::with_capacity(p.dependencies.len());
        for &i in &p.dependencies {
            let d = info.packages.get(i).with_context(|| format!("{}: no package at index {i}", p.name))?;
            dependencies.push(Dependency {
                name: Name::from_str(&d.name)?,
                version: d.version.clone(),
                source: source(d),
            });
        }
        packages.push(Package {
            name: Name::from_str(&p.name)?,
            version: p.version.clone(),
            source: source(p),
            checksum: None,
            dependencies,
            replace: None,
        });
    }
    Ok(Lockfile {
        version: ResolveVersion::V3,
        packages,
        root: None,
        metadata: Default::default(),
        patch: Default::default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The list as `cargo auditable` writes it: the root, a crates.io runtime dependency with its
    /// own, a build-only proc-macro crate and a git dependency.
    const LIST: &str = r#"{"packages":[
        {"name":"app","version":"0.1.0","source":"local","dependencies":[1,2,3],"root":true},
        {"name":"hyper","version":"0.14.10","source":"crates.io","dependencies":[4]},
        {"name":"serde_derive","version":"1.0.200","source":"crates.io","kind":"build"},
        {"name":"forked","version":"0.2.0","source":"git"},
        {"name":"h2","version":"0.3.26","source":"crates.io"}
    ]}"#;

    #[test]
    fn the_list_becomes_a_lockfile_whose_crates_io_packages_have_crates_io_as_source() {
        let info: VersionInfo = LIST.parse().unwrap();
        let lock = lockfile(&info).unwrap();
        let got: Vec<(String, String, bool)> = lock
            .packages
            .iter()
            .map(|p| {
                (
                    p.name.as_str().to_owned(),
                    p.version.to_string(),
                    p.source.as_ref().is_some_and(|s| s.is_default_registry()),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("app".into(), "0.1.0".into(), false),
                ("hyper".into(), "0.14.10".into(), true),
                ("serde_derive".into(), "1.0.200".into(), true),
                ("forked".into(), "0.2.0".into(), false),
                ("h2".into(), "0.3.26".into(), true),
            ]
        );
        let deps: Vec<&str> = lock.packages[0].dependencies.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(deps, ["hyper", "serde_derive", "forked"]);
        assert_eq!(lock.packages[1].dependencies[0].name.as_str(), "h2");
        // The audit's roots are the packages without a registry source: the app (and the git one).
        let linked = crate::advisories::linked(&lock, &["app".to_owned()]);
        assert!(linked.contains(&("h2".to_owned(), "0.3.26".to_owned())), "{linked:?}");
    }

    #[test]
    fn a_dependency_index_out_of_the_list_is_an_error() {
        let info: VersionInfo =
            r#"{"packages":[{"name":"app","version":"0.1.0","source":"local","dependencies":[7],"root":true}]}"#
                .parse()
                .unwrap();
        assert!(format!("{:#}", lockfile(&info).unwrap_err()).contains("no package at index 7"));
    }

    #[test]
    fn the_packages_say_which_is_the_root_and_which_only_build() {
        let info: VersionInfo = LIST.parse().unwrap();
        let list = packages(&info).packages;
        assert_eq!(list.len(), 5);
        assert!(list[0].root && !list[0].build_only && list[0].source == "local");
        assert!(list[2].build_only && !list[2].root && list[2].source == "crates.io");
        assert_eq!(list[3].source, "git");
    }

    #[test]
    fn a_binary_without_a_list_is_none_and_named_with_the_fix_when_listed() {
        // This test's own executable: built by plain cargo, so it carries no list.
        let me = std::env::current_exe().unwrap();
        assert!(read(&me).unwrap().is_none());
        let err = format!("{:#}", packages_of(&me).unwrap_err());
        assert!(err.contains("carries no dependency list") && err.contains("cargo auditable build"), "{err}");
        let missing = format!("{:#}", read(Path::new("/nonexistent/binary")).unwrap_err());
        assert!(missing.contains("cannot read /nonexistent/binary"), "{missing}");
    }
}
