//! of-watchdog `static` mode: the files under `static_path`, as Go's `http.FileServer` serves
//! them: `index.html` for a directory, else a listing; dot-files served; ranges and
//! conditional requests answered.
//!
//! Escapes are impossible: the path is decoded and normalised before it touches the disk,
//! `..` never climbs above the root (as Go's `path.Clean` of a rooted path), and an encoded
//! `/` (`%2F`) is refused with 400.

use std::path::Path;

use actix_files::Files;

use crate::config::Config;

#[derive(Debug, thiserror::Error)]
#[error("static_path: {path:?} is not a directory")]
pub struct NotADirectory {
    pub path: std::path::PathBuf,
}

/// Checks `static_path` at start-up.
pub fn check(config: &Config) -> Result<(), NotADirectory> {
    if Path::new(&config.static_path).is_dir() {
        Ok(())
    } else {
        Err(NotADirectory {
            path: config.static_path.clone(),
        })
    }
}

/// The file service for one server thread.
pub fn service(root: &Path) -> Files {
    Files::new("", root)
        .index_file("index.html")
        .show_files_listing()
        .use_hidden_files()
        .redirect_to_slash_directory()
}
