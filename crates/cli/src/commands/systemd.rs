//! `hoist systemd`: write the units that run a site's agent under systemd.

use crate::cli::Global;
use crate::output::{self, Output, Render};
use crate::systemd_unit::AgentUnit;
use crate::Failure;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// Where systemd reads the units an administrator installs.
const SYSTEM_DIR: &str = "/etc/systemd/system";

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  hoist systemd --root /srv/shop             /etc/systemd/system/hoist-shop.service
  hoist systemd --root /srv/shop --socket    and hoist-shop.socket: systemd holds the listener
  hoist systemd --root /srv/shop --print     show them, write nothing

Then: systemctl daemon-reload && systemctl enable --now hoist-shop (the .socket with --socket).
`systemctl reload hoist-shop` upgrades the agent in place (USR2) without dropping a connection.")]
pub struct Args {
    /// Also write a socket unit holding the public listener (`[proxy] listen`),
    /// so connections wait, not fail, while the agent restarts.
    #[arg(long)]
    socket: bool,
    /// Where to write the units.
    #[arg(long, value_name = "DIR", default_value = SYSTEM_DIR)]
    dir: PathBuf,
    /// The unit name (default: `hoist-` and the root's last component).
    #[arg(long)]
    name: Option<String>,
    /// The hoist executable the service runs (default: this one).
    #[arg(long, value_name = "PATH")]
    hoist: Option<PathBuf>,
    /// Print the units instead of writing them.
    #[arg(long)]
    print: bool,
    /// Replace units that differ from what would be written.
    #[arg(long)]
    force: bool,
}

/// What `hoist systemd` wrote.
#[derive(Debug, Serialize)]
struct Written {
    /// The unit to enable: the socket with `--socket`, else the service.
    unit: String,
    /// Each unit file and whether it was written, replaced or unchanged.
    files: Vec<UnitFile>,
    /// The command that starts it.
    next: String,
}

#[derive(Debug, Serialize)]
struct UnitFile {
    path: PathBuf,
    state: &'static str,
    #[serde(skip)]
    text: String,
}

impl Render for Written {
    fn human(&self, out: &mut String) {
        for file in &self.files {
            output::field(out, file.state, file.path.display());
        }
        output::field(out, "next", &self.next);
    }
}

pub fn exec(global: &Global, args: Args) -> anyhow::Result<i32> {
    // The root first: a unit that cannot name it is refused before the
    // site's settings are even read.
    let found = crate::target::config(global)?;
    let root = crate::target::root(global, found.as_ref())?;
    AgentUnit::check_root(&std::path::absolute(&root)?)?;
    let elsewhere = found
        .as_ref()
        .and_then(|(config, path)| for_another_site(config, path, &root));
    let (root, config) = super::agent::site_config(global)
        .map_err(|error| nothing_to_run(error, elsewhere.as_deref()))?;
    let root = std::path::absolute(&root)?;
    let name = match args.name {
        Some(name) => {
            AgentUnit::check_name(&name)?;
            name
        }
        None => AgentUnit::default_name(&root),
    };
    let hoist = match args.hoist {
        Some(path) => std::path::absolute(path)?,
        None => std::env::current_exe()?,
    };
    let socket = if args.socket {
        Some(config.proxy.listen.parse().map_err(|_| {
            Failure::new(
                "bad-listen",
                format!(
                    "`[proxy] listen = \"{}\"` is not an IP address and port; a socket unit needs one",
                    config.proxy.listen
                ),
            )
            .hint("set `[proxy] listen` in the site's site.toml, or leave out --socket")
        })?)
    } else {
        None
    };
    // The longest a stop takes: drain the old release, then stop it, with margin.
    let stop_timeout = config
        .process
        .as_ref()
        .map_or(std::time::Duration::from_secs(60), |process| {
            process.drain_timeout + process.stop_timeout
        })
        + std::time::Duration::from_secs(15);
    let unit = AgentUnit {
        name,
        root,
        hoist,
        socket,
        stop_timeout,
    };
    let mut files = vec![UnitFile {
        path: args.dir.join(unit.service_name()),
        state: "written",
        text: unit.service()?,
    }];
    if let Some(text) = unit.socket_unit() {
        files.push(UnitFile {
            path: args.dir.join(unit.socket_name()),
            state: "written",
            text,
        });
    }
    if args.print {
        if global.json {
            // `--json` always prints one object: the units' paths and text.
            let printed: Vec<_> = files
                .iter()
                .map(|file| serde_json::json!({ "path": file.path, "text": file.text }))
                .collect();
            crate::output::json_result(true, &serde_json::json!({ "files": printed }))?;
        } else {
            for file in &files {
                println!("# {}\n{}", file.path.display(), file.text);
            }
        }
        return Ok(crate::EXIT_OK);
    }
    // Checked before anything is written: both files or neither.
    // First: `--force` must never be the hint for a unit it cannot replace.
    another_site(&files[0].path, &unit.root)?;
    for file in &mut files {
        file.state = compare(&file.path, &file.text, args.force)?;
    }
    for file in files.iter().filter(|file| file.state != "unchanged") {
        hoist_site::durable::write_atomic(&file.path, file.text.as_bytes())?;
    }
    let enable = if unit.socket.is_some() {
        unit.socket_name()
    } else {
        unit.service_name()
    };
    let start = format!("systemctl daemon-reload && systemctl enable --now {enable}");
    let next = if args.dir == Path::new(SYSTEM_DIR) {
        start
    } else {
        format!("copy them to {SYSTEM_DIR}, then {start}")
    };
    let written = Written {
        next,
        unit: enable,
        files,
    };
    Output::new(global.json).emit(&written)?;
    Ok(crate::EXIT_OK)
}

/// The agent's "no config" failure, with this command's way out: the unit
/// runs the live release's own `hoist.toml`, so there must be one.
fn nothing_to_run(error: anyhow::Error, elsewhere: Option<&str>) -> anyhow::Error {
    use hoist_error::Described as _;
    match error.downcast_ref::<Failure>() {
        Some(_) if elsewhere.is_some() => Failure::new(
            "no-config",
            format!(
                "{}, and nothing is deployed at the root given: the unit's agent would have nothing to run",
                elsewhere.unwrap_or_default()
            ),
        )
        .hint("hoist deploy --root ROOT first, or a hoist.toml of this site's own with -c FILE")
        .into(),
        Some(failure) if failure.kind() == "no-config" => Failure::new(
            "no-config",
            format!("{failure}: the unit's agent would have nothing to run"),
        )
        .hint("hoist deploy first, or hoist systemd -c hoist.toml (its [process] and [proxy])")
        .into(),
        _ => error,
    }
}

/// "`hoist.toml` is for another site, `R`" when the config found names a
/// `deploy.root` other than `root`: its settings are not this site's.
fn for_another_site(config: &hoist_config::Config, path: &Path, root: &Path) -> Option<String> {
    let named = config.deploy.root.as_ref()?;
    let named = path.parent().unwrap_or(Path::new(".")).join(named);
    let same = |a: &Path, b: &Path| match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => std::path::absolute(a).ok() == std::path::absolute(b).ok(),
    };
    (!same(&named, root)).then(|| {
        format!(
            "`{}` is for another site, `{}` (its `deploy.root`)",
            path.display(),
            named.display()
        )
    })
}

/// Refuses to replace, even with `--force`, a service that runs another
/// site's agent: two roots can map to one default name (`my-site`, `my.site`
/// and `my site` are all `hoist-my-site`).
fn another_site(service: &Path, root: &Path) -> anyhow::Result<()> {
    let Ok(existing) = std::fs::read_to_string(service) else {
        return Ok(());
    };
    let Some(start) = existing
        .lines()
        .find_map(|line| line.strip_prefix("ExecStart="))
    else {
        return Ok(());
    };
    let ours = format!(" agent --root {}", root.display());
    if start.ends_with(&ours) {
        return Ok(());
    }
    Err(Failure::new(
        "unit-of-another-site",
        format!(
            "`{}` runs another site's agent (`{start}`); it is left as it is",
            service.display()
        ),
    )
    .hint("hoist systemd --name hoist-NAME (a name of this site's own)")
    .into())
}

/// Whether `path` is new, the same, or (with `force`) to be replaced.
fn compare(path: &Path, text: &str, force: bool) -> anyhow::Result<&'static str> {
    match std::fs::read_to_string(path) {
        Ok(existing) if existing == text => Ok("unchanged"),
        Ok(_) if force => Ok("replaced"),
        Ok(_) => Err(Failure::new(
            "file-exists",
            format!(
                "`{}` exists and differs from the unit hoist would write",
                path.display()
            ),
        )
        .hint("hoist systemd --print (to compare), then --force to replace it")
        .into()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok("written"),
        Err(error) => {
            Err(anyhow::Error::from(error).context(format!("cannot read `{}`", path.display())))
        }
    }
}
