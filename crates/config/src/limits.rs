//! Bounds on every number and path in `hoist.toml`, checked at parse time.
//!
//! A config may ship inside an artifact, so it is input like any other: a
//! size or count large enough to overflow arithmetic or exhaust memory
//! (`weight = 4000000000` built a four-billion-entry schedule), or a path
//! that leaves the site (`flag_file = "/etc/passwd"` turned maintenance on),
//! is refused with the key, the value and the limit. Durations are bounded
//! where they are parsed ([`crate::parse_duration`]).

use crate::{Config, ConfigError};
use bytesize::ByteSize;
use std::path::{Component, Path};

/// The largest release or request body hoist accepts a limit for.
const MAX_SIZE: ByteSize = ByteSize::tib(1);

/// Checks every bounded value of `config`; `file` is only used in messages.
pub(crate) fn check(config: &Config, file: &Path) -> Result<(), ConfigError> {
    let invalid = |key: &str, problem: String| ConfigError::Value {
        path: file.to_owned(),
        key: key.to_owned(),
        problem,
    };
    let count = |key: &str, value: u64, low: u64, high: u64| {
        if (low..=high).contains(&value) {
            Ok(())
        } else {
            Err(invalid(
                key,
                format!("is {value}; it must be between {low} and {high}"),
            ))
        }
    };
    let size = |key: &str, value: ByteSize| {
        if value <= MAX_SIZE {
            Ok(())
        } else {
            Err(invalid(
                key,
                format!("is {value}; it must be at most {MAX_SIZE}"),
            ))
        }
    };
    count(
        "deploy.keep_releases",
        config.deploy.keep_releases as u64,
        1,
        1000,
    )?;
    size("deploy.max_release_size", config.deploy.max_release_size)?;
    size("proxy.max_body_size", config.proxy.max_body_size)?;
    count("proxy.max_held", config.proxy.max_held as u64, 0, 1_000_000)?;
    size("proxy.min_body_rate", config.proxy.min_body_rate)?;
    if let Some(cap) = config.proxy.max_connections {
        count("proxy.max_connections", cap as u64, 1, 10_000_000)?;
    }
    count(
        "proxy.max_connections_per_client",
        config.proxy.max_connections_per_client as u64,
        0,
        10_000_000,
    )?;
    count("data.keep", config.data.keep as u64, 1, 1000)?;
    for (index, backend) in config.proxy.backend.iter().enumerate() {
        count(
            &format!("proxy.backend[{index}].weight"),
            u64::from(backend.weight),
            1,
            1000,
        )?;
    }
    if let Some(process) = &config.process {
        count(
            "process.healthy_after",
            u64::from(process.healthy_after),
            1,
            100,
        )?;
    }
    if let Some(database) = &config.database {
        count(
            "database.keep_backups",
            database.keep_backups as u64,
            1,
            1000,
        )?;
        count(
            "database.ddl_retries",
            u64::from(database.ddl_retries),
            0,
            1000,
        )?;
        count(
            "database.backfill_batch",
            u64::from(database.backfill_batch),
            1,
            1_000_000,
        )?;
    }
    check_paths(config).map_err(|(key, problem)| invalid(key, problem))
}

/// Paths resolved under the site root or the release must stay there:
/// plain relative names only. A few keys may also be absolute, because
/// their usual home is outside any site (certificates in `/etc/ssl`).
fn check_paths(config: &Config) -> Result<(), (&'static str, String)> {
    let inside = |key: &'static str, path: &Path| {
        if is_plain_relative(path) {
            Ok(())
        } else {
            Err((
                key,
                format!(
                    "`{}` must be a relative path inside the site (no leading `/`, no `..`)",
                    path.display()
                ),
            ))
        }
    };
    let inside_or_absolute = |key: &'static str, path: &Path| {
        if path.is_absolute() && !path.components().any(|c| c == Component::ParentDir) {
            Ok(())
        } else {
            inside(key, path)
        }
    };
    if let Some(process) = &config.process {
        if let Some(file) = &process.env_file {
            inside("process.env_file", Path::new(file))?;
        }
    }
    if let Some(flag) = &config.maintenance.flag_file {
        inside("maintenance.flag_file", flag)?;
    }
    for page in config.proxy.error_pages.values() {
        inside("proxy.error_pages", page)?;
    }
    for (key, path) in [
        ("proxy.tls_cert", &config.proxy.tls_cert),
        ("proxy.tls_key", &config.proxy.tls_key),
        ("proxy.admin_token_file", &config.proxy.admin_token_file),
    ] {
        if let Some(path) = path {
            inside_or_absolute(key, path)?;
        }
    }
    if let Some(database) = &config.database {
        inside("database.migrations", Path::new(&database.migrations))?;
        if let Some(file) = database.url.strip_prefix("sqlite://") {
            inside_or_absolute("database.url", Path::new(file))?;
        }
    }
    Ok(())
}

/// A non-empty path of plain names: no root, no `.` or `..`.
fn is_plain_relative(path: &Path) -> bool {
    !path.as_os_str().is_empty()
        && path
            .components()
            .all(|component| matches!(component, Component::Normal(_)))
}

#[cfg(test)]
mod tests {
    use crate::Config;
    use std::path::Path;

    fn problem(extra: &str) -> String {
        Config::parse(
            &format!("[app]\nname = \"x\"\n{extra}"),
            Path::new("hoist.toml"),
        )
        .unwrap_err()
        .to_string()
    }

    #[test]
    fn sizes_and_counts_name_their_key_and_limit() {
        let message = problem("[deploy]\nmax_release_size = \"2 PiB\"\n");
        assert!(
            message.contains("`deploy.max_release_size`") && message.contains("at most"),
            "{message}"
        );
        let message =
            problem("[[proxy.backend]]\nurl = \"http://127.0.0.1:1\"\nweight = 4000000000\n");
        assert!(
            message.contains("`proxy.backend[0].weight`") && message.contains("between 1 and 1000"),
            "{message}"
        );
        let message = problem("[process]\ncommand = \"a\"\nhealthy_after = 0\n");
        assert!(message.contains("`process.healthy_after`"), "{message}");
    }

    #[test]
    fn paths_stay_inside_unless_the_key_allows_absolute() {
        let message = problem("[maintenance]\nflag_file = \"/etc/passwd\"\n");
        assert!(message.contains("`maintenance.flag_file`"), "{message}");
        let message = problem("[process]\ncommand = \"a\"\nenv_file = \"../other/.env\"\n");
        assert!(message.contains("`process.env_file`"), "{message}");
        let message = problem("[proxy.error_pages]\n502 = \"/etc/shadow\"\n");
        assert!(message.contains("`proxy.error_pages`"), "{message}");
        let message = problem("[database]\nurl = \"sqlite://../other/app.db\"\n");
        assert!(message.contains("`database.url`"), "{message}");
        let fine = "[proxy]\ntls_cert = \"/etc/ssl/shop.pem\"\ntls_key = \"/etc/ssl/shop.key\"\n";
        Config::parse(
            &format!("[app]\nname = \"x\"\n{fine}"),
            Path::new("hoist.toml"),
        )
        .unwrap();
    }

    #[test]
    fn durations_over_a_year_are_refused_with_the_limit() {
        let message = problem("[process]\ncommand = \"a\"\nrollback_window = \"1000000000h\"\n");
        assert!(
            message
                .contains("`process.rollback_window`: `1000000000h` is over the limit of 365 days")
                && message.contains("line 5"),
            "{message}"
        );
    }
}
