//! Issue 12: the emergency paths never depend on the ledger or on free
//! space, and read commands never write. Each test pins a finding of the
//! hostile-input review through the real binary.

mod util;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use util::tmpfs::Tmpfs;
use util::Env;

/// Garbage over the ledger's second page, as the review did.
fn damage_ledger(site: &Path) {
    let path = site.join("ledger.sqlite");
    let mut bytes = std::fs::read(&path).unwrap();
    assert!(bytes.len() > 4096 + 512, "the ledger has a second page");
    for byte in &mut bytes[4096..4096 + 512] {
        *byte = 0xA5;
    }
    std::fs::write(&path, &bytes).unwrap();
}

/// Finding 5: with `ledger.sqlite` damaged at offset 4096, `deploy`
/// switched `current` and then failed at the record step; after that
/// `recover` failed and `rollback` refused.
#[test]
fn corrupt_ledger_after_the_switch_blocked_recover_and_rollback() {
    let env = Env::new();
    let v1 = env.deploy_version("1.0.0");
    let v2 = env.deploy_version("2.0.0");
    damage_ledger(&env.site());
    env.set_version("3.0.0");
    let (_, v3) = env.build();
    env.hoist()
        .arg("deploy")
        .arg(&v3)
        .code(1)
        .stderr_has("the ledger cannot be written")
        .stderr_has("nothing was switched")
        .run();
    assert_eq!(
        env.live().as_deref(),
        Some(v2.as_str()),
        "deploy switched anyway"
    );
    // Status still tells the truth about what is live, and about the ledger.
    let status = env.status();
    assert_eq!(status["live"], v2.as_str());
    // The emergency rollback goes through and says where its record went.
    env.hoist()
        .arg("rollback")
        .stderr_has("ledger-pending.jsonl")
        .run();
    assert_eq!(env.live().as_deref(), Some(v1.as_str()));
    assert!(env.site().join("ledger-pending.jsonl").exists());
    // Recover moves the damaged ledger aside and keeps the rollback.
    let output = env.hoist().args(["recover", "--json"]).run();
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(
        report["ledger_repaired"]
            .as_str()
            .unwrap_or("")
            .contains("damaged"),
        "{report}"
    );
    assert!(!env.site().join("ledger-pending.jsonl").exists());
    let history = env.hoist().args(["history", "--json"]).run_json();
    let rollback = history
        .as_array()
        .unwrap()
        .iter()
        .find(|event| event["op"] == "rollback")
        .expect("the rollback is in the history");
    assert_eq!(rollback["to"], v1.as_str());
    // And deploys work again.
    env.hoist().arg("deploy").arg(&v3).run();
    assert_eq!(env.status()["previous"], v1.as_str());
}

/// Writes zeros into `path` until the file system is full.
fn fill(path: &Path) {
    use std::io::Write;
    let mut file = std::fs::File::create(path).unwrap();
    let block = vec![0u8; 64 * 1024];
    while file.write_all(&block).is_ok() {}
    let mut byte = [0u8; 1];
    while file.write_all(&byte).is_ok() {
        byte[0] = 0;
    }
}

/// Incompressible bytes, so an artifact holding them is as big as they are.
fn noise(bytes: usize) -> Vec<u8> {
    let mut noise = vec![0u8; bytes];
    blake3::Hasher::new().finalize_xof().fill(&mut noise);
    noise
}

/// Finding 6: a full disk during the artifact copy gave an error naming
/// the ledger, and left a `.partial` and the journal behind; `recover`
/// then failed with "disk is full" and `deploy` refused until the file was
/// deleted by hand. While the disk was full even `status` failed.
#[test]
fn disk_full_during_the_copy_left_a_partial_and_blamed_the_ledger() {
    let env = Env::new();
    let Some(_disk) = Tmpfs::mount(&env.site(), "size=48m") else {
        eprintln!("disk_full: cannot mount tmpfs here (not root); skipped");
        return;
    };
    let v1 = env.deploy_version("1.0.0");
    let v2 = env.deploy_version("2.0.0");
    assert!(
        env.site().join(".hoist-reserve").exists(),
        "a reserve was made"
    );
    env.set_version("3.0.0");
    std::fs::write(env.src().join("big.bin"), noise(60_000_000)).unwrap();
    let (_, big) = env.build();
    env.hoist()
        .arg("deploy")
        .arg(&big)
        .code(1)
        .stderr_has("not enough disk space")
        .stderr_has("to copy the artifact in")
        .run();
    // Only the artifacts kept for the releases on disk (for `hoist repair`).
    let mut incoming: Vec<String> = std::fs::read_dir(env.site().join("incoming"))
        .unwrap()
        .map(|item| item.unwrap().file_name().into_string().unwrap())
        .collect();
    incoming.sort();
    assert_eq!(
        incoming,
        [format!("{v1}.tar.zst"), format!("{v2}.tar.zst")],
        "the copy left something"
    );
    assert!(env.status()["pending"].is_null(), "a journal was left");

    // Now truly full: status reads, and the rollback still goes through.
    fill(&env.site().join("shared/filler"));
    let status = env.status();
    assert_eq!(status["live"], v2.as_str());
    // A recover with nothing to do leaves the reserve for the rollback.
    let output = env.hoist().arg("recover").run();
    assert!(!String::from_utf8_lossy(&output.stderr).contains("freed"));
    assert!(
        env.site().join(".hoist-reserve").exists(),
        "recover spent the reserve"
    );
    env.hoist()
        .arg("rollback")
        .stderr_has("freed hoist's 2 MiB reserve")
        .run();
    assert_eq!(env.live().as_deref(), Some(v1.as_str()));
    let history = env.hoist().args(["history", "--json"]).run_json();
    assert_eq!(history[0]["op"], "rollback", "{history}");
    env.hoist().arg("recover").run();
    // Space back: the next deploy works and the reserve comes back.
    std::fs::remove_file(env.site().join("shared/filler")).unwrap();
    std::fs::remove_file(env.src().join("big.bin")).unwrap();
    env.deploy_version("4.0.0");
    assert!(env.site().join(".hoist-reserve").exists());
}

/// Finding 13: `ledger.sqlite` and the lock were 0644, and a non-root
/// user's `hoist status` failed with "attempt to write a readonly database".
#[test]
fn state_files_were_world_readable_and_status_needed_root() {
    let env = Env::new();
    // The site belongs to a group of its own (no name needed: gid 4242).
    std::fs::create_dir_all(env.site()).unwrap();
    nix::unistd::chown(&env.site(), None, Some(nix::unistd::Gid::from_raw(4242))).unwrap();
    std::fs::set_permissions(env.site(), std::fs::Permissions::from_mode(0o750)).unwrap();
    std::fs::set_permissions(env.dir.path(), std::fs::Permissions::from_mode(0o711)).unwrap();
    let v1 = env.deploy_version("1.0.0");
    for file in ["ledger.sqlite", "deploy.lock"] {
        let metadata = std::fs::metadata(env.site().join(file)).unwrap();
        assert_eq!(metadata.permissions().mode() & 0o777, 0o640, "{file}");
        assert_eq!(
            std::os::unix::fs::MetadataExt::gid(&metadata),
            4242,
            "{file}"
        );
    }
    // `nobody`, in the site's group only, reads the status.
    let output = std::process::Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--groups=4242",
            "--inh-caps=-all",
        ])
        .arg(util::BIN)
        .args(["status", "--json", "--root"])
        .arg(env.site())
        .current_dir("/")
        .env_remove("HOIST_ROOT")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let status: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(status["live"], v1.as_str());
    assert_eq!(status["last_event"]["op"], "deploy", "{status}");
    // Someone outside the group cannot.
    let outsider = std::process::Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
        ])
        .arg(util::BIN)
        .args(["status", "--root"])
        .arg(env.site())
        .current_dir("/")
        .output()
        .unwrap();
    assert_eq!(outsider.status.code(), Some(1));
}

/// Finding 13: a site without a group of its own gets owner-only state files.
#[test]
fn state_files_are_private_without_a_site_group() {
    let env = Env::new();
    env.deploy_version("1.0.0");
    for file in ["ledger.sqlite", "deploy.lock"] {
        let mode = std::fs::metadata(env.site().join(file))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{file}");
    }
}
