//! Shipping the artifact to a host (placeholder: the whole file; the
//! content-addressed transfer replaces it).

use crate::{FleetError, Host};
use serde::Serialize;
use std::path::{Path, PathBuf};
use tokio::io::AsyncWriteExt;

/// What shipping to one host did.
#[derive(Debug, Clone, Serialize)]
pub struct Shipped {
    /// The complete artifact's path on the host.
    pub remote_artifact: PathBuf,
    /// Files sent.
    pub files_sent: u64,
    /// Bytes sent over the connection.
    pub bytes_sent: u64,
    /// Files in the release.
    pub files_total: u64,
    /// Bytes in the release.
    pub bytes_total: u64,
}

/// Sends `artifact` to `host`.
pub async fn ship(host: &Host, artifact: &Path) -> Result<Shipped, FleetError> {
    let opened = hoist_store::Artifact::open(artifact, u64::MAX)?;
    let manifest = opened.manifest();
    let dir = host.root().join("fleet");
    let remote = dir.join(format!("{}.tar.zst", manifest.release));
    let script = format!(
        "mkdir -p '{0}' && cat > '{1}.part' && mv '{1}.part' '{1}'",
        dir.display(),
        remote.display()
    );
    let mut child = host
        .raw("sh")
        .args(["-c", &script])
        .stdin(openssh::Stdio::piped())
        .stdout(openssh::Stdio::null())
        .spawn()
        .await
        .map_err(|error| host.lost("ship", error))?;
    let bytes = tokio::fs::read(artifact)
        .await
        .map_err(FleetError::io("cannot read", artifact))?;
    let mut stdin = child.stdin().take().expect("piped");
    stdin
        .write_all(&bytes)
        .await
        .map_err(|_| FleetError::Disconnected {
            host: host.name.clone(),
            step: "ship".to_owned(),
        })?;
    drop(stdin);
    child
        .wait()
        .await
        .map_err(|error| host.lost("ship", error))?;
    Ok(Shipped {
        remote_artifact: remote,
        files_sent: manifest.file_count() as u64,
        bytes_sent: bytes.len() as u64,
        files_total: manifest.file_count() as u64,
        bytes_total: manifest.total_bytes(),
    })
}
