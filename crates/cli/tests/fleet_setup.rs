//! Before anything changes: every host must be reachable with a trusted
//! key and run this very hoist (`hoist setup --stage` makes it so), and
//! `--from-stage` deploys exactly what another stage runs (issue 15).

mod util;

use util::stage_fixture::{StageFixture, StageOptions};

fn quiet() -> StageOptions {
    StageOptions {
        balancer: false,
        watch: "0s",
        ..StageOptions::default()
    }
}

#[test]
fn a_host_with_another_hoist_is_refused_until_setup_installs_this_one() {
    let stage = StageFixture::start(&["web1", "web2"], quiet());
    // web2 runs some other hoist.
    let bin = stage.fleet.host("web2").dir().join("bin/hoist");
    std::fs::remove_file(&bin).unwrap();
    std::fs::write(
        &bin,
        "#!/bin/sh\necho '{\"version\":\"0.0.1\",\"build\":\"0123456789abcdef\",\"arch\":\"x86_64\"}'\n",
    )
    .unwrap();
    std::os::unix::fs::PermissionsExt::set_mode(
        &mut std::fs::metadata(&bin).unwrap().permissions(),
        0o755,
    );
    std::fs::set_permissions(&bin, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let (_, artifact) = stage.build("v1", false);
    let refused = stage.deploy_refused(&artifact);
    assert_eq!(
        refused["error"]["kind"], "hoist-version-mismatch",
        "{refused}"
    );
    assert!(refused["error"]["message"]
        .as_str()
        .unwrap()
        .contains("`web2` runs hoist 0.0.1"));
    assert_eq!(refused["error"]["hint"], "hoist setup --stage production");
    // Nothing happened anywhere: no release on either host.
    for name in ["web1", "web2"] {
        assert_eq!(stage.live(name), None, "{name}");
    }
    let setup = stage
        .hoist()
        .args(["setup", "--stage", "production", "--json"])
        .run_json();
    let hosts = setup["hosts"].as_array().unwrap();
    let installed =
        |name: &str| hosts.iter().find(|h| h["host"] == name).unwrap()["installed"].clone();
    assert_eq!(installed("web1"), false);
    assert_eq!(installed("web2"), true);
    assert_eq!(
        std::fs::read(&bin).unwrap(),
        std::fs::read(util::BIN).unwrap(),
        "web2 now has this very hoist"
    );
    stage.deploy(&artifact);
}

#[test]
fn a_changed_host_key_is_refused_before_anything_changes() {
    let stage = StageFixture::start(&["web1", "web2"], quiet());
    let (v1, artifact) = stage.build("v1", false);
    stage.deploy(&artifact);
    stage.fleet.host("web2").change_host_key();
    let (_, artifact) = stage.build("v2", false);
    let refused = stage.deploy_refused(&artifact);
    assert_eq!(refused["error"]["kind"], "ssh-failed", "{refused}");
    let message = refused["error"]["message"].as_str().unwrap();
    assert!(message.contains("`web2`"), "{message}");
    assert!(
        refused["error"]["hint"]
            .as_str()
            .unwrap()
            .starts_with("ssh -F "),
        "{refused}"
    );
    for name in ["web1", "web2"] {
        assert_eq!(stage.live(name).as_deref(), Some(v1.as_str()), "{name}");
        let releases = stage.on_host(name, &["releases"]);
        assert_eq!(releases.as_array().unwrap().len(), 1, "{name}: {releases}");
    }
}

#[test]
fn from_stage_deploys_exactly_what_staging_runs_or_refuses() {
    let stage = StageFixture::start(&["web1", "web2"], quiet());
    stage.split_stage(&["web2"], "staging", &["web1"]);
    let (v1, artifact) = stage.build("v1", false);
    stage
        .hoist()
        .args(["deploy", "--stage", "staging"])
        .arg(&artifact)
        .run();
    let (_, other) = stage.build("v2", false);
    // An artifact that is not what staging runs is refused.
    let refused = stage
        .hoist()
        .args([
            "deploy",
            "--stage",
            "production",
            "--from-stage",
            "staging",
            "--json",
        ])
        .arg(&other)
        .code(1)
        .run_json();
    assert_eq!(refused["error"]["kind"], "from-stage-mismatch", "{refused}");
    assert_eq!(stage.live("web2"), None);
    // Without one, staging's own artifact goes, same id and digest.
    std::fs::remove_file(&artifact).unwrap();
    let deployed = stage
        .hoist()
        .args([
            "deploy",
            "--stage",
            "production",
            "--from-stage",
            "staging",
            "--json",
        ])
        .run_json();
    assert_eq!(deployed["release"], v1.as_str(), "{deployed}");
    assert_eq!(stage.live("web2").as_deref(), Some(v1.as_str()));
    let manifest = |name: &str| {
        let path = stage
            .fleet
            .host(name)
            .dir()
            .join(format!("site/releases/{v1}/.hoist-manifest.json"));
        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        json["digest"].clone()
    };
    assert_eq!(manifest("web1"), manifest("web2"));
    assert_eq!(deployed["digest"], manifest("web1"));
}

#[test]
fn an_unknown_host_or_a_refused_key_is_refused_before_anything_changes() {
    let stage = StageFixture::start(&["web1", "web2"], quiet());
    let (v1, artifact) = stage.build("v1", false);
    stage.deploy(&artifact);
    let path = stage.env.src().join("hoist.toml");
    let good = std::fs::read_to_string(&path).unwrap();
    let (_, artifact) = stage.build("v2", false);
    // A host nobody can resolve.
    std::fs::write(
        &path,
        good.replace("\"web2\"]", "\"web2\", \"web9.invalid\"]"),
    )
    .unwrap();
    let refused = stage.deploy_refused(&artifact);
    assert_eq!(refused["error"]["kind"], "ssh-failed", "{refused}");
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("`web9.invalid`"),
        "{refused}"
    );
    // A login the host refuses: a user it does not have.
    std::fs::write(&path, good.replace("\"web2\"]", "\"nosuchuser@web2\"]")).unwrap();
    let refused = stage.deploy_refused(&artifact);
    assert_eq!(refused["error"]["kind"], "ssh-failed", "{refused}");
    let message = refused["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("`nosuchuser@web2`") && message.contains("ermission denied"),
        "{message}"
    );
    for name in ["web1", "web2"] {
        assert_eq!(stage.live(name).as_deref(), Some(v1.as_str()), "{name}");
        assert_eq!(
            stage.on_host(name, &["releases"]).as_array().unwrap().len(),
            1
        );
    }
}

// A host with no hoist at all: `setup` failed with "remote command not
// found" and a hint to `ssh ... true` (which worked), and a deploy said it
// could not reach the host.
#[test]
fn setup_could_not_install_hoist_on_a_host_that_had_none() {
    let stage = StageFixture::start(&["web1", "web2"], quiet());
    let bin = stage.fleet.host("web2").dir().join("bin/hoist");
    std::fs::remove_file(&bin).unwrap();
    let (_, artifact) = stage.build("v1", false);
    let refused = stage.deploy_refused(&artifact);
    assert_eq!(
        refused["error"]["kind"], "hoist-version-mismatch",
        "{refused}"
    );
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no hoist at"),
        "{refused}"
    );
    assert_eq!(refused["error"]["hint"], "hoist setup --stage production");
    let setup = stage
        .hoist()
        .args(["setup", "--stage", "production", "--json"])
        .run_json();
    let web2 = setup["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|host| host["host"] == "web2")
        .unwrap()
        .clone();
    assert_eq!(
        (web2["installed"].clone(), web2["before"].clone()),
        (true.into(), "none".into())
    );
    stage.deploy(&artifact);
}

// A host with an interrupted operation: the fleet shipped the release to
// every host and failed only at staging, with no command to recover it.
#[test]
fn an_interrupted_host_was_shipped_to_and_refused_late_without_a_way_out() {
    let stage = StageFixture::start(&["web1", "web2"], quiet());
    let (_, artifact) = stage.build("v1", false);
    stage.deploy(&artifact);
    let (_, v2) = stage.build("v2", false);
    // web1's own deploy of v2 dies mid-way.
    let web1 = stage.fleet.host("web1").dir().join("site");
    let status = stage
        .hoist()
        .arg("deploy")
        .arg(&v2)
        .arg("--root")
        .arg(&web1)
        .env("HOIST_FAULT_KILL_AT", "unpack")
        .status();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(9)
    );
    let refused = stage.deploy_refused(&v2);
    assert_eq!(refused["error"]["kind"], "recovery-pending", "{refused}");
    let hint = refused["error"]["hint"].as_str().unwrap();
    assert!(
        hint.starts_with("ssh -F ") && hint.contains(" recover --root "),
        "{hint}"
    );
    // Nothing was sent anywhere.
    let fleet = stage.fleet.host("web2").dir().join("site/fleet");
    let shipped: Vec<_> = std::fs::read_dir(&fleet)
        .map(|dir| dir.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(
        !shipped
            .iter()
            .any(|name| name.to_string_lossy().contains("-v2-")),
        "{shipped:?}"
    );
    // The hint's command gets out.
    let output = std::process::Command::new("sh")
        .args(["-c", hint])
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    stage.deploy(&v2);
}
