//! A real shop for the schema-and-switch tests: a WSGI app run by real
//! gunicorn that writes orders to a real PostgreSQL with psycopg2, deployed
//! by the real `hoist` binary through a real agent.
//!
//! The app takes its database from `DATABASE_URL` in the site's `env_file`
//! (`shared/app.env`, 0600), as a runbook keeps secrets; `[database] url`
//! tells hoist itself where to migrate. Its two versions need different
//! schemas, so the order of a switch and its migrations is visible to users:
//!
//! - v1 (`0001_create_orders`) writes `orders(item)`;
//! - v2 adds `0002_add_note` (`phase=pre`), a `note` every new row must have
//!   (`NOT NULL`, no default), and writes and reads it. v1 cannot write on
//!   that schema and v2 cannot run on the one without it, so only a switch
//!   that holds requests across the migration (forward) or the down
//!   (`rollback --with-db`) loses no write. (With an expand migration v1
//!   tolerates, moving the route before the downs loses nothing either, so
//!   such a fixture could not tell the two orders apart.)
//!
//! ```ignore
//! let shop = Shop::new(&postgres.url, port);
//! let v1 = shop.deploy(Version::V1, &[]);
//! ```

pub mod load;

use crate::util::agent_process::agent_config_with;
use crate::util::Env;
use hoist_testkit::TestPostgres;
use std::os::unix::fs::PermissionsExt;

/// A version of the shop's code and the migrations it ships.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// Writes `orders(item)`.
    V1,
    /// Needs `orders.note` (its pre-switch migration adds it) and writes it.
    V2,
    /// V2 with a `phase=post` migration that indexes `note` once v1 drained.
    V2WithPost,
}

/// How long the agent watches a release after a forward switch.
pub const WATCH: std::time::Duration = std::time::Duration::from_secs(3);

/// The WSGI app; `{insert}`, `{params}` and `{select}` differ by version.
const APP: &str = r#""""A tiny shop: POST /orders writes a row, GET /orders reads the newest."""
import json
import os

import psycopg2

RELEASE = os.environ.get("HOIST_RELEASE", "")
INSERT = "{insert}"
SELECT = "{select}"
_connection = None


def db():
    """One autocommit connection per worker: a row is committed before it is acknowledged."""
    global _connection
    if _connection is None or _connection.closed:
        _connection = psycopg2.connect(os.environ["DATABASE_URL"])
        _connection.autocommit = True
    return _connection


def handle(environ):
    path, method = environ["PATH_INFO"], environ["REQUEST_METHOD"]
    if path == "/healthz":
        return "200 OK", {"ok": True}
    if path != "/orders":
        return "404 Not Found", {"error": "no such page"}
    with db().cursor() as cursor:
        if method == "POST":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            item = environ["wsgi.input"].read(length).decode()
            cursor.execute(INSERT, {params})
            (row,) = cursor.fetchone()
            return "201 Created", {"id": row, "item": item}
        cursor.execute(SELECT)
        return "200 OK", {"newest": [list(row) for row in cursor.fetchall()]}


def app(environ, start_response):
    global _connection
    try:
        status, reply = handle(environ)
    except Exception as error:  # the test counts every 5xx; say why
        if isinstance(error, psycopg2.Error) and _connection is not None and _connection.closed:
            _connection = None
        status, reply = "500 Internal Server Error", {"error": type(error).__name__ + ": " + str(error)}
    body = json.dumps(reply).encode()
    start_response(status, [
        ("Content-Type", "application/json"),
        ("Content-Length", str(len(body))),
        ("X-App-Release", RELEASE),
    ])
    return [body]
"#;

/// A source tree for the shop, its site, and its secrets.
pub struct Shop {
    pub env: Env,
}

impl Shop {
    /// The shop's source and site for database `url`, proxied on `port`.
    pub fn new(url: &str, port: u16) -> Shop {
        let process = format!(
            "command = \"gunicorn --workers 2 --bind 127.0.0.1:$PORT app:app\"\n\
             health_timeout = \"30s\"\n\
             drain_timeout = \"10s\"\n\
             watch = \"{}s\"\n\
             env_file = \"shared/app.env\"\n",
            WATCH.as_secs()
        );
        let database = format!("[database]\nurl = \"{url}\"\nlock_timeout = \"10s\"\n");
        let env = Env::with_config(&agent_config_with(port, &process, &database));
        let secrets = env.site().join("shared/app.env");
        std::fs::create_dir_all(secrets.parent().unwrap()).unwrap();
        std::fs::write(&secrets, format!("DATABASE_URL={url}\n")).unwrap();
        std::fs::set_permissions(&secrets, std::fs::Permissions::from_mode(0o600)).unwrap();
        env.write(
            "migrations/0001_create_orders.up.sql",
            "CREATE TABLE orders (id BIGSERIAL PRIMARY KEY, item TEXT NOT NULL UNIQUE);\n",
        );
        env.write(
            "migrations/0001_create_orders.down.sql",
            "DROP TABLE orders;\n",
        );
        Shop { env }
    }

    /// Writes `version`'s code and migrations into the source tree and builds it;
    /// returns (release id, artifact).
    pub fn build(&self, version: Version) -> (String, std::path::PathBuf) {
        let (insert, params, select) = match version {
            Version::V1 => (
                "INSERT INTO orders (item) VALUES (%s) RETURNING id",
                "(item,)",
                "SELECT id, item FROM orders ORDER BY id DESC LIMIT 5",
            ),
            Version::V2 | Version::V2WithPost => (
                "INSERT INTO orders (item, note) VALUES (%s, %s) RETURNING id",
                "(item, 'by v2')",
                "SELECT id, item, note FROM orders ORDER BY id DESC LIMIT 5",
            ),
        };
        let app = APP
            .replace("{insert}", insert)
            .replace("{params}", params)
            .replace("{select}", select);
        self.env.write("app.py", &app);
        let migrations = self.env.src().join("migrations");
        for name in ["0002_add_note", "0003_index_note"] {
            for direction in ["up", "down"] {
                let _ = std::fs::remove_file(migrations.join(format!("{name}.{direction}.sql")));
            }
        }
        if version != Version::V1 {
            // Existing rows get an empty note; new ones must bring theirs.
            self.env.write(
                "migrations/0002_add_note.up.sql",
                "ALTER TABLE orders ADD COLUMN note TEXT NOT NULL DEFAULT '';\n\
                 ALTER TABLE orders ALTER COLUMN note DROP DEFAULT;\n",
            );
            self.env.write(
                "migrations/0002_add_note.down.sql",
                "ALTER TABLE orders DROP COLUMN note;\n",
            );
        }
        if version == Version::V2WithPost {
            self.env.write(
                "migrations/0003_index_note.up.sql",
                "-- hoist: phase=post\nCREATE INDEX orders_note ON orders (note);\n",
            );
            self.env.write(
                "migrations/0003_index_note.down.sql",
                "DROP INDEX orders_note;\n",
            );
        }
        let label = match version {
            Version::V1 => "1",
            Version::V2 => "2",
            Version::V2WithPost => "2-post",
        };
        self.env.set_version(label);
        self.env.build()
    }

    /// Builds `version` and runs `hoist deploy ARGS artifact`; returns the release id.
    pub fn deploy(&self, version: Version, args: &[&str]) -> String {
        let (id, artifact) = self.build(version);
        self.env
            .hoist()
            .args(["deploy", "-q"])
            .args(args)
            .arg(&artifact)
            .run();
        id
    }

    /// The names of the applied migrations, oldest first (`hoist db status --json`).
    pub fn applied(&self) -> Vec<String> {
        self.env.applied()
    }

    /// The last lines of `release`'s app log, for failure messages.
    pub fn log_tail(&self, release: &str) -> String {
        let log = self
            .env
            .site()
            .join(format!("shared/log/hoist/{release}.log"));
        let text = std::fs::read_to_string(log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    }
}

/// Whether `orders` has a `note` column.
pub fn has_note(postgres: &TestPostgres) -> bool {
    let columns: i64 = postgres
        .client()
        .query_one(
            "SELECT count(*) FROM information_schema.columns WHERE table_name = 'orders' AND column_name = 'note'",
            &[],
        )
        .unwrap()
        .get(0);
    columns == 1
}
