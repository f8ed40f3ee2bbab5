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
    let mut stdout = std::io::stdout().lock();
    for line in &lines[lines.len().saturating_sub(args.lines)..] {
        writeln!(stdout, "{line}")?;
    }
    stdout.flush()?;
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
        stdout.write_all(&more)?;
        stdout.flush()?;
    }
}
