//! `hoist --version`: the version and the git commit the binary was built from.

mod util;

#[test]
fn version_names_the_git_commit_it_was_built_from() {
    let output = std::process::Command::new(util::BIN)
        .arg("--version")
        .output()
        .unwrap();
    assert!(output.status.success());
    let stdout = String::from_utf8(output.stdout).unwrap();
    let head = std::process::Command::new("git")
        .args(["log", "-1", "--format=%h %cs", "--abbrev=12"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    // Where git cannot read the checkout (none, or not trusted), the build
    // script could not either: then the version stands alone, naming no
    // commit rather than a wrong one.
    let stamp = String::from_utf8(head.stdout).unwrap();
    let expected = if head.status.success() && !stamp.trim().is_empty() {
        format!("hoist {} ({})", env!("CARGO_PKG_VERSION"), stamp.trim())
    } else {
        format!("hoist {}", env!("CARGO_PKG_VERSION"))
    };
    assert_eq!(stdout.trim(), expected);
}

/// `hoist --version --json` printed the text line, where every `--json`
/// caller parses one JSON object.
#[test]
fn version_json_printed_text() {
    let output = std::process::Command::new(util::BIN)
        .args(["--version", "--json"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let value: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(value["version"]
        .as_str()
        .unwrap()
        .starts_with(env!("CARGO_PKG_VERSION")));
}
