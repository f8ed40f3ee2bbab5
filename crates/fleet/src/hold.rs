//! Locking every host of a stage, all or nothing, in a fixed order.
//!
//! Each host's lock is held by `hoist fleet hold` there, for as long as our
//! ssh channel to it stays open ([`hoist_site::FleetLock`]). Hosts are
//! locked in sorted order, so two fleet operations on overlapping stages
//! never each hold half: the second is refused at the first host they
//! share, naming the holder.

use crate::{FleetError, Host, Progress};
use openssh::{Child, Session, Stdio};
use std::sync::Arc;
use tokio::io::AsyncBufReadExt;

/// One host's held fleet lock.
#[derive(Debug)]
pub struct Held {
    host: String,
    child: Child<Arc<Session>>,
}

/// Every host's lock, released together.
#[derive(Debug, Default)]
pub struct Holds(Vec<Held>);

impl Holds {
    /// Releases every lock (closing each `hold`'s stdin) and waits for them
    /// to go; a host whose connection is gone has released its lock already.
    pub async fn release(self) {
        for mut held in self.0 {
            drop(held.child.stdin().take());
            let _ = held.child.wait().await;
            let _ = held.host;
        }
    }
}

/// Takes every host's fleet lock for operation `op`, by `by`, doing `what`.
pub async fn hold_all(
    hosts: &[Host],
    op: &str,
    by: &str,
    what: &str,
    progress: &dyn Progress,
) -> Result<Holds, FleetError> {
    let mut order: Vec<&Host> = hosts.iter().collect();
    order.sort_by(|a, b| a.name.cmp(&b.name));
    let mut holds = Holds::default();
    for host in order {
        progress.host(&host.name, "lock", "taking the fleet lock");
        match hold(host, op, by, what).await {
            Ok(held) => holds.0.push(held),
            Err(error) => {
                holds.release().await;
                return Err(error);
            }
        }
    }
    Ok(holds)
}

async fn hold(host: &Host, op: &str, by: &str, what: &str) -> Result<Held, FleetError> {
    let mut child = host
        .command(&["fleet", "hold", "--op", op, "--by", by, "--command", what])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .await
        .map_err(|error| host.lost("lock", error))?;
    let stdout = child.stdout().take().expect("stdout is piped");
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let first = lines.next_line().await.ok().flatten();
    let held = first
        .as_deref()
        .and_then(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .is_some_and(|answer| answer["held"] == true);
    if held {
        return Ok(Held {
            host: host.name.clone(),
            child,
        });
    }
    // Refused: the rest of what it printed is its JSON error.
    drop(child.stdin().take());
    let mut rest = first.unwrap_or_default();
    while let Ok(Some(line)) = lines.next_line().await {
        rest.push_str(&line);
    }
    let status = child
        .wait()
        .await
        .map_err(|error| host.lost("lock", error))?;
    let output = std::process::Output {
        status,
        stdout: rest.into_bytes(),
        stderr: Vec::new(),
    };
    match host.answer::<serde_json::Value>("fleet hold", output) {
        Err(error) => Err(error),
        Ok(_) => Err(FleetError::Garbled {
            host: host.name.clone(),
            command: "fleet hold".to_owned(),
            output: "exited without holding the lock".to_owned(),
        }),
    }
}
