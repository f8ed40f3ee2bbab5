//! `hoist build`: a source tree becomes `<release-id>.tar.zst`.

use crate::hash::hash_reader;
use crate::seekable::Counting;
use crate::{Entry, EntryKind, Manifest, ReleaseId, StoreError, MANIFEST_NAME};
use globset::{Glob, GlobSet, GlobSetBuilder};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// What to pack and where to put it.
#[derive(Debug, Clone)]
pub struct PackOptions {
    /// `[app] name`.
    pub app: String,
    /// Explicit version; else `git describe --tags`, else "0".
    pub version: Option<String>,
    /// The source dir.
    pub source: PathBuf,
    /// Where the artifact goes (left out of the artifact itself).
    pub out_dir: PathBuf,
    /// Globs to pack.
    pub include: Vec<String>,
    /// Globs to leave out.
    pub exclude: Vec<String>,
    /// Fixed build time; `None` means now. Tests pin it.
    pub created_at: Option<jiff::Timestamp>,
    /// Read the revision and `git describe` from the source's checkout;
    /// off for an imported tarball, whose scratch dir is not its checkout.
    pub read_git: bool,
}

impl PackOptions {
    /// Packs everything under `source` into `out_dir`.
    pub fn new(app: &str, source: &Path, out_dir: &Path) -> PackOptions {
        PackOptions {
            app: app.to_owned(),
            version: None,
            source: source.to_owned(),
            out_dir: out_dir.to_owned(),
            include: vec!["**".to_owned()],
            exclude: Vec::new(),
            created_at: None,
            read_git: true,
        }
    }
}

/// The result of a build.
#[derive(Debug, Clone)]
pub struct Packed {
    /// The artifact file.
    pub artifact: PathBuf,
    /// Its manifest.
    pub manifest: Manifest,
}

/// Walks, hashes and packs `options.source`.
pub fn pack(options: &PackOptions) -> Result<Packed, StoreError> {
    let source = &options.source;
    let include = glob_set(&options.include)?;
    let exclude = glob_set(&options.exclude)?;
    let out_dir = std::path::absolute(&options.out_dir)
        .map_err(StoreError::io("cannot resolve", &options.out_dir))?;
    let files = collect(source, &out_dir, &include, &exclude)?;

    let git = if options.read_git {
        GitInfo::read(source)
    } else {
        GitInfo::default()
    };
    let created_at = options.created_at.unwrap_or_else(jiff::Timestamp::now);
    let version = options
        .version
        .clone()
        .or(git.describe)
        .unwrap_or_else(|| "0".to_owned());
    let content_digest = Manifest::compute_content_digest(&files);
    let revision_tag = match &git.revision {
        Some(revision) if git.dirty => format!("{revision}-dirty"),
        Some(revision) => revision.clone(),
        None => content_digest[..7].to_owned(),
    };
    let mut manifest = Manifest {
        format: Manifest::FORMAT,
        release: ReleaseId::compose(created_at, &version, &revision_tag)?,
        app: options.app.clone(),
        version,
        revision: git.revision,
        dirty: git.dirty,
        created_at,
        files,
        content_digest: String::new(),
        digest: String::new(),
    };
    manifest.seal();
    // What unpack would refuse is refused here, before anything is written.
    crate::check_links(&manifest, &[]).map_err(|escape| StoreError::UnsafeEntry {
        artifact: source.to_owned(),
        entry: escape.entry,
        problem: escape.problem,
    })?;

    std::fs::create_dir_all(&out_dir).map_err(StoreError::io("cannot create", &out_dir))?;
    let artifact = out_dir.join(format!("{}.tar.zst", manifest.release));
    let partial = out_dir.join(format!(".{}.tar.zst.partial", manifest.release));
    let mut open = |entry: &Entry| -> std::io::Result<Box<dyn std::io::Read>> {
        Ok(Box::new(File::open(source.join(&entry.path))?))
    };
    write_artifact(&partial, &manifest, &mut open).inspect_err(|_| {
        let _ = std::fs::remove_file(&partial);
    })?;
    std::fs::rename(&partial, &artifact)
        .map_err(StoreError::io("cannot rename into", &artifact))?;
    Ok(Packed { artifact, manifest })
}

fn glob_set(globs: &[String]) -> Result<GlobSet, StoreError> {
    let mut builder = GlobSetBuilder::new();
    for glob in globs {
        let parsed = Glob::new(glob).map_err(|error| StoreError::Glob {
            glob: glob.clone(),
            message: error.kind().to_string(),
        })?;
        builder.add(parsed);
    }
    builder.build().map_err(|error| StoreError::Glob {
        glob: globs.join(", "),
        message: error.to_string(),
    })
}

/// Sorted manifest entries for every included path, with parent dirs.
fn collect(
    source: &Path,
    out_dir: &Path,
    include: &GlobSet,
    exclude: &GlobSet,
) -> Result<Vec<Entry>, StoreError> {
    let mut entries = std::collections::BTreeMap::new();
    let walker = walkdir::WalkDir::new(source)
        .follow_links(false)
        .sort_by_file_name()
        .min_depth(1);
    let walker = walker.into_iter().filter_entry(|item| {
        item.file_name() != ".git"
            && std::path::absolute(item.path()).map_or(true, |path| path != out_dir)
    });
    for item in walker {
        let item = item.map_err(|error| {
            let path = error.path().unwrap_or(source).to_owned();
            StoreError::Io {
                action: "cannot read",
                path,
                cause: error.into(),
            }
        })?;
        let relative = item
            .path()
            .strip_prefix(source)
            .expect("walkdir stays under its root");
        let Some(relative) = relative.to_str().map(str::to_owned) else {
            return Err(StoreError::UnsafeEntry {
                artifact: source.to_owned(),
                entry: relative.display().to_string(),
                problem: "is not valid UTF-8".into(),
            });
        };
        if crate::is_metadata(&relative) || exclude.is_match(&relative) {
            continue;
        }
        let file_type = item.file_type();
        if file_type.is_dir() {
            if include.is_match(&relative) || include.is_match(format!("{relative}/")) {
                entries.insert(relative.clone(), dir_entry(item.path(), relative)?);
            }
            continue;
        }
        if !include.is_match(&relative) {
            continue;
        }
        let entry = if file_type.is_symlink() {
            symlink_entry(item.path(), relative)?
        } else if file_type.is_file() {
            file_entry(item.path(), relative)?
        } else {
            return Err(StoreError::UnsafeEntry {
                artifact: source.to_owned(),
                entry: relative,
                problem: "is a device, socket or fifo; only files, dirs and links can be released"
                    .into(),
            });
        };
        // Every packed path's parents are packed too, so unpack never has to invent a dir.
        let mut parent = Path::new(&entry.path).parent();
        while let Some(dir) = parent.filter(|dir| !dir.as_os_str().is_empty()) {
            let key = dir.to_str().expect("parent of UTF-8 is UTF-8").to_owned();
            if !entries.contains_key(&key) {
                entries.insert(key.clone(), dir_entry(&source.join(dir), key)?);
            }
            parent = dir.parent();
        }
        entries.insert(entry.path.clone(), entry);
    }
    Ok(entries.into_values().collect())
}

fn mode_of(path: &Path) -> Result<u32, StoreError> {
    let metadata = std::fs::symlink_metadata(path).map_err(StoreError::io("cannot stat", path))?;
    Ok(metadata.permissions().mode() & 0o7777)
}

fn dir_entry(path: &Path, relative: String) -> Result<Entry, StoreError> {
    Ok(Entry {
        path: relative,
        kind: EntryKind::Dir,
        mode: mode_of(path)?,
        size: 0,
        blake3: None,
        target: None,
    })
}

fn file_entry(path: &Path, relative: String) -> Result<Entry, StoreError> {
    let mut file = File::open(path).map_err(StoreError::io("cannot open", path))?;
    let (size, digest) = hash_reader(&mut file).map_err(StoreError::io("cannot read", path))?;
    Ok(Entry {
        path: relative,
        kind: EntryKind::File,
        mode: mode_of(path)?,
        size,
        blake3: Some(digest),
        target: None,
    })
}

fn symlink_entry(path: &Path, relative: String) -> Result<Entry, StoreError> {
    let target = std::fs::read_link(path).map_err(StoreError::io("cannot read link", path))?;
    let target = target.to_str().unwrap_or_default().to_owned();
    Ok(Entry {
        path: relative,
        kind: EntryKind::Symlink,
        mode: 0o777,
        size: 0,
        blake3: None,
        target: Some(target),
    })
}

/// Opens one file entry's content for [`write_artifact`]: from the source
/// dir at build time, from received parts or older releases on a host
/// ([`crate::depot`]).
pub(crate) type OpenContent<'a> = dyn FnMut(&Entry) -> std::io::Result<Box<dyn std::io::Read>> + 'a;

/// Writes the tar.zst: manifest first, then entries in manifest order, each
/// in its own zstd frame, then the frame index (see [`crate::seekable`]).
/// The bytes depend on the manifest and the contents only, so every host
/// that assembles the same manifest writes the same artifact.
pub(crate) fn write_artifact(
    partial: &Path,
    manifest: &Manifest,
    open: &mut OpenContent<'_>,
) -> Result<(), StoreError> {
    let io_error = StoreError::io("cannot write", partial);
    let mut write = || -> std::io::Result<()> {
        let file = File::create(partial)?;
        let mut out = Counting::new(BufWriter::with_capacity(1 << 20, file));
        let mtime = manifest.created_at.as_second().max(0) as u64;
        let json = manifest.to_json();
        let mut frames = Vec::with_capacity(manifest.files.len() + 2);
        let head = TarHead {
            kind: tar::EntryType::Regular,
            path: MANIFEST_NAME,
            mode: 0o444,
            size: json.len() as u64,
            mtime,
            link: None,
        };
        frames.push(out.frame(|w| head.write(w, &mut json.as_slice()))?);
        for entry in &manifest.files {
            let (kind, size, link) = match entry.kind {
                EntryKind::Dir => (tar::EntryType::Directory, 0, None),
                EntryKind::File => (tar::EntryType::Regular, entry.size, None),
                EntryKind::Symlink => (tar::EntryType::Symlink, 0, entry.target.as_deref()),
            };
            let head = TarHead {
                kind,
                path: &entry.path,
                mode: entry.mode,
                size,
                mtime,
                link,
            };
            let frame = if entry.kind == EntryKind::File {
                let mut content = open(entry)?;
                out.frame(|w| head.write(w, &mut content))?
            } else {
                out.frame(|w| head.write(w, &mut std::io::empty()))?
            };
            frames.push(frame);
        }
        frames.push(out.frame(|w| w.write_all(&[0u8; 1024]))?);
        out.index(&frames)?;
        let mut writer = out.into_inner();
        writer.flush()?;
        writer
            .into_inner()
            .map_err(|error| error.into_error())?
            .sync_all()
    };
    write().map_err(io_error)
}

/// One tar entry's header fields; written by hand (not `tar::Builder`)
/// because each entry goes in its own frame, without an archive trailer.
struct TarHead<'a> {
    kind: tar::EntryType,
    path: &'a str,
    mode: u32,
    size: u64,
    mtime: u64,
    link: Option<&'a str>,
}

impl TarHead<'_> {
    fn write(&self, out: &mut dyn Write, data: &mut dyn std::io::Read) -> std::io::Result<()> {
        if self.path.len() > 100 {
            write_long_name(out, tar::EntryType::GNULongName, self.path)?;
        }
        if let Some(link) = self.link.filter(|link| link.len() > 100) {
            write_long_name(out, tar::EntryType::GNULongLink, link)?;
        }
        let mut header = header_for(self.kind, self.mode, self.size, self.mtime);
        set_raw(&mut header.as_old_mut().name, self.path);
        if let Some(link) = self.link {
            set_raw(&mut header.as_old_mut().linkname, link);
        }
        header.set_cksum();
        out.write_all(header.as_bytes())?;
        // Exactly `size` bytes: a file that changed since it was hashed is an error, not a lying artifact.
        let copied = std::io::copy(&mut std::io::Read::take(data, self.size), out)?;
        if copied != self.size {
            return Err(std::io::Error::other(format!(
                "`{}` changed while it was being packed",
                self.path
            )));
        }
        pad(out, self.size)
    }
}

fn write_long_name(out: &mut dyn Write, kind: tar::EntryType, text: &str) -> std::io::Result<()> {
    let size = text.len() as u64 + 1;
    let mut header = header_for(kind, 0o644, size, 0);
    set_raw(&mut header.as_old_mut().name, "././@LongLink");
    header.set_cksum();
    out.write_all(header.as_bytes())?;
    out.write_all(text.as_bytes())?;
    out.write_all(&[0])?;
    pad(out, size)
}

fn set_raw(field: &mut [u8], text: &str) {
    let length = text.len().min(field.len());
    field[..length].copy_from_slice(&text.as_bytes()[..length]);
}

fn pad(out: &mut dyn Write, size: u64) -> std::io::Result<()> {
    let remainder = (size % 512) as usize;
    if remainder != 0 {
        out.write_all(&[0u8; 512][..512 - remainder])?;
    }
    Ok(())
}

fn header_for(kind: tar::EntryType, mode: u32, size: u64, mtime: u64) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(kind);
    header.set_mode(mode);
    header.set_size(size);
    header.set_mtime(mtime);
    header.set_uid(0);
    header.set_gid(0);
    header
}

/// What git says about the source dir, when it is a checkout.
#[derive(Default)]
struct GitInfo {
    describe: Option<String>,
    revision: Option<String>,
    dirty: bool,
}

impl GitInfo {
    fn read(source: &Path) -> GitInfo {
        let git = |args: &[&str]| -> Option<String> {
            let output = Command::new("git")
                .arg("-C")
                .arg(source)
                .args(args)
                .output()
                .ok()?;
            output
                .status
                .success()
                .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
        };
        let Some(revision) = git(&["rev-parse", "--short=7", "HEAD"]) else {
            return GitInfo::default();
        };
        let describe =
            git(&["describe", "--tags"]).map(|tag| tag.trim_start_matches('v').replace('/', "-"));
        // As `git describe --dirty` says: changes to tracked files only. An
        // untracked file (hoist's own `dist/` output) does not make it dirty.
        let dirty = git(&["status", "--porcelain", "--untracked-files=no"])
            .is_some_and(|status| !status.is_empty());
        GitInfo {
            describe,
            revision: Some(revision),
            dirty,
        }
    }
}
