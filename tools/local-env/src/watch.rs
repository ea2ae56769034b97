//! Edit and re-run (`scripts/run-local --watch`): when a source file under the watched
//! paths changes, the functions are rebuilt, and each function whose binary changed gets
//! new execution environments — idle ones stop at once, busy ones after their invocation —
//! so the next event runs the new code, as after a deployment.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::lambda::Function;

const POLL: Duration = Duration::from_millis(500);
/// Edits are gathered until the files stay unchanged this long, then built once.
const SETTLE: Duration = Duration::from_millis(300);

pub struct Watch {
    pub paths: Vec<PathBuf>,
    /// The build command, run by `sh -c` in `cwd`.
    pub build: String,
    pub cwd: PathBuf,
    pub functions: Vec<Arc<Function>>,
}

/// The newest modification time of the source files (`.rs`, `.toml`, `.lock`) under `paths`.
fn newest(paths: &[PathBuf]) -> Option<SystemTime> {
    fn walk(path: &Path, newest: &mut Option<SystemTime>) {
        let Ok(meta) = std::fs::metadata(path) else { return };
        if meta.is_dir() {
            if path.file_name().is_some_and(|n| n == "target" || n.to_string_lossy().starts_with('.')) {
                return;
            }
            for entry in std::fs::read_dir(path).into_iter().flatten().flatten() {
                walk(&entry.path(), newest);
            }
        } else if path.extension().is_some_and(|e| e == "rs" || e == "toml" || e == "lock")
            && let Ok(modified) = meta.modified()
        {
            *newest = (*newest).max(Some(modified));
        }
    }
    let mut found = None;
    for path in paths {
        walk(path, &mut found);
    }
    found
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

impl Watch {
    pub async fn run(self) {
        let mut seen = newest(&self.paths);
        loop {
            tokio::time::sleep(POLL).await;
            let now = newest(&self.paths);
            if now == seen {
                continue;
            }
            // Let a burst of saves finish before building.
            let mut settled = now;
            loop {
                tokio::time::sleep(SETTLE).await;
                let again = newest(&self.paths);
                if again == settled {
                    break;
                }
                settled = again;
            }
            seen = settled;
            let before: Vec<Option<SystemTime>> =
                self.functions.iter().map(|f| modified(&f.config.launch.program)).collect();
            eprintln!("[watch] sources changed; building: {}", self.build);
            let status =
                tokio::process::Command::new("sh").arg("-c").arg(&self.build).current_dir(&self.cwd).status().await;
            match status {
                Ok(status) if status.success() => {}
                Ok(status) => {
                    eprintln!("[watch] the build failed ({status}); the functions keep running the previous code");
                    continue;
                }
                Err(err) => {
                    eprintln!("[watch] cannot run the build: {err}");
                    continue;
                }
            }
            for (function, before) in self.functions.iter().zip(before) {
                if modified(&function.config.launch.program) != before {
                    function.restart();
                    eprintln!(
                        "[watch] {}: new code; the next invocation starts a new execution environment",
                        function.config.name
                    );
                }
            }
        }
    }
}
