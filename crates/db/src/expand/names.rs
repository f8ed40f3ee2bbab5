//! The names hoist gives what it creates: a release's view schema and the
//! hidden columns that hold the new shape until contract.

/// The prefix of a column that holds a new value until contract:
/// `_hoist_new_<column>`. The old release never sees it by name.
pub const HIDDEN_PREFIX: &str = "_hoist_new_";

/// The schema of views `release` reads and writes through:
/// `hoist_<release>`, lower-cased with anything but `[a-z0-9_]` as `_`.
/// When that changed the id or would pass 63 bytes (PostgreSQL's limit), a
/// short hash of the id keeps two releases apart.
pub fn view_schema(release: &str) -> String {
    let plain: String = release
        .chars()
        .map(|c| match c {
            'a'..='z' | '0'..='9' | '_' => c,
            'A'..='Z' => c.to_ascii_lowercase(),
            _ => '_',
        })
        .collect();
    let name = format!("hoist_{plain}");
    if plain == release && name.len() <= 63 {
        return name;
    }
    let hash = &blake3::hash(release.as_bytes()).to_hex()[..8];
    let keep = name.len().min(63 - 1 - hash.len());
    format!("{}_{hash}", &name[..keep])
}

/// `_hoist_new_<column>`, shortened with a hash past 63 bytes.
pub fn hidden_column(column: &str) -> String {
    let name = format!("{HIDDEN_PREFIX}{column}");
    if name.len() <= 63 {
        return name;
    }
    let hash = &blake3::hash(column.as_bytes()).to_hex()[..8];
    format!("{}_{hash}", &name[..63 - 1 - hash.len()])
}

/// The new release's name for a hidden column (`_hoist_new_score` →
/// `score`); `None` for any other column.
pub(crate) fn shown(column: &str) -> Option<&str> {
    column.strip_prefix(HIDDEN_PREFIX)
}

/// `<prefix><name>` for what hoist adds to a table (a trigger function,
/// a NOT NULL check), shortened with a hash past 63 bytes.
pub(crate) fn internal_name(prefix: &str, name: &str) -> String {
    let full = format!("{prefix}{name}");
    if full.len() <= 63 {
        return full;
    }
    let hash = &blake3::hash(name.as_bytes()).to_hex()[..8];
    format!("{}_{hash}", &full[..63 - 1 - hash.len()])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_ids_read_as_they_are() {
        assert_eq!(view_schema("v2"), "hoist_v2");
        assert_eq!(hidden_column("full_name"), "_hoist_new_full_name");
    }

    #[test]
    fn other_ids_stay_apart_and_short() {
        let (a, b) = (view_schema("1.0-rc1"), view_schema("1.0_rc1"));
        assert_ne!(a, b);
        assert!(a.starts_with("hoist_1_0_rc1_"), "{a}");
        assert!(view_schema(&"x".repeat(200)).len() <= 63);
        assert_ne!(view_schema("V2"), view_schema("v2"));
    }
}
