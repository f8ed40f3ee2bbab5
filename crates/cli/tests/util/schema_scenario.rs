//! The steps the expand/contract tests share: a site on the old shape
//! behind a real agent, an expansion deployed under load, the checks of
//! every row through both shapes, and the contract under load.

use super::agent_process::{free_port, AgentProcess};
use super::schema_app::{SchemaApp, Shape};
use super::schema_load::{Outcome, Steer, UserLoad};
use super::schema_person::Row;
use super::schema_rows::{assert_rows, connect_as, search_path};
use hoist_testkit::TestPostgres;

/// A database, the app on `base` live behind a running agent.
pub struct Site {
    /// First, so it stops (with what it runs, by its state file) before
    /// the site dir goes. `None` only inside [`Site::restart_agent`].
    pub agent: Option<AgentProcess>,
    pub app: SchemaApp,
    pub old: String,
    /// Last, so the database goes after the app's processes.
    pub postgres: TestPostgres,
}

impl Site {
    /// Deploys `base` (`V1` or `V1Tags`) and starts the agent.
    pub fn start(base: Shape) -> Site {
        let postgres = TestPostgres::start();
        let app = SchemaApp::new(&postgres.url, free_port(), base);
        let old = app.deploy(base, &[]);
        let agent = AgentProcess::start(&app.env);
        Site {
            app,
            old,
            agent: Some(agent),
            postgres,
        }
    }

    /// `kill -9` of the agent, then a new one: it starts the live release
    /// afresh from its saved state (the old one's orphans are stopped first,
    /// by the killed agent's record, before the new agent owns the state file).
    pub fn restart_agent(&mut self) {
        if let Some(mut agent) = self.agent.take() {
            agent.kill9();
        }
        self.agent = Some(AgentProcess::start(&self.app.env));
    }

    /// A load of `threads` threads on the public port.
    pub fn load(&self, threads: usize, tag: &str) -> UserLoad {
        UserLoad::start(
            self.app.port,
            threads,
            Steer::Public,
            &self.app.releases,
            tag,
        )
    }

    /// Deploys `shape` (blue/green, `deploy --json ARGS`) while a load runs
    /// before, during and after; asserts no request failed and both
    /// releases answered. Returns (new release, the deploy's JSON, outcome).
    pub fn expand_under_load(
        &self,
        shape: Shape,
        args: &[&str],
    ) -> (String, serde_json::Value, Outcome) {
        let load = self.load(3, shape.label());
        load.wait_for_more(150);
        let (new, artifact) = self.app.build(shape);
        let deployed = self
            .app
            .env
            .hoist()
            .args(["deploy", "--json"])
            .args(args)
            .arg(&artifact)
            .run_json();
        eprintln!("deploy: {deployed}");
        load.wait_for_more(300);
        let outcome = load.finish();
        outcome.assert_no_failure(&format!("deploy of {shape:?}"));
        for release in [&self.old, &new] {
            assert!(
                outcome.by_release.get(release).copied().unwrap_or(0) > 0,
                "`{release}` answered some of the load: {:?}",
                outcome.by_release
            );
        }
        (new, deployed, outcome)
    }

    /// Asserts every row of `rows` reads right through the old release's
    /// shape and the new one's, as each release's processes reach them.
    #[track_caller]
    pub fn assert_both_shapes(&self, new: &str, shape: Shape, rows: &[Row], what: &str) {
        let base = shape.base();
        let url = &self.postgres.url;
        assert_rows(
            url,
            &search_path(&self.old, base),
            base,
            rows,
            &format!("{what}, old release"),
        );
        assert_rows(
            url,
            &search_path(new, shape),
            shape,
            rows,
            &format!("{what}, new release"),
        );
    }

    /// `hoist db complete`: refused (naming the old release) while it is
    /// warm, then run under load once it is not; every row of `rows` and
    /// of that load then reads right through the new shape, from `public`
    /// and through the new release's search path, and no view schema is
    /// left; a rollback to the old release is then refused, naming the
    /// migration (its shape is gone).
    pub fn contract_under_load(&self, new: &str, shape: Shape, rows: &[Row]) {
        self.app
            .env
            .hoist()
            .args(["db", "complete"])
            .code(1)
            .stderr_has(&self.old)
            .run();
        self.app.wait_cold(&self.old);
        let load = self.load(3, "contract");
        load.wait_for_more(100);
        let completed = self
            .app
            .env
            .hoist()
            .args(["db", "complete", "--json"])
            .run_json();
        eprintln!("complete: {completed}");
        load.wait_for_more(200);
        let outcome = load.finish();
        outcome.assert_no_failure("during contract");
        let mut all = rows.to_vec();
        all.extend(outcome.rows);
        let url = &self.postgres.url;
        assert_rows(url, "public", shape, &all, "after contract");
        assert_rows(
            url,
            &search_path(new, shape),
            shape,
            &all,
            "after contract, as the new release",
        );
        let views: i64 = connect_as(url, "public")
            .query_one(
                "SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'hoist\\_%'",
                &[],
            )
            .unwrap()
            .get(0);
        assert_eq!(views, 0, "contract dropped every view schema");
        let (file, _) = shape.migration().expect("a shape with a migration");
        self.app
            .env
            .hoist()
            .arg("rollback")
            .code(1)
            .stderr_has(file.trim_end_matches(".toml"))
            .run();
        assert_eq!(self.app.env.live().as_deref(), Some(new));
    }
}
