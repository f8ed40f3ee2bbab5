//! The agent's background tasks share one shutdown token: once
//! `stop_all` returns, none of them is left running on the runtime.

use hoist_agent::Agent;
use hoist_proxy::Router;
use std::sync::Arc;
use std::time::{Duration, Instant};

const V1: &str = "20260101T000000Z-1-aaaaaaa";
const V2: &str = "20260101T000100Z-2-bbbbbbb";

/// A site running a real HTTP server (Python's) as its app, with every
/// kind of background task: a long watch and rollback window, a
/// maintenance window, and a static backend to health-check.
fn config() -> hoist_config::Config {
    let text = r#"
[app]
name = "shop"
[process]
command = "exec python3 -m http.server $PORT --bind 127.0.0.1"
health_path = "/"
healthy_after = 1
health_timeout = "20s"
stop_timeout = "5s"
drain_timeout = "1s"
watch = "1h"
rollback_window = "1h"
[[maintenance.window]]
from = "03:00"
to = "04:00"
[[proxy.backend]]
url = "http://127.0.0.1:9"
"#;
    hoist_config::Config::parse(text, "hoist.toml".as_ref()).unwrap()
}

/// Tasks alive on this runtime, waiting (bounded) for them to drop to `want`.
async fn alive_tasks_settle(want: usize) -> usize {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let alive = tokio::runtime::Handle::current()
            .metrics()
            .num_alive_tasks();
        if alive <= want || Instant::now() >= deadline {
            return alive;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

// The flag-file, schedule and backend-health loops, the after-switch watch and the warm-expiry timers were detached: they ran on after the agent stopped.
#[tokio::test]
async fn background_tasks_outlived_the_agent() {
    let dir = tempfile::tempdir().unwrap();
    let site = hoist_site::Site::create(&dir.path().join("site")).unwrap();
    for release in [V1, V2] {
        std::fs::create_dir_all(site.release_dir(release)).unwrap();
    }
    site.switch_to(V1).unwrap();
    let router = Arc::new(Router::with_max_held(100));
    let agent = Agent::new(site, &config(), router, "127.0.0.1:0".into()).unwrap();
    agent.restore().await.unwrap();
    // V2 goes live watched; V1 stays warm for an hour.
    let activated = agent.activate(V2, true).await.unwrap();
    assert_eq!(activated.from.as_deref(), Some(V1));
    let status = agent.status().await;
    assert_eq!(status.warm.len(), 1);
    let running = tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks();
    assert!(running >= 5, "only {running} tasks run before the shutdown");

    agent.stop_all().await;
    let left = alive_tasks_settle(0).await;
    assert_eq!(left, 0, "{left} tasks still run after the agent stopped");
    drop(agent);
}
