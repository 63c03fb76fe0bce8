//! Where plugin libraries are looked for.

use std::path::{Path, PathBuf};

use super::{LoadFailure, PluginOrigin};

/// Environment variable with extra plugin directories, separated like `PATH`.
pub const PLUGIN_PATH_ENV: &str = "CERTINSPECT_PLUGIN_PATH";

/// Directories searched for plugin libraries, in order: `--plugin-dir`
/// arguments, then [`PLUGIN_PATH_ENV`], then `plugins/` next to the binary,
/// then the installed layouts: `<prefix>/lib/certinspect/plugins` for a
/// binary in `<prefix>/bin`, and the user's data directory
/// (`$XDG_DATA_HOME/certinspect/plugins`, by default
/// `~/.local/share/certinspect/plugins`).
#[derive(Debug, Clone, Default)]
pub struct PluginSearchPath {
    dirs: Vec<PathBuf>,
}

impl PluginSearchPath {
    /// An explicit list of directories.
    pub fn new(dirs: Vec<PathBuf>) -> Self {
        Self { dirs }
    }

    /// The standard search path for a binary at `exe`, with the user data
    /// directory `data_home` (XDG).
    pub fn standard(
        cli_dirs: &[PathBuf],
        env_value: Option<&std::ffi::OsStr>,
        exe: Option<&Path>,
        data_home: Option<&Path>,
    ) -> Self {
        let mut dirs = cli_dirs.to_vec();
        if let Some(value) = env_value {
            dirs.extend(std::env::split_paths(value).filter(|p| !p.as_os_str().is_empty()));
        }
        if let Some(bin) = exe.and_then(Path::parent) {
            dirs.push(bin.join("plugins"));
            if let Some(prefix) = bin.parent().filter(|_| bin.ends_with("bin")) {
                dirs.push(prefix.join("lib").join("certinspect").join("plugins"));
            }
        }
        if let Some(data_home) = data_home {
            dirs.push(data_home.join("certinspect").join("plugins"));
        }
        Self { dirs }
    }

    /// The standard search path of the running process.
    pub fn from_process(cli_dirs: &[PathBuf]) -> Self {
        let exe = std::env::current_exe().ok();
        let data_home = std::env::var_os("XDG_DATA_HOME")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
            .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".local").join("share")));
        Self::standard(cli_dirs, std::env::var_os(PLUGIN_PATH_ENV).as_deref(), exe.as_deref(), data_home.as_deref())
    }

    /// The directories, in search order.
    pub fn dirs(&self) -> &[PathBuf] {
        &self.dirs
    }

    /// Library files in the directories, each once, sorted per directory.
    /// A directory given explicitly that cannot be read is a failure; a
    /// missing default directory is not.
    pub(crate) fn library_files(&self, failures: &mut Vec<LoadFailure>) -> Vec<PathBuf> {
        let mut seen = std::collections::HashSet::new();
        let mut files = Vec::new();
        for dir in &self.dirs {
            let entries = match std::fs::read_dir(dir) {
                Ok(entries) => entries,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && dir.ends_with("plugins") && !dir.exists() => {
                    continue
                }
                Err(e) => {
                    failures.push(LoadFailure::new(
                        PluginOrigin::File(dir.clone()),
                        format!("cannot read plugin directory: {e}"),
                    ));
                    continue;
                }
            };
            let mut here: Vec<PathBuf> = entries
                .filter_map(Result::ok)
                .map(|entry| entry.path())
                .filter(|path| path.is_file() && is_library(path))
                .collect();
            here.sort();
            for path in here {
                let key = path.canonicalize().unwrap_or_else(|_| path.clone());
                if seen.insert(key) {
                    files.push(path);
                }
            }
        }
        files
    }
}

fn is_library(path: &Path) -> bool {
    path.extension().and_then(|e| e.to_str()) == Some(std::env::consts::DLL_EXTENSION)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_order_is_cli_then_env_then_exe_dir_then_installed_layouts() {
        let env = std::env::join_paths(["/e1", "/e2"]).unwrap();
        let search = PluginSearchPath::standard(
            &["/cli".into()],
            Some(&env),
            Some(Path::new("/opt/bin/inspect")),
            Some(Path::new("/home/u/.local/share")),
        );
        let dirs: Vec<_> = search.dirs().iter().map(|d| d.to_str().unwrap()).collect();
        assert_eq!(
            dirs,
            [
                "/cli",
                "/e1",
                "/e2",
                "/opt/bin/plugins",
                "/opt/lib/certinspect/plugins",
                "/home/u/.local/share/certinspect/plugins"
            ]
        );
        // A binary outside a bin/ directory has no installed layout to look in.
        let search = PluginSearchPath::standard(&[], None, Some(Path::new("/work/target/debug/inspect")), None);
        assert_eq!(search.dirs(), [Path::new("/work/target/debug/plugins")]);
    }

    #[test]
    fn finds_libraries_once_and_reports_unreadable_dirs() {
        let dir = std::env::temp_dir().join(format!("ci-discovery-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let lib = dir.join(format!("a.{}", std::env::consts::DLL_EXTENSION));
        std::fs::write(&lib, b"x").unwrap();
        std::fs::write(dir.join("notes.txt"), b"x").unwrap();
        let missing = dir.join("missing");
        let search = PluginSearchPath::new(vec![dir.clone(), dir.clone(), missing.clone()]);
        let mut failures = Vec::new();
        assert_eq!(search.library_files(&mut failures), vec![lib]);
        assert_eq!(failures.len(), 1);
        assert!(failures[0].to_string().starts_with(&missing.display().to_string()));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
