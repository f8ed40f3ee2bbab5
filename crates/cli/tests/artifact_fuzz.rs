//! An artifact fuzzer with a fixed seed and a bounded count: it crafts
//! archives from the pieces attacks are made of (link chains, `..`,
//! absolute paths and targets, hard links, duplicates, devices, mode bits,
//! entries the manifest and the tar stream disagree on), deploys each with
//! the real binary to a throwaway site whose config links shared paths, and
//! checks after every one that nothing outside the site changed: a listing
//! of the site's parent directory (paths, kinds, modes, link targets and
//! content digests) taken before and after.
//!
//! `HOIST_FUZZ_CASES` and `HOIST_FUZZ_SEED` change the count and the seed.

mod util;

use hoist_store::{Entry, EntryKind};
use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use util::craft::{craft_as, dir_entry, file_entry, link_entry, Raw};
use util::Env;

/// splitmix64: a tiny, fixed, reproducible stream (the point is the seed, not the quality).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

const NAMES: &[&str] = &[
    "a",
    "a/b",
    "a/b/c",
    "a/b/c/l",
    "config",
    "config/secrets.env",
    "log",
    "log/x",
    "x",
    "x/y",
    "public",
    "public/up",
    "public/up/z",
    "l",
    "m",
    "bin",
    "bin/tool",
];

/// Link targets that stay inside (most releases have some).
const BENIGN: &[&str] = &[
    "index.html",
    "a",
    "b",
    "x/y",
    "../index.html",
    "../../index.html",
    "c/..",
    "bin/tool",
];

/// One generated artifact: the manifest's entries and the tar stream's.
struct Case {
    listed: Vec<Entry>,
    raw: Vec<Raw>,
}

fn hostile_targets(outside: &Path) -> Vec<String> {
    let mut targets: Vec<String> = [
        "..",
        "../..",
        "../../..",
        "../../../victim",
        "../../../../victim/f",
        "a/b/c/l/../../../victim",
        "l/..",
        "l/../..",
        "m/../../..",
        "l",
        "m",
        ".",
        "log/..",
        "log/../..",
        "config/..",
        "public/up/../../..",
        "/etc/passwd",
        "/",
        "a/b/../../..",
        "c/../..",
        "../../../victim/secrets.env",
    ]
    .iter()
    .map(|target| (*target).to_owned())
    .collect();
    targets.push(outside.join("victim/f").display().to_string());
    targets.push(outside.join("victim").display().to_string());
    targets
}

/// A tree as a packer would write it (parents first, manifest and stream
/// agreeing), then bent the ways an attacker would bend it.
fn generate(rng: &mut Rng, outside: &Path) -> Case {
    let hostile = hostile_targets(outside);
    let mut kinds: BTreeMap<String, (EntryKind, Option<String>)> = BTreeMap::new();
    kinds.insert("index.html".into(), (EntryKind::File, None));
    for _ in 0..2 + rng.below(8) {
        let name = *rng.pick(NAMES);
        let kind = match rng.below(10) {
            0..=3 => (EntryKind::File, None),
            4 | 5 => (EntryKind::Dir, None),
            _ => {
                let target = if rng.chance(50) {
                    (*rng.pick(BENIGN)).to_owned()
                } else {
                    rng.pick(&hostile).clone()
                };
                (EntryKind::Symlink, Some(target))
            }
        };
        kinds.entry(name.to_owned()).or_insert(kind);
        // Parents are dirs, unless something else claimed them first (an
        // entry under a link or a file: the store must refuse it).
        let mut parent = Path::new(name).parent();
        while let Some(dir) = parent.filter(|dir| !dir.as_os_str().is_empty()) {
            kinds
                .entry(dir.display().to_string())
                .or_insert((EntryKind::Dir, None));
            parent = dir.parent();
        }
    }
    let mut listed = Vec::new();
    let mut raw = Vec::new();
    for (name, (kind, target)) in kinds {
        let mode = *rng.pick(&[0o644, 0o755, 0o755, 0o4755, 0o2755, 0o1777, 0o6777]);
        let tar_name = match rng.below(40) {
            0 => format!("../{name}"),
            1 => format!("/{name}"),
            2 => outside.join("victim/f").display().to_string(),
            _ => name.clone(),
        };
        let (mut entry, raw_kind, data, link) = match kind {
            EntryKind::File => {
                let data = format!("data {}", rng.next()).into_bytes();
                (
                    file_entry(&name, &data),
                    tar::EntryType::Regular,
                    data,
                    None,
                )
            }
            EntryKind::Dir => (
                dir_entry(&name),
                tar::EntryType::Directory,
                Vec::new(),
                None,
            ),
            EntryKind::Symlink => {
                let target = target.unwrap();
                (
                    link_entry(&name, &target),
                    tar::EntryType::Symlink,
                    Vec::new(),
                    Some(target),
                )
            }
        };
        entry.mode = mode;
        // What a release may never hold: hard links, devices, fifos.
        let raw_kind = if rng.chance(4) {
            *rng.pick(&[
                tar::EntryType::Link,
                tar::EntryType::Char,
                tar::EntryType::Fifo,
            ])
        } else {
            raw_kind
        };
        let link = if raw_kind == tar::EntryType::Link {
            Some(rng.pick(&hostile).clone())
        } else {
            link
        };
        listed.push(entry);
        raw.push(Raw {
            name: tar_name,
            kind: raw_kind,
            data,
            link,
        });
    }
    // Duplicates in the stream, entries it lacks, and disorder.
    if rng.chance(6) {
        let again = rng.below(raw.len());
        let copy = Raw {
            name: raw[again].name.clone(),
            kind: raw[again].kind,
            data: raw[again].data.clone(),
            link: raw[again].link.clone(),
        };
        raw.push(copy);
    }
    if rng.chance(4) {
        raw.pop();
    }
    if rng.chance(4) {
        raw.reverse();
    }
    Case { listed, raw }
}

/// Everything under `dir` but `skip`: path -> kind, mode, target or digest.
fn listing(dir: &Path, skip: &Path) -> BTreeMap<String, String> {
    let mut found = BTreeMap::new();
    let walk = walkdir::WalkDir::new(dir)
        .follow_links(false)
        .into_iter()
        .filter_entry(|item| item.path() != skip);
    for item in walk {
        let item = item.unwrap();
        let metadata = item.path().symlink_metadata().unwrap();
        let mode = metadata.permissions().mode();
        let what = if metadata.is_symlink() {
            format!(
                "link {}",
                std::fs::read_link(item.path()).unwrap().display()
            )
        } else if metadata.is_file() {
            format!(
                "file {}",
                blake3::hash(&std::fs::read(item.path()).unwrap())
            )
        } else {
            "dir".to_owned()
        };
        found.insert(
            item.path().display().to_string(),
            format!("{mode:o} {what}"),
        );
    }
    found
}

/// The kind of a refusal: its message with the artifact path, entry names
/// and numbers taken out.
fn refusal_kind(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let line = text
        .lines()
        .find(|line| line.starts_with("error:"))
        .unwrap_or("?");
    let mut kind = String::new();
    let mut quoted = false;
    for c in line.chars() {
        if c == '`' {
            quoted = !quoted;
            if quoted {
                kind.push_str("`…`");
            }
        } else if !quoted && !c.is_ascii_digit() {
            kind.push(c);
        }
    }
    kind.chars().take(110).collect()
}

/// Where each symlink in the live release really leads, if it leads anywhere.
fn assert_links_stay_in_site(release: &Path, site: &Path) {
    let site = site.canonicalize().unwrap();
    for item in walkdir::WalkDir::new(release).follow_links(false) {
        let item = item.unwrap();
        let metadata = item.path().symlink_metadata().unwrap();
        assert_eq!(
            metadata.permissions().mode() & 0o7000,
            0,
            "`{}` kept a setuid, setgid or sticky bit",
            item.path().display()
        );
        if metadata.is_symlink() {
            if let Ok(real) = item.path().canonicalize() {
                assert!(
                    real.starts_with(&site),
                    "`{}` leads to `{}`, outside the site",
                    item.path().display(),
                    real.display()
                );
            }
        }
    }
}

#[test]
fn crafted_artifacts_never_change_anything_outside_the_site() {
    let cases: usize = std::env::var("HOIST_FUZZ_CASES")
        .ok()
        .and_then(|count| count.parse().ok())
        .unwrap_or(250);
    let seed: u64 = std::env::var("HOIST_FUZZ_SEED")
        .ok()
        .and_then(|seed| seed.parse().ok())
        .unwrap_or(0x5eed_1234);
    let config = util::DEFAULT_CONFIG.replace(
        "shared = [\"log/\"]",
        "shared = [\"log/\", \"config/secrets.env\", \"public/up/\"]",
    );
    let env = Env::with_config(&config);
    let outside = env.dir.path().to_owned();
    // What an escape would hit: a victim tree with a file, a dir and a link.
    std::fs::create_dir_all(outside.join("victim/secrets.env")).unwrap();
    std::fs::write(outside.join("victim/f"), "victim").unwrap();
    std::fs::write(outside.join("victim/secrets.env/keep"), "keep").unwrap();
    std::os::unix::fs::symlink("f", outside.join("victim/l")).unwrap();
    let secret = env.site().join("shared/config/secrets.env");
    std::fs::create_dir_all(secret.parent().unwrap()).unwrap();
    std::fs::write(&secret, "TOKEN=1\n").unwrap();
    env.deploy_version("1.0.0");
    let artifacts = outside.join("artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let site = env.site();
    let before = listing(&outside, &site);
    let mut rng = Rng(seed);
    let mut deployed = 0;
    let mut refusals: BTreeMap<String, usize> = BTreeMap::new();
    for case in 0..cases {
        let generated = generate(&mut rng, &outside);
        let id = format!("29990101T000000Z-9.9.9-f{case}");
        let artifact = craft_as(&artifacts, &id, generated.listed, generated.raw);
        let output = env.hoist().arg("deploy").arg(&artifact).output();
        let code = output.status.code();
        assert!(
            matches!(code, Some(0) | Some(1)),
            "case {case} (seed {seed:#x}): deploy ended with {}: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        if code == Some(1) {
            *refusals.entry(refusal_kind(&output.stderr)).or_insert(0) += 1;
        }
        std::fs::remove_file(&artifact).unwrap();
        let after = listing(&outside, &site);
        assert_eq!(
            before
                .iter()
                .filter(|(path, _)| !path.contains("/artifacts"))
                .collect::<Vec<_>>(),
            after
                .iter()
                .filter(|(path, _)| !path.contains("/artifacts"))
                .collect::<Vec<_>>(),
            "case {case} (seed {seed:#x}) changed something outside the site"
        );
        if code == Some(0) {
            deployed += 1;
            assert_links_stay_in_site(&site.join("current/"), &site);
            env.hoist().arg("verify").run();
        }
        assert!(
            env.status()["pending"].is_null(),
            "case {case} left a journal"
        );
    }
    eprintln!("artifact fuzz: {cases} cases (seed {seed:#x}), {deployed} deployed, nothing outside the site changed; refusals:");
    for (kind, count) in &refusals {
        eprintln!("  {count:>4}  {kind}");
    }
    assert!(
        deployed >= cases / 20,
        "only {deployed} of {cases} cases got past the first checks; the generator needs tuning"
    );
}
