//! Stamps the binary with the git commit it was built from, for
//! `hoist --version` (as `cargo --version` does: the commit and its date).
//!
//! `HOIST_BUILD_REVISION` overrides it (a packager building from a
//! tarball); with neither, the version stands alone rather than naming a
//! commit nobody can check.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=HOIST_BUILD_REVISION");
    let stamp = std::env::var("HOIST_BUILD_REVISION")
        .ok()
        .filter(|revision| !revision.trim().is_empty())
        .or_else(git_stamp);
    let version = env!("CARGO_PKG_VERSION");
    let long = match stamp {
        Some(stamp) => format!("{version} ({stamp})"),
        None => version.to_owned(),
    };
    println!("cargo:rustc-env=HOIST_LONG_VERSION={long}");
}

/// `abc123def456 2026-12-01` for HEAD, and the files whose change moves it.
fn git_stamp() -> Option<String> {
    let stamp = git(&["log", "-1", "--format=%h %cs", "--abbrev=12"])?;
    // Rebuilt when HEAD moves: HEAD itself (a checkout), the branch it
    // names (a commit), and packed refs. In a worktree the branch lives in
    // the common dir.
    let git_dir = git(&["rev-parse", "--absolute-git-dir"])?;
    let common = git(&["rev-parse", "--path-format=absolute", "--git-common-dir"])
        .unwrap_or_else(|| git_dir.clone());
    let mut watched = vec![format!("{git_dir}/HEAD"), format!("{common}/packed-refs")];
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        watched.push(format!("{common}/{branch}"));
    }
    // A missing path would rerun this on every build; a branch packed
    // into packed-refs is watched there.
    for path in watched
        .iter()
        .filter(|path| std::path::Path::new(path).exists())
    {
        println!("cargo:rerun-if-changed={path}");
    }
    Some(stamp)
}

fn git(args: &[&str]) -> Option<String> {
    let output = Command::new("git").args(args).output().ok()?;
    let text = String::from_utf8(output.stdout).ok()?;
    let text = text.trim();
    (output.status.success() && !text.is_empty()).then(|| text.to_owned())
}
