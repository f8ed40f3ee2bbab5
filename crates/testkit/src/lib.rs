//! Fixtures for hoist's own tests. Only dev-dependencies use this crate.
//!
//! [`TestPostgres`] gives each test a fresh database on a real PostgreSQL
//! server: the one `scripts/test` started (its url is in
//! `HOIST_TEST_POSTGRES`), or, when a test runs on its own, a private
//! server in a temp dir that is stopped when the fixture drops.

use postgres::{Client, NoTls};
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

/// The env var `scripts/test` sets to its server's admin url.
pub const SERVER_ENV: &str = "HOIST_TEST_POSTGRES";

/// A database of its own on a real PostgreSQL, dropped with the fixture.
#[derive(Debug)]
pub struct TestPostgres {
    /// `postgres://postgres@127.0.0.1:PORT/DB` for this test's database.
    pub url: String,
    admin_url: String,
    database: String,
    /// A private server, when no shared one was given.
    private: Option<PrivateServer>,
}

impl TestPostgres {
    /// A fresh, empty database. Panics with the reason if PostgreSQL cannot be had:
    /// these tests are about PostgreSQL, so there is nothing to fall back to.
    pub fn start() -> TestPostgres {
        let (admin_url, private) = match std::env::var(SERVER_ENV) {
            Ok(url) if !url.is_empty() => (url, None),
            _ => {
                let server = PrivateServer::start();
                (server.admin_url.clone(), Some(server))
            }
        };
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let database = format!(
            "hoist_test_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let mut admin = Client::connect(&admin_url, NoTls)
            .unwrap_or_else(|error| panic!("cannot reach PostgreSQL at {admin_url}: {error}"));
        admin
            .batch_execute(&format!("CREATE DATABASE {database}"))
            .expect("create test database");
        let url = match admin_url.rsplit_once('/') {
            Some((server, _)) => format!("{server}/{database}"),
            None => panic!("{SERVER_ENV} must end in /DBNAME: {admin_url}"),
        };
        TestPostgres {
            url,
            admin_url,
            database,
            private,
        }
    }

    /// A connection to this test's database.
    pub fn client(&self) -> Client {
        Client::connect(&self.url, NoTls).expect("connect to the test database")
    }

    /// `pg_dump --schema-only --no-owner` of this test's database, to
    /// compare before and after (an abort must leave it exactly as it
    /// was). The `\restrict KEY` lines pg_dump 15.14 and later bracket a
    /// dump with are left out: their key is new each run.
    pub fn schema_dump(&self) -> String {
        let output = std::process::Command::new("pg_dump")
            .args(["--schema-only", "--no-owner", "--dbname"])
            .arg(&self.url)
            .output()
            .expect("pg_dump runs (Debian: postgresql-client)");
        assert!(
            output.status.success(),
            "pg_dump failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout)
            .expect("pg_dump prints UTF-8")
            .lines()
            .filter(|line| !line.starts_with("\\restrict") && !line.starts_with("\\unrestrict"))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The columns of `table` in schema `public`, in order.
    pub fn columns(&self, table: &str) -> Vec<String> {
        self.client()
            .query(
                "SELECT column_name::text FROM information_schema.columns \
                 WHERE table_schema = 'public' AND table_name = $1 ORDER BY ordinal_position",
                &[&table],
            )
            .expect("read information_schema.columns")
            .iter()
            .map(|row| row.get(0))
            .collect()
    }
}

impl Drop for TestPostgres {
    fn drop(&mut self) {
        if self.private.is_none() {
            if let Ok(mut admin) = Client::connect(&self.admin_url, NoTls) {
                let _ = admin.batch_execute(&format!(
                    "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                    self.database
                ));
            }
        }
    }
}

/// A throwaway PostgreSQL server in a temp dir, on loopback.
#[derive(Debug)]
struct PrivateServer {
    admin_url: String,
    bin: PathBuf,
    data: PathBuf,
    _dir: tempfile::TempDir,
    user: Option<nix::unistd::User>,
}

impl PrivateServer {
    fn start() -> PrivateServer {
        let bin = bin_dir().expect(
            "PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin): install the postgresql package or run scripts/test",
        );
        let dir = tempfile::tempdir().expect("temp dir");
        // PostgreSQL refuses to run as root; run it as `postgres` then.
        let user = nix::unistd::Uid::effective()
            .is_root()
            .then(|| nix::unistd::User::from_name("postgres").ok().flatten())
            .flatten();
        if let Some(user) = &user {
            nix::unistd::chown(dir.path(), Some(user.uid), Some(user.gid)).expect("chown");
        }
        let data = dir.path().join("data");
        let port = free_port();
        let server = PrivateServer {
            admin_url: format!("postgres://postgres@127.0.0.1:{port}/postgres"),
            bin,
            data,
            _dir: dir,
            user,
        };
        server.run(
            "initdb",
            &[
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--no-sync",
                "-D",
            ],
            true,
        );
        let options = format!(
            "-c listen_addresses=127.0.0.1 -p {port} -k {} -c fsync=off",
            server.data.display()
        );
        // `-w` waits until the server accepts connections: the readiness signal.
        server.run(
            "pg_ctl",
            &["-w", "-s", "-l", "/dev/null", "-o", &options, "start", "-D"],
            true,
        );
        server
    }

    fn run(&self, tool: &str, args: &[&str], must: bool) {
        use std::os::unix::process::CommandExt;
        let mut command = Command::new(self.bin.join(tool));
        command.args(args).arg(&self.data);
        if let Some(user) = &self.user {
            command.uid(user.uid.as_raw()).gid(user.gid.as_raw());
        }
        let output = command.output().expect("run a PostgreSQL tool");
        if must && !output.status.success() {
            panic!(
                "`{tool}` failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
    }
}

impl Drop for PrivateServer {
    fn drop(&mut self) {
        self.run(
            "pg_ctl",
            &["-w", "-s", "-m", "immediate", "stop", "-D"],
            false,
        );
    }
}

/// The newest `/usr/lib/postgresql/<version>/bin`.
fn bin_dir() -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// The PostgreSQL `bin` directory this fixture uses, for tests that call its tools.
pub fn postgres_bin() -> Option<PathBuf> {
    bin_dir()
}
