//! A real app for the expand/contract tests (issue 17): a WSGI users
//! service (`tests/fixtures/schema_app/app.py`) run by real gunicorn,
//! talking to a real PostgreSQL through psycopg2 (libpq, so the
//! `PGOPTIONS` hoist sets picks its view schema), deployed by the real
//! `hoist build` and `hoist deploy` through a real agent.
//!
//! Every release runs the same code; a [`Shape`] says which columns of
//! `users` it expects (`shape.txt`: its label, then the columns) and which declarative migration it
//! ships (`migrations/0002_*.toml`). The old release is [`Shape::V1`]
//! (`users(id serial primary key, name text not null)`) or, for the type
//! change, [`Shape::V1Tags`] (with `tags text`).
//!
//! ```ignore
//! let app = SchemaApp::new(&postgres.url, port, Shape::V1);
//! let v1 = app.deploy(Shape::V1, &[]);
//! let _agent = AgentProcess::start(&app.env);
//! let v2 = app.deploy(Shape::Rename, &["--hold"]);
//! ```

use super::agent_process::agent_config_with;
use super::Env;
use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

/// The app, as every release ships it.
pub const APP_PY: &str = include_str!("../fixtures/schema_app/app.py");

/// The shape of `users` a release expects, and the migration that makes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Shape {
    /// `users(id, name)`: the old release.
    V1,
    /// `users(id, name, tags text)`: the old release of the type change.
    V1Tags,
    /// `0002_rename.toml`: `name` becomes `full_name`.
    Rename,
    /// `0002_add_email.toml`: a NOT NULL `email`, backfilled from `name`.
    AddEmail,
    /// `0002_tags_array.toml`: `tags` becomes `text[]` (up/down).
    TagsArray,
    /// `0002_split_name.toml`: `name` becomes `first_name` and `last_name`.
    Split,
}

/// The backfill of [`Shape::AddEmail`]: what a row the old release wrote gets.
pub const OLD_EMAIL_DOMAIN: &str = "old.example";
/// The domain [`Shape::AddEmail`]'s own writes use, so the two are told apart.
pub const NEW_EMAIL_DOMAIN: &str = "new.example";

impl Shape {
    /// The columns of `users` (besides `id`) it reads and writes.
    pub fn columns(self) -> &'static [&'static str] {
        match self {
            Shape::V1 => &["name"],
            Shape::V1Tags => &["name", "tags"],
            Shape::Rename => &["full_name"],
            Shape::AddEmail => &["name", "email"],
            Shape::TagsArray => &["name", "tags"],
            Shape::Split => &["first_name", "last_name"],
        }
    }

    /// The old release it expands from.
    pub fn base(self) -> Shape {
        match self {
            Shape::V1Tags | Shape::TagsArray => Shape::V1Tags,
            _ => Shape::V1,
        }
    }

    /// Whether its release runs on the new side of an expansion.
    pub fn is_new(self) -> bool {
        self.migration().is_some()
    }

    /// Its version label (and release id part).
    pub fn label(self) -> &'static str {
        match self {
            Shape::V1 => "1",
            Shape::V1Tags => "1-tags",
            Shape::Rename => "2-rename",
            Shape::AddEmail => "2-email",
            Shape::TagsArray => "2-tags",
            Shape::Split => "2-split",
        }
    }

    /// Its declarative migration: (file name, TOML).
    pub fn migration(self) -> Option<(&'static str, String)> {
        let (name, toml) = match self {
            Shape::V1 | Shape::V1Tags => return None,
            Shape::Rename => (
                "0002_rename.toml",
                "description = \"users.name becomes full_name\"\n\
                 [[op]]\ntype = \"rename_column\"\ntable = \"users\"\nfrom = \"name\"\nto = \"full_name\"\n"
                    .to_owned(),
            ),
            Shape::AddEmail => (
                "0002_add_email.toml",
                format!(
                    "description = \"users get an email\"\n\
                     [[op]]\ntype = \"add_column\"\ntable = \"users\"\ncolumn = \"email\"\n\
                     sql_type = \"text\"\nnot_null = true\n\
                     backfill = \"replace(name, ' ', '.') || '@{OLD_EMAIL_DOMAIN}'\"\n"
                ),
            ),
            Shape::TagsArray => (
                "0002_tags_array.toml",
                "description = \"tags become an array\"\n\
                 [[op]]\ntype = \"change_type\"\ntable = \"users\"\ncolumn = \"tags\"\n\
                 sql_type = \"text[]\"\nup = \"string_to_array(tags, ',')\"\n\
                 down = \"array_to_string(tags, ',')\"\n"
                    .to_owned(),
            ),
            Shape::Split => (
                "0002_split_name.toml",
                "description = \"name becomes first_name and last_name\"\n\
                 [[op]]\ntype = \"split_column\"\ntable = \"users\"\ncolumn = \"name\"\n\
                 down = \"first_name || ' ' || last_name\"\n\
                 [[op.into]]\nname = \"first_name\"\nsql_type = \"text\"\nup = \"split_part(name, ' ', 1)\"\n\
                 [[op.into]]\nname = \"last_name\"\nsql_type = \"text\"\nup = \"split_part(name, ' ', 2)\"\n"
                    .to_owned(),
            ),
        };
        Some((name, toml))
    }

    /// `0001_users.up.sql` of its base.
    fn create_table(self) -> &'static str {
        match self.base() {
            Shape::V1Tags => {
                "CREATE TABLE users (id serial PRIMARY KEY, name text NOT NULL, tags text);\n"
            }
            _ => "CREATE TABLE users (id serial PRIMARY KEY, name text NOT NULL);\n",
        }
    }
}

/// Which release answers in which shape: the load and the row checks
/// judge an answer by the release that gave it.
#[derive(Debug, Clone, Default)]
pub struct Releases(Arc<RwLock<HashMap<String, Shape>>>);

impl Releases {
    pub fn add(&self, release: &str, shape: Shape) {
        self.0.write().unwrap().insert(release.to_owned(), shape);
    }

    pub fn shape(&self, release: &str) -> Option<Shape> {
        self.0.read().unwrap().get(release).copied()
    }
}

/// A line of the app's env file: Python writes no `__pycache__` into the
/// sealed release (it would fail `hoist verify`, and so a rollback to it).
pub const NO_BYTECODE: &str = "PYTHONDONTWRITEBYTECODE=1";

/// How long the old release stays warm after a switch: short, so a test
/// can see `hoist db complete` refused while it is warm, and then wait it out.
pub const ROLLBACK_WINDOW: &str = "6s";

/// The app's source tree (the project `hoist build` packs), its site and secrets.
pub struct SchemaApp {
    pub env: Env,
    pub releases: Releases,
    /// The database url (also in the site's env file).
    pub url: String,
    /// The agent's public port.
    pub port: u16,
}

impl SchemaApp {
    /// The app for database `url`, proxied on `port`, its table shaped as
    /// `base` (`V1` or `V1Tags`). hoist reads the url from the env file too
    /// (`url = "$DATABASE_URL"`).
    pub fn new(url: &str, port: u16, base: Shape) -> SchemaApp {
        let process = format!(
            "command = \"gunicorn --workers 2 --bind 127.0.0.1:$PORT app:app\"\n\
             health_path = \"/health\"\n\
             health_timeout = \"30s\"\n\
             drain_timeout = \"10s\"\n\
             watch = \"2s\"\n\
             rollback_window = \"{ROLLBACK_WINDOW}\"\n\
             env_file = \"shared/app.env\"\n"
        );
        let database = "[database]\nurl = \"$DATABASE_URL\"\nlock_timeout = \"10s\"\n";
        let env = Env::with_config(&agent_config_with(port, &process, database));
        let secrets = env.site().join("shared/app.env");
        std::fs::create_dir_all(secrets.parent().unwrap()).unwrap();
        std::fs::write(&secrets, format!("DATABASE_URL={url}\n{NO_BYTECODE}\n")).unwrap();
        std::fs::set_permissions(&secrets, std::fs::Permissions::from_mode(0o600)).unwrap();
        env.write("app.py", APP_PY);
        env.write("migrations/0001_users.up.sql", base.create_table());
        env.write("migrations/0001_users.down.sql", "DROP TABLE users;\n");
        SchemaApp {
            env,
            releases: Releases::default(),
            url: url.to_owned(),
            port,
        }
    }

    /// Writes `shape`'s columns and migration into the source and builds it
    /// with the real `hoist build`; returns (release id, artifact).
    pub fn build(&self, shape: Shape) -> (String, PathBuf) {
        write_release(&self.env, shape);
        let (id, artifact) = self.env.build();
        self.releases.add(&id, shape);
        (id, artifact)
    }

    /// Builds `shape` and runs `hoist deploy -q ARGS artifact`; returns the release id.
    pub fn deploy(&self, shape: Shape, args: &[&str]) -> String {
        let (id, artifact) = self.build(shape);
        self.env
            .hoist()
            .args(["deploy", "-q"])
            .args(args)
            .arg(&artifact)
            .run();
        id
    }

    /// The last lines of `release`'s app log, for failure messages.
    pub fn log_tail(&self, release: &str) -> String {
        let log = self
            .env
            .site()
            .join(format!("shared/log/hoist/{release}.log"));
        let text = std::fs::read_to_string(log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

/// Writes `shape`'s `shape.txt`, its migration (and no other `0002_*`)
/// and version into `env`'s source.
pub fn write_release(env: &Env, shape: Shape) {
    env.write("app.py", APP_PY);
    env.write(
        "shape.txt",
        &format!("{} {}\n", shape.label(), shape.columns().join(" ")),
    );
    let migrations = env.src().join("migrations");
    for entry in std::fs::read_dir(&migrations).into_iter().flatten() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !name.starts_with("0001_") {
            std::fs::remove_file(path).unwrap();
        }
    }
    if let Some((name, toml)) = shape.migration() {
        env.write(&format!("migrations/{name}"), &toml);
    }
    env.set_version(shape.label());
}

impl SchemaApp {
    /// The releases `hoist status` lists as warm.
    pub fn warm(&self) -> Vec<String> {
        self.env.status()["agent"]["warm"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|warm| warm["release"].as_str().map(str::to_owned))
            .collect()
    }

    /// Waits (bounded, polling `hoist status`) until `release` is no
    /// longer warm: its [`ROLLBACK_WINDOW`] passed and the agent stopped it.
    #[track_caller]
    pub fn wait_cold(&self, release: &str) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while self.warm().iter().any(|warm| warm == release) {
            assert!(
                std::time::Instant::now() < deadline,
                "`{release}` is still warm after 60s"
            );
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
    }
}
