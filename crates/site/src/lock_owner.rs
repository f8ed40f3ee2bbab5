//! Who holds an `flock` when it is not hoist (no record in `deploy.lock`):
//! the kernel lists every lock in `/proc/locks` by device and inode.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// The pid holding an `flock` on `path`, if `/proc/locks` names one.
pub(crate) fn flock_pid(path: &Path) -> Option<u32> {
    let metadata = std::fs::metadata(path).ok()?;
    let dev = metadata.dev();
    let id = format!(
        "{:02x}:{:02x}:{}",
        nix::sys::stat::major(dev),
        nix::sys::stat::minor(dev),
        metadata.ino()
    );
    let locks = std::fs::read_to_string("/proc/locks").ok()?;
    parse(&locks, &id)
}

/// `1: FLOCK  ADVISORY  WRITE 15849 fe:00:5808174 0 EOF`; waiters (`->`) are skipped.
fn parse(locks: &str, id: &str) -> Option<u32> {
    locks.lines().find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        match fields.as_slice() {
            [_, "FLOCK", _, _, pid, file, ..] if *file == id => pid.parse().ok(),
            _ => None,
        }
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn finds_the_holder_not_a_waiter() {
        let locks = "1: FLOCK  ADVISORY  WRITE 15849 fe:00:5808174 0 EOF\n\
                     1: -> FLOCK  ADVISORY  WRITE 16000 fe:00:42 0 EOF\n\
                     2: FLOCK  ADVISORY  WRITE 9312 fe:00:42 0 EOF\n";
        assert_eq!(super::parse(locks, "fe:00:42"), Some(9312));
        assert_eq!(super::parse(locks, "fe:00:7"), None);
    }

    #[test]
    fn finds_a_lock_this_process_holds() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("deploy.lock");
        let file = std::fs::File::create(&path).unwrap();
        let _locked = nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusive).unwrap();
        assert_eq!(super::flock_pid(&path), Some(std::process::id()));
    }
}
