//! The workspace's packages as the impact rules need them: where each lives, its binaries, its
//! build script, and which packages depend on which (`cargo metadata`, without the registry).

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::{Context as _, Result};

#[derive(Clone, Debug)]
pub struct Package {
    pub name: String,
    /// The package's folder, repository-relative (`""` for a package at the root).
    pub dir: String,
    /// Its `[[bin]]` targets' names: the programs its tests may start.
    pub bins: Vec<String>,
    /// Its build script, repository-relative, if any.
    pub build_script: Option<String>,
    /// Whether it is a proc-macro crate (its code runs while others compile).
    pub proc_macro: bool,
    /// The workspace packages it depends on (normal, dev and build dependencies).
    pub deps: BTreeSet<String>,
}

#[derive(Clone, Debug)]
pub struct Workspace {
    pub packages: Vec<Package>,
    /// `[workspace.metadata.xtask]` as JSON text.
    pub settings_json: String,
}

impl Workspace {
    pub fn load(cargo: &str, root: &Path) -> Result<Workspace> {
        let metadata =
            crate::settings::workspace_metadata(cargo, root).context("cannot read the workspace's packages")?;
        let root_dir = metadata.workspace_root.clone().into_std_path_buf();
        let relative =
            |p: &Path| -> String { p.strip_prefix(&root_dir).unwrap_or(p).to_string_lossy().replace('\\', "/") };
        let names: BTreeSet<String> = metadata.workspace_packages().iter().map(|p| p.name.to_string()).collect();
        let mut packages = Vec::new();
        for p in metadata.workspace_packages() {
            let dir = p.manifest_path.parent().map(|d| relative(d.as_std_path())).unwrap_or_default();
            let kinds = |t: &cargo_metadata::Target, k: &str| t.kind.iter().any(|x| x.to_string() == k);
            packages.push(Package {
                name: p.name.to_string(),
                dir,
                bins: p.targets.iter().filter(|t| kinds(t, "bin")).map(|t| t.name.clone()).collect(),
                build_script: p
                    .targets
                    .iter()
                    .find(|t| kinds(t, "custom-build"))
                    .map(|t| relative(t.src_path.as_std_path())),
                proc_macro: p.targets.iter().any(|t| kinds(t, "proc-macro")),
                deps: p.dependencies.iter().map(|d| d.name.clone()).filter(|n| names.contains(n)).collect(),
            });
        }
        // Deepest folders first, so that a file belongs to the innermost package.
        packages.sort_by(|a, b| b.dir.len().cmp(&a.dir.len()).then_with(|| a.name.cmp(&b.name)));
        let settings_json = metadata.workspace_metadata.get("xtask").map(|v| v.to_string()).unwrap_or_default();
        Ok(Workspace { packages, settings_json })
    }

    /// The package a repository path belongs to.
    pub fn owner(&self, path: &str) -> Option<&Package> {
        self.packages.iter().find(|p| p.dir.is_empty() || path.strip_prefix(&p.dir).is_some_and(|r| r.starts_with('/')))
    }

    /// Every bin target's name in the workspace.
    pub fn bins(&self) -> impl Iterator<Item = &str> {
        self.packages.iter().flat_map(|p| p.bins.iter().map(String::as_str))
    }
}
