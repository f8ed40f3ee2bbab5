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

/// Extracts `options.tarball` safely and packs it as a release.
pub fn import(options: &ImportOptions) -> Result<Packed, StoreError> {
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
    let guessed = version::guess(tarball, top.as_deref(), &tree);
    let (version, origin) = match (&options.version, guessed.version) {
        (Some(version), _) => (version.clone(), "`--version`"),
        (None, Some(version)) => (version, guessed.origin),
        (None, None) => ("0".to_owned(), "the default"),
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
    pack(&pack_options)
}
