//! The verdict on the holders of a health port, for the shapes servers
//! take during a restart, with the processes made up.

use super::*;

struct Site {
    _dir: tempfile::TempDir,
    root: std::path::PathBuf,
}

/// `releases/v1`, `releases/v2`, and `current` -> v2 (the switch happened).
fn site() -> Site {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    for id in ["v1", "v2"] {
        std::fs::create_dir_all(root.join("releases").join(id)).unwrap();
    }
    std::os::unix::fs::symlink("releases/v2", root.join("current")).unwrap();
    Site { _dir: dir, root }
}

/// The restart began at tick 1000.
fn proof(site: &Site) -> Proof<'_> {
    Proof {
        root: &site.root,
        url: "http://127.0.0.1:1/",
        target: "v2",
        before: Some("v1"),
        began: Some(1000),
        header: None,
    }
}

/// A Perl process showing `current/app.pl` (as hypnotoad sets it), started at `started`.
fn toad(site: &Site, pid: i32, parent: i32, started: u64) -> Holder {
    Holder {
        pid,
        parent,
        started,
        exe: Some("/usr/bin/perl".into()),
        cwd: Some(site.root.clone()),
        args: vec![site.root.join("current/app.pl").display().to_string()],
    }
}

fn not_yet(judged: Judged) -> String {
    match judged {
        Judged::NotYet(problem) => problem,
        Judged::Accept(warning) => panic!("accepted ({warning:?})"),
    }
}

#[test]
fn a_failed_hot_deploy_leaves_old_workers_answering() {
    let site = site();
    let holders = [
        toad(&site, 10, 1, 500),
        toad(&site, 11, 10, 500),
        toad(&site, 12, 10, 500),
    ];
    let problem = not_yet(proof(&site).verdict(&holders, 1000));
    assert!(problem.starts_with(NOT_REPLACED), "{problem}");
    assert!(
        problem.contains("pid 10 from `releases/v1`") && problem.contains("with 2 workers"),
        "{problem}"
    );
}

#[test]
fn a_hot_deploy_is_not_done_while_old_workers_serve_beside_new_ones() {
    let site = site();
    let holders = [
        toad(&site, 10, 1, 500),
        toad(&site, 11, 10, 500),
        toad(&site, 20, 10, 1200),
        toad(&site, 21, 20, 1300),
    ];
    let problem = not_yet(proof(&site).verdict(&holders, 1000));
    assert!(problem.contains("pid 10 from `releases/v1`"), "{problem}");
    assert!(!problem.contains("pid 20"), "{problem}");
    // Once the old manager and its workers are gone, the new ones prove it.
    let taken_over = [toad(&site, 20, 1, 1200), toad(&site, 21, 20, 1300)];
    assert!(matches!(
        proof(&site).verdict(&taken_over, 1000),
        Judged::Accept(None)
    ));
}

#[test]
fn a_manager_that_replaced_its_workers_is_proven_by_them() {
    let site = site();
    let in_v2 = |pid, parent, started| Holder {
        pid,
        parent,
        started,
        exe: Some("/usr/bin/python3".into()),
        cwd: Some(site.root.join("releases/v2")),
        args: vec!["gunicorn".into(), "app:app".into()],
    };
    let holders = [in_v2(30, 1, 500), in_v2(31, 30, 1200), in_v2(32, 30, 1200)];
    assert!(matches!(
        proof(&site).verdict(&holders, 1000),
        Judged::Accept(None)
    ));
    // `hoist restart` of v2: the same process, started before, is old code.
    let single = [in_v2(30, 1, 500)];
    assert!(not_yet(proof(&site).verdict(&single, 1000)).contains("`releases/v2`"));
}

#[test]
fn a_proxy_in_front_proves_nothing_and_says_so() {
    let site = site();
    let nginx = Holder {
        pid: 40,
        parent: 1,
        started: 10,
        exe: Some("/usr/sbin/nginx".into()),
        cwd: Some("/".into()),
        args: vec!["nginx: master process".into()],
    };
    let Judged::Accept(Some(warning)) = proof(&site).verdict(&[nginx], 1000) else {
        panic!("a proxy in front is neither proof nor failure");
    };
    assert!(warning.contains("could not prove"), "{warning}");
    assert!(
        warning.contains("health_release") && warning.contains("site.toml"),
        "{warning}"
    );
}

#[test]
fn health_release_needs_the_target_in_the_header() {
    let site = site();
    let proof = Proof {
        began: None,
        header: Some(HeaderName::from_static("x-hoist-release")),
        ..proof(&site)
    };
    let mut headers = HeaderMap::new();
    headers.insert("x-hoist-release", "v1".parse().unwrap());
    let problem = not_yet(proof.judge(&headers));
    assert!(
        problem.contains("`v1`") && problem.contains("not `v2`"),
        "{problem}"
    );
    headers.insert("x-hoist-release", "v2".parse().unwrap());
    assert!(matches!(proof.judge(&headers), Judged::Accept(None)));
    assert!(not_yet(proof.judge(&HeaderMap::new())).contains("with no `x-hoist-release`"));
}
