//! The page's one stylesheet, inlined: the page is a single file that
//! opens anywhere (mailed, saved, served by the agent) with no assets.

/// The stylesheet.
pub const CSS: &str = r#"
:root { color-scheme: light; --ok: #1b7f3b; --warn: #b35c00; --bad: #b00020; --muted: #5f6368; }
* { box-sizing: border-box; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto; max-width: 1160px; padding: 20px 24px; color: #202124; background: #fff; }
h1 { font-size: 22px; margin: 0 0 2px; }
h2 { font-size: 16px; margin: 22px 0 8px; border-bottom: 1px solid #dadce0; padding-bottom: 4px; }
.sub { color: var(--muted); margin: 0 0 12px; }
code, .id { font: 13px/1.3 ui-monospace, "DejaVu Sans Mono", monospace; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid #eceff1; vertical-align: top; }
th { font-size: 12px; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
code.id { white-space: nowrap; }
.role { display: inline-block; min-width: 76px; text-align: center; border-radius: 10px; padding: 1px 8px; font-size: 12px; font-weight: 600; color: #fff; background: var(--muted); }
.role-live { background: var(--ok); }
.role-candidate { background: #1a73e8; }
.role-warm { background: var(--warn); }
.age { color: var(--muted); font-size: 13px; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; margin: 0; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; }
.problems { background: #fdecea; border-left: 4px solid var(--bad); padding: 8px 14px; margin: 12px 0; }
.problems li { margin: 2px 0; }
.maint-on { color: var(--bad); font-weight: 600; }
.outcome-ok { color: var(--ok); }
.outcome-failed, .outcome-rolled-back, .outcome-interrupted, .outcome-refused { color: var(--bad); font-weight: 600; }
tr.drift { background: #fff4e5; }
tr.drift td:first-child { border-left: 4px solid var(--bad); font-weight: 600; }
ul.drift { margin: 0; padding-left: 18px; color: var(--bad); }
.none { color: var(--muted); }
footer { margin-top: 24px; color: var(--muted); font-size: 12px; }
"#;
