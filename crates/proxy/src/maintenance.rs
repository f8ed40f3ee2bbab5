//! Maintenance mode: a 503 page instead of the app, for some paths and
//! some clients, with an honest resume time.

use crate::body::ProxyBody;
use bytes::Bytes;
use http::{header, HeaderValue, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// What clients get told while the site is under maintenance.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Maintenance {
    /// Shown on the page.
    pub message: String,
    /// When the site should be back; `None` means "shortly".
    pub until: Option<jiff::Timestamp>,
    /// Path prefixes affected; empty means every path.
    #[serde(default)]
    pub paths: Vec<String>,
    /// Client networks (CIDR) that still reach the app, so the team can test.
    #[serde(default)]
    pub allow: Vec<String>,
    /// The app's own page, with `{{message}}`, `{{until}}` (the time,
    /// `Tue, 01 Dec 2026 10:00 GMT`, or empty) and `{{until_text}}` (a sentence).
    pub page: Option<String>,
}

impl Maintenance {
    /// Whether a request for `path` from `client` gets the maintenance answer.
    /// The health path never does, so a balancer in front does not pull the host.
    pub fn applies(&self, path: &str, client: IpAddr, health_path: &str) -> bool {
        if path == health_path || self.allow.iter().any(|cidr| contains(cidr, client)) {
            return false;
        }
        self.paths.is_empty()
            || self
                .paths
                .iter()
                .any(|prefix| path.starts_with(prefix.as_str()))
    }

    /// This maintenance with its rules in the form requests are matched in,
    /// or which rule is wrong: every path must start with `/` and is
    /// normalised as request paths are (`//perl/`, `/%70erl/` and
    /// `/x/../perl/` all become `/perl/`), every `allow` entry must be a
    /// network. The CLI and the admin API both check through here, and each
    /// names the rule in its own terms (a flag, a JSON field).
    pub fn checked(mut self) -> Result<Maintenance, BadRule> {
        for path in &mut self.paths {
            let bad = |problem: &str| BadRule::Path {
                path: path.clone(),
                problem: problem.to_owned(),
            };
            if !path.starts_with('/') {
                return Err(bad("must start with `/`"));
            }
            let normal = crate::path::normalise(path).map_err(|error| bad(error.why()))?;
            let normal = normal.path.unwrap_or_else(|| path.clone());
            let matched = crate::path::match_form(&normal)
                .map_err(|error| bad(error.why()))?
                .into_owned();
            *path = matched;
        }
        if let Some(cidr) = self.allow.iter().find(|cidr| !is_valid_cidr(cidr)) {
            return Err(BadRule::Allow(cidr.clone()));
        }
        Ok(self)
    }

    /// The 503 answer at `now`: HTML, or JSON for `Accept: application/json`.
    pub fn response(&self, wants_json: bool, now: jiff::Timestamp) -> Response<ProxyBody> {
        let ahead = self.until.filter(|until| *until > now);
        // Retry when we expect to be back; once that time has passed, in two minutes.
        let retry_after = ahead.map_or(120, |until| until.duration_since(now).as_secs().max(1));
        let (content_type, body) = if wants_json {
            let json = serde_json::json!({
                "status": 503,
                "maintenance": true,
                "message": self.message,
                "until": ahead.map(|until| until.to_string()),
                "late": self.until.is_some() && ahead.is_none(),
            });
            ("application/json", json.to_string())
        } else {
            ("text/html; charset=utf-8", self.html(ahead, now))
        };
        let mut response = Response::new(
            Full::new(Bytes::from(body))
                .map_err(|never| match never {})
                .boxed(),
        );
        *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        headers.insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }

    /// The resume time in words; never a time in the past.
    fn until_text(&self, ahead: Option<jiff::Timestamp>, now: jiff::Timestamp) -> String {
        match (self.until, ahead) {
            (_, Some(until)) => {
                let minutes = (until.duration_since(now).as_secs() + 59) / 60;
                let day = if until.strftime("%Y-%m-%d").to_string() == now.strftime("%Y-%m-%d").to_string() {
                    String::new()
                } else {
                    until.strftime(" on %a %d %b").to_string()
                };
                format!("We expect to be back by {} GMT{day} (in about {minutes} min).", until.strftime("%H:%M"))
            }
            (Some(_), None) => "This is taking longer than we expected. We are on it and will be back as soon as we can.".to_owned(),
            (None, None) => "We will be back shortly.".to_owned(),
        }
    }

    fn html(&self, ahead: Option<jiff::Timestamp>, now: jiff::Timestamp) -> String {
        let message = escape(&self.message);
        let until = escape(&self.until_text(ahead, now));
        if let Some(page) = &self.page {
            // `{{until}}` is the time itself, for a page that words it its
            // own way; `{{until_text}}` is the sentence the default page shows.
            let time = self
                .until
                .map(|until| until.strftime("%a, %d %b %Y %H:%M GMT").to_string())
                .unwrap_or_default();
            return page
                .replace("{{message}}", &message)
                .replace("{{until_text}}", &until)
                .replace("{{until}}", &time);
        }
        format!(
            "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>Down for maintenance</title><style>\
             body{{font-family:system-ui,-apple-system,sans-serif;background:#f6f7f9;color:#1d2330;margin:0}}\
             main{{max-width:34em;margin:12vh auto;padding:2.5em;background:#fff;border-radius:12px;box-shadow:0 2px 12px #0001}}\
             h1{{font-size:1.6em;margin:0 0 .6em}}p{{line-height:1.55;font-size:1.08em}}.until{{font-weight:600}}\
             </style></head><body><main><h1>Down for maintenance</h1><p>{message}</p>\
             <p class=\"until\">{until}</p></main></body></html>\n"
        )
    }
}

/// A maintenance rule that cannot be used, and which one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadRule {
    /// A path prefix that is not a normal absolute path.
    #[error("path `{path}`: {problem}")]
    Path {
        /// The path as given.
        path: String,
        /// What is wrong with it.
        problem: String,
    },
    /// An `allow` entry that is not a network.
    #[error("`{0}` is not a network like 10.1.0.0/16 or an address")]
    Allow(String),
}

/// Whether `cidr` (`10.0.0.0/8`, `::1/128`, or a bare address) contains `ip`.
pub fn contains(cidr: &str, ip: IpAddr) -> bool {
    let (base, bits) = match cidr.split_once('/') {
        Some((base, bits)) => (base, bits.parse::<u32>().ok()),
        None => (cidr, None),
    };
    let Ok(base) = base.parse::<IpAddr>() else {
        return false;
    };
    match (base, ip) {
        (IpAddr::V4(base), IpAddr::V4(ip)) => {
            let bits = bits.unwrap_or(32).min(32);
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - bits)
            };
            u32::from(base) & mask == u32::from(ip) & mask
        }
        (IpAddr::V6(base), IpAddr::V6(ip)) => {
            let bits = bits.unwrap_or(128).min(128);
            let mask = if bits == 0 {
                0
            } else {
                u128::MAX << (128 - bits)
            };
            u128::from(base) & mask == u128::from(ip) & mask
        }
        _ => false,
    }
}

/// Whether `cidr` is something [`contains`] understands.
pub fn is_valid_cidr(cidr: &str) -> bool {
    let (base, bits) = cidr.split_once('/').unwrap_or((cidr, "0"));
    match base.parse::<IpAddr>() {
        Ok(IpAddr::V4(_)) => bits.parse::<u32>().is_ok_and(|bits| bits <= 32),
        Ok(IpAddr::V6(_)) => bits.parse::<u32>().is_ok_and(|bits| bits <= 128),
        Err(_) => false,
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> jiff::Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn cidrs() {
        let local: IpAddr = "127.0.0.1".parse().unwrap();
        assert!(contains("127.0.0.0/8", local));
        assert!(contains("127.0.0.1", local));
        assert!(!contains("10.0.0.0/8", local));
        assert!(contains("::1/128", "::1".parse().unwrap()));
        assert!(
            is_valid_cidr("10.1.0.0/16") && !is_valid_cidr("10.1.0.0/33") && !is_valid_cidr("nope")
        );
    }

    #[test]
    fn rules_are_normalised_like_requests_and_bad_ones_refused() {
        let rule = |path: &str| {
            Maintenance {
                paths: vec![path.into()],
                ..Maintenance::default()
            }
            .checked()
            .map(|checked| checked.paths[0].clone())
        };
        for spelling in ["//perl/", "/%70erl/", "/x/../perl/", "/perl/./"] {
            assert_eq!(rule(spelling).unwrap(), "/perl/", "{spelling}");
        }
        assert_eq!(rule("/a%2fb").unwrap(), "/a/b");
        assert!(rule("perl")
            .unwrap_err()
            .to_string()
            .contains("must start with"));
        assert!(rule("/../etc").is_err());
        let bad_network = Maintenance {
            allow: vec!["10.0.0.0/99".into()],
            ..Maintenance::default()
        };
        assert!(bad_network.checked().is_err());
    }

    #[test]
    fn only_listed_paths_and_never_the_health_check() {
        let maintenance = Maintenance {
            paths: vec!["/perl/".into()],
            ..Maintenance::default()
        };
        let client = "192.0.2.1".parse().unwrap();
        assert!(maintenance.applies("/perl/cart", client, "/healthz"));
        assert!(!maintenance.applies("/static/a.css", client, "/healthz"));
        let everything = Maintenance::default();
        assert!(!everything.applies("/healthz", client, "/healthz"));
    }

    #[test]
    fn resume_time_is_in_gmt_and_never_in_the_past() {
        let maintenance = Maintenance {
            message: "Upgrading <db>".into(),
            until: Some(at("2026-11-22T12:20:00Z")),
            ..Maintenance::default()
        };
        let before = maintenance.html(Some(at("2026-11-22T12:20:00Z")), at("2026-11-22T12:00:00Z"));
        assert!(
            before.contains("back by 12:20 GMT (in about 20 min)"),
            "{before}"
        );
        assert!(before.contains("Upgrading &lt;db&gt;"));
        let response = maintenance.response(false, at("2026-11-22T12:30:00Z"));
        assert_eq!(response.headers()["retry-after"], "120");
        let after = maintenance.html(None, at("2026-11-22T12:30:00Z"));
        assert!(
            after.contains("taking longer than we expected") && !after.contains("12:20"),
            "{after}"
        );
    }

    #[test]
    fn templates_get_message_and_until() {
        let maintenance = Maintenance {
            message: "Back soon".into(),
            page: Some("<p>{{message}} / {{until_text}}</p>".into()),
            ..Maintenance::default()
        };
        assert_eq!(
            maintenance.html(None, at("2026-11-22T12:00:00Z")),
            "<p>Back soon / We will be back shortly.</p>"
        );
        // `{{until}}` is the time, not a sentence.
        let timed = Maintenance {
            until: Some(at("2026-12-01T10:00:00Z")),
            page: Some("<p>back {{until}}</p>".into()),
            ..maintenance
        };
        assert_eq!(
            timed.html(Some(at("2026-12-01T10:00:00Z")), at("2026-12-01T09:00:00Z")),
            "<p>back Tue, 01 Dec 2026 10:00 GMT</p>"
        );
    }
}
