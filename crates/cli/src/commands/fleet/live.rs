//! `hoist fleet live`: the live release, its manifest digest, and where its
//! artifact is kept: what `--from-stage` compares and fetches.

use crate::cli::Global;
use crate::output::{self, Output, Render};
use serde::Serialize;

#[derive(Debug, Serialize)]
struct Live {
    release: Option<String>,
    digest: Option<String>,
    artifact: Option<String>,
}

impl Render for Live {
    fn human(&self, out: &mut String) {
        output::field(out, "live", self.release.as_deref().unwrap_or("-"));
        output::field(out, "digest", self.digest.as_deref().unwrap_or("-"));
        output::field(out, "artifact", self.artifact.as_deref().unwrap_or("-"));
    }
}

pub fn exec(global: &Global) -> anyhow::Result<i32> {
    let root = crate::target::root(global, None)?;
    let site = hoist_site::Site::open(&root)?;
    let release = site.live()?;
    let digest = release.as_ref().and_then(|id| {
        let path = site.release_dir(id).join(hoist_store::MANIFEST_NAME);
        let manifest = hoist_store::Manifest::from_json(&std::fs::read(path).ok()?).ok()?;
        manifest.is_intact().then_some(manifest.digest)
    });
    let artifact = release
        .as_ref()
        .map(|id| site.kept_artifact(id))
        .filter(|path| path.is_file())
        .map(|path| path.display().to_string());
    Output::new(global.json).emit(&Live {
        release,
        digest,
        artifact,
    })?;
    Ok(crate::EXIT_OK)
}
