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
    use crate::notes_range::{live, side, Place};
    let config = crate::target::config(global)?;
    // No `[database]`: no schema, so no schema warning.
    let migrations = config
        .as_ref()
        .and_then(|(config, _)| config.database.as_ref())
        .map(|db| db.migrations.clone());
    let migrations = migrations.as_deref();
    let root = crate::target::root(global, config.as_ref()).ok();
    let site = root
        .as_ref()
        .and_then(|root| hoist_site::Site::open(root).ok());
    let place = match (&site, &root) {
        (Some(site), _) => Place::Site(site),
        (None, Some(root)) => Place::NoSite(root),
        (None, None) => Place::NoRoot,
    };
    let repo = std::path::Path::new(".");
    let side = |spec: &str| side(spec, place, repo, migrations);
    // One argument is where the notes end: "what would deploying this bring".
    let (from, to) = match (args.first, args.second) {
        (Some(from), Some(to)) => (side(&from), side(&to)),
        (Some(to), None) => (live(place, repo, migrations), side(&to)),
        (None, _) => (live(place, repo, migrations), side("HEAD")),
    };
    let notes = Notes::between(repo, &from, &to);
    Output::new(global.json).emit(&notes)?;
    Ok(crate::EXIT_OK)
}
