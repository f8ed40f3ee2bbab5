//! Notifications (issue 16, item 4): `[[notify]]` entries get a message
//! after a deploy and a rollback, through a detached deliverer that never
//! holds up or fails the operation: a webhook receiver on loopback gets
//! the generic JSON and Slack's `{"text": …}`, a real SMTP server
//! (aiosmtpd) gets the mail with the release and its deployment notes, and
//! a receiver that is down ends as a failed delivery in `hoist history`.

mod util;

use std::time::{Duration, Instant};
use util::smtp_server::SmtpServer;
use util::webhook_receiver::Receiver;
use util::{git_repo, Env, DEFAULT_CONFIG};

/// How long a message may take to arrive (a shared, loaded machine).
const WITHIN: Duration = Duration::from_secs(60);

fn webhook(url: &str, format: &str, extra: &str) -> String {
    format!("[[notify]]\nkind = \"webhook\"\nurl = \"{url}\"\nformat = \"{format}\"\n{extra}")
}

#[test]
fn webhooks_get_json_and_slack_after_deploy_and_rollback() {
    let (json, slack) = (Receiver::start(), Receiver::start());
    let env = Env::with_config(&format!(
        "{DEFAULT_CONFIG}{}{}",
        webhook(&json.url, "json", ""),
        webhook(&slack.url, "slack", "on = [\"rollback\"]\n")
    ));
    let first = env.deploy_version("1.0");
    env.set_version("1.1");
    let (second, artifact) = env.build();
    env.hoist()
        .args(["deploy", "--reason", "new prices"])
        .arg(&artifact)
        .run();
    env.hoist()
        .args(["rollback", "--reason", "prices wrong"])
        .run();

    // Each operation starts its own deliverer: order between them is not promised.
    let mut messages = json.take(3, WITHIN);
    messages.sort_by_key(|message| message["at"].as_str().unwrap_or_default().to_owned());
    let summary: Vec<(&str, &str, &str)> = messages
        .iter()
        .map(|m| {
            (
                m["event"].as_str().unwrap(),
                m["outcome"].as_str().unwrap(),
                m["release"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("deploy", "ok", first.as_str()),
            ("deploy", "ok", second.as_str()),
            ("rollback", "ok", first.as_str()),
        ],
        "{messages:#?}"
    );
    let deploy = &messages[1];
    assert_eq!(deploy["why"], "new prices");
    assert_eq!(deploy["previous"], first.as_str());
    assert!(deploy["who"].as_str().is_some_and(|who| !who.is_empty()));
    assert!(deploy["host"].as_str().is_some_and(|host| !host.is_empty()));
    assert!(deploy["duration_ms"].is_u64());

    // `on = ["rollback"]`: the Slack hook hears of the rollback only.
    let text = slack.next(WITHIN);
    let text = text["text"].as_str().unwrap();
    assert!(
        text.starts_with(&format!("hoist rollback of `{first}`"))
            && text.contains("why: prices wrong"),
        "{text}"
    );
    assert!(wait_spool_empty(&env), "spool not emptied");
}

/// Whether the spool empties within [`WITHIN`] (a deliverer removes an
/// entry just after its receiver got it).
fn wait_spool_empty(env: &Env) -> bool {
    let deadline = Instant::now() + WITHIN;
    while Instant::now() < deadline {
        let left = std::fs::read_dir(env.site().join("notify"))
            .unwrap()
            .flatten()
            .any(|entry| entry.file_name().to_string_lossy().ends_with(".json"));
        if !left {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

#[test]
fn mail_with_the_release_and_its_notes_reaches_a_real_smtp_server() {
    let dir = tempfile::tempdir().unwrap();
    let smtp = SmtpServer::start(dir.path());
    let env = git_repo::init(Env::with_config(&format!(
        "{DEFAULT_CONFIG}[[notify]]\nkind = \"email\"\nsmtp_host = \"127.0.0.1\"\nsmtp_port = {}\nfrom = \"hoist@example.org\"\nto = [\"ops@example.org\"]\non = [\"deploy\"]\n",
        smtp.port
    )));
    let (_, first) = git_repo::build(&env, "1.0");
    env.hoist().arg("deploy").arg(&first).run();
    git_repo::commit(
        &env,
        &[("lib/foobar.txt", "magic\n")],
        "New foobar magic.\n\nDeployment:\n- New dependency - Foo::Bar::Magic\n",
    );
    let (second, artifact) = git_repo::build(&env, "1.1");
    env.hoist().arg("deploy").arg(&artifact).run();

    let mail = smtp.wait_for(&["ops@example.org", "Foo::Bar::Magic"], WITHIN);
    // Long lines may come quoted-printable, with soft line breaks.
    let mail = mail.replace("=\r\n", "").replace("=\n", "");
    for needle in [
        format!("hoist deploy of `{second}`"),
        "From: hoist@example.org".to_owned(),
        "New foobar magic.".to_owned(),
        "- New dependency - Foo::Bar::Magic".to_owned(),
    ] {
        assert!(mail.contains(&needle), "{needle:?} not in\n{mail}");
    }
    // Delivered: the deliverer removes the entry and ends.
    assert!(wait_spool_empty(&env), "spool not emptied");
}

#[test]
fn a_receiver_that_is_down_fails_no_deploy_and_is_recorded() {
    let down = format!("http://127.0.0.1:{}/hook", util::agent_process::free_port());
    let env = Env::with_config(&format!(
        "{DEFAULT_CONFIG}{}",
        webhook(&down, "json", "retry_for = \"1s\"\nbackoff = \"100ms\"\n")
    ));
    let id = env.deploy_version("1.0");
    assert_eq!(env.live().as_deref(), Some(id.as_str()));

    // The deliverer retries, gives up, and says so in the ledger.
    let deadline = Instant::now() + WITHIN;
    let failed = loop {
        let history = env.hoist().args(["history", "--json"]).run_json();
        let found = history
            .as_array()
            .unwrap()
            .iter()
            .find(|row| row["op"] == "notify")
            .cloned();
        if let Some(row) = found {
            break row;
        }
        assert!(
            Instant::now() < deadline,
            "no failed delivery recorded: {history:#}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(failed["outcome"], "failed");
    assert_eq!(failed["release"], id.as_str());
    let problem = failed["failure"].as_str().unwrap();
    assert!(
        problem.contains(&down) && problem.contains("not delivered after"),
        "{problem}"
    );
    let tries: u32 = problem
        .split("after ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|count| count.parse().ok())
        .unwrap();
    assert!(tries >= 2, "gave up without retrying: {problem}");
    let log = std::fs::read_to_string(env.site().join("notify/deliver.log")).unwrap();
    assert!(log.contains("try 1 failed"), "{log}");
    assert!(wait_spool_empty(&env));
    let human = env.hoist().arg("history").run();
    let human = String::from_utf8_lossy(&human.stdout);
    assert!(
        human.contains("notify") && human.contains("failed"),
        "{human}"
    );
    // The deploy itself stays recorded as ok.
    let history = env.hoist().args(["history", "--json"]).run_json();
    assert!(history
        .as_array()
        .unwrap()
        .iter()
        .any(|row| row["op"] == "deploy" && row["outcome"] == "ok"));
}

#[test]
fn a_deploy_that_fails_is_told_as_a_failure() {
    let receiver = Receiver::start();
    let env = Env::with_config(&format!(
        "{DEFAULT_CONFIG}restart = \"test ! -f \\\"$HOIST_ROOT/broken\\\"\"\n{}",
        webhook(&receiver.url, "json", "on = [\"failure\"]\n")
    ));
    let first = env.deploy_version("1.0");
    std::fs::write(env.site().join("broken"), "").unwrap();
    env.set_version("1.1");
    let (second, artifact) = env.build();
    env.hoist().arg("deploy").arg(&artifact).code(1).run();
    let message = receiver.next(WITHIN);
    assert_eq!(message["event"], "failure", "{message:#}");
    assert_eq!(message["outcome"], "failed");
    assert_eq!(message["release"], second.as_str());
    assert_eq!(message["previous"], first.as_str());
    assert!(message["detail"].as_str().is_some_and(|d| !d.is_empty()));
    assert!(wait_spool_empty(&env), "spool not emptied");
}

#[test]
fn the_agents_own_rollback_is_told() {
    let receiver = Receiver::start();
    let port = util::agent_process::free_port();
    let env = Env::with_config(&util::agent_process::agent_config_with(
        port,
        "watch = \"10s\"\nrollback_window = \"5m\"\nhealthy_after = 2",
        &format!(
            "\n{}",
            webhook(&receiver.url, "json", "on = [\"auto_rollback\"]\n")
        ),
    ));
    env.set_version("1");
    let (good, artifact) = env.build();
    env.hoist().args(["deploy", "-q"]).arg(artifact).run();
    let _agent = util::agent_process::AgentProcess::start(&env);
    // The example app dies 700 ms after it starts: the watch rolls back.
    env.write("exit-after-ms", "700");
    env.set_version("2");
    let (bad, artifact) = env.build();
    env.hoist().args(["deploy", "-q"]).arg(artifact).run();
    let message = receiver.next(WITHIN);
    assert_eq!(message["event"], "auto_rollback", "{message:#}");
    assert_eq!(message["outcome"], "ok");
    assert_eq!(message["release"], good.as_str());
    assert_eq!(message["previous"], bad.as_str());
    assert!(
        message["who"].as_str().unwrap().starts_with("agent"),
        "{message:#}"
    );
    assert!(
        message["why"]
            .as_str()
            .is_some_and(|why| why.contains("exited")),
        "{message:#}"
    );
    assert!(wait_spool_empty(&env), "spool not emptied");
}

#[test]
fn smtp_credentials_come_from_the_site_env_file_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let smtp = SmtpServer::start_with_auth(dir.path(), "mailer", "s3cret pass");
    let env = Env::with_config(&format!(
        "{DEFAULT_CONFIG}[process]\nenv_file = \"shared/env\"\n[[notify]]\nkind = \"email\"\nsmtp_host = \"127.0.0.1\"\nsmtp_port = {}\nfrom = \"hoist@example.org\"\nto = [\"ops@example.org\"]\nuser_var = \"SMTP_USER\"\npassword_var = \"SMTP_PASSWORD\"\non = [\"rollback\"]\n",
        smtp.port
    ));
    let first = env.deploy_version("1.0");
    env.deploy_version("1.1");
    let env_file = env.site().join("shared/env");
    std::fs::write(
        &env_file,
        "SMTP_USER=mailer\nexport SMTP_PASSWORD='s3cret pass'\n",
    )
    .unwrap();
    std::fs::set_permissions(
        &env_file,
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    env.hoist()
        .args(["rollback", "--reason", "bad prices"])
        .run();
    // The server takes mail only from a client that logged in.
    let mail = smtp.wait_for(&["ops@example.org"], WITHIN);
    let mail = mail.replace("=\r\n", "").replace("=\n", "");
    assert!(
        mail.contains(&format!("hoist rollback of `{first}`")) && mail.contains("bad prices"),
        "{mail}"
    );
    assert!(wait_spool_empty(&env), "spool not emptied");
    let spooled_text = std::fs::read_to_string(env.site().join("notify/deliver.log")).unwrap();
    assert!(!spooled_text.contains("s3cret"), "{spooled_text}");
}

/// Nothing was spooled for the site, and nothing reached `receiver`: a
/// spooled message stays in the spool until its receiver got it, so
/// checking the spool first and the receiver second misses none.
fn nothing_sent(env: &Env, receiver: &Receiver) -> Option<String> {
    let spooled: Vec<String> = std::fs::read_dir(env.site().join("notify"))
        .map(|dir| {
            dir.flatten()
                .map(|entry| entry.file_name().to_string_lossy().into_owned())
                .filter(|name| name.ends_with(".json"))
                .collect()
        })
        .unwrap_or_default();
    if !spooled.is_empty() {
        return Some(format!("spooled: {spooled:?}"));
    }
    receiver
        .try_next()
        .map(|message| format!("received: {message:#}"))
}

#[test]
fn refused_rollback_and_locked_deploy_are_not_told_as_failures() {
    // `rollback --to nonexistent` and a deploy refused by a held lock changed
    // nothing, yet each sent a `failure` message and wrote a `notify` ledger row.
    let receiver = Receiver::start();
    let env = Env::with_config(&format!(
        "{DEFAULT_CONFIG}{}",
        webhook(&receiver.url, "json", "on = [\"failure\"]\n")
    ));
    env.deploy_version("1.0");
    env.hoist()
        .args(["rollback", "--to", "20990101T0000Z-nonexistent"])
        .code(1)
        .run();
    assert_eq!(nothing_sent(&env, &receiver), None, "refused rollback");

    env.set_version("1.1");
    let (_, artifact) = env.build();
    let lock = util::held_lock::HeldLock::hold(&env.site().join("deploy.lock"));
    env.hoist().arg("deploy").arg(&artifact).code(1).run();
    drop(lock);
    assert_eq!(nothing_sent(&env, &receiver), None, "refused deploy");
    // Both are recorded as refusals, with no delivery of their own.
    let history = env.hoist().args(["history", "--json"]).run_json();
    let rows = history.as_array().unwrap();
    assert!(!rows.iter().any(|row| row["op"] == "notify"), "{history:#}");
    assert_eq!(
        rows.iter()
            .filter(|row| row["outcome"] == "refused")
            .count(),
        2,
        "{history:#}"
    );
}

#[test]
fn slack_text_escapes_a_channel_ping_and_control_characters() {
    // `<!channel>` in a reason pinged the whole channel, and an ANSI escape
    // and a carriage return went raw into the message.
    let slack = Receiver::start();
    let env = Env::with_config(&format!(
        "{DEFAULT_CONFIG}{}",
        webhook(&slack.url, "slack", "on = [\"deploy\"]\n")
    ));
    env.set_version("1.0");
    let (_, artifact) = env.build();
    env.hoist()
        .args([
            "deploy",
            "--reason",
            "<!channel> prices & tax\x1b[31m\rfixed",
        ])
        .arg(&artifact)
        .run();
    let text = slack.next(WITHIN);
    let text = text["text"].as_str().unwrap();
    assert!(
        text.contains("why: &lt;!channel&gt; prices &amp; tax\u{fffd}[31m fixed\n"),
        "{text:?}"
    );
    assert!(!text.contains('<') && !text.contains('\x1b') && !text.contains('\r'));
}

/// `hoist status` said nothing of notifications waiting in the spool (a
/// receiver down, a deliverer killed): they waited there unseen.
#[test]
fn status_said_nothing_of_notifications_waiting() {
    let port = util::agent_process::free_port();
    let url = format!("http://127.0.0.1:{port}/hook");
    let env = Env::with_config(&format!(
        "{DEFAULT_CONFIG}{}",
        webhook(&url, "json", "retry_for = \"10m\"\nbackoff = \"200ms\"\n")
    ));
    env.deploy_version("1.0");
    let status = env.hoist().args(["status", "--json"]).run_json();
    assert_eq!(status["notifications_waiting"], 1, "{status:#}");
    let human = String::from_utf8(env.hoist().arg("status").run().stdout).unwrap();
    assert!(human.contains("1 message waiting in notify/"), "{human}");
    // The receiver comes up: the deliverer's next try gets through.
    let receiver = Receiver::start_on(port);
    assert_eq!(receiver.next(WITHIN)["event"], "deploy");
    assert!(wait_spool_empty(&env));
    let status = env.hoist().args(["status", "--json"]).run_json();
    assert_eq!(status["notifications_waiting"], 0, "{status:#}");
}
