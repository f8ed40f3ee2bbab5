//! `[stages.NAME]`: the hosts one artifact goes to, and how (`hoist deploy
//! --stage NAME`). These are the deploying machine's settings: they live
//! in the project's `hoist.toml` and mean nothing on a host; what differs
//! per host (listen address, env file) lives in that host's `site.toml`.
//!
//! ```toml
//! [stages.production]
//! hosts = ["web1", "web2", "deploy@10.0.0.7:2222"]
//! root = "/srv/shop"
//! waves = [1, "25%", "100%"]
//! watch = "30s"
//! max_error_rate = 0.01
//! [stages.production.balancer]
//! kind = "haproxy"
//! host = "lb1"
//! socket = "/run/haproxy/admin.sock"
//! backend = "shop"
//! ```

use serde::{Deserialize, Deserializer};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// One `[stages.NAME]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Stage {
    /// ssh destinations: `web1` (an alias `~/.ssh/config` or `ssh_config`
    /// resolves), `user@host`, `user@host:port`.
    pub hosts: Vec<String>,
    /// The site root on every host.
    pub root: PathBuf,
    /// Cumulative wave sizes: a host count or a share of the hosts
    /// (`[1, "25%", "100%"]`: one canary, then up to a quarter, then all).
    /// Hosts a last wave below 100% leaves out form one more wave.
    #[serde(default = "Stage::default_waves")]
    pub waves: Vec<Wave>,
    /// After each wave: how long to watch health and the error rate
    /// before the next.
    #[serde(
        default = "Stage::default_watch",
        deserialize_with = "crate::duration::deserialize"
    )]
    pub watch: Duration,
    /// The 5xx share of requests (0.0–1.0) during a watch that rolls the
    /// whole stage back.
    #[serde(default = "Stage::default_max_error_rate")]
    pub max_error_rate: f64,
    /// An ssh config file for these hosts (`ssh -F`), relative to
    /// `hoist.toml`; default: the user's own `~/.ssh/config`.
    pub ssh_config: Option<PathBuf>,
    /// `strict` (default): a host whose key is not in `known_hosts` is
    /// refused; `accept-new` adds a new host's key, never a changed one.
    #[serde(default)]
    pub known_hosts: KnownHosts,
    /// Where hoist lives on the hosts (`hoist setup` puts it there).
    #[serde(default = "Stage::default_hoist")]
    pub hoist: String,
    /// ssh connections opened at once (a fleet of hundreds must not
    /// storm its own bastion or sshd's `MaxStartups`).
    #[serde(default = "Stage::default_max_connections")]
    pub max_connections: usize,
    /// How long a drained host may take to finish its requests.
    #[serde(
        default = "Stage::default_drain_timeout",
        deserialize_with = "crate::duration::deserialize"
    )]
    pub drain_timeout: Duration,
    /// The load balancer in front of the hosts, drained around each switch.
    pub balancer: Option<Balancer>,
}

/// One entry of `waves`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Wave {
    /// Up to this many hosts in all.
    Hosts(usize),
    /// Up to this share of the hosts in all (0 < p ≤ 100).
    Percent(f64),
}

/// How host keys are checked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KnownHosts {
    /// `StrictHostKeyChecking=yes`.
    #[default]
    Strict,
    /// `StrictHostKeyChecking=accept-new`.
    AcceptNew,
}

/// `[stages.NAME.balancer]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Balancer {
    /// `haproxy` (its runtime API) or `hoist` (an agent with `[[proxy.backend]]`).
    pub kind: BalancerKind,
    /// The balancer's machine, over ssh; omit when it is this one.
    pub host: Option<String>,
    /// HAProxy's admin socket (`stats socket ... level admin`).
    pub socket: Option<PathBuf>,
    /// HAProxy's backend holding the stage's hosts.
    pub backend: Option<String>,
    /// The hoist balancer's site root (its agent), on `host`.
    pub root: Option<PathBuf>,
    /// Each host's name at the balancer: an HAProxy server name, or the
    /// hoist agent's backend URL. HAProxy server names default to the host.
    #[serde(default)]
    pub servers: BTreeMap<String, String>,
}

/// Which kind of balancer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BalancerKind {
    /// HAProxy, through its runtime API.
    Haproxy,
    /// A hoist agent balancing `[[proxy.backend]]`s.
    Hoist,
}

impl Stage {
    fn default_waves() -> Vec<Wave> {
        vec![Wave::Hosts(1), Wave::Percent(100.0)]
    }
    fn default_watch() -> Duration {
        Duration::from_secs(10)
    }
    fn default_max_error_rate() -> f64 {
        0.01
    }
    fn default_hoist() -> String {
        "/usr/local/bin/hoist".to_owned()
    }
    fn default_max_connections() -> usize {
        10
    }
    fn default_drain_timeout() -> Duration {
        Duration::from_secs(30)
    }

    /// The hosts of each wave, as indexes into `hosts`, in order: every
    /// host exactly once, no wave empty.
    pub fn wave_plan(&self) -> Vec<Vec<usize>> {
        self.wave_plan_for(self.hosts.len())
    }

    /// [`Stage::wave_plan`] for `total` hosts (those that have to move).
    pub fn wave_plan_for(&self, total: usize) -> Vec<Vec<usize>> {
        let mut plan = Vec::new();
        let mut done = 0;
        for wave in &self.waves {
            let upto = match *wave {
                Wave::Hosts(count) => count,
                Wave::Percent(share) => ((share / 100.0) * total as f64).ceil() as usize,
            }
            .min(total);
            if upto > done {
                plan.push((done..upto).collect());
                done = upto;
            }
        }
        if done < total {
            plan.push((done..total).collect());
        }
        plan
    }

    /// The ssh config file, resolved against the directory of `hoist.toml`.
    pub fn ssh_config_in(&self, base: &Path) -> Option<PathBuf> {
        self.ssh_config.as_ref().map(|path| base.join(path))
    }

    pub(crate) fn problems(&self) -> Vec<(&'static str, String)> {
        let mut problems = Vec::new();
        if self.hosts.is_empty() {
            problems.push(("hosts", "must name at least one host".to_owned()));
        }
        let mut seen = std::collections::HashSet::new();
        for host in &self.hosts {
            if host.is_empty() || host.starts_with('-') || host.contains(char::is_whitespace) {
                problems.push(("hosts", format!("`{host}` is not an ssh destination")));
            }
            if !seen.insert(host) {
                problems.push(("hosts", format!("`{host}` is listed twice")));
            }
        }
        if !self.root.is_absolute() {
            problems.push((
                "root",
                format!("`{}` must be an absolute path", self.root.display()),
            ));
        }
        if self.waves.is_empty() {
            problems.push(("waves", "must have at least one wave".to_owned()));
        }
        // Cumulative: no wave may reach fewer hosts than the one before,
        // judged as the plan takes them on this stage's hosts.
        let total = self.hosts.len();
        let reach = |wave: &Wave| match *wave {
            Wave::Hosts(count) => count.min(total),
            Wave::Percent(share) => ((share / 100.0) * total as f64).ceil() as usize,
        };
        if self
            .waves
            .windows(2)
            .any(|pair| reach(&pair[1]) < reach(&pair[0]))
        {
            problems.push((
                "waves",
                "sizes are cumulative and must grow: `[1, \"25%\", \"100%\"]` is one host, then up to a quarter, then all".to_owned(),
            ));
        }
        for wave in &self.waves {
            match *wave {
                Wave::Hosts(0) => problems.push(("waves", "a wave of 0 hosts".to_owned())),
                Wave::Percent(share) if !(share > 0.0 && share <= 100.0) => problems.push((
                    "waves",
                    format!("`{share}%` must be more than 0% and at most 100%"),
                )),
                _ => {}
            }
        }
        if !(0.0..=1.0).contains(&self.max_error_rate) {
            problems.push((
                "max_error_rate",
                format!(
                    "`{}` must be a share between 0.0 and 1.0",
                    self.max_error_rate
                ),
            ));
        }
        if self.max_connections == 0 {
            problems.push(("max_connections", "must be at least 1".to_owned()));
        }
        if !self.hoist.starts_with('/') {
            problems.push((
                "hoist",
                format!("`{}` must be an absolute path", self.hoist),
            ));
        }
        if let Some(balancer) = &self.balancer {
            match balancer.kind {
                BalancerKind::Haproxy => {
                    if balancer.socket.is_none() {
                        problems.push(("balancer.socket", "HAProxy needs its admin socket".into()));
                    }
                    if balancer.backend.is_none() {
                        problems
                            .push(("balancer.backend", "HAProxy needs the backend name".into()));
                    }
                }
                BalancerKind::Hoist => {
                    if balancer.root.is_none() {
                        problems.push((
                            "balancer.root",
                            "a hoist balancer needs its site root".into(),
                        ));
                    }
                    for host in &self.hosts {
                        if !balancer.servers.contains_key(host) {
                            problems.push((
                                "balancer.servers",
                                format!("`{host}` needs its backend URL at the hoist balancer"),
                            ));
                        }
                    }
                }
            }
            for host in balancer.servers.keys() {
                if !self.hosts.contains(host) {
                    problems.push((
                        "balancer.servers",
                        format!("`{host}` is not one of `hosts`"),
                    ));
                }
            }
        }
        problems
    }
}

impl<'de> Deserialize<'de> for Wave {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Wave, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Count(i64),
            Text(String),
        }
        let bad = |text: &str| {
            serde::de::Error::custom(format!(
                "`{text}` is not a wave: write a host count such as 1, or a share such as \"25%\""
            ))
        };
        match Raw::deserialize(deserializer)? {
            Raw::Count(count) if count >= 0 => Ok(Wave::Hosts(count as usize)),
            Raw::Count(count) => Err(bad(&count.to_string())),
            Raw::Text(text) => {
                let number = text.trim().strip_suffix('%').ok_or_else(|| bad(&text))?;
                number
                    .trim()
                    .parse()
                    .map(Wave::Percent)
                    .map_err(|_| bad(&text))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::Config;
    use std::path::Path;

    fn stage(body: &str) -> Result<crate::Stage, crate::ConfigError> {
        let text = format!("[app]\nname = \"shop\"\n[stages.production]\n{body}");
        Config::parse(&text, Path::new("hoist.toml"))
            .map(|config| config.stages["production"].clone())
    }

    #[test]
    fn waves_are_cumulative_and_cover_every_host_once() {
        let five = "hosts = [\"a\",\"b\",\"c\",\"d\",\"e\"]\nroot = \"/srv/shop\"\n";
        let plan = stage(&format!("{five}waves = [1, \"25%\", \"100%\"]\n"))
            .unwrap()
            .wave_plan();
        assert_eq!(plan, vec![vec![0], vec![1], vec![2, 3, 4]]);
        let plan = stage(&format!("{five}waves = [2]\n")).unwrap().wave_plan();
        assert_eq!(plan, vec![vec![0, 1], vec![2, 3, 4]]);
        let plan = stage(five).unwrap().wave_plan();
        assert_eq!(plan, vec![vec![0], vec![1, 2, 3, 4]]);
    }

    #[test]
    fn bad_stage_values_name_the_key() {
        for (body, expected) in [
            ("hosts = []\nroot = \"/srv\"\n", "stages.production.hosts"),
            ("hosts = [\"a\"]\nroot = \"srv\"\n", "stages.production.root"),
            ("hosts = [\"a\"]\nroot = \"/srv\"\nwaves = [\"150%\"]\n", "stages.production.waves"),
            ("hosts = [\"a\"]\nroot = \"/srv\"\nwaves = [\"lots\"]\n", "is not a wave"),
            ("hosts = [\"a\", \"b\"]\nroot = \"/srv\"\nwaves = [\"100%\", 1]\n", "must grow"),
            ("hosts = [\"a\"]\nroot = \"/srv\"\nhost = \"x\"\n", "`host`"),
            (
                "hosts = [\"a\"]\nroot = \"/srv\"\n[stages.production.balancer]\nkind = \"haproxy\"\n",
                "stages.production.balancer.socket",
            ),
        ] {
            let message = stage(body).unwrap_err().to_string();
            assert!(message.contains(expected), "{body}: {message}");
        }
    }
}
