//! Data versions on a real file system: load, link, roll, revert, prune, pull.

use hoist_data::{DataError, DataStore, LoadRequest};
use hoist_ledger::Ledger;
use hoist_site::Site;
use std::path::Path;

struct Fixture {
    site: Site,
    ledger: Ledger,
    _dir: tempfile::TempDir,
}

fn site() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let site = Site::create(&dir.path().join("site")).unwrap();
    let ledger = Ledger::open(&site.ledger_path()).unwrap();
    Fixture {
        site,
        ledger,
        _dir: dir,
    }
}

fn sqlite_with(path: &Path, version: &str) {
    let _ = std::fs::remove_file(path);
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute_batch(&format!(
        "CREATE TABLE products (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO products VALUES (1, '{version}');"
    ))
    .unwrap();
}

fn load(store: &DataStore<'_>, source: &Path) -> Result<hoist_data::LoadReport, DataError> {
    let request = LoadRequest {
        source: source.to_owned(),
        label: Some("test".into()),
        check: None,
    };
    store.load(&request, &mut |_, _| {})
}

#[test]
fn a_second_load_links_unchanged_files_and_roll_revert_move_the_pointer() {
    let fixture = site();
    let store = DataStore::open(&fixture.site, &fixture.ledger).unwrap();
    let source = tempfile::tempdir().unwrap();
    for index in 0..20 {
        std::fs::write(
            source.path().join(format!("part-{index}.bin")),
            vec![index as u8; 10_000],
        )
        .unwrap();
    }
    sqlite_with(&source.path().join("catalog.db"), "v1");
    let first = load(&store, source.path()).unwrap();
    assert_eq!(
        (first.files, first.files_written, first.files_linked),
        (21, 21, 0)
    );
    assert_eq!(first.sqlite_checked, ["catalog.db"]);

    std::fs::write(source.path().join("part-3.bin"), vec![99u8; 10_000]).unwrap();
    // Same-second ids are fine: a different digest gives a different id.
    let second = load(&store, source.path()).unwrap();
    assert_ne!(first.version, second.version);
    assert_eq!((second.files_written, second.files_linked), (1, 20));
    assert_eq!(second.bytes_written, 10_000);

    // Versions are read-only.
    let dir = store.catalog().version_dir(&second.version);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dir.join("part-1.bin"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o222, 0, "no write bits: {mode:o}");

    let rolled = store.roll(None).unwrap();
    assert_eq!(
        (rolled.version.as_str(), rolled.from.as_deref()),
        (second.version.as_str(), None)
    );
    let via_link = std::fs::read(fixture.site.data_current_link().join("part-3.bin")).unwrap();
    assert_eq!(via_link[0], 99);

    let to_first = store.roll(Some(&first.version)).unwrap();
    assert_eq!(to_first.from.as_deref(), Some(second.version.as_str()));
    let reverted = store.revert(None).unwrap();
    assert_eq!(
        reverted.version, second.version,
        "revert goes back to the version live before"
    );
    let listed = store.list().unwrap();
    assert_eq!(
        listed
            .iter()
            .filter(|v| v.live)
            .map(|v| v.id.as_str())
            .collect::<Vec<_>>(),
        [second.version.as_str()]
    );
    assert_eq!(
        listed
            .iter()
            .filter(|v| v.previous)
            .map(|v| v.id.as_str())
            .collect::<Vec<_>>(),
        [first.version.as_str()]
    );

    let ops: Vec<String> = fixture
        .ledger
        .events(20)
        .unwrap()
        .into_iter()
        .map(|e| e.op)
        .collect();
    for op in ["data-load", "data-roll", "data-revert"] {
        assert!(ops.iter().any(|o| o == op), "{op} in {ops:?}");
    }
}

#[test]
fn prune_never_removes_the_live_or_previous_version() {
    let fixture = site();
    let store = DataStore::open(&fixture.site, &fixture.ledger).unwrap();
    let source = tempfile::tempdir().unwrap();
    let mut ids = Vec::new();
    for round in 0..4 {
        std::fs::write(source.path().join("value.txt"), format!("v{round}")).unwrap();
        ids.push(load(&store, source.path()).unwrap().version);
    }
    store.roll(Some(&ids[1])).unwrap();
    store.roll(Some(&ids[0])).unwrap();
    let report = store.prune(1).unwrap();
    assert_eq!(report.removed, [ids[2].clone()]);
    assert_eq!(
        report.kept,
        [ids[0].clone(), ids[1].clone(), ids[3].clone()]
    );
    assert!(!store.catalog().version_dir(&ids[2]).exists());
    assert_eq!(
        std::fs::read_to_string(fixture.site.data_current_link().join("value.txt")).unwrap(),
        "v0"
    );
}

#[test]
fn a_corrupt_sqlite_file_or_a_failing_check_loads_nothing() {
    let fixture = site();
    let store = DataStore::open(&fixture.site, &fixture.ledger).unwrap();
    let source = tempfile::tempdir().unwrap();
    let db = source.path().join("catalog.db");
    sqlite_with(&db, "v1");
    let good = load(&store, &db).unwrap();
    store.roll(None).unwrap();

    // Damage a b-tree page behind the header: still "SQLite format 3", no longer sound.
    let mut bytes = std::fs::read(&db).unwrap();
    let page = bytes.len() - 4096;
    for byte in &mut bytes[page + 8..page + 200] {
        *byte = 0xA5;
    }
    std::fs::write(&db, &bytes).unwrap();
    let error = load(&store, &db).unwrap_err();
    assert!(matches!(error, DataError::Integrity { .. }), "{error}");
    assert!(error.to_string().contains("catalog.db"), "{error}");

    sqlite_with(&db, "v2");
    let request = LoadRequest {
        source: db.clone(),
        label: None,
        check: Some(
            "test -f \"$HOIST_DATA/catalog.db\" && echo 'rows look wrong' && exit 3".into(),
        ),
    };
    let refused = store.load(&request, &mut |_, _| {}).unwrap_err();
    assert!(refused.to_string().contains("rows look wrong"), "{refused}");

    assert_eq!(
        store.list().unwrap().len(),
        1,
        "only the good version exists"
    );
    assert_eq!(store.live().unwrap(), Some(good.version));
    assert!(store
        .catalog()
        .dir()
        .join("versions")
        .read_dir()
        .unwrap()
        .all(|e| !e.unwrap().file_name().to_string_lossy().contains("partial")));
}

#[test]
fn pull_copies_another_sites_live_version_verified() {
    let production = site();
    let dev = site();
    let prod_store = DataStore::open(&production.site, &production.ledger).unwrap();
    let source = tempfile::tempdir().unwrap();
    sqlite_with(&source.path().join("catalog.db"), "prod");
    std::fs::create_dir(source.path().join("images")).unwrap();
    std::fs::write(source.path().join("images/a.png"), b"png").unwrap();
    let live = load(&prod_store, source.path()).unwrap();
    prod_store.roll(None).unwrap();

    let dev_store = DataStore::open(&dev.site, &dev.ledger).unwrap();
    let pulled = dev_store
        .pull(production.site.root(), &mut |_, _| {})
        .unwrap();
    assert_eq!(pulled.digest, live.digest);
    assert_eq!(pulled.files, 2);
    dev_store.roll(None).unwrap();
    assert_eq!(
        std::fs::read(dev.site.data_current_link().join("images/a.png")).unwrap(),
        b"png"
    );

    let empty = site();
    let error = dev_store
        .pull(empty.site.root(), &mut |_, _| {})
        .unwrap_err();
    assert!(
        error.to_string().contains("no live data version"),
        "{error}"
    );
}

#[test]
fn versions_are_named_by_id_prefix_or_label_and_put_back() {
    let fixture = site();
    let store = DataStore::open(&fixture.site, &fixture.ledger).unwrap();
    let source = tempfile::tempdir().unwrap();
    let mut ids = Vec::new();
    for label in ["WS220", "WS221", "WS221"] {
        std::fs::write(
            source.path().join("v.txt"),
            format!("{label} {}", ids.len()),
        )
        .unwrap();
        let request = LoadRequest {
            source: source.path().to_owned(),
            label: Some(label.into()),
            check: None,
        };
        ids.push(store.load(&request, &mut |_, _| {}).unwrap().version);
    }
    // A label names its newest version; a unique prefix its one version.
    assert_eq!(store.resolve("WS221").unwrap(), ids[2]);
    assert_eq!(store.resolve("WS220").unwrap(), ids[0]);
    let digest = ids[1].split('-').next_back().unwrap();
    let unique = &ids[1][..ids[1].len() - digest.len() + 4];
    assert_eq!(store.resolve(unique).unwrap(), ids[1]);
    let shared = &ids[0][..4];
    assert!(matches!(
        store.resolve(shared),
        Err(DataError::Ambiguous { .. })
    ));
    assert!(matches!(
        store.resolve("WS999"),
        Err(DataError::UnknownVersion { .. })
    ));
    assert!(store.satisfies(&ids[1], "WS221").unwrap());
    assert!(!store.satisfies(&ids[0], "WS221").unwrap());
    assert_eq!(
        store.newest_satisfying("WS221").unwrap(),
        Some(ids[2].clone())
    );

    // The pointer moves under the data lock; put_back undoes a roll.
    let lock = store.lock().unwrap();
    assert!(matches!(store.lock(), Err(DataError::Busy { .. })));
    let rolled = store.point(&lock, &ids[0]).unwrap();
    assert_eq!(rolled.from, None);
    store.point(&lock, &ids[2]).unwrap();
    store.catalog().put_back(Some(&ids[0])).unwrap();
    assert_eq!(store.live().unwrap().as_deref(), Some(ids[0].as_str()));
    store.catalog().put_back(None).unwrap();
    assert_eq!(store.live().unwrap(), None);
}
