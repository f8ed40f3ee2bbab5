//! `hoist demo`: an agent on a temporary site serving the bundled example
//! app; v1 is deployed, steady traffic starts, v2 is deployed blue/green,
//! then rolled back; a new data version is loaded and rolled under the same
//! traffic; the summary shows what users saw.

mod traffic;

use crate::cli::Global;
use crate::output::{self, Output, Render};
use crate::progress::Progress;
use anyhow::Context as _;
use hoist_deploy::{Context, DeployRequest};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The example app, embedded so the demo needs nothing but this binary.
const EXAMPLE: &[(&str, &str)] = &[
    ("hoist.toml", include_str!("../../example/hoist.toml")),
    (
        "public/index.html",
        include_str!("../../example/public/index.html"),
    ),
    ("t/run.sh", include_str!("../../example/t/run.sh")),
    ("bin/restart", include_str!("../../example/bin/restart")),
];

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Keep the demo site in DIR instead of a temporary directory.
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
}

/// What users saw during the demo.
#[derive(Debug, Serialize)]
struct Summary {
    releases: Vec<String>,
    requests: u64,
    failed_requests: u64,
    /// `hoist deploy` of v2: unpack, checks, start, health, switch.
    deploy_ms: u64,
    /// From the deploy command to the first response served by v2.
    first_v2_response_ms: u64,
    /// From the rollback command to the first response served by v1 again.
    rollback_ms: u64,
    /// The data versions: loaded, then rolled under traffic.
    data_versions: Vec<String>,
    /// From `data roll` to the first response carrying the new data.
    data_roll_ms: u64,
    /// The agent's Prometheus endpoint (`[metrics] listen`).
    metrics_url: String,
    /// The read-only status page, on the same listener.
    status_page_url: String,
    /// 2xx answers `/metrics` counted at the end, by the processes
    /// running then (a restarted process starts its counters afresh).
    metrics_2xx: u64,
    /// The release the status page named live at the end.
    status_page_live: Option<String>,
}

impl Render for Summary {
    fn human(&self, out: &mut String) {
        output::field(out, "requests", self.requests);
        output::field(out, "failed", self.failed_requests);
        output::field(
            out,
            "deploy v2",
            format!(
                "{} ms (build to healthy candidate to switch)",
                self.deploy_ms
            ),
        );
        output::field(
            out,
            "v2 serving",
            format!("{} ms after the deploy command", self.first_v2_response_ms),
        );
        output::field(
            out,
            "rollback",
            format!(
                "{} ms from the command to the first v1 response",
                self.rollback_ms
            ),
        );
        output::field(
            out,
            "data roll",
            format!(
                "{} ms from the command to the first answer from the new data",
                self.data_roll_ms
            ),
        );
        output::field(
            out,
            "metrics",
            format!(
                "{} ({} answers 2xx counted by the processes running at the end)",
                self.metrics_url, self.metrics_2xx
            ),
        );
        let named = match &self.status_page_live {
            Some(live) => format!("named `{live}` live"),
            None => "did not name a live release".to_owned(),
        };
        output::field(
            out,
            "status page",
            format!(
                "{} ({named}; both stop with the demo's agent)",
                self.status_page_url
            ),
        );
    }
}

pub fn exec(global: &Global, args: Args) -> anyhow::Result<i32> {
    let temp = tempfile::tempdir().context("cannot create a temporary directory")?;
    let base = args.dir.unwrap_or_else(|| temp.path().to_owned());
    let (source, root) = (base.join("src"), base.join("site"));
    let progress = Progress::new(global.quiet || global.json);
    let say = |line: &str| {
        if !global.quiet && !global.json {
            eprintln!("\n== {line}");
        }
    };
    let hoist = std::env::current_exe().context("cannot find this executable")?;
    let v1 = build_version(&source, "1.0.0", &hoist)?;
    let mut config = hoist_config::Config::load(&source.join(hoist_config::FILE_NAME))?;
    // `/metrics` and the status page on a loopback port of their own.
    let metrics_address = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .context("cannot find a free port for the metrics listener")?
        .to_string();
    config.metrics.listen = Some(metrics_address.clone());
    let mut context = Context::create(&root)?;
    let data_source = base.join("catalog");
    let data_v1 = load_data(&context, &data_source, "catalog 1")?;
    // No agent yet: the roll only moves the pointer (journaled, under the site lock).
    let first_roll = hoist_deploy::DataRollRequest {
        op: hoist_site::Op::DataRoll,
        version: None,
        reason: Some("hoist demo".into()),
        force: false,
    };
    hoist_deploy::data_roll(&context, &first_roll, &hoist_deploy::Silent)?;

    say("start an agent on a temporary site");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let (stop_agent, agent_stopped) = tokio::sync::oneshot::channel::<()>();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let site = context.site.clone();
    let agent = runtime.spawn(async move {
        let public = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let shutdown = async move {
            let _ = agent_stopped.await;
        };
        super::agent::serve(site, &config, public, shutdown, |address, _| {
            let _ = ready_tx.send(address.to_owned());
        })
        .await
    });
    let address = ready_rx
        .recv_timeout(Duration::from_secs(30))
        .context("the agent did not start")?;
    crate::target::attach_agent(&mut context);
    say(&format!(
        "agent listening on http://{address}; metrics on http://{metrics_address}/metrics, status page on http://{metrics_address}/; deploy v1.0.0"
    ));
    let first = hoist_deploy::deploy(&context, &request(v1), &progress)?;

    say("steady traffic starts; deploy v1.1.0 blue/green");
    let stop = Arc::new(AtomicBool::new(false));
    let counts = Arc::new(traffic::Counts::default());
    let (seen_tx, mut seen) = tokio::sync::watch::channel(String::new());
    let load = runtime.spawn(traffic::run(
        address.clone(),
        4,
        stop.clone(),
        counts.clone(),
        seen_tx,
    ));
    let wait_for = |seen: &mut tokio::sync::watch::Receiver<String>, release: &str| {
        let wait = async {
            tokio::time::timeout(
                Duration::from_secs(20),
                seen.wait_for(|last| last == release),
            )
            .await
        };
        matches!(runtime.block_on(wait), Ok(Ok(_)))
    };
    anyhow::ensure!(
        wait_for(&mut seen, &first.release),
        "traffic never reached v1.0.0"
    );
    let v2 = build_version(&source, "1.1.0", &hoist)?;
    let deploy_started = Instant::now();
    let second = hoist_deploy::deploy(&context, &request(v2), &progress)?;
    let deploy_ms = deploy_started.elapsed().as_millis() as u64;
    anyhow::ensure!(
        wait_for(&mut seen, &second.release),
        "traffic never reached v1.1.0"
    );
    let first_v2_response_ms = deploy_started.elapsed().as_millis() as u64;

    say("roll back to v1.0.0: it is still warm, so this is a route swap");
    let rollback_started = Instant::now();
    let request = hoist_deploy::RollbackRequest {
        reason: Some("demo".into()),
        ..Default::default()
    };
    hoist_deploy::rollback(&context, &request, None, &progress)?;
    anyhow::ensure!(
        wait_for(&mut seen, &first.release),
        "traffic never returned to v1.0.0"
    );
    let rollback_ms = rollback_started.elapsed().as_millis() as u64;

    say("load data version 2 and roll it under the same traffic (a blue/green restart on it)");
    let data_v2 = load_data(&context, &data_source, "catalog 2")?;
    let roll_started = Instant::now();
    // The same journaled operation as `hoist data roll`: the agent reloads the app.
    hoist_deploy::data_roll(&context, &first_roll, &progress)?;
    anyhow::ensure!(
        answers_with(&address, "/data", "data catalog 2"),
        "the app never served the new data"
    );
    let data_roll_ms = roll_started.elapsed().as_millis() as u64;

    stop.store(true, Ordering::SeqCst);
    let _ = runtime.block_on(load);
    let metrics_2xx = fetch(&metrics_address, "/metrics")
        .map(|text| count_2xx(&text))
        .unwrap_or(0);
    let status_page_live = fetch(&metrics_address, "/")
        .filter(|page| {
            page.contains(&format!(
                r#"id="live-release" data-release="{}""#,
                first.release
            ))
        })
        .map(|_| first.release.clone());
    let _ = stop_agent.send(());
    runtime.block_on(agent)??;
    let summary = Summary {
        releases: vec![first.release, second.release],
        requests: counts.sent.load(Ordering::SeqCst),
        failed_requests: counts.failed.load(Ordering::SeqCst),
        deploy_ms,
        first_v2_response_ms,
        rollback_ms,
        data_versions: vec![data_v1, data_v2],
        data_roll_ms,
        metrics_url: format!("http://{metrics_address}/metrics"),
        status_page_url: format!("http://{metrics_address}/"),
        metrics_2xx,
        status_page_live,
    };
    say(&format!(
        "what users saw (site kept at `{}` only with --dir)",
        root.display()
    ));
    let output = Output::new(global.json);
    output.emit(&summary)?;
    if !global.json {
        output.emit(hoist_deploy::releases(&context)?.as_slice())?;
    }
    Ok(if summary.failed_requests == 0 {
        crate::EXIT_OK
    } else {
        crate::EXIT_FAILURE
    })
}

fn request(artifact: PathBuf) -> DeployRequest {
    DeployRequest {
        artifact,
        config: None,
        reason: Some("hoist demo".into()),
        hold: false,
        pause: None,
        with_data: None,
        stage_only: false,
        notes: None,
        no_contract: false,
    }
}

/// Writes the example app at `version` and builds it.
fn build_version(source: &Path, version: &str, hoist: &Path) -> anyhow::Result<PathBuf> {
    for (path, text) in EXAMPLE {
        let file = source.join(path);
        std::fs::create_dir_all(file.parent().expect("example paths have parents"))?;
        std::fs::write(
            &file,
            text.replace("{{VERSION}}", version)
                .replace("{{HOIST}}", &hoist.display().to_string()),
        )?;
    }
    let config_path = source.join(hoist_config::FILE_NAME);
    let config = hoist_config::Config::load(&config_path)?;
    Ok(super::build::build(&config, source, "dist".as_ref(), true)?.artifact)
}

/// Writes `version.txt` into `source` and loads it as a data version.
fn load_data(context: &Context, source: &Path, text: &str) -> anyhow::Result<String> {
    std::fs::create_dir_all(source)?;
    std::fs::write(source.join("version.txt"), format!("{text}\n"))?;
    let store = hoist_data::DataStore::open(&context.site, &context.ledger)?;
    let request = hoist_data::LoadRequest {
        source: source.to_owned(),
        label: Some(text.to_owned()),
        check: None,
    };
    Ok(store.load(&request, &mut |_, _| {})?.version)
}

/// Asks `path` until the body starts with `wanted` (at most 2,000 tries, 5 s).
fn answers_with(address: &str, path: &str, wanted: &str) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    for _ in 0..2_000 {
        if Instant::now() > deadline {
            return false;
        }
        if fetch(address, path).is_some_and(|body| body.starts_with(wanted)) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    false
}

/// One `GET path` (HTTP/1.1, close); the body.
fn fetch(address: &str, path: &str) -> Option<String> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(address).ok()?;
    let ask = format!("GET {path} HTTP/1.1\r\nHost: demo\r\nConnection: close\r\n\r\n");
    let mut answer = String::new();
    stream.write_all(ask.as_bytes()).ok()?;
    stream.read_to_string(&mut answer).ok()?;
    answer
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
}

/// The sum of `hoist_requests_total{…,class="2xx"}` in a scrape.
fn count_2xx(scrape: &str) -> u64 {
    scrape
        .lines()
        .filter(|line| line.starts_with("hoist_requests_total{") && line.contains("class=\"2xx\""))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}
