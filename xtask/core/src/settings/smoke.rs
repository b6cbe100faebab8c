//! `[workspace.metadata.xtask.smoke]`: what `cargo xtask smoke` builds and allows.

use serde::Deserialize;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SmokeSettings {
    /// The tag the smoke gate builds the app image as (its own: never the one `up` runs).
    pub image: String,
    /// The image's size budget, in MB (10^6 bytes, as `docker images` counts).
    pub max_image_size_mb: u64,
}

/// The table as written, every key with its default.
#[derive(Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct Table {
    image: String,
    max_image_size_mb: u64,
}

impl Default for Table {
    fn default() -> Table {
        Table { image: "xtask-smoke:latest".into(), max_image_size_mb: 500 }
    }
}

impl Table {
    /// The settings, or every problem with them.
    pub(super) fn validate(self) -> Result<SmokeSettings, Vec<String>> {
        let mut errors = Vec::new();
        if self.image.is_empty() || self.image.contains(char::is_whitespace) {
            errors.push(format!("`image` = {:?} is not an image name (e.g. \"myapp:smoke\")", self.image));
        }
        if self.max_image_size_mb == 0 {
            errors.push("`max-image-size-mb` must be at least 1".to_owned());
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(SmokeSettings { image: self.image, max_image_size_mb: self.max_image_size_mb })
    }
}
