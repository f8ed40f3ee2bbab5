//! The sending half of `hoist data load --stage` ([`crate::data`]): one
//! host's `hoist fleet data-receive`, fed the packed version on stdin, or
//! told to copy its own copy of the same content, and its answer checked:
//! the version under the id and digest the fleet gave.

use crate::data::{DataLoad, Need, Shipment};
use crate::{data_wire, FleetError, Host, Progress};
use serde::Deserialize;
use std::path::PathBuf;

/// What `data-receive` answers (the host's `LoadReport`).
#[derive(Debug, Deserialize)]
struct Loaded {
    version: String,
    digest: String,
}

/// Packs the version into a temporary file, off the async threads.
pub(crate) async fn pack(
    scanned: &hoist_data::Scanned,
) -> Result<tempfile::NamedTempFile, FleetError> {
    let scanned = scanned.clone();
    tokio::task::spawn_blocking(move || {
        let root = scanned.root.clone();
        let file = tempfile::NamedTempFile::new().map_err(FleetError::io(
            "cannot create a temporary file in",
            std::env::temp_dir(),
        ))?;
        data_wire::pack(&scanned, std::io::BufWriter::new(file.as_file()))
            .map_err(FleetError::io("cannot pack", root))?;
        Ok(file)
    })
    .await
    .expect("packing does not panic")
}

/// `hoist fleet data-receive` on one host.
pub(crate) struct Receive<'a> {
    pub(crate) id: &'a str,
    pub(crate) digest: &'a str,
    pub(crate) request: &'a DataLoad,
    pub(crate) packed: Option<PathBuf>,
}

impl Receive<'_> {
    fn args(&self, copy_of: Option<&str>) -> Vec<String> {
        let mut args: Vec<String> = [
            "fleet",
            "data-receive",
            "--id",
            self.id,
            "--digest",
            self.digest,
        ]
        .map(str::to_owned)
        .into();
        let optional = [
            ("--copy-of", copy_of),
            ("--label", self.request.label.as_deref()),
            ("--check", self.request.check.as_deref()),
        ];
        for (flag, value) in optional {
            if let Some(value) = value {
                args.extend([flag.to_owned(), value.to_owned()]);
            }
        }
        args
    }

    pub(crate) async fn on(
        &self,
        host: &Host,
        need: &Need,
        progress: &dyn Progress,
    ) -> Result<Shipment, FleetError> {
        match need {
            Need::HadIt => {
                progress.host(&host.name, "done", &format!("already has {}", self.id));
                Ok(Shipment {
                    how: "had-it",
                    bytes_sent: 0,
                })
            }
            Need::CopyOf(other) => {
                progress.host(&host.name, "load", &format!("copying its own {other}"));
                let args = self.args(Some(other));
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                self.loaded(host, host.run(&args).await?)?;
                progress.host(&host.name, "done", &format!("loaded {}", self.id));
                Ok(Shipment {
                    how: "copied",
                    bytes_sent: 0,
                })
            }
            Need::Send => {
                progress.host(&host.name, "ship", "sending the version");
                let packed = self
                    .packed
                    .as_deref()
                    .expect("packed for a host that lacks it");
                let bytes_sent = self.send(host, packed).await?;
                progress.host(
                    &host.name,
                    "done",
                    &format!("loaded {}, {bytes_sent} bytes sent", self.id),
                );
                Ok(Shipment {
                    how: "sent",
                    bytes_sent,
                })
            }
        }
    }

    /// Streams the packed version into `data-receive` on the host.
    async fn send(&self, host: &Host, packed: &std::path::Path) -> Result<u64, FleetError> {
        use openssh::Stdio;
        let args = self.args(None);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut child = host
            .command(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .await
            .map_err(|error| host.lost("data load", error))?;
        let mut file = tokio::fs::File::open(packed)
            .await
            .map_err(FleetError::io("cannot read", packed))?;
        let mut stdin = child.stdin().take().expect("stdin is piped");
        // A host that refuses stops reading; its answer says why.
        let sent = tokio::io::copy(&mut file, &mut stdin).await;
        drop(stdin);
        let output = child
            .wait_with_output()
            .await
            .map_err(|error| host.lost("data load", error))?;
        self.loaded(host, host.answer(&args.join(" "), output)?)?;
        sent.map_err(|_| FleetError::Disconnected {
            host: host.name.clone(),
            step: "data load".to_owned(),
        })
    }

    /// Checks the host loaded the version under the id it was given.
    fn loaded(&self, host: &Host, answer: Loaded) -> Result<(), FleetError> {
        if answer.version == self.id && answer.digest == self.digest {
            return Ok(());
        }
        Err(FleetError::Garbled {
            host: host.name.clone(),
            command: "fleet data-receive".to_owned(),
            output: format!(
                "loaded `{}` ({}), not `{}`",
                answer.version, answer.digest, self.id
            ),
        })
    }
}
