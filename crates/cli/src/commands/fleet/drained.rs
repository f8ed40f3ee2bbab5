//! `hoist fleet drained --mark OP | --clear`: notes on the host that a
//! fleet operation drained it at the balancer, until it is ready again.
//! A fleet operation that dies between the two leaves the note, and the
//! next one (or `hoist status`) sees it.

use crate::cli::Global;
use serde::Serialize;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The fleet operation draining this host.
    #[arg(long, value_name = "OP", conflicts_with = "clear")]
    mark: Option<String>,
    /// It is back in rotation.
    #[arg(long)]
    clear: bool,
}

#[derive(Serialize)]
struct Drained {
    drained: Option<String>,
}

pub fn exec(global: &Global, args: Args) -> anyhow::Result<i32> {
    let root = crate::target::root(global, None)?;
    let site = hoist_site::Site::open(&root)?;
    let path = site.fleet_drained_path();
    let drained = match (&args.mark, args.clear) {
        (Some(op), _) => {
            hoist_site::durable::write_atomic(&path, format!("{op}\n").as_bytes())?;
            Some(op.clone())
        }
        (None, true) => {
            if path.exists() {
                hoist_site::durable::remove_file(&path)?;
            }
            None
        }
        (None, false) => std::fs::read_to_string(&path)
            .ok()
            .map(|text| text.trim().to_owned()),
    };
    println!("{}", serde_json::to_string(&Drained { drained })?);
    Ok(crate::EXIT_OK)
}
