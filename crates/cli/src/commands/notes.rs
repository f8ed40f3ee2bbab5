//! `hoist notes [FROM] [TO]`: the commits between two releases, with
//! every `Deployment:` section in full (seed 002's convention), and a
//! warning when a note speaks of a schema change the release ships no
//! migration for.

use crate::cli::Global;
use crate::output::{Output, Render};
use hoist_notes::Notes;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "FROM and TO are release ids, artifact files or git revisions.\n\nExamples:\n  hoist notes                               the live release to HEAD\n  hoist notes dist/X.tar.zst                the live release to that artifact\n  hoist notes 20261122T1015Z-1.4.2-ab12cd3 v1.5   between a release and a tag\n  hoist notes --json"
)]
pub struct Args {
    /// Where the notes start (default: the live release).
    #[arg(value_name = "FROM")]
    first: Option<String>,
    /// Where they end (default: HEAD). Given alone, FROM is taken as TO.
    #[arg(value_name = "TO")]
    second: Option<String>,
}

impl Render for Notes {
    fn human(&self, out: &mut String) {
        out.push_str(&self.render());
    }
}

pub fn exec(global: &Global, args: Args) -> anyhow::Result<i32> {
    let config = crate::target::config(global)?;
    let migrations = config
        .as_ref()
        .and_then(|(config, _)| config.database.as_ref())
        .map_or_else(|| "migrations".to_owned(), |db| db.migrations.clone());
    let site = crate::target::root(global, config.as_ref())
        .ok()
        .and_then(|root| hoist_site::Site::open(&root).ok());
    let repo = std::path::Path::new(".");
    let side = |spec: &str| crate::notes_range::side(spec, site.as_ref(), repo, &migrations);
    // One argument is where the notes end: "what would deploying this bring".
    let (from, to) = match (args.first, args.second) {
        (Some(from), Some(to)) => (side(&from), side(&to)),
        (Some(to), None) => (
            crate::notes_range::live(site.as_ref(), repo, &migrations),
            side(&to),
        ),
        (None, _) => (
            crate::notes_range::live(site.as_ref(), repo, &migrations),
            side("HEAD"),
        ),
    };
    let notes = Notes::between(repo, &from, &to);
    Output::new(global.json).emit(&notes)?;
    Ok(crate::EXIT_OK)
}
