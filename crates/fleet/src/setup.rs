//! `hoist setup --stage NAME`: every host gets this very hoist and a site.
//!
//! The binary goes over the host's ssh connection (temp file, chmod,
//! rename over: a running hoist there keeps its old inode), only to hosts
//! whose hoist differs. Then the host's own hoist creates the site layout.

use crate::{connect, FleetError, HoistBuild, Host, Progress, Reach};
use serde::Serialize;
use std::path::Path;
use std::sync::Arc;
use tokio::io::AsyncWriteExt;

/// One host after setup.
#[derive(Debug, Clone, Serialize)]
pub struct SetUp {
    /// The host.
    pub host: String,
    /// Whether hoist was installed or replaced.
    pub installed: bool,
    /// What it ran before (`none` when it had no hoist).
    pub before: String,
    /// The site root, created if it was missing.
    pub root: String,
}

/// Installs `exe` (whose build is `ours`) where the stage says and creates
/// the site on every host.
pub async fn setup(
    stage: &hoist_config::Stage,
    reach: Arc<Reach>,
    exe: &Path,
    ours: &HoistBuild,
    progress: &dyn Progress,
) -> Result<Vec<SetUp>, FleetError> {
    let hosts = connect::connect_all(&stage.hosts, reach, stage.max_connections, progress).await?;
    let bytes = Arc::new(
        tokio::fs::read(exe)
            .await
            .map_err(FleetError::io("cannot read", exe))?,
    );
    let results = futures_util::future::join_all(
        hosts
            .iter()
            .map(|host| setup_one(host, bytes.clone(), ours, progress)),
    )
    .await;
    results.into_iter().collect()
}

async fn setup_one(
    host: &Host,
    bytes: Arc<Vec<u8>>,
    ours: &HoistBuild,
    progress: &dyn Progress,
) -> Result<SetUp, FleetError> {
    let theirs = connect::host_build(host).await?;
    let before = theirs
        .as_ref()
        .map_or_else(|| "none".to_owned(), ToString::to_string);
    let installed = theirs.as_ref() != Some(ours);
    if installed {
        progress.host(
            &host.name,
            "install",
            &format!("{ours} at {}", host.hoist_path()),
        );
        install(host, &bytes).await?;
    }
    progress.host(&host.name, "site", &host.root().display().to_string());
    #[derive(serde::Deserialize)]
    struct Site {
        root: String,
    }
    let site: Site = host.run(&["fleet", "site"]).await?;
    progress.host(&host.name, "done", "ready");
    Ok(SetUp {
        host: host.name.clone(),
        installed,
        before,
        root: site.root,
    })
}

async fn install(host: &Host, bytes: &[u8]) -> Result<(), FleetError> {
    let path = host.hoist_path();
    let dir = Path::new(path)
        .parent()
        .map_or_else(|| "/".to_owned(), |dir| dir.display().to_string());
    let script = format!(
        "set -e; mkdir -p {dir}; cat > {path}.new; chmod 755 {path}.new; mv -f {path}.new {path}",
        dir = quote(&dir),
        path = quote(path)
    );
    let mut child = host
        .raw("sh")
        .args(["-c", &script])
        .stdin(openssh::Stdio::piped())
        .stdout(openssh::Stdio::null())
        .stderr(openssh::Stdio::piped())
        .spawn()
        .await
        .map_err(|error| host.lost("install", error))?;
    let mut stdin = child.stdin().take().expect("stdin is piped");
    let sent = stdin.write_all(bytes).await;
    drop(stdin);
    let output = child
        .wait_with_output()
        .await
        .map_err(|error| host.lost("install", error))?;
    if sent.is_err() || !output.status.success() {
        return Err(FleetError::Garbled {
            host: host.name.clone(),
            command: format!("install hoist at {path}"),
            output: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        });
    }
    Ok(())
}

/// Single-quotes `text` for `sh`.
fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}
