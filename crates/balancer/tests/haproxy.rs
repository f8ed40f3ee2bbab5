//! `Haproxy` against a real HAProxy in front of two real app servers:
//! drain, wait for idle, ready, traffic counters, and the checks made
//! before anything changes.

mod support;

use hoist_balancer::{error_rate, Balancer, BalancerError, Haproxy, ServerStatus};
use hoist_error::Described;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;
use support::app::{get, App};
use support::load_balancer::LoadBalancer;

fn hosts() -> Vec<String> {
    vec!["web1".to_owned(), "web2".to_owned()]
}

/// The bodies (server names) that answered `count` plain requests.
fn served_by(lb: &LoadBalancer, count: usize) -> BTreeSet<String> {
    (0..count)
        .map(|_| {
            let (status, body) = get(lb.port, "/");
            assert_eq!(status, 200);
            body
        })
        .collect()
}

fn names(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|n| n.to_string()).collect()
}

#[test]
fn drain_stops_new_requests_and_ready_restores_them() {
    let (web1, web2) = (App::start("web1"), App::start("web2"));
    let lb = LoadBalancer::start(&[&web1, &web2]);
    let haproxy = Haproxy::new(&lb.socket, "shop");
    haproxy.check(&hosts()).unwrap();
    assert_eq!(haproxy.status("web1").unwrap(), ServerStatus::Up);
    assert_eq!(served_by(&lb, 4), names(&["web1", "web2"]));

    haproxy.drain("web1").unwrap();
    assert_eq!(haproxy.status("web1").unwrap(), ServerStatus::Drain);
    assert_eq!(haproxy.status("web2").unwrap(), ServerStatus::Up);
    assert_eq!(served_by(&lb, 6), names(&["web2"]));

    haproxy.ready("web1").unwrap();
    assert_eq!(haproxy.status("web1").unwrap(), ServerStatus::Up);
    assert_eq!(served_by(&lb, 4), names(&["web1", "web2"]));
}

#[test]
fn wait_idle_waits_for_the_request_in_flight() {
    let (web1, web2) = (App::start("web1"), App::start("web2"));
    let lb = LoadBalancer::start(&[&web1, &web2]);
    let haproxy = Haproxy::new(&lb.socket, "shop").with_poll_interval(Duration::from_millis(20));

    // Steer one slow request to web1 by draining web2 while it is sent.
    haproxy.drain("web2").unwrap();
    let port = lb.port;
    let slow = std::thread::spawn(move || get(port, "/slow"));
    web1.wait_slow_arrived();
    haproxy.ready("web2").unwrap();
    haproxy.drain("web1").unwrap();

    // Held: the wait runs out, saying where and how many.
    let error = haproxy
        .wait_idle("web1", Duration::from_millis(300))
        .unwrap_err();
    match &error {
        BalancerError::NotIdle {
            backend,
            server,
            sessions,
            ..
        } => {
            assert_eq!(
                (backend.as_str(), server.as_str(), *sessions),
                ("shop", "web1", 1)
            );
        }
        other => panic!("expected NotIdle, got {other:?}"),
    }
    assert_eq!(error.kind(), "balancer-not-idle");
    let message = error.to_string();
    assert!(message.contains("`shop/web1`"), "{message}");
    assert!(
        message.contains(&lb.socket.display().to_string()),
        "{message}"
    );
    // Meanwhile new requests go to web2 only.
    assert_eq!(served_by(&lb, 3), names(&["web2"]));

    // Released: the wait returns, and the drained request was answered.
    let waiter = std::thread::spawn({
        let haproxy = haproxy.clone();
        move || haproxy.wait_idle("web1", Duration::from_secs(20))
    });
    web1.release_slow();
    assert_eq!(slow.join().unwrap(), (200, "web1".to_owned()));
    waiter.join().unwrap().expect("web1 went idle");
    haproxy
        .wait_idle("web2", Duration::ZERO)
        .expect("web2 is idle");
}

#[test]
fn traffic_counts_the_requests_sent_and_the_5xx_returned() {
    let (web1, web2) = (App::start("web1"), App::start("web2"));
    let lb = LoadBalancer::start(&[&web1, &web2]);
    let haproxy = Haproxy::new(&lb.socket, "shop");
    get(lb.port, "/"); // traffic before the window is not in it

    let before = haproxy.traffic(&hosts()).unwrap();
    let mut failed = 0;
    for path in ["/", "/fail", "/", "/", "/fail", "/", "/", "/fail", "/", "/"] {
        if get(lb.port, path).0 == 500 {
            failed += 1;
        }
    }
    let after = haproxy.traffic(&hosts()).unwrap();

    assert_eq!(failed, 3);
    let window = after.since(&before);
    assert_eq!(window.backend.requests, 10);
    assert_eq!(window.backend.responses_5xx, 3);
    assert_eq!(window.backend.connection_errors, 0);
    let per_host: (u64, u64) = window
        .hosts
        .values()
        .fold((0, 0), |(r, e), c| (r + c.requests, e + c.responses_5xx));
    assert_eq!(per_host, (10, 3));
    assert!(window.hosts.values().all(|c| c.requests > 0), "{window:?}");
    assert_eq!(error_rate(&before, &after), Some(0.3));
    assert_eq!(error_rate(&after, &after), None);
}

#[test]
fn a_host_that_refuses_connections_counts_on_the_backend() {
    let (web1, web2) = (App::start("web1"), App::start("web2"));
    let lb = LoadBalancer::start(&[&web1, &web2]);
    let haproxy = Haproxy::new(&lb.socket, "shop");
    drop(web2); // its port now refuses connections

    let before = haproxy.traffic(&hosts()).unwrap();
    let unavailable = (0..6).filter(|_| get(lb.port, "/").0 == 503).count() as u64;
    let window = haproxy.traffic(&hosts()).unwrap().since(&before);

    // HAProxy answers 503 itself: the backend counts it, the server only
    // counts the failed connections.
    assert!(unavailable > 0);
    assert_eq!(window.backend.requests, 6);
    assert_eq!(window.backend.responses_5xx, unavailable);
    assert_eq!(window.hosts["web2"].responses_5xx, 0);
    assert!(
        window.hosts["web2"].connection_errors >= unavailable,
        "{window:?}"
    );
}

#[test]
fn check_refuses_an_unknown_backend_or_server_naming_it() {
    let (web1, web2) = (App::start("web1"), App::start("web2"));
    let lb = LoadBalancer::start(&[&web1, &web2]);

    let error = Haproxy::new(&lb.socket, "nosuch")
        .check(&hosts())
        .unwrap_err();
    assert!(
        matches!(&error, BalancerError::NoBackend { backend, .. } if backend == "nosuch"),
        "{error:?}"
    );
    assert!(error.to_string().contains("`nosuch`"), "{error}");
    assert!(error.hint().unwrap().contains("show backend"));

    let haproxy = Haproxy::new(&lb.socket, "shop");
    let with_unknown = vec!["web1".to_owned(), "web9".to_owned()];
    let error = haproxy.check(&with_unknown).unwrap_err();
    assert!(
        matches!(&error, BalancerError::NoServer { backend, server, .. } if backend == "shop" && server == "web9"),
        "{error:?}"
    );
    assert_eq!(error.kind(), "balancer-no-server");
    assert!(error.to_string().contains("`web9`"), "{error}");

    // HAProxy's own "No such server." to a set command is the same error.
    let error = haproxy.drain("web9").unwrap_err();
    assert!(
        matches!(&error, BalancerError::NoServer { server, .. } if server == "web9"),
        "{error:?}"
    );
    // A name that would be another command is refused before it is sent.
    let error = haproxy.drain("web1;shutdown").unwrap_err();
    assert!(matches!(error, BalancerError::BadName { .. }), "{error:?}");
    // Nothing changed on the way.
    assert_eq!(haproxy.status("web1").unwrap(), ServerStatus::Up);
}

#[test]
fn hosts_map_to_their_server_names() {
    let (web1, web2) = (App::start("web1"), App::start("web2"));
    let lb = LoadBalancer::start(&[&web1, &web2]);
    let map = BTreeMap::from([("deploy@app1.internal".to_owned(), "web1".to_owned())]);
    let haproxy = Haproxy::new(&lb.socket, "shop").with_servers(map);
    let fleet = vec!["deploy@app1.internal".to_owned(), "web2".to_owned()];
    haproxy.check(&fleet).unwrap();

    haproxy.drain("deploy@app1.internal").unwrap();
    assert_eq!(served_by(&lb, 4), names(&["web2"]));
    let traffic = haproxy.traffic(&fleet).unwrap();
    assert_eq!(
        traffic.hosts.keys().collect::<Vec<_>>(),
        ["deploy@app1.internal", "web2"]
    );
}

#[test]
fn a_socket_below_admin_level_is_refused_before_anything_changes() {
    let (web1, web2) = (App::start("web1"), App::start("web2"));
    let lb = LoadBalancer::start_at_level(&[&web1, &web2], "user");
    let haproxy = Haproxy::new(&lb.socket, "shop");

    let error = haproxy.check(&hosts()).unwrap_err();
    assert!(
        matches!(&error, BalancerError::NotAdmin { level, .. } if level == "user"),
        "{error:?}"
    );
    assert!(error.hint().unwrap().contains("level admin"));
    let error = haproxy.drain("web1").unwrap_err();
    assert!(matches!(error, BalancerError::NotAdmin { .. }), "{error:?}");
    assert_eq!(haproxy.status("web1").unwrap(), ServerStatus::Up);
}

#[test]
fn a_missing_socket_says_which_config_line_is_needed() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("admin.sock");
    let error = Haproxy::new(&socket, "shop").check(&hosts()).unwrap_err();
    assert!(matches!(error, BalancerError::Connect { .. }), "{error:?}");
    assert_eq!(error.kind(), "balancer-unreachable");
    assert!(error.to_string().contains(&socket.display().to_string()));
    let hint = error.hint().unwrap();
    assert!(
        hint.contains("stats socket") && hint.contains("level admin"),
        "{hint}"
    );
}
