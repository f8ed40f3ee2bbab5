//! The fleet test harness itself (issue 15): simulated hosts are real
//! sshd's, each with its own files at the same stage path and its own
//! host key; a real HAProxy balances their apps and obeys its runtime
//! API; and everything they started is gone after drop.

mod util;

use std::io::BufRead;
use std::time::Duration;
use util::app_processes::{start_ticks, wait_gone};
use util::counted_load::{CountedLoad, Target};
use util::fleet_app::app_pl;
use util::fleet_hosts::{FleetHosts, FleetOptions};
use util::haproxy::Haproxy;
use util::http::{get_at, header};

/// Every live process of every host, with its start time.
fn processes(fleet: &FleetHosts) -> Vec<(u32, u64)> {
    let pids = fleet.hosts().iter().flat_map(|host| host.pids());
    pids.filter_map(|pid| Some((pid, start_ticks(pid)?)))
        .collect()
}

#[track_caller]
fn assert_gone(processes: &[(u32, u64)]) {
    let left: Vec<_> = processes
        .iter()
        .filter(|(pid, ticks)| start_ticks(*pid) == Some(*ticks))
        .collect();
    assert!(left.is_empty(), "still running after drop: {left:?}");
}

fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn each_host_serves_its_own_files_at_the_stage_path_over_ssh() {
    let fleet = FleetHosts::start(&["web1", "web2", "web3"], FleetOptions::default());
    for host in fleet.hosts() {
        std::fs::write(host.dir().join("site/marker"), format!("{}\n", host.name())).unwrap();
    }
    let marker = fleet.stage_root().join("marker");
    for name in ["web1", "web2", "web3"] {
        let output = fleet.ssh(name, &format!("cat {}", marker.display()));
        assert_eq!(
            (output.status.code(), stdout(&output)),
            (Some(0), format!("{name}\n")),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    // The same path seen from a process started on a host, and written there.
    let web3 = fleet.host("web3");
    let output = web3.exec_in(&format!("cat {0} && echo hand > {0}", marker.display()));
    assert_eq!(stdout(&output), "web3\n");
    assert_eq!(
        std::fs::read_to_string(web3.dir().join("site/marker")).unwrap(),
        "hand\n"
    );
    // The test's own view of the stage path is untouched.
    assert!(!marker.exists());
    // Each host runs the test's own hoist from the stage's `bin`.
    fleet.install_hoist();
    let version = util::Cmd::new(fleet.dir()).arg("--version").run();
    let remote = format!("{}/hoist --version", fleet.stage_bin().display());
    assert_eq!(stdout(&fleet.ssh("web2", &remote)), stdout(&version));
    // The hosts are three addresses, each sshd a separate process.
    let mut addrs: Vec<_> = fleet.hosts().iter().map(|host| host.addr()).collect();
    addrs.dedup();
    assert_eq!(addrs.len(), 3);
    let processes = processes(&fleet);
    assert!(processes.len() >= 6, "a holder and an sshd per host");
    drop(fleet);
    assert_gone(&processes);
}

#[test]
fn a_changed_host_key_is_refused_until_trusted() {
    let fleet = FleetHosts::start(&["web1", "web2"], FleetOptions::default());
    assert_eq!(fleet.ssh("web1", "echo ok").status.code(), Some(0));
    fleet.host("web1").change_host_key();
    let output = fleet.ssh("web1", "echo ok");
    assert_eq!(output.status.code(), Some(255));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("REMOTE HOST IDENTIFICATION HAS CHANGED"),
        "{stderr}"
    );
    assert_eq!(stdout(&fleet.ssh("web2", "echo ok")), "ok\n");
    fleet.trust_current_keys();
    assert_eq!(stdout(&fleet.ssh("web1", "echo ok")), "ok\n");
}

#[test]
fn a_stopped_sshd_makes_its_host_unreachable_until_restarted() {
    let fleet = FleetHosts::start(&["web1", "web2"], FleetOptions::default());
    let web1 = fleet.host("web1");
    let sshd = web1.sshd_pid().unwrap();
    web1.stop_sshd();
    assert_eq!(start_ticks(sshd), None);
    let output = fleet.ssh("web1", "echo ok");
    assert_eq!(output.status.code(), Some(255));
    assert!(String::from_utf8_lossy(&output.stderr).contains("Connection refused"));
    assert_eq!(stdout(&fleet.ssh("web2", "echo ok")), "ok\n");
    web1.start_sshd();
    assert_eq!(stdout(&fleet.ssh("web1", "echo ok")), "ok\n");
}

#[test]
fn cut_connections_end_a_running_session_and_leave_the_host_reachable() {
    let fleet = FleetHosts::start(&["web1"], FleetOptions::default());
    let mut session = fleet
        .ssh_command("web1", "echo started; exec sleep 60")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(session.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line, "started\n");
    let web1 = fleet.host("web1");
    assert_eq!(web1.cut_connections(), 1);
    // ssh ends at once (not after the remote `sleep 60`), as on a lost link.
    let status = session.wait().unwrap();
    assert_eq!(status.code(), Some(255));
    assert_eq!(stdout(&fleet.ssh("web1", "echo ok")), "ok\n");
    // The cut session's `sleep` still runs on the host; drop stops it.
    let processes = processes(&fleet);
    drop(fleet);
    assert_gone(&processes);
}

#[test]
fn a_multiplexed_connection_carries_parallel_sessions_until_cut() {
    let fleet = FleetHosts::start(&["web1"], FleetOptions::default());
    let control = fleet.dir().join("web1.ctl");
    // As the `openssh` crate does: one master, every step a session on it.
    let master = std::process::Command::new("ssh")
        .arg("-F")
        .arg(fleet.ssh_config())
        .args(["-f", "-N", "-M", "-o", "ControlPersist=yes", "-S"])
        .arg(&control)
        .arg("web1")
        .status()
        .unwrap();
    assert!(master.success());
    let through_master = |cmd: &str| {
        let mut ssh = std::process::Command::new("ssh");
        ssh.arg("-F")
            .arg(fleet.ssh_config())
            .arg("-S")
            .arg(&control)
            .args(["web1", cmd])
            .stdin(std::process::Stdio::null());
        ssh
    };
    let sessions: Vec<_> = (0..20)
        .map(|index| {
            through_master(&format!("echo {index}"))
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for (index, session) in sessions.into_iter().enumerate() {
        let output = session.wait_with_output().unwrap();
        assert_eq!(stdout(&output), format!("{index}\n"));
    }
    // One connection carried them all; cutting it ends the master.
    let check = || {
        let mut ssh = std::process::Command::new("ssh");
        ssh.arg("-F")
            .arg(fleet.ssh_config())
            .arg("-S")
            .arg(&control);
        ssh.args(["-O", "check", "web1"]).output().unwrap()
    };
    let running = String::from_utf8_lossy(&check().stderr).into_owned();
    let pid: u32 = running
        .split("pid=")
        .nth(1)
        .and_then(|rest| rest.split(')').next()?.parse().ok())
        .unwrap_or_else(|| panic!("no master: {running}"));
    let ticks = start_ticks(pid).unwrap();
    assert_eq!(fleet.host("web1").cut_connections(), 1);
    assert!(wait_gone(pid, ticks, Duration::from_secs(30)));
    assert_eq!(check().status.code(), Some(255));
}

#[test]
fn a_tmpfs_site_fills_up_on_its_own_host_only() {
    let fleet = FleetHosts::start(
        &["web1", "web2"],
        FleetOptions::default().tmpfs_site("web2", 1 << 20),
    );
    let fill = format!(
        "head -c 2000000 /dev/zero > {}/big",
        fleet.stage_root().display()
    );
    let full = fleet.ssh("web2", &fill);
    assert_ne!(full.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&full.stderr).contains("No space left"));
    assert_eq!(fleet.ssh("web1", &fill).status.code(), Some(0));
    let size = |name: &str| {
        let big = fleet.host(name).dir().join("site/big");
        std::fs::metadata(big).unwrap().len()
    };
    assert_eq!(size("web1"), 2_000_000);
    assert!(size("web2") <= 1 << 20);
}

#[test]
fn haproxy_balances_the_hosts_apps_and_drains_through_its_socket() {
    let fleet = FleetHosts::start(&["web1", "web2"], FleetOptions::default());
    let mut managers = Vec::new();
    for host in fleet.hosts() {
        let current = host.dir().join("site/current");
        std::fs::create_dir_all(&current).unwrap();
        std::fs::write(current.join("app.pl"), app_pl("v1", false)).unwrap();
        host.write_site_toml("");
        managers.push(host.start_app());
    }
    let servers: Vec<_> = fleet
        .hosts()
        .iter()
        .map(|host| (host.name(), host.app_addr()))
        .collect();
    let haproxy = Haproxy::start("shop", &servers);
    for (name, _) in &servers {
        haproxy.wait_status("shop", name, "UP");
    }
    let served_by = |count: usize| {
        let mut hosts = std::collections::BTreeSet::new();
        for _ in 0..count {
            let (status, headers, body) = get_at(haproxy.frontend_addr(), "/");
            assert_eq!((status, body.as_str()), (200, "v1\n"));
            hosts.insert(header(&headers, "x-host").unwrap().to_owned());
        }
        hosts
    };
    assert_eq!(served_by(4), ["web1", "web2"].map(String::from).into());
    // The host settings restart each host's own manager.
    let web1 = fleet.host("web1");
    assert!(web1
        .site_toml("")
        .contains(&format!("health = \"http://{}/\"", web1.app_addr())));
    assert_eq!(
        std::fs::read_to_string(web1.dir().join("run/hypnotoad.pid")).unwrap(),
        format!("{}\n", managers[0])
    );

    assert_eq!(haproxy.cmd("set server shop/web1 state drain"), "\n");
    assert_eq!(haproxy.stat("shop", "web1")["status"], "DRAIN");
    assert_eq!(served_by(4), ["web2"].map(String::from).into());
    assert_eq!(haproxy.cmd("set server shop/web1 state ready"), "\n");
    haproxy.wait_status("shop", "web1", "UP");

    let mut processes = processes(&fleet);
    let haproxy_pid = haproxy.pid();
    processes.push((haproxy_pid, start_ticks(haproxy_pid).unwrap()));
    assert!(managers
        .iter()
        .all(|pid| processes.iter().any(|(p, _)| p == pid)));
    drop(haproxy);
    drop(fleet);
    assert_gone(&processes);
}

/// Puts `app.pl` of `version` in `releases/<version>` of `host`'s site and
/// points `current` at it (atomically, by rename).
fn release(host: &util::fleet_hosts::Host, version: &str) {
    let site = host.dir().join("site");
    let dir = site.join("releases").join(version);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("app.pl"), app_pl(version, false)).unwrap();
    let next = site.join("current.next");
    let _ = std::fs::remove_file(&next);
    std::os::unix::fs::symlink(format!("releases/{version}"), &next).unwrap();
    std::fs::rename(next, site.join("current")).unwrap();
}

fn any_version(status: u16, _: &http::HeaderMap, body: &str, _: &str) -> Result<(), String> {
    match (status, body) {
        (200, "v1\n" | "v2\n") => Ok(()),
        _ => Err(format!("{status} {body:?}")),
    }
}

#[test]
fn a_host_drained_restarted_over_ssh_and_readied_fails_no_request() {
    let fleet = FleetHosts::start(&["web1", "web2"], FleetOptions::default());
    for host in fleet.hosts() {
        release(host, "v1");
        host.start_app();
    }
    let servers: Vec<_> = fleet
        .hosts()
        .iter()
        .map(|host| (host.name(), host.app_addr()))
        .collect();
    let haproxy = Haproxy::start("shop", &servers);
    for (name, _) in &servers {
        haproxy.wait_status("shop", name, "UP");
    }
    let load = CountedLoad::start(&[Target {
        port: haproxy.frontend_addr().port(),
        method: "GET",
        path: "/",
        workers: 2,
        check: any_version,
    }]);
    assert!(load.wait_for_more(50, Duration::from_secs(60)));
    // The fleet's steps for one host: drain, switch and restart, ready.
    let web1 = fleet.host("web1");
    haproxy.cmd("set server shop/web1 state drain");
    haproxy.wait_stat("shop", "web1", "scur", |sessions| sessions == "0");
    let served = haproxy.stat("shop", "web1")["stot"].clone();
    release(web1, "v2");
    let restart = fleet.ssh("web1", &web1.restart_cmd());
    assert!(restart.status.success(), "{restart:?}");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while get_at(web1.app_addr(), "/").2 != "v2\n" {
        assert!(std::time::Instant::now() < deadline, "web1 never served v2");
        std::thread::sleep(Duration::from_millis(50));
    }
    // Drained, it got no request while it restarted; web2 served them all.
    assert!(load.wait_for_more(20, Duration::from_secs(60)));
    assert_eq!(haproxy.stat("shop", "web1")["stot"], served);
    haproxy.cmd("set server shop/web1 state ready");
    haproxy.wait_status("shop", "web1", "UP");
    assert!(load.wait_for_more(50, Duration::from_secs(60)));
    let counts = load.finish();
    assert_eq!(counts.failed, 0, "{:?}", counts.problems);
    let (_, headers, _) = get_at(web1.app_addr(), "/");
    assert_eq!(header(&headers, "x-hoist-release"), Some("v2"));
    let (_, headers, body) = get_at(fleet.host("web2").app_addr(), "/");
    assert_eq!(
        (header(&headers, "x-hoist-release"), body.as_str()),
        (Some("v1"), "v1\n")
    );
    let processes = processes(&fleet);
    drop(haproxy);
    drop(fleet);
    assert_gone(&processes);
}
