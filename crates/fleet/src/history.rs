//! `hoist history --stage NAME`: the hosts' ledgers merged by fleet
//! operation.
//!
//! Every row a host wrote as part of a fleet operation carries its id
//! (`fleet_op`). Rows sharing an id become one [`FleetEntry`], with each
//! host's rows under it; rows that are no part of a fleet operation (a
//! `hoist rollback` run on one host by hand) stay single [`HostEntry`]s,
//! named by host. Entries are newest first, by when they started.
//!
//! A fleet operation whose deploying hoist died (`kill -9`, a lost
//! machine) leaves no row at all on the hosts it never reached, so the
//! rows alone would read as a clean run on fewer hosts. For the operations
//! that take every host of the stage through waves (`deploy`, `rollback`,
//! `restart`), a stage host with no switch row of it is named in
//! [`FleetEntry::not_reached`], unless it already ran the release (a deploy
//! or rollback leaves such a host alone) or its ledger, as read, does not
//! reach back to the operation (then nothing is claimed about it).

use crate::{FleetError, Host, Reach, RemoteError};
use hoist_error::Described;
use hoist_ledger::{Event, Outcome};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use tokio::sync::Semaphore;

/// Rows asked of each host per entry shown: a fleet deploy leaves two or
/// three rows on a host (`stage`, `deploy`, maybe `rollback`).
const ROWS_PER_ENTRY: usize = 4;

/// A `hoist history --json` row: an [`Event`] plus its `failure`.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// The ledger row.
    #[serde(flatten)]
    pub event: Event,
    /// Why it did not do what was asked.
    pub failure: Option<String>,
}

impl Row {
    fn of(event: Event) -> Row {
        Row {
            failure: event.failure().map(str::to_owned),
            event,
        }
    }
}

/// One host's part in a fleet operation.
#[derive(Debug, Clone, Serialize)]
pub struct FleetHost {
    /// The host as the stage names it.
    pub host: String,
    /// Its last row's operation (`deploy`, or `rollback` when the fleet
    /// operation rolled it back).
    pub op: String,
    /// Its last row's outcome.
    pub outcome: Outcome,
    /// Live on it afterwards, by its last row (`to` when a switch was `ok`,
    /// else `from`: staging changes nothing live).
    pub live: Option<String>,
    /// Its rows of this operation, oldest first.
    pub rows: Vec<Row>,
}

/// One fleet operation, every host's rows together.
#[derive(Debug, Clone, Serialize)]
pub struct FleetEntry {
    /// The fleet operation id.
    pub fleet_op: String,
    /// What it was: its first operation past staging (`deploy`,
    /// `rollback`, ...), or `stage` when it never got further.
    pub op: String,
    /// The release that operation was about.
    pub release: Option<String>,
    /// `ok`: every host did it (or had nothing to do); `rolled-back`: a
    /// host went back to its release before; `failed`: a host failed
    /// otherwise; `incomplete`: it stopped part-way, some hosts switched
    /// and some never switched (see `not_reached`); `noop`: nothing needed
    /// doing.
    pub outcome: &'static str,
    /// Its first row's start.
    pub started_at: jiff::Timestamp,
    /// Its last row's end.
    pub finished_at: jiff::Timestamp,
    /// Who ran it, as the hosts recorded (distinct users, joined).
    pub user: String,
    /// `--reason`.
    pub reason: Option<String>,
    /// Each host with a row of it, in the stage's order.
    pub hosts: Vec<FleetHost>,
    /// Hosts of the stage it never switched (or restarted): no row of it,
    /// or only its staging, while they ran another release.
    pub not_reached: Vec<String>,
}

/// A row of one host that is no part of a fleet operation.
#[derive(Debug, Clone, Serialize)]
pub struct HostEntry {
    /// The host as the stage names it.
    pub host: String,
    /// Its row.
    pub row: Row,
}

/// One entry of a stage's history.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Entry {
    /// A fleet operation (boxed: its hosts' rows are large).
    Fleet(Box<FleetEntry>),
    /// One host's own operation (boxed: an event with its notes is large).
    Host(Box<HostEntry>),
}

impl Entry {
    /// When it started.
    pub fn started_at(&self) -> jiff::Timestamp {
        match self {
            Entry::Fleet(fleet) => fleet.started_at,
            Entry::Host(host) => host.row.event.started_at,
        }
    }
}

/// A host whose ledger could not be read.
#[derive(Debug, Clone, Serialize)]
pub struct Unanswered {
    /// The host.
    pub host: String,
    /// Whether ssh reached it.
    pub reachable: bool,
    /// Why.
    pub error: RemoteError,
}

/// `hoist history --stage NAME --json`.
#[derive(Debug, Clone, Serialize)]
pub struct StageHistory {
    /// The stage.
    pub stage: String,
    /// Newest first.
    pub entries: Vec<Entry>,
    /// Hosts whose rows are missing from `entries`, and why.
    pub unanswered: Vec<Unanswered>,
}

/// Reads every host's newest rows and merges them into `limit` entries.
pub async fn history(
    name: &str,
    stage: &hoist_config::Stage,
    reach: Arc<Reach>,
    limit: usize,
) -> StageHistory {
    let rows = (limit * ROWS_PER_ENTRY).max(20).to_string();
    let gate = Arc::new(Semaphore::new(stage.max_connections.max(1)));
    let asks = stage.hosts.iter().map(|host| {
        let (gate, reach, rows) = (gate.clone(), reach.clone(), rows.clone());
        async move {
            let connected = {
                let _permit = gate.acquire().await.expect("the gate is never closed");
                Host::connect(host, reach).await
            };
            let answer = match connected {
                Ok(connected) => connected.run::<Vec<Event>>(&["history", "-n", &rows]).await,
                Err(error) => Err(error),
            };
            (host.clone(), answer)
        }
    });
    let mut answered = Vec::new();
    let mut unanswered = Vec::new();
    for (host, answer) in futures_util::future::join_all(asks).await {
        match answer {
            Ok(rows) => answered.push((host, rows)),
            Err(error) => unanswered.push(Unanswered {
                reachable: !matches!(
                    error,
                    FleetError::Connect { .. } | FleetError::Disconnected { .. }
                ),
                error: RemoteError {
                    kind: error.kind().to_owned(),
                    message: error.to_string(),
                    hint: error.hint(),
                },
                host,
            }),
        }
    }
    StageHistory {
        stage: name.to_owned(),
        entries: merge(answered, limit),
        unanswered,
    }
}

/// Merges each host's rows (in the stage's order) into `limit` entries.
pub fn merge(hosts: Vec<(String, Vec<Event>)>, limit: usize) -> Vec<Entry> {
    let order: Vec<String> = hosts.iter().map(|(host, _)| host.clone()).collect();
    let ledgers = hosts.clone();
    let mut fleet: BTreeMap<String, BTreeMap<String, Vec<Row>>> = BTreeMap::new();
    let mut entries = Vec::new();
    for (host, events) in hosts {
        for event in events {
            match event.fleet_op.clone() {
                Some(op) => fleet
                    .entry(op)
                    .or_default()
                    .entry(host.clone())
                    .or_default()
                    .push(Row::of(event)),
                None => entries.push(Entry::Host(Box::new(HostEntry {
                    host: host.clone(),
                    row: Row::of(event),
                }))),
            }
        }
    }
    for (op, by_host) in fleet {
        entries.push(Entry::Fleet(Box::new(fleet_entry(
            op, by_host, &order, &ledgers,
        ))));
    }
    entries.sort_by_key(|entry| std::cmp::Reverse(entry.started_at()));
    entries.truncate(limit);
    entries
}

fn fleet_entry(
    op: String,
    mut by_host: BTreeMap<String, Vec<Row>>,
    order: &[String],
    ledgers: &[(String, Vec<Event>)],
) -> FleetEntry {
    let mut hosts = Vec::new();
    for name in order {
        let Some(mut rows) = by_host.remove(name) else {
            continue;
        };
        rows.sort_by_key(|row| row.event.started_at);
        let last = &rows.last().expect("a host is listed for its rows").event;
        let live = live_after(last);
        hosts.push(FleetHost {
            host: name.clone(),
            op: last.op.clone(),
            outcome: last.outcome,
            live,
            rows,
        });
    }
    let all = || {
        hosts
            .iter()
            .flat_map(|host| host.rows.iter().map(|row| &row.event))
    };
    let mut chronological: Vec<&Event> = all().collect();
    chronological.sort_by_key(|event| event.started_at);
    let main = chronological
        .iter()
        .find(|event| event.op != "stage")
        .or(chronological.first())
        .expect("a fleet entry has rows");
    let users: BTreeSet<&str> = all().map(|event| event.user.as_str()).collect();
    let release = main.release.clone().or_else(|| main.to.clone());
    let started_at = chronological
        .first()
        .map_or(main.started_at, |e| e.started_at);
    let not_reached: Vec<String> = ledgers
        .iter()
        .filter(|(_, events)| never_reached(&main.op, &op, release.as_deref(), started_at, events))
        .map(|(host, _)| host.clone())
        .collect();
    FleetEntry {
        outcome: outcome(&main.op, &hosts, &not_reached),
        op: main.op.clone(),
        release,
        started_at,
        finished_at: all()
            .map(|event| event.finished_at)
            .max()
            .unwrap_or(main.finished_at),
        user: users.into_iter().collect::<Vec<_>>().join(", "),
        reason: all().find_map(|event| event.reason.clone()),
        fleet_op: op,
        hosts,
        not_reached,
    }
}

/// Whether fleet operation `op` (a `main` that takes every host through
/// waves, about `release`, begun at `started`) never switched the host
/// whose rows, as read, are `events`.
fn never_reached(
    main: &str,
    op: &str,
    release: Option<&str>,
    started: jiff::Timestamp,
    events: &[Event],
) -> bool {
    if !matches!(main, "deploy" | "rollback" | "restart") {
        return false;
    }
    let ours: Vec<&Event> = events
        .iter()
        .filter(|event| event.fleet_op.as_deref() == Some(op))
        .collect();
    if ours.iter().any(|event| event.op != "stage") {
        return false; // it switched, or tried to: its rows say how
    }
    // What ran there when the operation began: its staging row says, else
    // its last row before it; neither (the ledger as read starts later, or
    // the host joined the stage after) claims nothing.
    let live_before = match ours.first() {
        Some(staged) => staged.from.clone(),
        None => match events
            .iter()
            .filter(|event| event.started_at < started)
            .max_by_key(|event| event.started_at)
        {
            Some(last) => live_after(last),
            None => return false,
        },
    };
    // A restart goes through every host; a deploy or rollback leaves a
    // host already on its release alone.
    main == "restart" || live_before.as_deref() != release
}

/// What a row left live: its `to` when it switched and succeeded, else its
/// `from` (staging never changes what is live).
fn live_after(event: &Event) -> Option<String> {
    if event.outcome == Outcome::Ok && event.op != "stage" {
        event.to.clone()
    } else {
        event.from.clone()
    }
}

/// The outcome of a fleet operation whose first real step was `main`.
fn outcome(main: &str, hosts: &[FleetHost], not_reached: &[String]) -> &'static str {
    let back = |host: &FleetHost| {
        host.outcome == Outcome::RolledBack
            || (!main.contains("rollback") && host.op.contains("rollback"))
    };
    if hosts.iter().any(back) {
        "rolled-back"
    } else if hosts
        .iter()
        .any(|host| !matches!(host.outcome, Outcome::Ok | Outcome::Noop))
    {
        "failed"
    } else if !not_reached.is_empty() {
        // Hosts it never got to: the operation stopped part-way (its
        // deploying hoist died) and no host was put back.
        "incomplete"
    } else if hosts
        .iter()
        .flat_map(|host| &host.rows)
        .all(|row| row.event.outcome == Outcome::Noop)
    {
        "noop"
    } else {
        "ok"
    }
}

#[cfg(test)]
mod tests {
    use super::{merge, Entry};
    use hoist_ledger::Event;

    /// A row of `host` at second `at`: `op` from `from` to `to`.
    fn row(host: &str, at: i64, op: &str, from: &str, to: &str, fleet: Option<&str>) -> Event {
        let at = jiff::Timestamp::from_second(1_800_000_000 + at).unwrap();
        Event {
            from: Some(from.to_owned()),
            to: Some(to.to_owned()),
            release: Some(to.to_owned()),
            started_at: at,
            finished_at: at,
            fleet_op: fleet.map(str::to_owned),
            ..Event::one_off(op, "root".to_owned(), host.to_owned())
        }
    }

    fn only_fleet(entries: &[Entry]) -> &super::FleetEntry {
        match entries {
            [Entry::Fleet(fleet)] => fleet,
            other => panic!("one fleet entry expected: {other:?}"),
        }
    }

    #[test]
    fn a_host_a_stage_rollback_left_alone_on_its_release_is_not_called_unreached() {
        // web2 already ran R1: the rollback to R1 had nothing to do there.
        let hosts = vec![
            (
                "web1".to_owned(),
                vec![row("web1", 10, "rollback", "R2", "R1", Some("f"))],
            ),
            (
                "web2".to_owned(),
                vec![row("web2", 1, "rollback", "R2", "R1", None)],
            ),
        ];
        let entries = merge(hosts, 10);
        let fleet = only_fleet(&entries[..1]);
        assert_eq!(fleet.outcome, "ok");
        assert!(fleet.not_reached.is_empty(), "{:?}", fleet.not_reached);
    }

    #[test]
    fn a_host_whose_rows_as_read_start_after_the_operation_is_not_called_unreached() {
        let hosts = vec![
            (
                "web1".to_owned(),
                vec![row("web1", 10, "restart", "R1", "R1", Some("f"))],
            ),
            (
                "web2".to_owned(),
                vec![row("web2", 20, "restart", "R1", "R1", None)],
            ),
        ];
        let entries = merge(hosts, 10);
        let fleet = match &entries[..] {
            [_, Entry::Fleet(fleet)] => fleet,
            other => panic!("{other:?}"),
        };
        assert_eq!(fleet.outcome, "ok");
        assert!(fleet.not_reached.is_empty());
    }
}
