//! Two fingerprints compared: per probe (matched by command) and for the
//! database server, a unified diff of the outputs, `-` the reference's
//! lines and `+` this host's.

use crate::Fingerprint;
use serde::Serialize;
use similar::TextDiff;

/// The name the database server's version goes by in a comparison.
pub const DATABASE: &str = "database server";

/// What differs between two fingerprints.
#[derive(Debug, Clone, Serialize)]
pub struct Compared {
    /// Where the reference was taken (`host`, release).
    pub reference: String,
    /// Where the other was taken.
    pub here: String,
    /// One entry per probe (or the database server) whose output differs.
    pub differences: Vec<Difference>,
}

/// One probe whose output differs.
#[derive(Debug, Clone, Serialize)]
pub struct Difference {
    /// The probe's command, or [`DATABASE`].
    pub probe: String,
    /// Unified diff, `-` the reference, `+` here.
    pub diff: String,
}

impl Compared {
    /// Nothing differs.
    pub fn is_same(&self) -> bool {
        self.differences.is_empty()
    }

    /// The differing probes, for a one-line message.
    pub fn probes(&self) -> Vec<String> {
        self.differences
            .iter()
            .map(|difference| difference.probe.clone())
            .collect()
    }
}

/// Compares `here` with `reference`, each named by its host and release.
pub fn compare(reference: &Fingerprint, here: &Fingerprint) -> Compared {
    compare_as((reference, &describe(reference)), (here, &describe(here)))
}

/// [`compare`], each side named by the caller: two sites on one host, or
/// two hosts of one name, are told apart only by what the caller knows
/// (the site's root, the stage's host name).
pub fn compare_as(
    (reference, reference_name): (&Fingerprint, &str),
    (here, here_name): (&Fingerprint, &str),
) -> Compared {
    let left = entries(reference);
    let right = entries(here);
    let mut names: Vec<&str> = left.iter().map(|(name, _)| name.as_str()).collect();
    for (name, _) in &right {
        if !names.contains(&name.as_str()) {
            names.push(name);
        }
    }
    let missing = "(not probed)".to_owned();
    let differences = names
        .into_iter()
        .filter_map(|name| {
            let find = |side: &[(String, String)]| {
                side.iter()
                    .find(|(known, _)| known == name)
                    .map_or(missing.clone(), |(_, text)| text.clone())
            };
            let (old, new) = (find(&left), find(&right));
            (old != new).then(|| Difference {
                probe: name.to_owned(),
                diff: unified(name, &old, &new, reference_name, here_name),
            })
        })
        .collect();
    Compared {
        reference: reference_name.to_owned(),
        here: here_name.to_owned(),
        differences,
    }
}

/// Each probe's text (a failed exit says so), then the database server's.
fn entries(fingerprint: &Fingerprint) -> Vec<(String, String)> {
    let mut entries: Vec<(String, String)> = fingerprint
        .probes
        .iter()
        .map(|probe| {
            let text = match probe.exit {
                Some(0) => probe.output.clone(),
                Some(code) => format!("{}\n[exit {code}]", probe.output),
                None => format!("[{}]", probe.output),
            };
            (probe.command.clone(), text)
        })
        .collect();
    if let Some(database) = &fingerprint.database {
        entries.push((DATABASE.to_owned(), database.clone()));
    }
    entries
}

/// `host (release)`.
pub fn describe(fingerprint: &Fingerprint) -> String {
    match &fingerprint.release {
        Some(release) => format!("{} ({release})", fingerprint.host),
        None => fingerprint.host.clone(),
    }
}

fn unified(probe: &str, old: &str, new: &str, reference: &str, here: &str) -> String {
    let (old, new) = (format!("{old}\n"), format!("{new}\n"));
    let diff = TextDiff::from_lines(&old, &new);
    diff.unified_diff()
        .context_radius(2)
        .header(
            &format!("{probe} @ {reference}"),
            &format!("{probe} @ {here}"),
        )
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ProbeOutput;

    fn print(output: &str, database: Option<&str>) -> Fingerprint {
        Fingerprint {
            release: Some("r1".into()),
            host: "web1".into(),
            taken_at: jiff::Timestamp::UNIX_EPOCH,
            probes: vec![
                ProbeOutput {
                    command: "mysql --version".into(),
                    output: output.into(),
                    exit: Some(0),
                },
                ProbeOutput {
                    command: "perl -v".into(),
                    output: "perl 5.36".into(),
                    exit: Some(0),
                },
            ],
            database: database.map(str::to_owned),
        }
    }

    #[test]
    fn only_differing_probes_show_with_their_lines() {
        let compared = compare(
            &print("mysql  Ver 8.0.1 for Linux", Some("PostgreSQL 15.5")),
            &print("mysql  Ver 5.7.2 for Linux", Some("PostgreSQL 15.5")),
        );
        assert_eq!(compared.probes(), ["mysql --version"]);
        let diff = &compared.differences[0].diff;
        assert!(diff.contains("-mysql  Ver 8.0.1 for Linux\n"), "{diff}");
        assert!(diff.contains("+mysql  Ver 5.7.2 for Linux\n"), "{diff}");
        assert!(
            diff.starts_with("--- mysql --version @ web1 (r1)"),
            "{diff}"
        );
        let same = compare(&print("a", None), &print("a", None));
        assert!(same.is_same());
        let database = compare(
            &print("a", Some("PostgreSQL 15.5")),
            &print("a", Some("PostgreSQL 13.1")),
        );
        assert_eq!(database.probes(), [DATABASE]);
    }
}
