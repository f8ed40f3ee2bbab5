//! The schema app on a fleet (issue 17): simulated hosts (real sshd's,
//! [`FleetHosts`]) each running the app under its own gunicorn from its
//! site's `current`, a real HAProxy in front, one PostgreSQL behind, and a
//! project whose `hoist.toml` names the hosts as `[stages.production]`.
//!
//! No agent here: each host's `restart` (a host setting) stops its
//! gunicorn and starts it afresh from `current` with the environment hoist
//! gives a restart, so the new release's processes get its `PGOPTIONS`.
//! The fleet drains a host at HAProxy before it switches it, so a restart
//! that stops the old process first fails no request.

use super::fleet_hosts::{FleetHosts, FleetOptions, Host};
use super::haproxy::Haproxy;
use super::schema_app::{write_release, Releases, Shape, APP_PY, NO_BYTECODE};
use super::{Cmd, Env};
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

/// Hosts, balancer and project; the database is the caller's.
pub struct SchemaFleet {
    pub env: Env,
    pub releases: Releases,
    pub haproxy: Haproxy,
    pub fleet: FleetHosts,
}

/// Stops the old gunicorn (graceful `TERM`, then waits for it to go) and
/// starts the new one from `current`, daemonized, with the env file's
/// variables and whatever hoist put in the restart's environment.
const RESTART: &str = r#"#!/bin/sh
pid="$STAGE/run/gunicorn.pid"
if [ -s "$pid" ]; then
    old=$(cat "$pid")
    kill -TERM "$old" 2>/dev/null
    tries=0
    while kill -0 "$old" 2>/dev/null && [ "$tries" -lt 300 ]; do sleep 0.1; tries=$((tries + 1)); done
fi
set -a
. "$STAGE/site/shared/app.env"
set +a
exec gunicorn --daemon --pid "$pid" --workers 2 --bind "$LISTEN" \
    --chdir "$STAGE/site/current" --log-file "$STAGE/run/gunicorn.log" app:app
"#;

impl SchemaFleet {
    /// Starts `names` as hosts, each with its site settings (restart,
    /// health, the database at `url`), HAProxy, and `hoist setup --stage`.
    pub fn start(names: &[&str], url: &str, waves: &str) -> SchemaFleet {
        let fleet = FleetHosts::start(names, FleetOptions::default());
        fleet.install_hoist();
        for host in fleet.hosts() {
            host_settings(host, url);
        }
        let servers: Vec<_> = fleet
            .hosts()
            .iter()
            .map(|host| (host.name(), host.app_addr()))
            .collect();
        let haproxy = Haproxy::start("shop", &servers);
        let hosts = names
            .iter()
            .map(|name| format!("\"{name}\""))
            .collect::<Vec<_>>()
            .join(", ");
        let config = format!(
            "[app]\nname = \"users\"\nversion = \"1\"\n[deploy]\nchecks = [\"test -f app.py\"]\n\
             [stages.production]\nhosts = [{hosts}]\nroot = \"{root}\"\nhoist = \"{bin}/hoist\"\n\
             ssh_config = \"{ssh}\"\nwaves = {waves}\nwatch = \"2s\"\ndrain_timeout = \"20s\"\n\
             [stages.production.balancer]\nkind = \"haproxy\"\nsocket = \"{socket}\"\nbackend = \"shop\"\n",
            root = fleet.stage_root().display(),
            bin = fleet.stage_bin().display(),
            ssh = fleet.ssh_config().display(),
            socket = haproxy.socket_path().display(),
        );
        let env = Env::with_config(&config);
        env.write("app.py", APP_PY);
        env.write(
            "migrations/0001_users.up.sql",
            "CREATE TABLE users (id serial PRIMARY KEY, name text NOT NULL);\n",
        );
        env.write("migrations/0001_users.down.sql", "DROP TABLE users;\n");
        let stage = SchemaFleet {
            env,
            releases: Releases::default(),
            haproxy,
            fleet,
        };
        stage.hoist().args(["setup", "--stage", "production"]).run();
        stage
    }

    pub fn hoist(&self) -> Cmd {
        self.env.hoist()
    }

    /// Builds `shape` with the real `hoist build`; returns (release id, artifact).
    pub fn build(&self, shape: Shape) -> (String, PathBuf) {
        write_release(&self.env, shape);
        let (id, artifact) = self.env.build();
        self.releases.add(&id, shape);
        (id, artifact)
    }

    /// `hoist deploy --stage production --json ARTIFACT`, which must succeed.
    pub fn deploy(&self, artifact: &std::path::Path) -> serde_json::Value {
        self.hoist()
            .args(["deploy", "--stage", "production", "--json"])
            .arg(artifact)
            .run_json()
    }

    /// `hoist ARGS --root <stage root>` run on host `name` over ssh, as an
    /// operator on that host would; must succeed.
    pub fn on_host(&self, name: &str, args: &str) -> String {
        let command = format!(
            "{}/hoist {args} --root {}",
            self.fleet.stage_bin().display(),
            self.fleet.stage_root().display()
        );
        let output = self.fleet.ssh(name, &command);
        assert!(
            output.status.success(),
            "`{command}` on `{name}`: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Switches host `name` to release `to` by hand (`hoist rollback --to`
    /// on the host), drained at HAProxy first as the fleet would.
    pub fn switch_by_hand(&self, name: &str, to: &str) {
        self.haproxy
            .cmd(&format!("set server shop/{name} state drain"));
        self.haproxy
            .wait_stat("shop", name, "scur", |now| now == "0");
        self.on_host(name, &format!("rollback -q --to {to}"));
        self.haproxy
            .cmd(&format!("set server shop/{name} state ready"));
        self.haproxy.wait_status("shop", name, "UP");
    }

    /// The host's live release (`current`).
    pub fn live(&self, name: &str) -> Option<String> {
        let status: serde_json::Value =
            serde_json::from_str(&self.on_host(name, "status --json")).unwrap();
        status["live"].as_str().map(str::to_owned)
    }
}

/// Writes `host`'s `site.toml`, env file and restart script, and has its
/// gunicorn killed with the host.
fn host_settings(host: &Host, url: &str) {
    let stage = host.stage().display().to_string();
    let restart = host.dir().join("run/restart.sh");
    std::fs::write(
        &restart,
        RESTART
            .replace("$STAGE", &stage)
            .replace("$LISTEN", &host.app_addr().to_string()),
    )
    .unwrap();
    std::fs::set_permissions(&restart, std::fs::Permissions::from_mode(0o755)).unwrap();
    let site = host.dir().join("site");
    std::fs::create_dir_all(site.join("shared")).unwrap();
    std::fs::write(
        site.join("shared/app.env"),
        format!("DATABASE_URL={url}\n{NO_BYTECODE}\n"),
    )
    .unwrap();
    std::fs::set_permissions(
        site.join("shared/app.env"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    std::fs::write(
        site.join("site.toml"),
        format!(
            "[deploy]\nrestart = \"{stage}/run/restart.sh\"\nhealth = \"http://{}/health\"\n\
             health_timeout = \"30s\"\n[database]\nurl = \"{url}\"\nlock_timeout = \"10s\"\n",
            host.app_addr()
        ),
    )
    .unwrap();
    host.kill_on_drop(&host.dir().join("run/gunicorn.pid"));
}
