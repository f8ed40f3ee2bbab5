//! `--from-stage NAME`: what another stage runs, exactly: the one release
//! every host there runs, its manifest digest, and its artifact, fetched
//! from a host that keeps it when this machine has no copy.

use crate::{connect, FleetError, Host, Progress, Reach};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::io::AsyncWriteExt;

/// The release a stage runs.
#[derive(Debug, Clone)]
pub struct Running {
    /// Its id.
    pub release: String,
    /// Its manifest digest.
    pub digest: String,
    /// A host keeping its artifact, and where.
    source: Option<(Host, String)>,
}

#[derive(serde::Deserialize)]
struct Live {
    release: Option<String>,
    digest: Option<String>,
    artifact: Option<String>,
}

/// What every host of stage `name` runs; refuses when they differ.
pub async fn running(
    name: &str,
    stage: &hoist_config::Stage,
    reach: Arc<Reach>,
    progress: &dyn Progress,
) -> Result<Running, FleetError> {
    let hosts = connect::connect_all(&stage.hosts, reach, stage.max_connections, progress).await?;
    let answers = futures_util::future::join_all(
        hosts
            .iter()
            .map(|host| host.run::<Live>(&["fleet", "live"])),
    )
    .await;
    let mut running: Option<Running> = None;
    for (host, answer) in hosts.iter().zip(answers) {
        let live = answer?;
        let refuse = |problem: String| FleetError::FromStage {
            from: name.to_owned(),
            problem,
        };
        let (Some(release), Some(digest)) = (live.release, live.digest) else {
            return Err(refuse(format!("`{}` runs no intact release", host.name)));
        };
        match &mut running {
            None => {
                running = Some(Running {
                    release,
                    digest,
                    source: live.artifact.map(|path| (host.clone(), path)),
                })
            }
            Some(first) if first.release != release || first.digest != digest => {
                return Err(refuse(format!(
                    "its hosts differ: `{}` runs `{release}`, others `{}`",
                    host.name, first.release
                )));
            }
            Some(first) => {
                if first.source.is_none() {
                    first.source = live.artifact.map(|path| (host.clone(), path));
                }
            }
        }
    }
    running.ok_or_else(|| FleetError::FromStage {
        from: name.to_owned(),
        problem: "it has no hosts".to_owned(),
    })
}

impl Running {
    /// Checks that `artifact` is exactly this release.
    pub fn matches(&self, from: &str, artifact: &Path) -> Result<(), FleetError> {
        let opened = hoist_store::Artifact::open(artifact, u64::MAX)?;
        let manifest = opened.manifest();
        if manifest.release.as_str() != self.release || manifest.digest != self.digest {
            return Err(FleetError::FromStage {
                from: from.to_owned(),
                problem: format!(
                    "`{}` is `{}` (digest {}), but it runs `{}` (digest {})",
                    artifact.display(),
                    manifest.release,
                    &manifest.digest[..12],
                    self.release,
                    &self.digest[..12.min(self.digest.len())]
                ),
            });
        }
        Ok(())
    }

    /// The artifact in `dir` (`<id>.tar.zst`), fetched from a host of the
    /// stage when it is not there already; checked against the digest.
    pub async fn fetch_into(&self, from: &str, dir: &Path) -> Result<PathBuf, FleetError> {
        let local = dir.join(format!("{}.tar.zst", self.release));
        if local.is_file() && self.matches(from, &local).is_ok() {
            return Ok(local);
        }
        let Some((host, remote)) = &self.source else {
            return Err(FleetError::FromStage {
                from: from.to_owned(),
                problem: format!("no host keeps the artifact of `{}`", self.release),
            });
        };
        tokio::fs::create_dir_all(dir)
            .await
            .map_err(FleetError::io("cannot create", dir))?;
        let partial = dir.join(format!(".{}.tar.zst.partial", self.release));
        let output = host
            .raw("cat")
            .arg(remote)
            .stdin(openssh::Stdio::null())
            .output()
            .await
            .map_err(|error| host.lost("fetching the artifact", error))?;
        if !output.status.success() {
            return Err(FleetError::FromStage {
                from: from.to_owned(),
                problem: format!(
                    "cannot read `{remote}` on `{}`: {}",
                    host.name,
                    String::from_utf8_lossy(&output.stderr).trim()
                ),
            });
        }
        let mut file = tokio::fs::File::create(&partial)
            .await
            .map_err(FleetError::io("cannot write", &partial))?;
        file.write_all(&output.stdout)
            .await
            .map_err(FleetError::io("cannot write", &partial))?;
        file.sync_all()
            .await
            .map_err(FleetError::io("cannot write", &partial))?;
        drop(file);
        if let Err(error) = self.matches(from, &partial) {
            let _ = std::fs::remove_file(&partial);
            return Err(error);
        }
        std::fs::rename(&partial, &local).map_err(FleetError::io("cannot rename into", &local))?;
        Ok(local)
    }
}
