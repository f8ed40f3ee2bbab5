//! `hoist db ...`: the app's schema, migrated with releases; on PostgreSQL
//! its expansions ended by `hoist db complete` ([`complete`]) or `hoist db
//! abort` ([`abort`]).

mod abort;
mod complete;
mod expansion;

use crate::cli::Global;
use crate::output::{self, Output, Render};
use anyhow::Context as _;
use hoist_db::{Phase, RunReport, SchemaStatus, Target, Undo};
use hoist_deploy::{BackupReport, Context, Schema, SchemaDiff};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  hoist db status --json               applied, pending, drift, dirty, the open expansion
  hoist db status --stage production   the same, and what each host serves on which side
  hoist db complete                    contract the open expansion (old shape dropped)
  hoist db abort                       remove the open expansion (new shape dropped)
  hoist db migrate --dry-run           what would run
  hoist db migrate --to 12             up to and including 0012_*
  hoist db rollback                    undo the newest migration (after a backup)
  hoist db backup                      a backup in data/backups/
  hoist db restore data/backups/X.sqlite
  hoist db repair 7 --applied          after finishing a dirty migration by hand
  hoist db diff --against /srv/shop-staging")]
pub struct Args {
    #[command(subcommand)]
    command: DbCommand,
    /// Migrations directory (default: the live release's, else next to hoist.toml).
    #[arg(long, global = true, value_name = "DIR")]
    migrations: Option<PathBuf>,
}

#[derive(Debug, clap::Subcommand)]
enum DbCommand {
    /// Applied and pending migrations, checksum drift, a dirty mark, the open expansion
    #[command(after_help = "Examples:
  hoist db status                      the migrations; on PostgreSQL the open expansion, its
                                       step, backfill done/total, view schemas, who serves on
                                       which side, and what `db complete` would wait for
  hoist db status --json               the same as JSON (`expansion`, `pending_declarative`)
  hoist db status --release 20261201T0930Z-2.0.0
                                       against that release's migrations (which it would expand)
  hoist db status --stage production   every host over ssh: what each serves on which side

Exit codes: 0 read (an expansion that cannot be read is reported, not failed), 1 failed,
2 usage.")]
    Status {
        /// The migrations of this release (staged or live) instead of the live one's.
        #[arg(long, value_name = "ID", conflicts_with = "stage")]
        release: Option<String>,
        /// Every host of this stage (`[stages.NAME]`): the expansion, and
        /// what each host serves on which side.
        #[arg(long, value_name = "NAME")]
        stage: Option<String>,
    },
    /// Contract the open expansion: drop its old shape (PostgreSQL)
    Complete(complete::Args),
    /// Remove the open expansion: drop its new shape (PostgreSQL)
    Abort(abort::Args),
    /// Apply pending migrations (backup first)
    Migrate {
        /// Stop after this version.
        #[arg(long, value_name = "N")]
        to: Option<u64>,
        /// Only this deploy phase: `pre` or `post`.
        #[arg(long, value_parser = ["pre", "post"])]
        phase: Option<String>,
        /// Show what would run; change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Undo the newest migration, or all above `--to N` (backup first)
    Rollback {
        /// Keep this version and below.
        #[arg(long, value_name = "N")]
        to: Option<u64>,
        /// Show what would run; change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Back the database up to data/backups/
    Backup,
    /// Replace the database with a backup (the present state is backed up first)
    Restore {
        /// A file from `hoist db backup` or a migration's automatic backup.
        file: PathBuf,
    },
    /// Clear a dirty mark once you have finished or undone the migration by hand
    Repair {
        /// The migration's number.
        // Not the id `version`: that is `--version`'s, and clap's debug
        // builds panicked on the clash (`hoist db repair` never ran there).
        #[arg(id = "migration", value_name = "VERSION")]
        version: u64,
        /// It is fully applied now.
        #[arg(long, conflicts_with = "undone", required_unless_present = "undone")]
        applied: bool,
        /// It is fully undone now.
        #[arg(long)]
        undone: bool,
    },
    /// Compare applied migrations with another site or database
    Diff {
        /// A site root (its live release's `[database]`) or a database url.
        #[arg(long, value_name = "ROOT_OR_URL")]
        against: String,
    },
}

impl Render for SchemaStatus {
    fn human(&self, out: &mut String) {
        output::field(out, "database", &self.database);
        output::field(
            out,
            "version",
            self.version.map_or("-".into(), |v| v.to_string()),
        );
        for row in &self.applied {
            let mark = if row.dirty { " DIRTY" } else { "" };
            output::field(
                out,
                "applied",
                format!(
                    "{} ({}, {}){mark}",
                    row.name, row.applied_at, row.applied_by
                ),
            );
        }
        for pending in &self.pending {
            let how = if pending.transactional {
                ""
            } else {
                ", no-transaction"
            };
            output::field(
                out,
                "pending",
                format!("{} ({}{how})", pending.name, pending.phase.as_str()),
            );
        }
        for drift in &self.drift {
            output::field(
                out,
                "DRIFT",
                format!("{} was edited after it was applied", drift.name),
            );
        }
        for name in &self.unknown {
            output::field(
                out,
                "unknown",
                format!("{name} is applied but not in these migrations"),
            );
        }
        if let Some(dirty) = &self.dirty {
            output::field(
                out,
                "DIRTY",
                format!("{dirty} did not finish; see `hoist db repair --help`"),
            );
        }
    }
}

impl Render for RunReport {
    fn human(&self, out: &mut String) {
        output::field(out, "database", &self.database);
        let verb = match (self.dry_run, self.direction) {
            (true, "up") => "would apply",
            (true, _) => "would undo",
            (false, "up") => "applied",
            (false, _) => "undone",
        };
        let ran = if self.ran.is_empty() {
            "nothing".to_owned()
        } else {
            self.ran.join(", ")
        };
        output::field(out, verb, ran);
        for step in &self.sql {
            let _ = writeln!(
                out,
                "\n-- {} ({})\n{}",
                step.name,
                self.direction,
                step.sql.trim_end()
            );
        }
        if !self.sql.is_empty() {
            out.push('\n');
        }
        if let Some(backup) = &self.backup {
            output::field(out, "backup", backup.display());
        }
        output::field(
            out,
            "version",
            self.version.map_or("-".into(), |v| v.to_string()),
        );
    }
}

impl Render for BackupReport {
    fn human(&self, out: &mut String) {
        output::field(out, "database", &self.database);
        match &self.safety_backup {
            Some(safety) => {
                output::field(out, "restored", self.path.display());
                output::field(
                    out,
                    "backup",
                    format!("{} (the state before)", safety.display()),
                );
            }
            None => output::field(out, "backup", self.path.display()),
        }
    }
}

impl Render for SchemaDiff {
    fn human(&self, out: &mut String) {
        output::field(out, "here", &self.here);
        output::field(out, "there", &self.there);
        if self.same {
            output::field(out, "same", "both have exactly the same migrations applied");
        }
        for (label, names) in [
            ("only here", &self.only_here),
            ("only there", &self.only_there),
            ("different", &self.different),
        ] {
            for name in names {
                output::field(out, label, name);
            }
        }
    }
}

pub fn exec(global: &Global, args: Args) -> anyhow::Result<i32> {
    // A stage's hosts are asked over ssh; no site here is needed.
    match &args.command {
        DbCommand::Status {
            stage: Some(stage), ..
        } => return super::stage::db::status(global, stage),
        DbCommand::Abort(abort) if abort.stage.is_some() => {
            let stage = abort.stage.as_deref().unwrap_or_default();
            let args = hoist_fleet::DbEndArgs {
                reason: abort.reason.clone(),
                sql_undone: abort.sql_undone,
            };
            return super::stage::db::abort(global, stage, args);
        }
        DbCommand::Complete(complete) if complete.stage.is_some() => {
            let stage = complete.stage.as_deref().unwrap_or_default();
            let args = hoist_fleet::DbEndArgs {
                reason: complete.reason.clone(),
                sql_undone: false,
            };
            return super::stage::db::complete(global, stage, args);
        }
        _ => {}
    }
    let (mut context, config) = crate::target::open(global)?;
    let out = Output::new(global.json);
    let release_dir = match &args.command {
        DbCommand::Status {
            release: Some(release),
            ..
        } => Some(release_migrations(&context, config.as_ref(), release)?),
        _ => None,
    };
    let migrations = release_dir.as_deref().or(args.migrations.as_deref());
    let schema = schema(global, &context, config.as_ref(), migrations)?;
    match args.command {
        DbCommand::Status { .. } => {
            crate::target::attach_agent(&mut context);
            out.emit(&db_status(&context, &schema)?)?
        }
        DbCommand::Complete(args) => return complete::exec(global, args, context, &schema),
        DbCommand::Abort(args) => return abort::exec(global, args, context, &schema),
        DbCommand::Migrate { to, phase, dry_run } => {
            let phase = phase.map(|phase| {
                if phase == "post" {
                    Phase::Post
                } else {
                    Phase::Pre
                }
            });
            out.emit(&hoist_deploy::db_migrate(
                &context, &schema, to, phase, dry_run,
            )?)?
        }
        DbCommand::Rollback { to, dry_run } => {
            let undo = to.map_or(Undo::Last, Undo::Above);
            out.emit(&hoist_deploy::db_rollback(
                &context, &schema, &undo, dry_run,
            )?)?
        }
        DbCommand::Backup => out.emit(&hoist_deploy::db_backup(&context, &schema)?)?,
        DbCommand::Restore { file } => {
            out.emit(&hoist_deploy::db_restore(&context, &schema, &file)?)?
        }
        DbCommand::Repair {
            version, applied, ..
        } => {
            hoist_deploy::db_repair(&context, &schema, version, applied)?;
            let state = if applied {
                "applied"
            } else {
                "undone (its row removed)"
            };
            eprintln!("migration {version} is marked {state}; `hoist db status` shows the result");
            let result = serde_json::json!({ "repaired": version, "applied": applied });
            crate::output::json_result(global.json, &result)?;
        }
        DbCommand::Diff { against } => {
            let diff = hoist_deploy::db_diff(&schema.target, &other_target(&against)?)?;
            let code = if diff.same {
                crate::EXIT_OK
            } else {
                crate::EXIT_FAILURE
            };
            if out.emit_then(&diff, code)? != crate::EXIT_OK {
                return Ok(code);
            }
        }
    }
    Ok(crate::EXIT_OK)
}

/// The migrations, and on PostgreSQL the expansion and who serves here.
fn db_status(context: &Context, schema: &Schema) -> anyhow::Result<expansion::DbStatus> {
    let status = hoist_deploy::db_status(schema)?;
    let pending: Vec<&str> = status.pending.iter().map(|p| p.name.as_str()).collect();
    let pending_declarative = schema
        .migrations()?
        .into_iter()
        .filter(|migration| {
            migration.is_declarative() && pending.contains(&migration.name.as_str())
        })
        .map(|migration| migration.name)
        .collect();
    let (expansion, expansion_error) = match hoist_deploy::expansion(context, schema) {
        Ok(expansion) => (expansion, None),
        Err(error) => (None, Some(error.to_string())),
    };
    let interrupted =
        hoist_site::Journal::pending(&context.site)?.map(|record| expansion::Interrupted {
            op: record.op.to_string(),
            release: record.release,
            step: record.step.to_string(),
        });
    Ok(expansion::DbStatus {
        expansion,
        expansion_error,
        declarative_refused: matches!(schema.target, Target::Sqlite(_))
            .then(|| "declarative migrations need PostgreSQL: a deploy that brings one is refused (write it as `.up.sql` and `.down.sql` files)".to_owned()),
        interrupted,
        schema: status,
        pending_declarative,
    })
}

/// `--release ID`: that release's migrations directory (its own
/// `[database] migrations`, else `migrations`).
fn release_migrations(
    context: &Context,
    config: Option<&hoist_config::Config>,
    release: &str,
) -> anyhow::Result<PathBuf> {
    let dir = context.site.release_dir(release);
    if !dir.is_dir() {
        let message = format!("release `{release}` is not on disk (`hoist releases` lists them)");
        return Err(crate::Failure::new("unknown-release", message).into());
    }
    let shipped = context.config_for(release, None)?;
    let migrations = shipped
        .as_ref()
        .or(config)
        .and_then(|config| config.database.as_ref())
        .map_or_else(
            || "migrations".to_owned(),
            |database| database.migrations.clone(),
        );
    Ok(dir.join(migrations))
}

/// The database from hoist.toml, else from the live release's; its
/// migrations from `--migrations`, the live release, or beside hoist.toml.
pub(crate) fn schema(
    global: &Global,
    context: &Context,
    config: Option<&hoist_config::Config>,
    migrations: Option<&Path>,
) -> anyhow::Result<Schema> {
    let live = context.site.live()?;
    let database = database(context, config, live.as_deref())?;
    let dir = match (migrations, &live) {
        // Named by hand: a typo must not read as "nothing to apply".
        (Some(dir), _) if !dir.is_dir() => {
            let message = format!(
                "the migrations directory `{}` given with `--migrations` does not exist",
                dir.display()
            );
            return Err(crate::Failure::new("not-found", message).into());
        }
        (Some(dir), _) => dir.to_owned(),
        (None, Some(live)) => context.site.release_dir(live).join(&database.migrations),
        (None, None) => {
            let config_dir = global
                .config
                .as_deref()
                .and_then(Path::parent)
                .map_or_else(|| PathBuf::from("."), Path::to_owned);
            config_dir.join(&database.migrations)
        }
    };
    Ok(Schema::new(context, &database, dir)?)
}

/// The site's `[database]`: from its `site.toml` when it has one (the
/// migrations directory from the given or live release's config); else,
/// for a site an older hoist deployed, the given config's or the live
/// release's. The error says exactly where it looked.
fn database(
    context: &Context,
    given: Option<&hoist_config::Config>,
    live: Option<&str>,
) -> anyhow::Result<hoist_config::Database> {
    let shipped = match live {
        Some(live) => context.config_for(live, None)?,
        None => None,
    };
    // Both already carry the site's own `[database]` when it has a `site.toml`.
    let mut configs = given.into_iter().chain(shipped.as_ref());
    if let Some(database) = configs.find_map(|config| config.database.clone()) {
        return Ok(database);
    }
    let root = context.site.root();
    let add = "add `[database]` with `url = \"sqlite://shared/app.db\"` (or `postgres://...`)";
    match context.site_settings()? {
        Some(site) => site.database().ok_or_else(|| {
            let message = format!(
                "no `[database]` in `{}`, which holds this site's host settings (a `[database]` in a release's or the working directory's hoist.toml is not used once a site has one)",
                site.path().display()
            );
            crate::Failure::new("no-database", message)
                .hint(format!("edit `{}`: {add}", site.path().display()))
                .into()
        }),
        None => {
            let mut looked: Vec<String> = given
                .and_then(hoist_config::Config::path)
                .map(|path| format!("`{}`", path.display()))
                .into_iter()
                .collect();
            looked.extend(live.map(|live| format!("the live release `{live}`'s `hoist.toml`")));
            looked.push(format!("`{}` (there is none)", root.join(hoist_config::SITE_FILE).display()));
            let message = format!(
                "no `[database]` in {}; {add} to `{}`",
                looked.join(", nor in "),
                root.join(hoist_config::SITE_FILE).display(),
            );
            Err(crate::Failure::new("no-database", message)
                .hint(format!("hoist init --site --root {} -c FILE (a config with `[database]`)", root.display()))
                .into())
        }
    }
}

/// `--against`: a url as given, or a site root: its own database, from its
/// `site.toml` (never from this site's or the working directory's config).
fn other_target(against: &str) -> anyhow::Result<Target> {
    if against.contains("://") {
        return Ok(Target::parse(against, Path::new("."))?);
    }
    let root = Path::new(against);
    let other =
        Context::open_read_only(root).with_context(|| format!("cannot open site `{against}`"))?;
    let live = other.site.live()?.ok_or_else(|| {
        crate::Failure::new("nothing-live", format!("`{against}` has no live release"))
    })?;
    let database = other
        .config_for(&live, None)?
        .and_then(|config| config.database)
        .ok_or_else(|| {
            let message = format!("the live release of `{against}` has no `[database]`");
            crate::Failure::new("no-database", message)
        })?;
    Ok(other.database_target(&database)?)
}
