//! Readers going through `current` never see a missing path or a mix of two
//! releases while hoist switches back and forth.

mod util;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use util::Env;

const SWITCHES: usize = 200;
const FILES: [&str; 3] = ["index.html", "lib/app.txt", "lib/deep/more.txt"];

#[test]
fn readers_see_whole_releases_during_200_switches() {
    let env = Env::new();
    let release = |version: &str| {
        for file in FILES {
            env.write(file, &format!("release {version}\n"));
        }
        env.set_version(version);
        let (id, artifact) = env.build();
        env.hoist().arg("deploy").arg(artifact).run();
        id
    };
    let v1 = release("1");
    let v2 = release("2");

    let current = env.site().join("current");
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let (mut reads, mut seen) = (0u64, std::collections::HashSet::new());
            while !stop.load(Ordering::SeqCst) {
                // A path through `current` must always resolve.
                let direct = std::fs::read_to_string(current.join("index.html"))
                    .expect("current/index.html vanished");
                assert!(
                    direct == "release 1\n" || direct == "release 2\n",
                    "torn read: {direct:?}"
                );
                // Resolving `current` once (as an app does at start) gives one whole release.
                let dir = std::fs::File::open(&current).expect("current vanished");
                let fd = std::os::fd::AsRawFd::as_raw_fd(&dir);
                let contents: Vec<String> = FILES
                    .iter()
                    .map(|file| {
                        std::fs::read_to_string(format!("/proc/self/fd/{fd}/{file}"))
                            .expect("file missing")
                    })
                    .collect();
                assert!(
                    contents.iter().all(|text| text == &contents[0]),
                    "mixed releases: {contents:?}"
                );
                seen.insert(contents[0].clone());
                reads += 1;
            }
            (reads, seen.len())
        })
    };
    for switch in 0..SWITCHES {
        let to = if switch % 2 == 0 { &v1 } else { &v2 };
        env.hoist().args(["rollback", "-q", "--to", to]).run();
    }
    stop.store(true, Ordering::SeqCst);
    let (reads, distinct) = reader.join().expect("reader saw a broken tree");
    assert!(reads > SWITCHES as u64, "reader ran only {reads} times");
    assert_eq!(distinct, 2, "reader saw both releases");
    assert_eq!(env.live().as_deref(), Some(v2.as_str()));
}
