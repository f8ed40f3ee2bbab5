//! Environment parity (`[parity]`, `hoist parity`): seed 004's mismatch,
//! where live ran an older MySQL than the machine the code was tested on.
//! Two sites on this host whose `mysql --version` differ (a `mysql` on
//! each site's own `PATH`, set by its env file), and the real PostgreSQL
//! server's version read by hoist itself.

mod util;

use hoist_testkit::TestPostgres;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use util::stage_fixture::{StageFixture, StageOptions};
use util::Env;

/// A site root at `root` whose env file puts `root/bin` first on `PATH`,
/// where `mysql --version` says `version`.
fn host_with_mysql(root: &Path, version: &str) {
    let bin = root.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let mysql = bin.join("mysql");
    std::fs::write(
        &mysql,
        format!("#!/bin/sh\necho \"mysql  Ver {version} for Linux on x86_64\"\n"),
    )
    .unwrap();
    std::fs::set_permissions(&mysql, std::fs::Permissions::from_mode(0o755)).unwrap();
    let env = root.join("env");
    std::fs::write(&env, format!("PATH={}:/usr/bin:/bin\n", bin.display())).unwrap();
    std::fs::set_permissions(&env, std::fs::Permissions::from_mode(0o600)).unwrap();
}

/// A project whose `[parity]` compares with the staging site; the live
/// site (`site/`) has MySQL 5.7.2, staging 8.0.1.
fn two_hosts(strict: bool) -> (Env, PathBuf) {
    let config = format!(
        r#"
[app]
name = "shop"
version = "1"
[deploy]
root = "../site"
[process]
env_file = "env"
[parity]
probes = ["mysql --version", "cat perl-version.txt"]
strict = {strict}
against = "@STAGING@"
"#
    );
    let env = Env::with_config(&config);
    let staging = env.dir.path().join("staging");
    env.write(
        "hoist.toml",
        &config.replace("@STAGING@", &staging.display().to_string()),
    );
    env.write("perl-version.txt", "This is perl 5, version 36\n");
    host_with_mysql(&staging, "8.0.1");
    host_with_mysql(&env.site(), "5.7.2");
    // The staging site's own host settings (`hoist init --site` writes these).
    std::fs::write(staging.join("site.toml"), "[process]\nenv_file = \"env\"\n").unwrap();
    (env, staging)
}

#[test]
fn parity_against_another_site_shows_the_differing_mysql_line() {
    let (env, staging) = two_hosts(false);
    let (id, artifact) = env.build();
    // Staging first: where the release passes its tests (its own reference).
    env.hoist()
        .arg("--root")
        .arg(&staging)
        .args(["deploy", "-q"])
        .arg(&artifact)
        .run();
    assert!(staging.join(format!("parity/{id}.json")).is_file());

    let output = env
        .hoist()
        .arg("deploy")
        .arg(&artifact)
        .stderr_has("the runtime here differs from")
        .stderr_has("`mysql --version`")
        .run();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("-mysql  Ver 8.0.1 for Linux on x86_64\n"),
        "{stderr}"
    );
    assert!(
        stderr.contains("+mysql  Ver 5.7.2 for Linux on x86_64\n"),
        "{stderr}"
    );
    assert_eq!(
        env.live().as_deref(),
        Some(id.as_str()),
        "not strict: it deployed"
    );
    let recorded: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(env.site().join(format!("parity/{id}.json"))).unwrap(),
    )
    .unwrap();
    assert_eq!(recorded["release"], id.as_str());
    assert_eq!(
        recorded["probes"][0]["output"],
        "mysql  Ver 5.7.2 for Linux on x86_64"
    );

    let output = env
        .hoist()
        .arg("parity")
        .arg("--against")
        .arg(&staging)
        .code(1)
        .run();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("differs from"), "{stdout}");
    assert!(
        stdout.contains("-mysql  Ver 8.0.1 for Linux on x86_64\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("+mysql  Ver 5.7.2 for Linux on x86_64\n"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("-This is perl"),
        "the same probe is not shown: {stdout}"
    );

    let json = env
        .hoist()
        .args(["parity", "--json", "--against"])
        .arg(&staging)
        .code(1)
        .run_json();
    assert_eq!(json["same"], false);
    let differences = json["comparisons"][0]["differences"].as_array().unwrap();
    assert_eq!(differences.len(), 1, "{json}");
    assert_eq!(differences[0]["probe"], "mysql --version");

    // The live host upgraded: the sites match again.
    host_with_mysql(&env.site(), "8.0.1");
    env.hoist()
        .arg("parity")
        .arg("--against")
        .arg(&staging)
        .run();
}

#[test]
fn strict_parity_refuses_a_deploy_onto_a_host_that_differs() {
    let (env, staging) = two_hosts(true);
    let (id, artifact) = env.build();
    // Not yet deployed where it is tested: nothing to compare, so strict refuses.
    let json = env
        .hoist()
        .args(["deploy", "--json"])
        .arg(&artifact)
        .code(1)
        .run_json();
    assert_eq!(json["error"]["kind"], "parity-unchecked", "{json}");

    env.hoist()
        .arg("--root")
        .arg(&staging)
        .args(["deploy", "-q"])
        .arg(&artifact)
        .run();
    let json = env
        .hoist()
        .args(["deploy", "--json"])
        .arg(&artifact)
        .code(1)
        .run_json();
    assert_eq!(json["error"]["kind"], "parity-mismatch", "{json}");
    let message = json["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("`mysql --version`"),
        "names the probe: {message}"
    );
    assert!(message.contains("+mysql  Ver 5.7.2"), "{message}");
    let hint = json["error"]["hint"].as_str().unwrap();
    assert!(hint.contains("hoist parity --against"), "{hint}");
    assert!(hint.contains("strict = false"), "{hint}");
    assert_eq!(env.live(), None, "nothing went live");

    // The operator upgrades MySQL on the live host; the same artifact deploys.
    host_with_mysql(&env.site(), "8.0.1");
    env.hoist()
        .arg("deploy")
        .arg(&artifact)
        .stderr_has("the runtime matches")
        .run();
    assert_eq!(env.live().as_deref(), Some(id.as_str()));
}

#[test]
fn the_database_servers_own_version_is_in_the_fingerprint() {
    let postgres = TestPostgres::start();
    let env = Env::with_config(&format!(
        r#"
[app]
name = "shop"
version = "1"
[deploy]
root = "../site"
[database]
url = "{}"
[parity]
probes = ["psql --version"]
"#,
        postgres.url
    ));
    let (id, artifact) = env.build();
    env.hoist().arg("deploy").arg(&artifact).run();
    let server: String = postgres
        .client()
        .query_one("SELECT version()", &[])
        .unwrap()
        .get(0);
    assert!(server.starts_with("PostgreSQL "), "{server}");
    let recorded: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(env.site().join(format!("parity/{id}.json"))).unwrap(),
    )
    .unwrap();
    assert_eq!(recorded["database"], server.as_str(), "{recorded}");
    let psql = &recorded["probes"][0];
    assert_eq!(
        psql["exit"], 0,
        "install the Debian package `postgresql-client`: {psql}"
    );
    assert!(
        psql["output"]
            .as_str()
            .unwrap()
            .starts_with("psql (PostgreSQL)"),
        "{psql}"
    );

    let json = env.hoist().args(["parity", "--json"]).run_json();
    assert_eq!(
        json["fingerprints"][0]["database"],
        server.as_str(),
        "{json}"
    );
}

#[test]
fn parity_stage_shows_the_host_whose_mysql_differs() {
    let options = StageOptions {
        balancer: false,
        waves: "[\"100%\"]",
        watch: "1s",
        ..StageOptions::default()
    };
    let stage = StageFixture::start(&["web1", "web2"], options);
    let probe = "cat \\\"$HOIST_ROOT/mysql-version\\\"";
    let config = stage.env.src().join("hoist.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        format!("{text}\n[parity]\nprobes = [\"{probe}\", \"echo same everywhere\"]\n"),
    )
    .unwrap();
    let mysql = |host: &str, version: &str| {
        std::fs::write(
            stage.fleet.host(host).dir().join("site/mysql-version"),
            format!("mysql  Ver {version} for Linux on x86_64\n"),
        )
        .unwrap();
    };
    mysql("web1", "8.0.1");
    mysql("web2", "5.7.2");
    let (_, artifact) = stage.build("v1", false);
    stage.deploy(&artifact);

    let json = stage
        .hoist()
        .args(["parity", "--stage", "production", "--json"])
        .code(1)
        .run_json();
    assert_eq!(json["same"], false, "{json}");
    let fingerprints = json["fingerprints"].as_array().unwrap();
    assert_eq!(fingerprints[0]["of"], "web1");
    assert_eq!(fingerprints[1]["of"], "web2");
    let differences = json["comparisons"][0]["differences"].as_array().unwrap();
    assert_eq!(differences.len(), 1, "{json}");
    let diff = differences[0]["diff"].as_str().unwrap();
    assert!(
        diff.contains("-mysql  Ver 8.0.1 for Linux on x86_64\n"),
        "{diff}"
    );
    assert!(
        diff.contains("+mysql  Ver 5.7.2 for Linux on x86_64\n"),
        "{diff}"
    );

    mysql("web2", "8.0.1");
    let output = stage
        .hoist()
        .args(["parity", "--stage", "production"])
        .run();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains(" matches "), "{stdout}");
}

#[test]
fn a_promotion_from_staging_checks_each_host_against_the_runtime_staging_recorded() {
    let options = StageOptions {
        balancer: false,
        waves: "[\"100%\"]",
        watch: "1s",
        ..StageOptions::default()
    };
    let stage = StageFixture::start(&["web1", "web2"], options);
    stage.split_stage(&["web1"], "staging", &["web2"]);
    let config = stage.env.src().join("hoist.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    // `[parity]` before the stage tables, so it is not read as part of one.
    let parity = |strict: bool| {
        let (head, stages) = text.split_at(text.find("[stages.").unwrap());
        format!(
            "{head}[parity]\nprobes = [\"cat \\\"$HOIST_ROOT/mysql-version\\\"\"]\nstrict = {strict}\n{stages}"
        )
    };
    std::fs::write(&config, parity(true)).unwrap();
    for (host, version) in [("web1", "5.7.2"), ("web2", "8.0.1")] {
        std::fs::write(
            stage.fleet.host(host).dir().join("site/mysql-version"),
            format!("mysql  Ver {version} for Linux on x86_64\n"),
        )
        .unwrap();
    }
    let (release, artifact) = stage.build("v1", false);
    stage
        .hoist()
        .args(["deploy", "--stage", "staging"])
        .arg(&artifact)
        .run();

    let json = stage
        .hoist()
        .args([
            "deploy",
            "--stage",
            "production",
            "--from-stage",
            "staging",
            "--json",
        ])
        .code(1)
        .run_json();
    let message = json["error"]["message"].as_str().unwrap();
    assert!(message.contains("web1"), "{json}");
    assert!(
        message.contains("runtime differs from stage `staging`"),
        "{json}"
    );
    assert!(message.contains("+mysql  Ver 5.7.2"), "{json}");
    let status = stage
        .hoist()
        .args(["status", "--stage", "production", "--json"])
        .run_json();
    assert!(
        status["hosts"][0]["live"].is_null(),
        "nothing switched: {status}"
    );

    // Not strict: the same promotion warns and goes ahead.
    std::fs::write(&config, parity(false)).unwrap();
    let output = stage
        .hoist()
        .args(["deploy", "--stage", "production", "--from-stage", "staging"])
        .run();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("runtime differs from stage `staging`"),
        "{stderr}"
    );
    let status = stage
        .hoist()
        .args(["status", "--stage", "production", "--json"])
        .run_json();
    assert_eq!(status["hosts"][0]["live"], release.as_str(), "{status}");
}

#[test]
fn probe_output_unbounded_and_records_outlived_pruned_releases() {
    // `yes | head -c 20000000` as a probe wrote a 30 MB parity/<id>.json per
    // deploy, and `hoist prune` left the records of the releases it removed.
    let env = Env::with_config(&format!(
        "{}[parity]\nprobes = [\"yes | head -c 20000000\", \"echo runtime 1\"]\n",
        util::DEFAULT_CONFIG
    ));
    let first = env.deploy_version("1");
    let record = env.site().join(format!("parity/{first}.json"));
    let size = std::fs::metadata(&record).unwrap().len();
    assert!(size < 200 * 1024, "{size} bytes");
    let text = std::fs::read_to_string(&record).unwrap();
    assert!(
        text.contains("truncated (") && text.contains("runtime 1"),
        "{text:.200}"
    );

    for version in ["2", "3", "4"] {
        env.deploy_version(version);
    }
    env.hoist().args(["prune", "--keep", "2"]).run();
    let releases = env.releases();
    assert!(!releases.iter().any(|(id, _)| *id == first), "{releases:?}");
    assert!(
        !record.exists(),
        "the pruned release's parity record is left"
    );
    let records = std::fs::read_dir(env.site().join("parity"))
        .unwrap()
        .count();
    assert_eq!(records, releases.len(), "{releases:?}");
}
