//! `/metrics` on `[metrics] listen`, scraped by a real Prometheus (Debian
//! `prometheus`) while the agent is under load: the values Prometheus
//! stores are the requests the test sent, the live release, maintenance
//! and the deploys the agent made.

mod util;

use std::time::{Duration, Instant};
use util::agent_process::{agent_config, free_port, AgentProcess};
use util::http::get;
use util::prometheus::Prometheus;
use util::Env;

/// Load threads, and requests each sends (bounded; one connection each).
const THREADS: u64 = 4;
const EACH: u64 = 50;
/// How long Prometheus (scraping every second) may take to show a value.
const SCRAPED_WITHIN: Duration = Duration::from_secs(30);

/// Sends `THREADS * EACH` GETs through the agent; every one must be a 200.
fn send_load(port: u16) -> u64 {
    let threads: Vec<_> = (0..THREADS)
        .map(|_| {
            std::thread::spawn(move || {
                for _ in 0..EACH {
                    let (status, _, body) = get(port, "/");
                    assert_eq!(status, 200, "{body}");
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    THREADS * EACH
}

/// The value of `series` (written as the agent writes it, labels in its
/// order) in a `GET /metrics` on `port`, if it answers and has it.
fn sample(port: u16, series: &str) -> Option<f64> {
    // Nothing listening (an upgraded agent not bound yet) is "no sample".
    std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    let (status, _, body) = get(port, "/metrics");
    if status != 200 {
        return None;
    }
    body.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// Polls [`sample`] until it is `value`, for at most `within`; returns the last one seen.
fn wait_for_sample(port: u16, series: &str, value: f64, within: Duration) -> Option<f64> {
    let deadline = Instant::now() + within;
    loop {
        let seen = sample(port, series);
        if seen == Some(value) || Instant::now() >= deadline {
            return seen;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The latency buckets were cumulative twice over (3 requests showed
/// buckets of 4, 7 … 55) and the last one was `le="inf"`, which no
/// `histogram_quantile` or `le="+Inf"` query reads.
fn latency_buckets_were_summed_twice(port: u16, metrics_port: u16, release: &str) {
    let before = sample(
        metrics_port,
        &format!("hoist_request_duration_seconds_count{{release=\"{release}\"}}"),
    )
    .unwrap_or(0.0);
    for _ in 0..3 {
        assert_eq!(get(port, "/").0, 200);
    }
    let (_, _, body) = get(metrics_port, "/metrics");
    // `…_bucket{le="0.000119",release="R"} 6`
    let of_release = format!(",release=\"{release}\"}} ");
    let buckets: Vec<(String, f64)> = body
        .lines()
        .filter_map(|line| {
            let rest = line.strip_prefix("hoist_request_duration_seconds_bucket{le=\"")?;
            let (le, rest) = rest.split_once('"')?;
            let value = rest.strip_prefix(&of_release)?;
            Some((le.to_owned(), value.parse().ok()?))
        })
        .collect();
    let count = before + 3.0;
    assert_eq!(
        buckets.last().map(|(le, v)| (le.as_str(), *v)),
        Some(("+Inf", count)),
        "{body}"
    );
    assert!(
        buckets.windows(2).all(|pair| pair[0].1 <= pair[1].1)
            && buckets.iter().all(|(_, v)| *v <= count),
        "buckets must be cumulative and never above the count: {buckets:?}"
    );
}

/// A site with `[metrics]` on a free port, its first release deployed and
/// its agent started: `(env, public port, metrics port, release, agent)`.
fn metered_site() -> (Env, u16, u16, String, AgentProcess) {
    let (port, metrics_port) = (free_port(), free_port());
    let metrics = format!("[metrics]\nlisten = \"127.0.0.1:{metrics_port}\"\n");
    let env = Env::with_config(&agent_config(port, &metrics));
    let release = env.deploy_version("1.0.0");
    let agent = AgentProcess::start(&env);
    (env, port, metrics_port, release, agent)
}

#[test]
fn prometheus_scrapes_requests_live_release_maintenance_and_deploys() {
    let (env, port, metrics_port, first, _agent) = metered_site();

    // The listener's own router: `/metrics`, and the status page at `/`.
    let (status, headers, body) = get(metrics_port, "/metrics");
    assert_eq!(status, 200);
    assert!(util::http::header(&headers, "content-type")
        .unwrap()
        .contains("openmetrics"));
    assert!(body.contains("# HELP hoist_requests "), "{body}");
    assert_eq!(get(metrics_port, "/nothing-here").0, 404);
    let (status, headers, _) = get(metrics_port, "/");
    assert_eq!(status, 200);
    assert!(util::http::header(&headers, "content-type")
        .unwrap()
        .starts_with("text/html"));
    // The page the agent serves, as a browser renders it, names the live release.
    let profile = env.dir.path().join("chromium-profile");
    let dom = util::chromium::dump_url(&format!("http://127.0.0.1:{metrics_port}/"), &profile);
    let live = dom
        .split_once(r#"id="live-release""#)
        .map(|(_, rest)| rest.split_once("</").map_or(rest, |(head, _)| head))
        .unwrap_or_else(|| panic!("no #live-release in the agent's page: {dom}"));
    assert!(live.contains(&first), "{live}");

    let prometheus = Prometheus::scraping(&format!("127.0.0.1:{metrics_port}"));
    // Load while Prometheus scrapes; then its stored counter is what was sent.
    let sent = send_load(port);
    let ok = format!("hoist_requests_total{{release=\"{first}\",class=\"2xx\"}}");
    let seen = prometheus.wait_for(&ok, sent as f64, SCRAPED_WITHIN);
    assert_eq!(seen.len(), 1, "{ok}: {seen:?}");
    assert_eq!(seen[0].1, sent as f64, "{ok}");
    assert_eq!(seen[0].0["job"], "hoist");
    let errors = prometheus.query("sum(hoist_requests_total{class=~\"4xx|5xx\"})");
    assert_eq!(errors[0].1, 0.0, "no errors: {errors:?}");
    let count = format!("hoist_request_duration_seconds_count{{release=\"{first}\"}}");
    assert_eq!(prometheus.query(&count)[0].1, sent as f64, "{count}");

    let live = prometheus.query("hoist_live_info");
    assert_eq!(live.len(), 1, "{live:?}");
    assert_eq!(live[0].0["release"], first.as_str());
    assert_eq!(live[0].1, 1.0);

    // Maintenance flips the gauge, both ways.
    assert_eq!(prometheus.query("hoist_maintenance")[0].1, 0.0);
    env.hoist().args(["maint", "on"]).run();
    let on = prometheus.wait_for("hoist_maintenance", 1.0, SCRAPED_WITHIN);
    assert_eq!(on[0].1, 1.0, "maintenance on: {on:?}");
    env.hoist().args(["maint", "off"]).run();
    let off = prometheus.wait_for("hoist_maintenance", 0.0, SCRAPED_WITHIN);
    assert_eq!(off[0].1, 0.0, "maintenance off: {off:?}");

    // A deploy through the running agent: counted, and the info names the new release.
    assert_eq!(
        prometheus.query("hoist_deploys_total{outcome=\"ok\"}")[0].1,
        0.0
    );
    let second = env.deploy_version("1.0.1");
    let deploys = prometheus.wait_for("hoist_deploys_total{outcome=\"ok\"}", 1.0, SCRAPED_WITHIN);
    assert_eq!(deploys[0].1, 1.0, "deploys: {deploys:?}");
    let live_now = format!("hoist_live_info{{release=\"{second}\"}}");
    let live = prometheus.wait_for(&live_now, 1.0, SCRAPED_WITHIN);
    assert_eq!(live.len(), 1, "{live_now}: {live:?}");
    assert_eq!(
        prometheus.query("hoist_live_info").len(),
        1,
        "one live release"
    );
    assert_eq!(
        prometheus.query("hoist_deploys_total{outcome=\"failed\"}")[0].1,
        0.0
    );
    // The release live now, on a fresh process: its buckets are all this test's.
    latency_buckets_were_summed_twice(port, metrics_port, &second);
}

// `[metrics] listen` on the public address would have two listeners fight
// over one port: refused when the config is read, naming both keys.
#[test]
fn metrics_on_the_public_address_is_refused_by_name() {
    let port = free_port();
    let metrics = format!("[metrics]\nlisten = \"127.0.0.1:{port}\"\n");
    let env = Env::with_config(&agent_config(port, &metrics));
    let output = env.hoist().args(["agent"]).code(1).run();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("metrics.listen") && stderr.contains("proxy.listen"),
        "{stderr}"
    );
}

#[test]
fn a_crash_restart_of_the_live_process_is_counted() {
    let (env, _port, metrics_port, release, _agent) = metered_site();
    let restarts = "hoist_app_restarts_total{outcome=\"ok\"}";
    assert_eq!(sample(metrics_port, restarts), Some(0.0));
    let app = env.status()["agent"]["live"]["pid"].as_u64().unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(app as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let seen = wait_for_sample(metrics_port, restarts, 1.0, Duration::from_secs(30));
    assert_eq!(
        seen,
        Some(1.0),
        "the restart after the crash was not counted"
    );
    let live = format!("hoist_live_info{{release=\"{release}\"}}");
    assert_eq!(sample(metrics_port, &live), Some(1.0));
}

#[test]
fn metrics_move_to_the_upgraded_agent() {
    let (env, port, metrics_port, release, mut old) = metered_site();
    for _ in 0..3 {
        assert_eq!(get(port, "/").0, 200);
    }
    let ok = format!("hoist_requests_total{{release=\"{release}\",class=\"2xx\"}}");
    assert_eq!(sample(metrics_port, &ok), Some(3.0));
    // The successor starts while the old agent still holds the metrics
    // address, and binds it once the old one has drained and exited.
    let _new = AgentProcess::upgrade(&env);
    assert!(
        old.wait_exit(Duration::from_secs(30)),
        "the old agent did not hand over and exit"
    );
    // Fresh counters: it is the new agent that answers.
    let seen = wait_for_sample(metrics_port, &ok, 0.0, Duration::from_secs(15));
    assert_eq!(
        seen,
        Some(0.0),
        "the upgraded agent does not serve /metrics"
    );
}

/// A `[metrics] listen` port already taken (9100 is node_exporter's) made
/// the agent exit before it served: the whole site was down for metrics.
#[test]
fn a_busy_metrics_port_stopped_the_whole_site() {
    let port = free_port();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy = taken.local_addr().unwrap().port();
    let metrics = format!("[metrics]\nlisten = \"127.0.0.1:{busy}\"\n");
    let env = Env::with_config(&agent_config(port, &metrics));
    let release = env.deploy_version("1.0.0");
    let _agent = AgentProcess::start(&env);
    let (status, headers, _) = get(port, "/");
    assert_eq!(status, 200);
    assert_eq!(
        util::http::header(&headers, "x-hoist-release"),
        Some(release.as_str())
    );
}
