//! Reading HAProxy's `show stat` CSV: one row per frontend, backend and
//! server, columns found by their header names (`pxname`, `svname`, `scur`,
//! `status`, `req_tot`, `hrsp_5xx`, ...), never by position, because each
//! HAProxy version appends columns and may leave some empty.
//!
//! Text fields (`check_desc`, `status`) may be quoted when they hold commas,
//! so this uses a CSV reader rather than splitting on `,`.

/// The part of one `show stat` row the balancer uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StatRow {
    /// `pxname`: the frontend or backend.
    pub(crate) proxy: String,
    /// `svname`: a server's name, or `BACKEND` / `FRONTEND` for the
    /// proxy's own totals.
    pub(crate) name: String,
    /// `status`: `UP`, `DOWN`, `DRAIN`, `MAINT`, `no check`, `UP 1/3`...
    pub(crate) status: String,
    /// `scur`: sessions in flight now.
    pub(crate) sessions: u64,
    /// `qcur`: requests queued for it, not yet sent; they count as in
    /// flight for a drain.
    pub(crate) queued: u64,
    /// `req_tot`: requests since HAProxy started.
    pub(crate) requests: u64,
    /// `hrsp_5xx`: 5xx responses since HAProxy started. On a server row
    /// only the server's own; HAProxy's 503s for failed connections count
    /// on the `BACKEND` row.
    pub(crate) responses_5xx: u64,
    /// `econ`: connections to the server that failed.
    pub(crate) connection_errors: u64,
}

/// The rows of a `show stat` answer, or what is wrong with it.
pub(crate) fn parse(text: &str) -> Result<Vec<StatRow>, String> {
    // The header line is `# pxname,svname,...`: a comment to CSV tools.
    let body = text.strip_prefix("# ").ok_or_else(|| {
        let first = text.lines().next().unwrap_or("");
        format!("it does not start with the `# pxname,svname,...` header but `{first}`")
    })?;
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(body.as_bytes());
    let headers = reader.headers().map_err(|e| e.to_string())?.clone();
    let column = |name: &'static str| {
        headers
            .iter()
            .position(|header| header == name)
            .ok_or_else(|| format!("it has no `{name}` column"))
    };
    let columns = Columns {
        proxy: column("pxname")?,
        name: column("svname")?,
        status: column("status")?,
        sessions: column("scur")?,
        queued: column("qcur").ok(),
        requests: column("req_tot").ok(),
        responses_5xx: column("hrsp_5xx").ok(),
        connection_errors: column("econ").ok(),
    };
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| e.to_string())?;
        rows.push(columns.read(&record)?);
    }
    Ok(rows)
}

/// Where each used column sits in this answer; optional ones may be absent
/// in other HAProxy versions and then read as 0.
struct Columns {
    proxy: usize,
    name: usize,
    status: usize,
    sessions: usize,
    queued: Option<usize>,
    requests: Option<usize>,
    responses_5xx: Option<usize>,
    connection_errors: Option<usize>,
}

impl Columns {
    fn read(&self, record: &csv::StringRecord) -> Result<StatRow, String> {
        let text = |index: usize| record.get(index).unwrap_or("").to_owned();
        // HAProxy leaves a counter empty where it does not apply (a
        // frontend has no `econ`): that is 0 here.
        let number = |index: Option<usize>, name: &str| -> Result<u64, String> {
            let field = index.and_then(|i| record.get(i)).unwrap_or("");
            if field.is_empty() {
                return Ok(0);
            }
            field.parse().map_err(|_| {
                format!(
                    "`{name}` is `{field}` for `{}/{}`, not a number",
                    text(self.proxy),
                    text(self.name)
                )
            })
        };
        Ok(StatRow {
            proxy: text(self.proxy),
            name: text(self.name),
            status: text(self.status),
            sessions: number(Some(self.sessions), "scur")?,
            queued: number(self.queued, "qcur")?,
            requests: number(self.requests, "req_tot")?,
            responses_5xx: number(self.responses_5xx, "hrsp_5xx")?,
            connection_errors: number(self.connection_errors, "econ")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shape HAProxy 2.6 answers, cut down, columns out of the usual
    /// order, with a quoted text field holding commas and a trailing comma.
    const ANSWER: &str = "# pxname,svname,status,qcur,scur,check_desc,econ,hrsp_5xx,req_tot,\n\
        fe,FRONTEND,OPEN,,3,,,1,9,\n\
        shop,web1,DRAIN,0,2,\"Layer4 check passed, fine\",0,1,4,\n\
        shop,BACKEND,UP,1,2,,1,2,7,\n\
        \n";

    #[test]
    fn columns_are_found_by_name_and_empty_counters_read_as_zero() {
        let rows = parse(ANSWER).unwrap();
        assert_eq!(rows.len(), 3);
        assert_eq!(
            rows[1],
            StatRow {
                proxy: "shop".into(),
                name: "web1".into(),
                status: "DRAIN".into(),
                sessions: 2,
                queued: 0,
                requests: 4,
                responses_5xx: 1,
                connection_errors: 0,
            }
        );
        assert_eq!(rows[0].queued, 0);
        assert_eq!(rows[2].queued, 1);
    }

    #[test]
    fn an_error_text_instead_of_csv_is_refused_saying_what_came() {
        let problem = parse("Unknown command.\n").unwrap_err();
        assert!(problem.contains("`Unknown command.`"), "{problem}");
    }

    #[test]
    fn a_missing_needed_column_is_named() {
        let problem = parse("# pxname,svname,status\nshop,web1,UP\n").unwrap_err();
        assert!(problem.contains("`scur`"), "{problem}");
    }

    #[test]
    fn a_counter_that_is_not_a_number_names_the_row() {
        let problem = parse("# pxname,svname,status,scur\nshop,web1,UP,x\n").unwrap_err();
        assert!(problem.contains("`shop/web1`"), "{problem}");
    }
}
