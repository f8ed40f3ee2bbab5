//! Ship: a host gets only the file contents it lacks, never the whole
//! artifact again. The host's own hoist answers which contents it cannot
//! produce from its releases (`hoist fleet need`, sent the manifest), then
//! takes in the stream of those files and assembles the very artifact
//! built here (`hoist fleet receive`, format in [`hoist_store::depot::wire`]).
//!
//! The stream is read from the local artifact frame by frame and written
//! to the ssh channel as it is made, so nothing holds the artifact in
//! memory. A transfer that drops keeps on the host what arrived; shipping
//! again asks `need` anew and sends only the rest.

use crate::{FleetError, Host};
use hoist_store::depot::wire::{self, ManifestBy};
use hoist_store::depot::{Need, Received};
use hoist_store::Artifact;
use openssh::Stdio;
use serde::de::DeserializeOwned;
use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;

/// Transfers per ship: the first, and one more for local copies the host
/// found damaged while assembling (it sends their digests back).
const ROUNDS: usize = 2;

/// What shipping to one host did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Shipped {
    /// The assembled artifact on the host, for `hoist deploy` there.
    pub remote_artifact: PathBuf,
    /// Files (distinct contents) sent.
    pub files_sent: u64,
    /// Bytes written to the ssh channels: manifest, stream, framing.
    pub bytes_sent: u64,
    /// Distinct file contents of the release.
    pub files_total: u64,
    /// The artifact's size: what sending it whole would have cost.
    pub bytes_total: u64,
}

/// Ships `artifact` (a local hoist artifact) to `host`.
pub async fn ship(host: &Host, artifact: &Path) -> Result<Shipped, FleetError> {
    let path = artifact.to_owned();
    let opened = tokio::task::spawn_blocking(move || Artifact::open(&path, u64::MAX))
        .await
        .expect("opening an artifact does not panic")?;
    let opened = Arc::new(opened);
    let bytes_total = std::fs::metadata(artifact)
        .map_err(FleetError::io("cannot stat", artifact))?
        .len();
    let manifest = wire::manifest_for_need(opened.manifest());
    let mut shipped = Shipped {
        remote_artifact: PathBuf::new(),
        files_sent: 0,
        bytes_sent: manifest.len() as u64,
        files_total: 0,
        bytes_total,
    };
    let need: Need = call(host, &["fleet", "need"], Feed::Bytes(manifest))
        .await?
        .0;
    shipped.files_total = need.files;
    if let Some(remote) = need.artifact {
        shipped.remote_artifact = remote;
        return Ok(shipped);
    }
    let expect = bytes_total.to_string();
    let args = ["fleet", "receive", "--expect-bytes", expect.as_str()];
    let mut missing = need.missing;
    for _ in 0..ROUNDS {
        let feed = Feed::Stream(opened.clone(), missing.into_iter().collect());
        let (received, sent): (Received, u64) = call(host, &args, feed).await?;
        shipped.files_sent += received.received_files;
        shipped.bytes_sent += sent;
        if let Some(remote) = received.artifact {
            shipped.remote_artifact = remote;
            return Ok(shipped);
        }
        missing = received.missing;
    }
    Err(FleetError::ShipIncomplete {
        host: host.name.clone(),
        missing: missing.len(),
    })
}

/// What goes to a command's stdin.
enum Feed {
    /// These bytes.
    Bytes(Vec<u8>),
    /// The transfer stream of these digests of this artifact.
    Stream(Arc<Artifact>, HashSet<String>),
}

/// Runs hoist `args` on `host` with `feed` on its stdin; its answer and
/// the bytes written.
async fn call<T: DeserializeOwned>(
    host: &Host,
    args: &[&str],
    feed: Feed,
) -> Result<(T, u64), FleetError> {
    let step = args.join(" ");
    let mut child = host
        .command(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .await
        .map_err(|error| host.lost(&step, error))?;
    let mut stdin = child.stdin().take().expect("stdin is piped");
    let (sender, mut chunks) = mpsc::channel::<Vec<u8>>(8);
    let producer = match feed {
        Feed::Bytes(bytes) => {
            sender.send(bytes).await.expect("the receiver is here");
            drop(sender);
            None
        }
        Feed::Stream(artifact, digests) => Some(tokio::task::spawn_blocking(move || {
            let mut out = ChannelWriter {
                sender,
                buffer: Vec::with_capacity(CHUNK),
            };
            wire::write_stream(&artifact, ManifestBy::Digest, &digests, &mut out)?;
            out.flush().map_err(|cause| hoist_store::StoreError::Io {
                action: "cannot send",
                path: artifact.path().to_owned(),
                cause,
            })
        })),
    };
    let mut sent = 0u64;
    let mut cut = false;
    while let Some(chunk) = chunks.recv().await {
        // The host may stop reading (it refused what it got): its answer says why.
        if stdin.write_all(&chunk).await.is_err() {
            cut = true;
            break;
        }
        sent += chunk.len() as u64;
    }
    drop(chunks);
    let closed = stdin.shutdown().await;
    drop(stdin);
    let produced = match producer {
        Some(task) => task.await.expect("writing the stream does not panic"),
        None => Ok(()),
    };
    let output = child
        .wait_with_output()
        .await
        .map_err(|error| host.lost(&step, error))?;
    let answer = host.answer(&step, output)?;
    if cut || closed.is_err() {
        return Err(FleetError::Disconnected {
            host: host.name.clone(),
            step,
        });
    }
    produced?;
    Ok((answer, sent))
}

/// Chunks handed from the blocking stream writer to the async ssh writer.
const CHUNK: usize = 256 * 1024;

/// A `Write` whose bytes go, a chunk at a time, to the task writing the
/// ssh channel; the bounded channel holds the stream back to the wire's pace.
struct ChannelWriter {
    sender: mpsc::Sender<Vec<u8>>,
    buffer: Vec<u8>,
}

impl Write for ChannelWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buffer.extend_from_slice(bytes);
        if self.buffer.len() >= CHUNK {
            self.flush()?;
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.buffer, Vec::with_capacity(CHUNK));
        self.sender
            .blocking_send(chunk)
            .map_err(|_| std::io::ErrorKind::BrokenPipe.into())
    }
}
