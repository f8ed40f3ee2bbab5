//! Restarts that prove themselves (issue 14, item 3): without an agent, a
//! 2xx from `health` counts only once the new release is what answers.
//! Seed 000's way: a real hypnotoad, started by hand, hot-deployed by
//! `restart = "kill -USR2 $(cat hypnotoad.pid)"`.

mod util;

use util::agent_process::free_port;
use util::http::{get, header};
use util::hypnotoad::{app, Hypnotoad};
use util::static_app::StaticApp;
use util::Env;

/// A site whose v1 runs under hypnotoad, and the config for what follows.
struct Toad {
    /// First, so it is stopped before the site's directory goes.
    server: Hypnotoad,
    env: Env,
    port: u16,
    pid_file: std::path::PathBuf,
    v1: String,
}

fn config(extra: &str) -> String {
    format!("[app]\nname = \"shop\"\nversion = \"1.0.0\"\n[deploy]\nroot = \"../site\"\n{extra}")
}

/// Deploys v1 (no restart yet: nothing runs) and fires up hypnotoad on it.
fn v1_under_hypnotoad() -> Toad {
    let env = Env::with_config(&config(""));
    let port = free_port();
    let pid_file = env.dir.path().join("hypnotoad.pid");
    env.write("app.pl", &app(port, &pid_file, "v1", false));
    let v1 = env.deploy_version("1.0.0");
    let server = Hypnotoad::start(&env.site(), port, &pid_file);
    Toad {
        server,
        env,
        port,
        pid_file,
        v1,
    }
}

/// From now on hoist hot-deploys with `USR2`, then checks `health`.
fn restart_by_usr2(toad: &Toad, extra: &str) {
    let restart = format!(
        "restart = \"kill -USR2 $(cat {})\"\nhealth = \"http://127.0.0.1:{}/\"\n{extra}",
        toad.pid_file.display(),
        toad.port
    );
    host_settings(&toad.env, &config(&restart));
}

/// `restart` and `health` are host settings: they live in the site's
/// `site.toml`, which `init --site --force` replaces from the new config.
fn host_settings(env: &Env, text: &str) {
    env.write("hoist.toml", text);
    env.hoist().args(["init", "--site", "--force"]).run();
}

// hypnotoad kept its old workers when v2 died at start; their 2xx made hoist report v2 live.
#[test]
fn hypnotoad_hot_deploy_kept_old_code_reported_live() {
    let toad = v1_under_hypnotoad();
    restart_by_usr2(&toad, "health_timeout = \"4s\"\n");
    toad.env
        .write("app.pl", &app(toad.port, &toad.pid_file, "v2", true));
    toad.env.set_version("2.0.0");
    let (v2, artifact) = toad.env.build();
    // Read first: switching back hot-deploys v1 again, under a new manager.
    let manager = std::fs::read_to_string(&toad.pid_file).unwrap();
    let output = toad
        .env
        .hoist()
        .arg("deploy")
        .arg(&artifact)
        .code(1)
        .stderr_has("the restart did not replace the running code")
        .stderr_has(&format!("releases/{}", toad.v1))
        .stderr_has(&format!("switched back to `{}`", toad.v1))
        .run();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("pid {}", manager.trim())),
        "names the manager still running: {stderr}"
    );
    assert_eq!(
        std::fs::read_link(toad.env.site().join("current")).unwrap(),
        std::path::Path::new("releases").join(&toad.v1)
    );
    let status = toad.env.status();
    assert_eq!(status["live"], toad.v1.as_str());
    let event = &status["last_event"];
    assert_eq!(
        (event["outcome"].as_str(), event["release"].as_str()),
        (Some("rolled-back"), Some(v2.as_str()))
    );
    assert!(event["detail"]
        .as_str()
        .is_some_and(|detail| detail.contains("did not replace the running code")));
    let history = toad.env.hoist().args(["history", "--json"]).run_json();
    let last = &history[0];
    assert_eq!(
        (
            last["op"].as_str(),
            last["outcome"].as_str(),
            last["from"].as_str(),
            last["to"].as_str()
        ),
        // `to` is what the deploy aimed at; `rolled-back` says it did not stay.
        (
            Some("deploy"),
            Some("rolled-back"),
            Some(toad.v1.as_str()),
            Some(v2.as_str())
        ),
        "{last}"
    );
    let releases = toad.env.releases();
    assert!(
        releases.contains(&(v2.clone(), "failed".to_owned())),
        "{releases:?}"
    );
    let verified = toad.env.hoist().args(["verify", "--json"]).run_json();
    assert_eq!(verified["release"], toad.v1.as_str());
    let (status, headers, body) = get(toad.port, "/");
    assert_eq!((status, body.as_str()), (200, "v1\n"));
    assert_eq!(header(&headers, "x-hoist-release"), Some(toad.v1.as_str()));
    drop(toad.server);
}

#[test]
fn hypnotoad_hot_deploy_of_a_good_release_proves_itself() {
    let toad = v1_under_hypnotoad();
    let deploy = |version: &str| {
        let app = app(toad.port, &toad.pid_file, version, false);
        toad.env.write("app.pl", &app);
        toad.env.set_version(version);
        let (id, artifact) = toad.env.build();
        let output = toad.env.hoist().arg("deploy").arg(&artifact).run();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert_eq!(toad.env.live().as_deref(), Some(id.as_str()));
        let (status, headers, body) = get(toad.port, "/");
        assert_eq!((status, body.trim()), (200, version));
        assert_eq!(header(&headers, "x-hoist-release"), Some(id.as_str()));
        stderr
    };
    // Proven through /proc: the new manager started after the restart, from `current`.
    restart_by_usr2(&toad, "");
    let stderr = deploy("2.0.0");
    assert!(!stderr.contains("could not prove"), "{stderr}");
    // Proven by the release header the app sends.
    restart_by_usr2(&toad, "health_release = true\n");
    deploy("3.0.0");
    // `hoist restart` proves itself the same way: a fresh manager answers.
    toad.env.hoist().arg("restart").run();
    let (status, _, body) = get(toad.port, "/");
    assert_eq!((status, body.as_str()), (200, "3.0.0\n"));
    drop(toad.server);
}

// `hoist restart` reported done when its command left the old processes serving.
#[test]
fn restart_that_replaced_nothing_reported_done() {
    let toad = v1_under_hypnotoad();
    let health = format!(
        "restart = \"true\"\nhealth = \"http://127.0.0.1:{}/\"\nhealth_timeout = \"2s\"\n",
        toad.port
    );
    host_settings(&toad.env, &config(&health));
    toad.env
        .hoist()
        .arg("restart")
        .code(1)
        .stderr_has("the restart did not replace the running code")
        .run();
    let history = toad.env.hoist().args(["history", "--json"]).run_json();
    assert_eq!(
        (history[0]["op"].as_str(), history[0]["outcome"].as_str()),
        (Some("restart"), Some("failed"))
    );
    assert_eq!(toad.env.live().as_deref(), Some(toad.v1.as_str()));
    drop(toad.server);
}

// A health URL answered by another site's process (a site.toml copied from
// staging) only warned "could not prove", and the restart was recorded ok.
#[test]
fn health_answered_by_another_site_reported_ok() {
    let staging = Env::with_config(&config(""));
    staging.deploy_version("1.0.0");
    let port = free_port();
    let _staging_app = StaticApp::start_in("staging", port, &staging.site().join("current"));
    let env = Env::with_config(&config(""));
    env.deploy_version("1.0.0");
    let health = format!(
        "restart = \"true\"\nhealth = \"http://127.0.0.1:{port}/\"\nhealth_timeout = \"2s\"\n"
    );
    host_settings(&env, &config(&health));
    let output = env
        .hoist()
        .arg("restart")
        .code(1)
        .stderr_has("of another site")
        .run();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let staging_site = staging.site().canonicalize().unwrap();
    assert!(
        stderr.contains(&staging_site.display().to_string()),
        "{stderr}"
    );
    let history = env.hoist().args(["history", "--json"]).run_json();
    assert_eq!(history[0]["op"], "restart");
    assert_ne!(history[0]["outcome"], "ok", "{}", history[0]);
}
