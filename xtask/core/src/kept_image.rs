//! What the smoke gate keeps of the image it built: the service's binary copied out of it, the
//! image's SBOM, and this record of them, in `target/xtask/image/`. The security gate's `image`
//! check audits that binary (so what is scanned is what the smoke gate started and checked),
//! and CI keeps the folder as an artifact.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use serde::{Deserialize, Serialize};

/// The record's file name in [`dir`].
pub const RECORD: &str = "image.json";
/// The SBOM's file name in [`dir`] (CycloneDX JSON).
pub const SBOM: &str = "sbom.cdx.json";

/// Where the smoke gate keeps them.
pub fn dir(root: &Path) -> PathBuf {
    crate::target_dir(root).join("xtask/image")
}

/// The record of one build.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeptImage {
    /// The image's name, as the smoke gate tags it (`smoke.image`).
    pub image: String,
    /// Its local id (`sha256:…`).
    pub id: String,
    /// The binary's path inside the image (its entrypoint).
    pub binary_in_image: String,
    /// The copy's file name in [`dir`].
    pub binary: String,
    /// How many crates and Debian packages the SBOM lists.
    pub crates: usize,
    pub debian_packages: usize,
}

impl KeptImage {
    /// How findings and notes name the binary: `IMAGE:PATH`.
    pub fn shown(&self) -> String {
        format!("{}:{}", self.image, self.binary_in_image)
    }

    /// The kept copy of the binary, in `dir`.
    pub fn binary_path(&self, dir: &Path) -> PathBuf {
        dir.join(&self.binary)
    }

    /// The record in `dir`, if the smoke gate left one.
    pub fn load(dir: &Path) -> Result<Option<KeptImage>> {
        let path = dir.join(RECORD);
        match std::fs::read(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
            Ok(bytes) => serde_json::from_slice(&bytes).map(Some).with_context(|| {
                format!("{} is not the smoke gate's record of its image: run `cargo xtask smoke` again", path.display())
            }),
        }
    }

    /// Written atomically, after the files it names.
    pub fn save(&self, dir: &Path) -> Result<()> {
        let json = serde_json::to_string_pretty(self)?;
        crate::output::write_atomically(&dir.join(RECORD), |tmp| {
            std::fs::write(tmp, json.as_bytes()).with_context(|| format!("cannot write {}", tmp.display()))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_round_trips_and_a_missing_one_is_none_and_a_broken_one_names_the_fix() {
        let dir = std::env::temp_dir().join(format!("kept-image-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        assert_eq!(KeptImage::load(&dir).unwrap(), None);
        let kept = KeptImage {
            image: "clicknback:local".into(),
            id: "sha256:0123".into(),
            binary_in_image: "/usr/local/bin/app".into(),
            binary: "app".into(),
            crates: 300,
            debian_packages: 90,
        };
        kept.save(&dir).unwrap();
        assert_eq!(KeptImage::load(&dir).unwrap(), Some(kept.clone()));
        assert_eq!(kept.shown(), "clicknback:local:/usr/local/bin/app");
        std::fs::write(dir.join(RECORD), "{").unwrap();
        let err = format!("{:#}", KeptImage::load(&dir).unwrap_err());
        assert!(err.contains("run `cargo xtask smoke` again"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
