//! The compose stack's images, built ahead of a test run whose container tests build them
//! (`build-images` in `[workspace.metadata.xtask.test]`).
//!
//! On an engine that has never built the app, the first container test pays the image's
//! dependency layer: a release build of every dependency, minutes of every core. Inside the
//! suite that build shares the cores with the other tests, and the container tests queue
//! behind it. Built first, beside the tool installs, it has the cores to itself, and the suite
//! finds it in Docker's layer cache (docs/benchmarks.md, "The first run").
//!
//! The images are built as the smoke gate builds them: the compose file with the throwaway
//! variables of `[workspace.metadata.xtask.compose]`, tagged as the smoke gate's image. So a
//! later `cargo xtask smoke` finds its own image built. Nothing here fails a gate: without an
//! engine nothing is built (the container tests say they skip), and a failed build is a
//! warning (the container tests build again and report it).

use std::fs::File;
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::Instant;

use crate::docker::{self, Compose};
use crate::{Context, output};

/// A `docker compose build` running in the background.
pub struct ImageBuild {
    child: Child,
    docker: PathBuf,
    image: String,
    before: Option<String>,
    shown: String,
    log: PathBuf,
    started: Instant,
}

impl ImageBuild {
    /// Starts the build when the settings ask for it and an engine answers, saying so in one
    /// line; `None` otherwise. Its output goes to `xtask-images.log` in the target folder.
    pub fn start(cx: &Context) -> Option<ImageBuild> {
        if !cx.settings.test.build_images {
            return None;
        }
        let docker = docker::docker().ok()?;
        let file = docker::file(&cx.root, cx.settings.compose.file.as_deref()).ok()?;
        let compose = Compose::find(&docker, &file)?;
        let image = cx.settings.smoke.image.clone();
        let env = docker::render_env(&cx.settings.compose.env, &image).ok()?;
        let compose = compose.throwaway("xtask-images", env);
        let log = crate::target_dir(&cx.root).join("xtask-images.log");
        let out = std::fs::create_dir_all(log.parent()?).and_then(|()| File::create(&log)).ok()?;
        let err = out.try_clone().ok()?;
        let before = docker::image_id(&docker, &image);
        let child = compose.command().arg("build").stdout(Stdio::from(out)).stderr(Stdio::from(err)).spawn().ok()?;
        let command = compose.shown("build");
        eprintln!(
            "images: building {image} for the container tests, beside the rest (`{command}`; log: {})",
            output::relative(&cx.root, &log)
        );
        Some(ImageBuild { child, docker, image, before, shown: command, log, started: Instant::now() })
    }

    /// Waits for the build, saying every 15 s that it is still going, then says how it went:
    /// one line when it built, a warning with the log's last lines when it failed.
    pub fn wait(mut self, cx: &Context) {
        let waiting = Instant::now();
        output::wait_saying(output::PROGRESS_EVERY, || {
            matches!(self.child.try_wait(), Ok(None)).then(|| format!("images: still building {}", self.image))
        });
        let status = self.child.wait();
        let took = self.started.elapsed().as_secs_f64();
        match status {
            Ok(s) if s.success() => {
                docker::drop_superseded(&self.docker, self.before.take(), docker::image_id(&self.docker, &self.image));
                let waited = waiting.elapsed().as_secs_f64();
                eprintln!("images: {} built in {took:.1} s (the tests waited {waited:.1} s for it)", self.image);
            }
            Ok(s) => {
                let text = std::fs::read_to_string(&self.log).unwrap_or_default();
                eprintln!(
                    "warning: images: `{}` failed ({s}); the container tests build the image again and report it:\n{}",
                    self.shown,
                    crate::process::last_lines(&text, 15)
                );
                cx.out.annotate(
                    output::Level::Warning,
                    None,
                    "Image build",
                    &format!("`{}` failed ({s}): see {}", self.shown, output::relative(&cx.root, &self.log)),
                );
            }
            Err(e) => eprintln!("warning: images: cannot wait for `{}`: {e}", self.shown),
        }
    }
}

/// A build still running when its gate ends early (an error, a signal) is stopped.
impl Drop for ImageBuild {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
