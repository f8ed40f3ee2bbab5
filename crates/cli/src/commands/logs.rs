use crate::cli::Global;
use anyhow::Context as _;
use std::io::{Read, Seek, SeekFrom, Write};

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  hoist logs -f\n  hoist logs --release 20261122T101500Z-1.4.2-a1b2c3d -n 200"
)]
pub struct Args {
    /// Whose log (default: the live release).
    #[arg(long, value_name = "ID")]
    release: Option<String>,
    /// Lines to show.
    #[arg(short = 'n', long, default_value_t = 50)]
    lines: usize,
    /// Keep printing as the app writes.
    #[arg(short, long)]
    follow: bool,
}

pub fn exec(global: &Global, args: Args) -> anyhow::Result<i32> {
    let (context, _) = crate::target::open_read_only(global)?;
    let release = crate::target::release_or_live(&context, args.release)?;
    // The id becomes a file name: `../../etc/passwd` is not one.
    hoist_store::ReleaseId::parse(&release).with_context(|| {
        format!("`--release {release}` is not a release id; see `hoist releases`")
    })?;
    let path = context
        .site
        .shared_dir()
        .join("log")
        .join("hoist")
        .join(format!("{release}.log"));
    let mut file = std::fs::File::open(&path).with_context(|| {
        format!(
            "no log for `{release}` at `{}` (the agent writes it)",
            path.display()
        )
    })?;
    let mut text = String::new();
    file.read_to_string(&mut text)?;
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Lines {
        stdout: std::io::stdout().lock(),
        release: &release,
        json: global.json,
        partial: Vec::new(),
    };
    for line in &lines[lines.len().saturating_sub(args.lines)..] {
        out.line(line.as_bytes())?;
    }
    out.stdout.flush()?;
    if !args.follow {
        return Ok(crate::EXIT_OK);
    }
    loop {
        // Poll like `tail -f`: the log is a plain file another process appends to.
        std::thread::sleep(std::time::Duration::from_millis(250));
        let position = file.stream_position()?;
        if file.metadata()?.len() < position {
            file.seek(SeekFrom::Start(0))?; // rotated
        }
        let mut more = Vec::new();
        file.read_to_end(&mut more)?;
        out.append(&more)?;
        out.stdout.flush()?;
    }
}

/// Log lines as text, or under `--json` as JSON lines (one object per
/// line, `{"release", "line"}`), so a script can read `logs -f` as a stream.
struct Lines<'a> {
    stdout: std::io::StdoutLock<'static>,
    release: &'a str,
    json: bool,
    /// The end of what was read that is not yet a whole line.
    partial: Vec<u8>,
}

impl Lines<'_> {
    fn line(&mut self, line: &[u8]) -> std::io::Result<()> {
        if self.json {
            let line = String::from_utf8_lossy(line);
            let object = serde_json::json!({ "release": self.release, "line": line });
            writeln!(self.stdout, "{object}")
        } else {
            self.stdout.write_all(line)?;
            self.stdout.write_all(b"\n")
        }
    }

    /// Prints the whole lines of `more`, keeping a trailing partial line.
    fn append(&mut self, more: &[u8]) -> std::io::Result<()> {
        self.partial.extend_from_slice(more);
        while let Some(end) = self.partial.iter().position(|&byte| byte == b'\n') {
            let line: Vec<u8> = self.partial.drain(..=end).collect();
            self.line(&line[..end])?;
        }
        Ok(())
    }
}
