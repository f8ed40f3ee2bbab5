//! The files a simulated host's sshd needs: keys made by `ssh-keygen`,
//! and an `sshd_config` that lets exactly the test's client key in as root.

use std::net::Ipv4Addr;
use std::path::Path;
use std::process::Stdio;

/// `ssh-keygen -t ed25519` without a passphrase, to `path` (and `.pub`).
pub fn keygen(path: &Path) {
    let status = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "hoist-test", "-f"])
        .arg(path)
        .stdin(Stdio::null())
        .status()
        .expect("`ssh-keygen` runs (openssh-client)");
    assert!(status.success(), "ssh-keygen failed for {}", path.display());
}

/// A minimal sshd config: one address, this host's key, the test's client
/// key as root's only way in.
pub fn sshd_config(addr: Ipv4Addr, port: u16, host_key: &Path, authorized_keys: &Path) -> String {
    format!(
        "ListenAddress {addr}:{port}
HostKey {host_key}
PidFile none
UsePAM no
StrictModes no
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
AuthorizedKeysFile {authorized_keys}
# One multiplexed connection carries every step of a deploy.
MaxSessions 64
MaxStartups 64
PrintMotd no
Subsystem sftp internal-sftp
",
        host_key = host_key.display(),
        authorized_keys = authorized_keys.display()
    )
}
