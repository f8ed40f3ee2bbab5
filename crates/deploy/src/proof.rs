//! Restarts that prove themselves: in external mode a 2xx from `health`
//! counts only once the new release is what answers it, not merely
//! something. A hot-deploying server (hypnotoad on `USR2`) whose new code
//! dies at start keeps its old workers, and they answer 2xx.
//!
//! Two proofs, each checked on every 2xx until `health_timeout`:
//!
//! - **`/proc`** (after a restart command ran): the processes holding the
//!   socket that listens on the health URL's port ([`crate::listeners`])
//!   are placed in a release ([`crate::place`]). Only the serving ones
//!   count: a prefork manager whose children hold the socket too accepts
//!   nothing (and one that replaced its workers on a signal may be older
//!   than the restart). A serving holder in the site that is not the
//!   target, or started before the restart began, is old code: not yet,
//!   and at the deadline "the restart did not replace the running code"
//!   with what still runs. One in the target that started after it is the
//!   proof. A holder that lies in another hoist site answers for that
//!   site, never this one: a failure. Holders all outside any site (a proxy in front) or out of
//!   sight (another host, no `/proc`) prove nothing either way: a warning,
//!   and the deploy goes on as before.
//! - **`health_release = true`**: the answer must carry the release header
//!   (`[proxy] release_header`, default `X-Hoist-Release`) naming the target.
//!
//! Old and new side by side (a hot deploy taking over) is "not yet": the
//! old ones must be gone, since while they hold the socket they answer too.

use crate::health::Judged;
use crate::listeners::{self, Holder};
use crate::place::{other_site, place, Place};
use hyper::header::{HeaderMap, HeaderName};
use std::path::Path;

/// What every failed proof begins with.
pub(crate) const NOT_REPLACED: &str = "the restart did not replace the running code";

/// What the answer to a health check must show.
pub(crate) struct Proof<'a> {
    pub(crate) root: &'a Path,
    pub(crate) url: &'a str,
    /// The release that should answer.
    pub(crate) target: &'a str,
    /// The release live before the switch (what `current` named then).
    pub(crate) before: Option<&'a str>,
    /// When the restart command began, in ticks since boot; `None` when no
    /// restart ran here (nothing to place processes against).
    pub(crate) began: Option<u64>,
    /// `health_release`: the header that must name `target`.
    pub(crate) header: Option<HeaderName>,
}

impl Proof<'_> {
    /// Judges one 2xx answer.
    pub(crate) fn judge(&self, headers: &HeaderMap) -> Judged {
        if let Some(name) = &self.header {
            let value = headers.get(name).map(|value| value.to_str().unwrap_or("?"));
            if value != Some(self.target) {
                let seen = value.map_or_else(|| "no".to_owned(), |value| format!("`{value}` in"));
                return Judged::NotYet(format!(
                    "{NOT_REPLACED}: `{}` answered with {seen} `{name}`, not `{}`",
                    self.url, self.target
                ));
            }
        }
        let Some(began) = self.began else {
            return Judged::Accept(None);
        };
        let uri = self.url.parse().map_err(|_| listeners::Unseen::NoHost);
        match uri.and_then(|uri| listeners::holders(&uri)) {
            Ok(holders) => self.verdict(&holders, began),
            Err(unseen) => self.unproven(&unseen.to_string()),
        }
    }

    /// Judges the holders of the socket. Only those that serve count: a
    /// prefork manager (a holder whose children hold it too) accepts no
    /// connection, and a server that replaces its workers keeps it.
    fn verdict(&self, holders: &[Holder], began: u64) -> Judged {
        let serving = holders
            .iter()
            .filter(|holder| !holders.iter().any(|child| child.parent == holder.pid));
        let placed: Vec<(&Holder, Option<String>)> = serving
            .filter_map(|holder| {
                self.release_of(holder, began)
                    .map(|release| (holder, release))
            })
            .collect();
        let old: Vec<&Holder> = placed
            .iter()
            .filter(|(holder, release)| {
                release.as_deref() != Some(self.target) || holder.started < began
            })
            .map(|(holder, _)| *holder)
            .collect();
        if !old.is_empty() {
            return Judged::NotYet(self.still_running(holders, &old, began));
        }
        if placed.is_empty() {
            let foreign = holders
                .iter()
                .find_map(|holder| Some((holder, other_site(holder, self.root)?)));
            if let Some((holder, site)) = foreign {
                return Judged::NotYet(format!(
                    "{NOT_REPLACED}: `{}` is answered by pid {} of another site, `{}`; `deploy.health` in `{}` names a port that is not this site's",
                    self.url,
                    holder.pid,
                    site.display(),
                    self.root.join(hoist_config::SITE_FILE).display()
                ));
            }
            let pids: Vec<String> = holders.iter().map(|h| h.pid.to_string()).collect();
            let reason = format!(
                "the process answering it (pid {}) lies outside `{}`",
                pids.join(", "),
                self.root.display()
            );
            return self.unproven(&reason);
        }
        Judged::Accept(None)
    }

    /// The release `holder` runs (`Some(None)`: in the site, release
    /// unknown), or `None` when it lies outside the site.
    fn release_of(&self, holder: &Holder, began: u64) -> Option<Option<String>> {
        match place(holder, self.root) {
            Place::Release(id) => Some(Some(id)),
            Place::Current if holder.started >= began => Some(Some(self.target.to_owned())),
            Place::Current => Some(self.before.map(str::to_owned)),
            Place::Outside => None,
        }
    }

    /// No proof either way: accepted, with a warning unless the header proved it.
    fn unproven(&self, reason: &str) -> Judged {
        if self.header.is_some() {
            return Judged::Accept(None);
        }
        Judged::Accept(Some(format!(
            "could not prove that `{}` is what answers `{}`: {reason}; set `health_release = true` in `[deploy]` of `{}` and have the app send its release id (`HOIST_RELEASE`, or the name of its release directory) in `X-Hoist-Release`",
            self.target,
            self.url,
            self.root.join(hoist_config::SITE_FILE).display()
        )))
    }

    /// "the restart did not replace ...": the old serving processes,
    /// counted as workers under the holder they were forked from.
    fn still_running(&self, holders: &[Holder], old: &[&Holder], began: u64) -> String {
        let owner_of = |worker: &Holder| {
            holders
                .iter()
                .find(|holder| holder.pid == worker.parent)
                .unwrap_or(worker)
                .pid
        };
        let mut owners: Vec<i32> = old.iter().map(|worker| owner_of(worker)).collect();
        owners.sort_unstable();
        owners.dedup();
        let described: Vec<String> = owners
            .iter()
            .filter_map(|pid| holders.iter().find(|holder| holder.pid == *pid))
            .map(|owner| {
                let workers = old
                    .iter()
                    .filter(|w| w.pid != owner.pid && owner_of(w) == owner.pid);
                let place = match self.release_of(owner, began) {
                    Some(Some(id)) => format!("`releases/{id}`"),
                    _ => "the release `current` named before".to_owned(),
                };
                let since = listeners::wall_time(owner.started)
                    .map_or_else(|| "before the restart".to_owned(), |at| at.to_string());
                let workers = match workers.count() {
                    0 => String::new(),
                    1 => " with 1 worker".to_owned(),
                    n => format!(" with {n} workers"),
                };
                format!(
                    "pid {} from {place}, running since {since}{workers}",
                    owner.pid
                )
            })
            .collect();
        format!(
            "{NOT_REPLACED}: `{}` is still answered by {}",
            self.url,
            described.join("; ")
        )
    }
}

#[cfg(test)]
mod tests;
