//! Confinement: every client path is resolved (after `..` and symlinks) and must stay inside the top-level
//! folder. Paths are shown to clients relative to the top-level folder only.

use std::path::{Component, Path, PathBuf};

use super::FilesError;

/// The top-level folder and the starting folder (`$BASE`), both canonical.
#[derive(Debug, Clone)]
pub struct Confinement {
    top: PathBuf,
    start: PathBuf,
}

/// A client path after resolution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedPath {
    /// Canonical absolute path (inside the top-level folder).
    pub absolute: PathBuf,
    /// Path relative to the top-level folder, '/'-separated; empty for the top-level folder itself.
    pub relative: String,
}

impl ResolvedPath {
    /// The folder as the file list reports it: "." for the top-level folder (carta-frontend 6.0.0 refuses to load
    /// a file from a listing whose directory is empty), else the path relative to the top-level folder.
    pub fn directory_for_client(&self) -> String {
        if self.relative.is_empty() {
            ".".to_string()
        } else {
            self.relative.clone()
        }
    }

    /// The parent folder as the frontend navigates to it: "." for a first-level folder, `None` at the top.
    pub fn parent_for_client(&self) -> Option<String> {
        if self.relative.is_empty() {
            return None;
        }
        Some(match self.relative.rsplit_once('/') {
            Some((parent, _)) => parent.to_string(),
            None => ".".to_string(),
        })
    }
}

/// Normalises `.` and `..` lexically; `None` when `..` would climb above the start.
fn normalise(relative: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in relative.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    return None;
                }
            }
            Component::Normal(part) => out.push(part),
            Component::RootDir | Component::Prefix(_) => {}
        }
    }
    Some(out)
}

impl Confinement {
    /// Both folders must already be canonical, `start` inside `top` (checked by the config).
    pub fn new(top: PathBuf, start: PathBuf) -> Confinement {
        let start = if start.starts_with(&top) {
            start
        } else {
            top.clone()
        };
        Confinement { top, start }
    }

    pub fn top(&self) -> &Path {
        &self.top
    }

    /// The starting folder relative to the top-level folder.
    pub fn start_relative(&self) -> String {
        self.relative_of(&self.start)
    }

    fn relative_of(&self, absolute: &Path) -> String {
        absolute
            .strip_prefix(&self.top)
            .map(|p| {
                p.components()
                    .map(|c| c.as_os_str().to_string_lossy())
                    .collect::<Vec<_>>()
                    .join("/")
            })
            .unwrap_or_default()
    }

    /// The absolute path a client's folder string names, before canonicalisation. `$BASE` is the starting
    /// folder; `""` and `"."` the top; an absolute path must lie inside the top folder; anything else is
    /// relative to the top folder.
    fn join_client(&self, directory: &str, file: Option<&str>) -> Result<PathBuf, FilesError> {
        let shown = match file {
            Some(f) if !directory.is_empty() => format!("{directory}/{f}"),
            Some(f) => f.to_string(),
            None => directory.to_string(),
        };
        let forbidden = || FilesError::Forbidden(shown.clone());
        let (base, rest) = if let Some(rest) = directory.strip_prefix("$BASE") {
            (self.start.clone(), rest.trim_start_matches('/').to_string())
        } else if Path::new(directory).is_absolute() {
            let abs = Path::new(directory);
            let stripped = abs.strip_prefix(&self.top).map_err(|_| forbidden())?;
            (self.top.clone(), stripped.to_string_lossy().to_string())
        } else {
            (self.top.clone(), directory.to_string())
        };
        let mut rel = PathBuf::from(rest);
        if let Some(f) = file {
            if f.is_empty() || Path::new(f).is_absolute() {
                return Err(forbidden());
            }
            rel.push(f);
        }
        // The base is inside the top folder; lexical normalisation of the remainder relative to the top folder
        // catches `..` climbing out before touching the disk.
        let base_rel = base
            .strip_prefix(&self.top)
            .map_err(|_| forbidden())?
            .to_path_buf();
        let normal = normalise(&base_rel.join(rel)).ok_or_else(forbidden)?;
        Ok(self.top.join(normal))
    }

    fn canonical_inside(&self, candidate: &Path, shown: &str) -> Result<PathBuf, FilesError> {
        let canonical = candidate
            .canonicalize()
            .map_err(|e| FilesError::io(shown, e))?;
        if !canonical.starts_with(&self.top) {
            // A symlink pointing out: refuse without saying what it points at.
            return Err(FilesError::Forbidden(shown.to_string()));
        }
        Ok(canonical)
    }

    /// Resolves a client folder string to a folder inside the top-level folder.
    pub fn resolve_dir(&self, directory: &str) -> Result<ResolvedPath, FilesError> {
        let candidate = self.join_client(directory, None)?;
        let absolute = self.canonical_inside(&candidate, directory)?;
        if !absolute.is_dir() {
            return Err(FilesError::NotAFolder(directory.to_string()));
        }
        let relative = self.relative_of(&absolute);
        Ok(ResolvedPath { absolute, relative })
    }

    /// Resolves a client (folder, file name) pair to a file or image directory inside the top-level folder.
    pub fn resolve_file(&self, directory: &str, file: &str) -> Result<ResolvedPath, FilesError> {
        let shown = if directory.is_empty() || directory == "." {
            file.to_string()
        } else {
            format!("{directory}/{file}")
        };
        let candidate = self.join_client(directory, Some(file))?;
        let absolute = self.canonical_inside(&candidate, &shown)?;
        let relative = self.relative_of(&absolute);
        Ok(ResolvedPath { absolute, relative })
    }

    /// Whether `path` (absolute, possibly a symlink) resolves inside the top-level folder.
    pub fn contains(&self, path: &Path) -> bool {
        path.canonicalize().is_ok_and(|c| c.starts_with(&self.top))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> (PathBuf, Confinement) {
        let root = std::env::temp_dir().join(format!("cartaflow-confine-{}", std::process::id()));
        let top = root.join("top");
        std::fs::create_dir_all(top.join("a/b")).expect("mkdir");
        std::fs::create_dir_all(root.join("outside")).expect("mkdir");
        let _ = std::os::unix::fs::symlink(root.join("outside"), top.join("out_link"));
        let top = top.canonicalize().expect("canonical");
        let start = top.join("a");
        (root, Confinement::new(top, start))
    }

    #[test]
    fn base_and_relative_folders() {
        let (_root, c) = setup();
        let base = c.resolve_dir("$BASE").expect("base");
        assert_eq!(base.relative, "a");
        assert_eq!(base.parent_for_client().as_deref(), Some("."));
        let top = c.resolve_dir("").expect("top");
        assert_eq!(top.relative, "");
        assert_eq!(top.parent_for_client(), None);
        assert_eq!(c.resolve_dir(".").expect("dot").relative, "");
        let ab = c.resolve_dir("a/b").expect("a/b");
        assert_eq!(ab.parent_for_client().as_deref(), Some("a"));
        assert_eq!(c.resolve_dir("a/b/..").expect("a").relative, "a");
        assert_eq!(c.resolve_dir("$BASE/b").expect("b").relative, "a/b");
    }

    #[test]
    fn escapes_are_forbidden() {
        let (_root, c) = setup();
        for bad in [
            "..",
            "../..",
            "a/../../x",
            "$BASE/../..",
            "/etc",
            "out_link",
        ] {
            assert!(
                matches!(c.resolve_dir(bad), Err(FilesError::Forbidden(_))),
                "{bad} should be forbidden"
            );
        }
        assert!(matches!(
            c.resolve_file("", "../../etc/passwd"),
            Err(FilesError::Forbidden(_))
        ));
        assert!(matches!(
            c.resolve_file("", "/etc/passwd"),
            Err(FilesError::Forbidden(_))
        ));
        assert!(matches!(
            c.resolve_dir("nope"),
            Err(FilesError::NotFound(_))
        ));
    }
}
