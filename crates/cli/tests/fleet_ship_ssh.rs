//! Shipping over real sshd's, inside `hoist deploy --stage`: the first
//! deploy sends every file to each host, the second, which changes 10 files
//! of ~300, sends each host those (and the two the fixture's build
//! changes), a small fraction of the artifact.

mod util;

use util::stage_fixture::{StageFixture, StageOptions};

const FILES: usize = 300;

/// ~8 KB files; those in `changed` differ in `version`.
fn write_files(stage: &StageFixture, version: &str, changed: std::ops::Range<usize>) {
    util::write_seeded_files(&stage.env, FILES, 128, version, changed, |index| {
        format!("public/f{index}.txt")
    });
}

/// `deploy --stage production --json ARTIFACT`: each host's `shipped`.
fn deploy(stage: &StageFixture, artifact: &std::path::Path) -> Vec<serde_json::Value> {
    let report = stage
        .hoist()
        .args(["deploy", "--stage", "production", "--json"])
        .arg(artifact)
        .run_json();
    assert_eq!(report["outcome"], "deployed", "{report}");
    report["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|host| host["shipped"].clone())
        .collect()
}

#[test]
fn second_stage_deploy_ships_each_host_only_the_changed_files() {
    let names = ["web1", "web2"];
    let options = StageOptions {
        balancer: false,
        waves: "[\"100%\"]",
        ..StageOptions::default()
    };
    let stage = StageFixture::start(&names, options);
    write_files(&stage, "v1", 0..0);
    let (v1, artifact) = stage.build("v1", false);
    let first = deploy(&stage, &artifact);
    let artifact_bytes = std::fs::metadata(&artifact).unwrap().len();
    for shipped in &first {
        assert!(
            shipped["files_sent"].as_u64().unwrap() >= FILES as u64,
            "{shipped}"
        );
        assert_eq!(shipped["bytes_total"].as_u64(), Some(artifact_bytes));
    }
    for name in names {
        assert_eq!(stage.live(name).as_deref(), Some(v1.as_str()));
    }

    write_files(&stage, "v2", 100..110);
    let (v2, artifact) = stage.build("v2", false);
    let second = deploy(&stage, &artifact);
    let artifact_bytes = std::fs::metadata(&artifact).unwrap().len();
    for shipped in &second {
        // The 10 changed files, plus `app.pl` and `hoist.toml`, which the build changes.
        assert_eq!(shipped["files_sent"].as_u64(), Some(12), "{shipped}");
        let sent = shipped["bytes_sent"].as_u64().unwrap();
        eprintln!(
            "artifact {artifact_bytes} bytes; first deploy sent {}, second {sent}",
            first[0]["bytes_sent"]
        );
        assert!(sent * 20 < artifact_bytes, "{shipped}");
    }
    for name in names {
        assert_eq!(stage.live(name).as_deref(), Some(v2.as_str()));
    }
}
