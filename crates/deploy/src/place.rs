//! Which release of the site a running process lies in, judged from what
//! `/proc` shows of it, strongest evidence first:
//!
//! 1. its executable, when that is under the site (a compiled server);
//! 2. the first path on its command line under the site (the script of an
//!    interpreter: hypnotoad sets its command line to the app's path);
//! 3. its working directory (weakest: a hot-deploying server keeps the
//!    one it was first started in).
//!
//! The kernel resolves the executable and working directory, but a path
//! on the command line is text: `current/app.pl` means whatever `current`
//! named when the process started, which only its start time can tell.

use crate::listeners::Holder;
use std::path::{Component, Path, PathBuf};

/// Where a process lies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Place {
    /// Under `releases/<id>`.
    Release(String),
    /// Under `current`, as it was when the process started.
    Current,
    /// Not in the site (a proxy in front, a test server, ...).
    Outside,
}

/// Where `holder` lies, for the site at `root` (canonical).
pub(crate) fn place(holder: &Holder, root: &Path) -> Place {
    let in_site = |place: &Place| *place != Place::Outside;
    let exe = holder.exe.as_deref().map(|exe| resolved(exe, root));
    if let Some(place) = exe.filter(in_site) {
        return place;
    }
    let base = holder.cwd.clone().unwrap_or_else(|| PathBuf::from("/"));
    let argument = holder
        .args
        .iter()
        .filter_map(|arg| path_in(arg))
        .map(|path| textual(&base.join(path), root))
        .find(in_site);
    if let Some(place) = argument {
        return place;
    }
    holder
        .cwd
        .as_deref()
        .map_or(Place::Outside, |cwd| resolved(cwd, root))
}

/// Another hoist site `holder` lies in (by its executable, a path on its
/// command line, or its working directory): a process that only that site
/// can have started, so it can never be this site's restarted code.
pub(crate) fn other_site(holder: &Holder, root: &Path) -> Option<PathBuf> {
    let base = holder.cwd.clone().unwrap_or_else(|| PathBuf::from("/"));
    let arguments = holder
        .args
        .iter()
        .filter_map(|arg| path_in(arg))
        .map(|path| base.join(path));
    holder
        .exe
        .clone()
        .into_iter()
        .chain(arguments)
        .chain(holder.cwd.clone())
        .filter_map(|path| path.canonicalize().ok())
        .find_map(|path| site_of(&path).filter(|site| site != root))
}

/// The site a resolved path lies in: the parent of a `releases` directory
/// that has a `current` symlink beside it.
fn site_of(path: &Path) -> Option<PathBuf> {
    path.ancestors()
        .filter(|ancestor| ancestor.file_name() == Some("releases".as_ref()))
        .filter_map(Path::parent)
        .find(|site| site.join("current").is_symlink())
        .map(Path::to_owned)
}

/// The path in a command-line argument: `/x`, `./x`, `dir/x` or `--opt=/x`.
fn path_in(arg: &str) -> Option<&str> {
    let value = arg.split_once('=').map_or(arg, |(_, value)| value);
    value.contains('/').then_some(value)
}

/// A path the kernel resolved: under `releases/<id>` or outside.
fn resolved(path: &Path, root: &Path) -> Place {
    let Ok(rest) = path.strip_prefix(root.join("releases")) else {
        return Place::Outside;
    };
    match rest.components().next() {
        Some(Component::Normal(id)) => Place::Release(id.to_string_lossy().into_owned()),
        _ => Place::Outside,
    }
}

/// A path as written: through `current` (not followed, see the module
/// docs), or resolved as it is now.
fn textual(path: &Path, root: &Path) -> Place {
    let through_current = path.ancestors().any(|ancestor| {
        ancestor.file_name() == Some("current".as_ref())
            && ancestor
                .parent()
                .and_then(|parent| parent.canonicalize().ok())
                .is_some_and(|parent| parent == root)
    });
    if through_current {
        return Place::Current;
    }
    // A file not created yet (a pid file named on the command line) still names its place.
    let path = path.canonicalize().unwrap_or_else(|_| path.to_owned());
    resolved(&path, root)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn holder(exe: &str, cwd: &str, args: &[&str]) -> Holder {
        Holder {
            pid: 2,
            parent: 1,
            started: 0,
            exe: Some(exe.into()),
            cwd: Some(cwd.into()),
            args: args.iter().map(|arg| (*arg).to_owned()).collect(),
        }
    }

    #[test]
    fn the_script_outranks_the_working_directory() {
        let site = tempfile::tempdir().unwrap();
        let root = site.path().canonicalize().unwrap();
        std::fs::create_dir_all(root.join("releases/v1")).unwrap();
        std::fs::create_dir_all(root.join("releases/v2")).unwrap();
        std::os::unix::fs::symlink("releases/v2", root.join("current")).unwrap();
        let v1 = root.join("releases/v1");
        let v1 = v1.to_str().unwrap();
        let script = root.join("current/app.pl");
        let perl = holder("/usr/bin/perl", v1, &[script.to_str().unwrap()]);
        assert_eq!(place(&perl, &root), Place::Current);
        let relative = holder("/usr/bin/python3", v1, &["python3", "app.py"]);
        assert_eq!(place(&relative, &root), Place::Release("v1".into()));
        let option = format!("--app={}", root.join("releases/v2/app").display());
        let flagged = holder("/usr/bin/uwsgi", "/", &["uwsgi", &option]);
        assert_eq!(place(&flagged, &root), Place::Release("v2".into()));
        let binary = root.join("releases/v1/bin/server");
        let compiled = holder(binary.to_str().unwrap(), "/", &[]);
        assert_eq!(place(&compiled, &root), Place::Release("v1".into()));
        assert_eq!(
            place(&holder("/usr/sbin/nginx", "/", &["nginx"]), &root),
            Place::Outside
        );
    }
}
