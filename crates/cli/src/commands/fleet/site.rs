//! `hoist fleet site`: creates the site layout at `--root` if it is missing
//! (`hoist setup --stage` on each host).

use crate::cli::Global;
use crate::output::{self, Output, Render};
use serde::Serialize;

#[derive(Debug, Serialize)]
struct Created {
    root: String,
}

impl Render for Created {
    fn human(&self, out: &mut String) {
        output::field(out, "root", &self.root);
    }
}

pub fn exec(global: &Global) -> anyhow::Result<i32> {
    let root = crate::target::root(global, None)?;
    let site = hoist_site::Site::create(&root)?;
    Output::new(global.json).emit(&Created {
        root: site.root().display().to_string(),
    })?;
    Ok(crate::EXIT_OK)
}
