//! Loading under a given id (how every host of a stage gets one version
//! under one id): the digest a scan computes is the one a load gets, and a
//! copy that does not digest to what was given is not loaded.

use hoist_data::{DataError, DataStore, Expected, LoadRequest};
use hoist_ledger::Ledger;
use hoist_site::Site;

fn source(dir: &std::path::Path) -> std::path::PathBuf {
    let src = dir.join("catalog");
    std::fs::create_dir_all(src.join("genes")).unwrap();
    std::fs::write(src.join("release.txt"), "WS290\n").unwrap();
    std::fs::write(src.join("genes/index.tsv"), "1\tunc-22\n").unwrap();
    std::os::unix::fs::symlink("release.txt", src.join("latest")).unwrap();
    src
}

#[test]
fn a_scan_digests_like_a_load_and_a_given_id_is_kept_only_for_that_content() {
    let dir = tempfile::tempdir().unwrap();
    let site = Site::create(&dir.path().join("site")).unwrap();
    let ledger = Ledger::open(&site.ledger_path()).unwrap();
    let store = DataStore::open(&site, &ledger).unwrap();
    let src = source(dir.path());
    let scanned = hoist_data::scan(&src).unwrap();
    let file = hoist_data::scan(&src.join("release.txt")).unwrap();
    assert_eq!(
        file.entries.len(),
        1,
        "a single file lands under its own name"
    );
    let request = LoadRequest {
        source: src.clone(),
        label: None,
        check: None,
    };
    let digest = scanned.digest();
    let id = hoist_data::new_id(&digest, "2026-12-01T03:00:00Z".parse().unwrap());
    let wrong = Expected {
        id: id.clone(),
        digest: "0".repeat(64),
    };
    let refused = store.load_as(&request, Some(&wrong), &mut |_, _| {});
    assert!(
        matches!(refused, Err(DataError::Corrupt { .. })),
        "{refused:?}"
    );
    let escaping = Expected {
        id: "../escape".into(),
        digest: digest.clone(),
    };
    let refused = store.load_as(&request, Some(&escaping), &mut |_, _| {});
    assert!(
        matches!(refused, Err(DataError::BadId { .. })),
        "{refused:?}"
    );
    assert!(store.list().unwrap().is_empty(), "nothing was loaded");
    let expected = Expected {
        id: id.clone(),
        digest: digest.clone(),
    };
    let loaded = store
        .load_as(&request, Some(&expected), &mut |_, _| {})
        .unwrap();
    assert_eq!(
        (loaded.version.as_str(), loaded.digest.as_str()),
        (id.as_str(), digest.as_str())
    );
    let again = store
        .load_as(&request, Some(&expected), &mut |_, _| {})
        .unwrap();
    assert!(again.already_loaded);
    let listed = store.list().unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].digest, digest);
}
