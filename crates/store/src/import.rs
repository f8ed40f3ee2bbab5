//! `hoist build --from-tarball`: a tarball made by another tool (`dzil
//! build`, `npm pack`, `git archive`; gzip, bzip2, xz, zstd or plain)
//! becomes a hoist artifact.
//!
//! The tarball is extracted into a scratch directory inside the output
//! directory under the same rules an artifact's unpack follows: every path
//! is checked lexically ([`crate::paths`]), created beneath the scratch
//! directory with no symlink followed ([`hoist_beneath::Dir`]), and only
//! files, directories and symlinks are taken; then the tree is packed like
//! any source tree, whose checks refuse links that leave it. The version is
//! kept: `--version`, else the `NAME-VERSION` top directory or file name,
//! else `META.json` or `package.json` ([`version`]).

mod decode;
mod extract;
mod version;

use crate::format::Format;
use crate::{pack, PackOptions, Packed, StoreError};
use std::path::PathBuf;

/// What to import and where the artifact goes.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// The foreign tarball.
    pub tarball: PathBuf,
    /// Leading path components to drop (`tar --strip-components`).
    pub strip_components: usize,
    /// The app name; else the tarball's `NAME`.
    pub app: Option<String>,
    /// The version; else guessed from the tarball.
    pub version: Option<String>,
    /// Where the artifact goes.
    pub out_dir: PathBuf,
    /// Refuse tarballs that unpack to more than this (tar bombs).
    pub max_bytes: u64,
}

/// An imported tarball: its artifact, and what the user should know about it.
#[derive(Debug)]
pub struct Imported {
    /// The artifact made.
    pub packed: Packed,
    /// What was dropped or kept that the user may not expect, each naming
    /// the option that changes it.
    pub warnings: Vec<String>,
}

/// Extracts `options.tarball` safely and packs it as a release.
pub fn import(options: &ImportOptions) -> Result<Imported, StoreError> {
    let tarball = &options.tarball;
    let format = Format::sniff(tarball).map_err(StoreError::io("cannot read", tarball))?;
    if matches!(format, Format::Unknown) {
        return Err(StoreError::UnsupportedTarball {
            path: tarball.clone(),
            format: format.describe(),
        });
    }
    std::fs::create_dir_all(&options.out_dir)
        .map_err(StoreError::io("cannot create", &options.out_dir))?;
    let scratch = tempfile::Builder::new()
        .prefix(".import-")
        .tempdir_in(&options.out_dir)
        .map_err(StoreError::io(
            "cannot create a directory in",
            &options.out_dir,
        ))?;
    let tree = scratch.path().join("tree");
    std::fs::create_dir(&tree).map_err(StoreError::io("cannot create", &tree))?;
    let reader = decode::tar_stream(tarball, format, scratch.path(), options.max_bytes)?;
    let top = extract::extract(reader, &tree, options)?;
    let warnings = warnings(options, &tree);
    // What is unsafe is said before what is missing (the version).
    check_links(&tree, tarball, top.as_deref(), options.strip_components)?;
    let guessed = version::guess(tarball, top.as_deref(), &tree);
    let (version, origin) = match (&options.version, guessed.version) {
        (Some(version), _) => (version.clone(), "`--version`"),
        (None, Some(version)) => (version, guessed.origin),
        (None, None) => {
            return Err(StoreError::NoVersion {
                path: tarball.clone(),
            })
        }
    };
    let safe = version
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '+'));
    if version.is_empty() || !safe {
        return Err(StoreError::BadVersion {
            version,
            origin: origin.to_owned(),
        });
    }
    let app = options
        .app
        .clone()
        .or(guessed.name)
        .unwrap_or_else(|| "app".to_owned());
    let mut pack_options = PackOptions::new(&app, &tree, &options.out_dir);
    pack_options.version = Some(version);
    // The scratch dir may sit inside some git checkout; its HEAD is not this tarball's.
    pack_options.read_git = false;
    let packed = pack(&pack_options)?;
    Ok(Imported { packed, warnings })
}

/// Refuses a symlink that leads out of the extracted tree, named as the
/// tarball names it (not by the scratch directory it was extracted to).
fn check_links(
    tree: &std::path::Path,
    tarball: &std::path::Path,
    top: Option<&str>,
    strip: usize,
) -> Result<(), StoreError> {
    let dir = hoist_beneath::Dir::open(tree).map_err(StoreError::io("cannot open", tree))?;
    let mut links = Vec::new();
    for entry in dir.walk().map_err(StoreError::io("cannot read", tree))? {
        if entry.kind == hoist_beneath::Kind::Symlink {
            let target = dir
                .read_link(&entry.path)
                .map_err(StoreError::io("cannot read link", tree.join(&entry.path)))?;
            links.push((
                entry.path.to_string_lossy().into_owned(),
                target.to_string_lossy().into_owned(),
            ));
        }
    }
    let links: Vec<(&str, &str)> = links
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    crate::links::check_link_list(&links).map_err(|escape| StoreError::UnsafeEntry {
        artifact: tarball.to_owned(),
        entry: match (top, strip) {
            (Some(top), 1) => format!("{top}/{}", escape.entry),
            _ => escape.entry,
        },
        problem: escape.problem,
    })
}

/// A single top directory kept (`DDGC-0.940/` as the release's only
/// entry), and a `.hoist-manifest.json` (or other name hoist keeps for its
/// metadata) of the tarball's own, which packing leaves out.
fn warnings(options: &ImportOptions, tree: &std::path::Path) -> Vec<String> {
    let mut warnings = Vec::new();
    let entries: Vec<std::fs::DirEntry> = std::fs::read_dir(tree)
        .map(|entries| entries.filter_map(Result::ok).collect())
        .unwrap_or_default();
    if let [only] = entries.as_slice() {
        let is_dir = only.file_type().is_ok_and(|kind| kind.is_dir());
        if is_dir && options.strip_components == 0 {
            warnings.push(format!(
                "everything in `{}` sits under one directory, `{}/`, which the release keeps as its top level; pass `--strip-components 1` to drop it",
                options.tarball.display(),
                only.file_name().to_string_lossy()
            ));
        }
    }
    for entry in &entries {
        let name = entry.file_name().to_string_lossy().into_owned();
        if crate::is_metadata(&name) {
            warnings.push(format!(
                "`{name}` in the tarball is left out: the name is hoist's own, for the metadata it writes into every release"
            ));
        }
    }
    warnings
}
