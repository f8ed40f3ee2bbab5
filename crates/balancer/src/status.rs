//! A server's state as the balancer reports it, reduced to what a fleet
//! deploy needs to tell apart.

use serde::Serialize;

/// Whether a server takes traffic, as the balancer says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum ServerStatus {
    /// In rotation (`UP`, `UP 1/3` while checks decide, or `no check`).
    Up,
    /// Out by its health checks (`DOWN`, `DOWN 1/2`).
    Down,
    /// Drained by an admin: no new requests (`DRAIN`).
    Drain,
    /// In maintenance: no traffic at all (`MAINT`, `MAINT (via b/s)`).
    Maint,
    /// Anything else (`NOLB`, a future state), as the balancer wrote it.
    Other(String),
}

impl ServerStatus {
    /// Reads HAProxy's `status` column of a server row.
    pub fn from_haproxy(status: &str) -> ServerStatus {
        let word = status.split_whitespace().next().unwrap_or("");
        match word {
            "UP" => ServerStatus::Up,
            "no" if status == "no check" => ServerStatus::Up,
            "DOWN" => ServerStatus::Down,
            "DRAIN" => ServerStatus::Drain,
            "MAINT" => ServerStatus::Maint,
            _ => ServerStatus::Other(status.to_owned()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ServerStatus;

    #[test]
    fn haproxy_status_texts_are_read_by_their_first_word() {
        for (text, status) in [
            ("UP", ServerStatus::Up),
            ("UP 1/3", ServerStatus::Up),
            ("no check", ServerStatus::Up),
            ("DOWN 1/2", ServerStatus::Down),
            ("DRAIN", ServerStatus::Drain),
            ("MAINT (via shop/web1)", ServerStatus::Maint),
            ("NOLB", ServerStatus::Other("NOLB".into())),
        ] {
            assert_eq!(ServerStatus::from_haproxy(text), status, "{text}");
        }
    }
}
