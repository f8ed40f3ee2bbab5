//! What a switch's expand and contract did, for the deploy report and
//! the ledger's detail.

use crate::schema::Schema;
use hoist_db::expand::{Backfill, Expanded};
use serde::Serialize;

/// Which part the target took in expand and contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ExpandAction {
    /// It expanded its declarative migration (a migration run).
    Expanded,
    /// It joined the open expansion's new side (nothing applied).
    Joined,
    /// It runs on the base schema.
    Base,
    /// `hoist recover` removed the expansion a deploy whose expand failed
    /// was removing.
    Removed,
}

/// What a switch did about expand and contract, for the report and the ledger.
#[derive(Debug, Clone, Serialize)]
pub struct ExpandReport {
    /// `expanded`, `joined`, `base`, or `removed`.
    pub action: ExpandAction,
    /// The declarative migration expanded or joined (`0005_rename_name`).
    pub migration: Option<String>,
    /// The schema the release's processes use first (`hoist_<release>`, or `public`).
    pub schema: String,
    /// The expansion contracted first, to make room for this one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completed: Option<String>,
    /// It picked up an expansion a crash (or another host) left.
    pub resumed: bool,
    /// Each table's backfill.
    pub backfill: Vec<Backfill>,
    /// The longest backfill batch transaction, in milliseconds.
    pub longest_batch_ms: u64,
    /// DDL retries after a lock timeout (contract and expand).
    pub retries: u32,
}

impl ExpandReport {
    pub(super) fn base(schema: &Schema) -> ExpandReport {
        ExpandReport {
            action: ExpandAction::Base,
            migration: None,
            schema: schema.expand.base_schema.clone(),
            completed: None,
            resumed: false,
            backfill: Vec::new(),
            longest_batch_ms: 0,
            retries: 0,
        }
    }

    /// What `hoist recover` did with the expansion of an interrupted
    /// deploy of `release`, for its report and the ledger.
    pub fn recovered(&self, release: &str) -> String {
        match self.action {
            ExpandAction::Removed => self.summary(),
            _ => format!(
                "finished what the deploy began: {}; both shapes serve, and deploying `{release}` again switches to it",
                self.summary()
            ),
        }
    }

    /// The target joined `open`'s new side, with view schema `view` (none
    /// when the expansion needs no view for it).
    pub(super) fn joined(&mut self, open: &str, view: Option<String>) {
        self.action = ExpandAction::Joined;
        self.migration = Some(open.to_owned());
        if let Some(view) = view {
            self.schema = view;
        }
    }

    /// The target expanded its declarative migration (its retries add to
    /// those of a contract before it).
    pub(super) fn expanded(&mut self, expanded: Expanded) {
        self.action = ExpandAction::Expanded;
        self.migration = Some(expanded.name);
        self.schema = expanded.schema;
        self.resumed = expanded.resumed;
        self.backfill = expanded.backfill;
        self.longest_batch_ms = expanded.longest_batch_ms;
        self.retries += expanded.retries;
    }

    /// One line for the ledger's detail and the human report.
    pub fn summary(&self) -> String {
        let completed = self
            .completed
            .as_ref()
            .map(|name| format!("contracted `{name}`, then "))
            .unwrap_or_default();
        let Some(migration) = &self.migration else {
            return format!("{completed}runs on the base schema `{}`", self.schema);
        };
        if self.action == ExpandAction::Removed {
            return format!("{completed}removed the failed expansion `{migration}`");
        }
        let verb = match self.action {
            ExpandAction::Joined => "joined the expansion",
            _ if self.resumed => "expanded (resumed)",
            _ => "expanded",
        };
        let backfill: Vec<String> = self
            .backfill
            .iter()
            .map(|table| format!("{} {}/{}", table.table, table.done, table.total))
            .collect();
        let backfill = if backfill.is_empty() {
            String::new()
        } else {
            format!(", backfilled {}", backfill.join(", "))
        };
        format!(
            "{completed}{verb} `{migration}` (view schema `{}`{backfill}, {} DDL retries)",
            self.schema, self.retries
        )
    }
}
