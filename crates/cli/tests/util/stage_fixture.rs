//! A stage for fleet tests: simulated hosts (real sshd's), each running
//! hypnotoad from its site's `current`, a real HAProxy in front, and a
//! project whose `hoist.toml` names them as `[stages.production]`.

use super::counted_load::{CountedLoad, Target};
use super::fleet_app::app_pl;
use super::fleet_hosts::{FleetHosts, FleetOptions};
use super::haproxy::Haproxy;
use super::{Cmd, Env};
use serde_json::Value;
use std::path::PathBuf;

/// Hosts, balancer and project, stopped on drop.
pub struct StageFixture {
    pub env: Env,
    pub haproxy: Option<Haproxy>,
    pub fleet: FleetHosts,
}

/// How a fixture is made.
pub struct StageOptions {
    pub balancer: bool,
    pub waves: &'static str,
    pub watch: &'static str,
    pub fleet: FleetOptions,
}

impl Default for StageOptions {
    fn default() -> StageOptions {
        StageOptions {
            balancer: true,
            waves: "[1, \"50%\", \"100%\"]",
            watch: "1s",
            fleet: FleetOptions::default(),
        }
    }
}

impl StageFixture {
    /// Starts `names` as hosts with sites created (`hoist setup --stage`).
    pub fn start(names: &[&str], options: StageOptions) -> StageFixture {
        let fleet = FleetHosts::start(names, options.fleet);
        fleet.install_hoist();
        for host in fleet.hosts() {
            // Host settings: where this host's app listens and how it is
            // (re)started; `hypnotoad app.pl` starts it, or hot-deploys the
            // running one.
            let site = host.stage().join("site");
            let restart = format!(
                "cd {site} && APP_LISTEN=http://{addr} APP_PID_FILE={pid} APP_HOST={name} hypnotoad {site}/current/app.pl",
                site = site.display(),
                addr = host.app_addr(),
                pid = host.app_pid_file().display(),
                name = host.name(),
            );
            let site_toml = format!(
                "[deploy]\nrestart = \"{restart}\"\nhealth = \"http://{}/\"\nhealth_timeout = \"20s\"\n",
                host.app_addr()
            );
            std::fs::create_dir_all(host.dir().join("site")).unwrap();
            std::fs::write(host.dir().join("site/site.toml"), site_toml).unwrap();
        }
        let haproxy = options.balancer.then(|| {
            let servers: Vec<_> = fleet
                .hosts()
                .iter()
                .map(|host| (host.name(), host.app_addr()))
                .collect();
            Haproxy::start("shop", &servers)
        });
        let hosts = names
            .iter()
            .map(|name| format!("\"{name}\""))
            .collect::<Vec<_>>()
            .join(", ");
        let balancer = haproxy.as_ref().map_or_else(String::new, |haproxy| {
            format!(
                "[stages.production.balancer]\nkind = \"haproxy\"\nsocket = \"{}\"\nbackend = \"shop\"\n",
                haproxy.socket_path().display()
            )
        });
        let config = format!(
            "[app]\nname = \"shop\"\nversion = \"1.0.0\"\n[deploy]\nchecks = [\"test -f app.pl\"]\n\
             [stages.production]\nhosts = [{hosts}]\nroot = \"{root}\"\nhoist = \"{bin}/hoist\"\n\
             ssh_config = \"{ssh}\"\nwaves = {waves}\nwatch = \"{watch}\"\ndrain_timeout = \"20s\"\n{balancer}",
            root = fleet.stage_root().display(),
            bin = fleet.stage_bin().display(),
            ssh = fleet.ssh_config().display(),
            waves = options.waves,
            watch = options.watch,
        );
        let env = Env::with_config(&config);
        env.write("app.pl", &app_pl("v1", false));
        let fixture = StageFixture {
            env,
            haproxy,
            fleet,
        };
        fixture
            .hoist()
            .args(["setup", "--stage", "production"])
            .run();
        fixture
    }

    /// Splits the hosts into stages: `production` gets `production`, and a
    /// new `[stages.NAME]` (same root and ssh config, no balancer) gets
    /// `hosts`.
    pub fn split_stage(&self, production: &[&str], name: &str, hosts: &[&str]) {
        let path = self.env.src().join("hoist.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        let list = |names: &[&str]| {
            names
                .iter()
                .map(|name| format!("\"{name}\""))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let old = text
            .lines()
            .find(|line| line.starts_with("hosts = "))
            .unwrap()
            .to_owned();
        let text = text.replace(&old, &format!("hosts = [{}]", list(production)));
        let stage = format!(
            "\n[stages.{name}]\nhosts = [{}]\nroot = \"{}\"\nhoist = \"{}/hoist\"\nssh_config = \"{}\"\nwatch = \"0s\"\n",
            list(hosts),
            self.fleet.stage_root().display(),
            self.fleet.stage_bin().display(),
            self.fleet.ssh_config().display(),
        );
        // A new table after the balancer's table: TOML puts it at the top level.
        std::fs::write(&path, text + &stage).unwrap();
    }

    /// `hoist` in the project directory.
    pub fn hoist(&self) -> Cmd {
        self.env.hoist()
    }

    /// Builds app version `version` (its body says it); `dies` makes it
    /// unable to start. Returns (release id, artifact).
    pub fn build(&self, version: &str, dies: bool) -> (String, PathBuf) {
        self.env.set_version(version);
        self.env.write("app.pl", &app_pl(version, dies));
        self.env.build()
    }

    /// `hoist deploy --stage production ARTIFACT`, which must succeed.
    pub fn deploy(&self, artifact: &std::path::Path) {
        self.hoist()
            .args(["deploy", "--stage", "production"])
            .arg(artifact)
            .run();
    }

    /// `hoist deploy --stage production --json ARTIFACT`, which must fail
    /// (exit 1): its JSON, `{"error": ..., "result": ...}` when it got as
    /// far as hosts.
    pub fn deploy_refused(&self, artifact: &std::path::Path) -> Value {
        self.hoist()
            .args(["deploy", "--stage", "production", "--json"])
            .arg(artifact)
            .code(1)
            .run_json()
    }

    /// Asserts every host of `names` runs `release`.
    #[track_caller]
    pub fn assert_live(&self, names: &[&str], release: &str) {
        for name in names {
            assert_eq!(self.live(name).as_deref(), Some(release), "{name}");
        }
    }

    /// Keep-alive GETs of `/` through HAProxy, every answer checked by
    /// [`any_version`].
    pub fn load(&self) -> CountedLoad {
        let haproxy = self.haproxy.as_ref().expect("a stage with a balancer");
        load_on(haproxy.frontend_addr().port())
    }

    /// `hoist <args> --root <host's site>` run locally against a host's files.
    pub fn on_host(&self, host: &str, args: &[&str]) -> Value {
        let root = self.fleet.host(host).dir().join("site");
        self.hoist()
            .args(args)
            .arg("--json")
            .arg("--root")
            .arg(root)
            .run_json()
    }

    /// The host's live release.
    pub fn live(&self, host: &str) -> Option<String> {
        self.on_host(host, &["status"])["live"]
            .as_str()
            .map(str::to_owned)
    }

    /// The host's ledger, newest first.
    pub fn history(&self, host: &str) -> Vec<Value> {
        self.on_host(host, &["history"])
            .as_array()
            .cloned()
            .unwrap_or_default()
    }
}

/// Keep-alive GETs of `/` on `port` (a balancer's), every answer checked
/// by [`any_version`].
pub fn load_on(port: u16) -> CountedLoad {
    CountedLoad::start(&[Target {
        port,
        method: "GET",
        path: "/",
        workers: 2,
        check: any_version,
    }])
}

/// A served page of any version: 200 with the app's `vN` body.
pub fn any_version(status: u16, _: &http::HeaderMap, body: &str, _: &str) -> Result<(), String> {
    if status == 200 && body.starts_with('v') {
        Ok(())
    } else {
        Err(format!("{status} {body:?}"))
    }
}
