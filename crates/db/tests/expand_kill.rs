//! `kill -9` of a process mid-backfill, then a second expand finishes the
//! expansion: each row backfilled exactly once, every value right.
//!
//! The test runs this same binary as the child that expands (it knows by
//! the `CHILD_ENV` variable), reads its progress from its stdout and kills
//! it with SIGKILL once the backfill is under way.

mod expand_util;

use expand_util::{exec, Fixture};
use hoist_db::expand::{ExpandEvent, ExpandOptions, ExpandStep, Expander};
use hoist_db::load;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

/// Set in the child: the database url and the migrations directory.
const CHILD_ENV: &str = "HOIST_TEST_EXPAND_CHILD";

const ROWS: u64 = 3000;

fn options() -> ExpandOptions {
    ExpandOptions {
        batch_rows: 100,
        batch_pause: Duration::from_millis(20),
        ..expand_util::options()
    }
}

fn main() {
    if let Ok(child) = std::env::var(CHILD_ENV) {
        return child_expands(&child);
    }
    print!("test expand_killed_mid_backfill_resumes ... ");
    expand_killed_mid_backfill_resumes();
    println!("ok");
}

/// The child: expands and reports each batch, until it is killed.
fn child_expands(setting: &str) {
    let (url, dir) = setting.split_once('\n').expect("url and dir");
    let migration = load(dir.as_ref())
        .unwrap()
        .into_iter()
        .find(|m| m.version == 2)
        .unwrap();
    let mut expander = Expander::connect(url, options()).unwrap();
    let mut out = std::io::stdout();
    expander
        .expand(&migration, "v2", &mut |event| {
            if let ExpandEvent::Backfilled { done, .. } = event {
                writeln!(out, "backfilled {done}").unwrap();
                out.flush().unwrap();
            }
        })
        .unwrap();
    writeln!(out, "expanded").unwrap();
}

fn expand_killed_mid_backfill_resumes() {
    let db = Fixture::new(&format!(
        "CREATE TABLE orders (id int PRIMARY KEY, amount integer NOT NULL);
         INSERT INTO orders SELECT i, i * 10 FROM generate_series(1, {ROWS}) i;\n"
    ));
    let migration = db.declarative(
        2,
        "amount_units",
        "[[op]]\ntype = \"change_type\"\ntable = \"orders\"\ncolumn = \"amount\"\nsql_type = \"numeric(12,2)\"\nup = \"amount::numeric / 100\"\ndown = \"(amount * 100)::integer\"\n",
    );
    let mut child = Command::new(std::env::current_exe().unwrap())
        .env(
            CHILD_ENV,
            format!("{}\n{}", db.pg.url, db.dir.path().display()),
        )
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let mut seen = 0;
    for line in stdout.lines() {
        let line = line.unwrap();
        assert_ne!(line, "expanded", "the child finished before it was killed");
        seen = line
            .strip_prefix("backfilled ")
            .unwrap()
            .parse::<u64>()
            .unwrap();
        if seen >= 500 {
            break;
        }
    }
    child.kill().unwrap(); // SIGKILL
    let status = child.wait().unwrap();
    assert!(!status.success(), "killed: {status}");
    let open = db.expander().status().unwrap().open.unwrap();
    assert_eq!(open.step, ExpandStep::Backfill);
    let stopped_at = open.backfill[0].done;
    assert!(
        (seen..ROWS).contains(&stopped_at),
        "{seen} <= {stopped_at} < {ROWS}"
    );

    let mut old = db.old();
    exec(&mut old, "UPDATE orders SET amount = 5 WHERE id = 2999");
    let expanded = db.expand(&migration);
    assert!(expanded.resumed);
    assert_eq!(expanded.backfill[0].done, ROWS, "each row once");
    let mut new = db.new_side("hoist_v2");
    let wrong: i64 = new
        .query_one(
            "SELECT count(*) FROM orders o JOIN public.orders p USING (id) WHERE o.amount IS DISTINCT FROM p.amount::numeric / 100",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(wrong, 0);
    db.complete();
    println!("(killed after {seen} rows; {stopped_at} recorded; resumed to {ROWS})");
}
