//! A source tree that is a real git checkout, for tests of what hoist
//! reads from git (deployment notes).

use super::Env;
use std::path::PathBuf;
use std::process::Command;

/// Runs `git args…` in the source directory.
pub fn git(env: &Env, args: &[&str]) {
    let status = Command::new("git")
        .current_dir(env.src())
        .args(["-c", "user.name=Jo Dev", "-c", "user.email=jo@example.org"])
        .args(args)
        .status()
        .expect("git is installed (scripts/test installs it)");
    assert!(status.success(), "git {args:?}");
}

/// `env` made a git checkout with one commit.
pub fn init(env: Env) -> Env {
    env.write(".gitignore", "dist/\n");
    git(&env, &["init", "-q", "-b", "main"]);
    git(&env, &["add", "-A"]);
    git(&env, &["commit", "-q", "-m", "Initial shop"]);
    env
}

/// Commits `files` with `message`.
pub fn commit(env: &Env, files: &[(&str, &str)], message: &str) {
    for (path, text) in files {
        env.write(path, text);
    }
    git(env, &["add", "-A"]);
    git(env, &["commit", "-q", "-m", message]);
}

/// Sets the version, commits it, builds: (id, artifact).
pub fn build(env: &Env, version: &str) -> (String, PathBuf) {
    env.set_version(version);
    commit(env, &[], &format!("Version {version}"));
    env.build()
}
