//! What the user names as a backup: a dump file, the folder of a directory backup, or a manifest
//! standing for the dump it describes.

use std::path::{Path, PathBuf};

use crate::base::error::{Error, Result};
use crate::format::archive::{self, FoundManifest};
use crate::format::manifest::{MANIFEST_SUFFIX, ManifestFile};

/// The path to restore from, absolute (so that no file name, such as one starting with `-`, is
/// ever read by a tool as an option). A manifest stands for the dump it describes; of a
/// one-file-per-schema backup, for the file of the one schema in `schemas`.
pub(crate) fn resolve_source(text: &str, schemas: &[String]) -> Result<PathBuf> {
    let invalid = |problem: String| Error::InvalidInput { field: "source", problem };
    let text = text.trim();
    if text.is_empty() {
        return Err(invalid("choose a backup file or folder".into()));
    }
    let path = std::path::absolute(text).map_err(|e| invalid(format!("{text}: {e}")))?;
    if !path.exists() {
        return Err(invalid(format!("{} does not exist", path.display())));
    }
    if text.ends_with(MANIFEST_SUFFIX) && !path.is_dir() {
        let manifest = archive::read_manifest(&path)?;
        let dump_files = manifest.files.iter().filter(|f| f.role == "dump");
        let per_schema: Vec<&str> =
            dump_files.clone().filter_map(|f| f.schema.as_deref()).collect();
        let picked = |f: &&ManifestFile| match (&f.schema, schemas) {
            (Some(schema), [one]) => schema == one,
            _ => true,
        };
        if let [one] = schemas
            && !per_schema.is_empty()
            && !per_schema.contains(&one.as_str())
        {
            return Err(invalid(format!(
                "the backup has no file for the schema {one}; it has files for {}",
                per_schema.join(", ")
            )));
        }
        let mut dumps: Vec<String> = dump_files
            .filter(picked)
            .map(|f| f.name.split('/').next().unwrap_or_default().to_owned())
            .collect();
        dumps.dedup();
        let folder = path.parent().map(Path::to_path_buf).unwrap_or_default();
        return match dumps.as_slice() {
            [one] => Ok(folder.join(one)),
            [] => Err(invalid(format!("the manifest {} lists no dump", path.display()))),
            many => Err(invalid(format!(
                "the manifest lists {} dumps, one per schema ({}); choose one schema to restore \
                 (--schema), or one of the files",
                many.len(),
                per_schema.join(", ")
            ))),
        };
    }
    Ok(path)
}

/// The manifest describing `source` when it can be found and read, whatever state the backup is
/// in (to record a failed test against it).
pub(crate) fn locate_manifest(source: &str, schema: Option<&str>) -> Option<FoundManifest> {
    let schemas: Vec<String> = schema.map(str::to_owned).into_iter().collect();
    let path = resolve_source(source, &schemas).ok()?;
    archive::find_manifest(&path).ok().flatten()
}
