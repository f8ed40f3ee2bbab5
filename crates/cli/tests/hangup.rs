//! A terminal that hangs up does not stop a deploy (seed 004 runs its
//! deploys under `nohup` for this).

mod util;

use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::CommandExt;
use util::Env;

#[test]
fn hangup_killed_the_deploy_halfway() {
    // A dropped SSH session sent SIGHUP to `hoist deploy`, which died mid-way.
    let fifos = tempfile::tempdir().unwrap();
    let (ready, go) = (fifos.path().join("ready"), fifos.path().join("go"));
    for fifo in [&ready, &go] {
        nix::unistd::mkfifo(fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    }
    // Once armed, the test gate holds the go-ahead FIFO open, says it
    // started, then waits for one line on it.
    let armed = fifos.path().join("armed");
    let gate = format!(
        "if [ -e {armed} ]; then exec 3<> {go}; echo started > {ready}; read line <&3; fi; echo 1..1; echo ok 1",
        armed = armed.display(),
        ready = ready.display(),
        go = go.display()
    );
    let env = Env::with_config(&format!(
        "{}test = {{ command = \"{gate}\" }}\n",
        util::DEFAULT_CONFIG
    ));
    let v1 = env.deploy_version("1.0.0");
    env.set_version("2.0.0");
    let (v2, artifact) = env.build();
    std::fs::write(&armed, "").unwrap();

    let mut deploy = std::process::Command::new(util::BIN)
        .arg("deploy")
        .arg(&artifact)
        .current_dir(env.src())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        // Its own process group, as a terminal's foreground job.
        .process_group(0)
        .spawn()
        .unwrap();
    let pid = nix::unistd::Pid::from_raw(deploy.id() as i32);
    // Opening the FIFO waits for the gate: the deploy is mid-way.
    let mut started = String::new();
    std::fs::File::open(&ready)
        .unwrap()
        .read_to_string(&mut started)
        .unwrap();
    assert_eq!(started.trim(), "started");

    // The terminal goes: SIGHUP to the job, and nothing reads its output any more.
    nix::sys::signal::killpg(pid, nix::sys::signal::Signal::SIGHUP).unwrap();
    drop(deploy.stdout.take());
    drop(deploy.stderr.take());
    // Non-blocking: a gate that died with the deploy left no reader (ENXIO).
    let go_ahead = std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(nix::fcntl::OFlag::O_NONBLOCK.bits())
        .open(&go);
    if let Ok(mut fifo) = go_ahead {
        fifo.write_all(b"go\n").unwrap();
    }

    let status = deploy.wait().unwrap();
    assert!(status.success(), "the deploy did not finish: {status:?}");
    assert_eq!(env.live(), Some(v2.clone()));
    let history = env.hoist().args(["history", "--json"]).run_json();
    assert_eq!(
        (history[0]["op"].as_str(), history[0]["outcome"].as_str()),
        (Some("deploy"), Some("ok")),
        "{history}"
    );
    assert_eq!(history[0]["from"], v1.as_str());
    assert_eq!(history[0]["release"], v2.as_str());
}
