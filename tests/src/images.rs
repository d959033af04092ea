//! Images built without a registry: `FROM scratch` plus files from an in-memory build context
//! (static binaries, Debian's static busybox for a shell), sent to the engine's builder.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

use bollard::query_parameters::BuildImageOptionsBuilder;
use futures::StreamExt;

use crate::docker::TestResources;

/// Where Debian's `busybox-static` installs its binary.
const BUSYBOX: &str = "/bin/busybox";
/// The static build script, relative to this crate.
const BUILD_STATIC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/build-static");

/// One entry of the image's root filesystem.
#[derive(Debug, Clone)]
enum Entry {
    File { data: Vec<u8>, mode: u32 },
    Symlink { target: String },
    Dir { mode: u32 },
}

/// A `FROM scratch` image to build: a root filesystem and the Dockerfile instructions that
/// follow `COPY rootfs/ /`.
#[derive(Debug, Clone, Default)]
pub struct ImageContext {
    /// Absolute paths in the image, in the order they were added.
    rootfs: Vec<(String, Entry)>,
    instructions: Vec<String>,
}

impl ImageContext {
    /// An empty image.
    pub fn scratch() -> ImageContext {
        ImageContext::default()
    }

    /// Adds `/bin/busybox` with a symlink in `/bin` for every applet (what `busybox --install
    /// -s /bin` makes, without running a build step) and a world-writable `/tmp`.
    ///
    /// # Panics
    /// When busybox-static is not installed.
    pub fn with_busybox(self) -> ImageContext {
        let mut context = self
            .host_file("/bin/busybox", Path::new(BUSYBOX))
            .dir("/tmp", 0o1777);
        for applet in busybox_applets() {
            context = context.symlink(&format!("/bin/{applet}"), "/bin/busybox");
        }
        context
    }

    /// Adds a file at absolute `path` in the image.
    pub fn file(mut self, path: &str, data: impl Into<Vec<u8>>, mode: u32) -> ImageContext {
        let data = data.into();
        self.rootfs
            .push((absolute(path), Entry::File { data, mode }));
        self
    }

    /// Adds the host file `source` at `path`, keeping its permission bits.
    ///
    /// # Panics
    /// When `source` cannot be read.
    pub fn host_file(self, path: &str, source: &Path) -> ImageContext {
        use std::os::unix::fs::PermissionsExt;
        let read = || -> std::io::Result<(Vec<u8>, u32)> {
            Ok((
                std::fs::read(source)?,
                std::fs::metadata(source)?.permissions().mode() & 0o7777,
            ))
        };
        let (data, mode) =
            read().unwrap_or_else(|err| panic!("cannot read {}: {err}", source.display()));
        self.file(path, data, mode)
    }

    /// Adds a symbolic link at `path` pointing to `target`.
    pub fn symlink(mut self, path: &str, target: &str) -> ImageContext {
        let target = target.to_owned();
        self.rootfs
            .push((absolute(path), Entry::Symlink { target }));
        self
    }

    /// Adds an (empty) directory.
    pub fn dir(mut self, path: &str, mode: u32) -> ImageContext {
        self.rootfs.push((absolute(path), Entry::Dir { mode }));
        self
    }

    /// `ENV key="value"`, quoted so that spaces, quotes, backslashes and `$` reach the process
    /// unchanged.
    ///
    /// # Panics
    /// When the key is not a plain variable name or the value holds a line break, which a
    /// Dockerfile cannot express.
    pub fn env(self, key: &str, value: &str) -> ImageContext {
        let key_ok = !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        assert!(key_ok, "ENV key {key:?}: use letters, digits and _ only");
        assert!(
            !value.contains(['\n', '\r']),
            "ENV {key}: a value cannot hold a line break"
        );
        let mut quoted = String::with_capacity(value.len() + 2);
        for c in value.chars() {
            if matches!(c, '"' | '\\' | '$') {
                quoted.push('\\');
            }
            quoted.push(c);
        }
        self.instruction(&format!("ENV {key}=\"{quoted}\""))
    }

    /// `CMD [...]` in exec form.
    pub fn cmd(self, argv: &[&str]) -> ImageContext {
        let json = serde_json::to_string(argv).unwrap_or_else(|err| panic!("CMD {argv:?}: {err}"));
        self.instruction(&format!("CMD {json}"))
    }

    /// Any other Dockerfile instruction (`EXPOSE 8080`, `USER 1000`, `HEALTHCHECK ...`),
    /// appended after the ones already given.
    pub fn instruction(mut self, line: &str) -> ImageContext {
        self.instructions.push(line.to_owned());
        self
    }

    /// The Dockerfile this context builds with.
    pub fn dockerfile(&self) -> String {
        let mut dockerfile = String::from("FROM scratch\n");
        if !self.rootfs.is_empty() {
            dockerfile.push_str("COPY rootfs/ /\n");
        }
        for line in &self.instructions {
            dockerfile.push_str(line);
            dockerfile.push('\n');
        }
        dockerfile
    }

    /// The build context: `Dockerfile` and `rootfs/`, as an uncompressed tar archive.
    pub fn tar(&self) -> Vec<u8> {
        let mut archive = tar::Builder::new(Vec::new());
        let append = |archive: &mut tar::Builder<Vec<u8>>, path: &str, entry: &Entry| {
            let mut header = tar::Header::new_gnu();
            header.set_mtime(0);
            header.set_uid(0);
            header.set_gid(0);
            let result = match entry {
                Entry::File { data, mode } => {
                    header.set_entry_type(tar::EntryType::Regular);
                    header.set_mode(*mode);
                    header.set_size(data.len() as u64);
                    archive.append_data(&mut header, path, data.as_slice())
                }
                Entry::Symlink { target } => {
                    header.set_entry_type(tar::EntryType::Symlink);
                    header.set_mode(0o777);
                    header.set_size(0);
                    archive.append_link(&mut header, path, target)
                }
                Entry::Dir { mode } => {
                    header.set_entry_type(tar::EntryType::Directory);
                    header.set_mode(*mode);
                    header.set_size(0);
                    archive.append_data(&mut header, path, std::io::empty())
                }
            };
            result.unwrap_or_else(|err| panic!("cannot add {path} to the build context: {err}"));
        };
        let dockerfile = self.dockerfile();
        let dockerfile = Entry::File {
            data: dockerfile.into_bytes(),
            mode: 0o644,
        };
        append(&mut archive, "Dockerfile", &dockerfile);
        // Parent directories first, so the engine never invents them with other modes.
        let mut made = std::collections::HashSet::new();
        for (path, entry) in &self.rootfs {
            let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
            let mut parent = String::from("rootfs");
            for part in &parts[..parts.len() - 1] {
                parent = format!("{parent}/{part}");
                if made.insert(parent.clone()) {
                    append(&mut archive, &parent, &Entry::Dir { mode: 0o755 });
                }
            }
            let in_archive = format!("rootfs{path}");
            if matches!(entry, Entry::Dir { .. }) {
                made.insert(in_archive.clone());
            }
            append(&mut archive, &in_archive, entry);
        }
        archive
            .into_inner()
            .unwrap_or_else(|err| panic!("cannot finish the build context: {err}"))
    }

    /// Builds the image as `<run prefix><name>:latest`, labelled for the run and tracked, so
    /// the guard removes it. Returns the tag.
    ///
    /// # Panics
    /// When the build fails; the message carries the builder's output.
    pub async fn build(&self, resources: &TestResources, name: &str) -> String {
        let tag = format!("{}:latest", resources.name(name));
        let options = BuildImageOptionsBuilder::new()
            .dockerfile("Dockerfile")
            .t(&tag)
            .rm(true)
            .forcerm(true)
            .labels(&resources.labels())
            .build();
        resources.track_image(tag.clone());
        let body = bollard::body_full(self.tar().into());
        let mut progress = resources.docker().build_image(options, None, Some(body));
        let mut log = String::new();
        while let Some(item) = progress.next().await {
            match item {
                Ok(info) => {
                    if let Some(error) = info.error_detail.and_then(|d| d.message).or(info.error) {
                        panic!("building image {tag} failed: {error}\n--- build output ---\n{log}");
                    }
                    log.push_str(info.stream.as_deref().unwrap_or_default());
                }
                Err(err) => {
                    panic!("building image {tag} failed: {err}\n--- build output ---\n{log}")
                }
            }
        }
        tag
    }
}

fn absolute(path: &str) -> String {
    assert!(
        path.starts_with('/') && !path.ends_with('/'),
        "image path {path:?} must be absolute"
    );
    path.to_owned()
}

/// The applets of the host's busybox, which is the binary copied into images.
fn busybox_applets() -> &'static [String] {
    static APPLETS: OnceLock<Vec<String>> = OnceLock::new();
    APPLETS.get_or_init(|| {
        let missing = |err: String| -> ! {
            panic!("{BUSYBOX} is not usable ({err}): run `apt-get install busybox-static` (.ci/run does)")
        };
        let output = Command::new(BUSYBOX)
            .arg("--list")
            .output()
            .unwrap_or_else(|err| missing(err.to_string()));
        if !output.status.success() {
            missing(format!("`busybox --list` exited with {}", output.status));
        }
        String::from_utf8_lossy(&output.stdout)
            .lines()
            // The list names busybox itself, which must stay the binary, not a link to itself.
            .filter(|applet| !applet.is_empty() && !applet.contains('/') && *applet != "busybox")
            .map(str::to_owned)
            .collect()
    })
}

/// Builds `FROM scratch` + busybox (`/bin/sh` and the other applets) for this run. Returns the
/// tag.
pub async fn busybox_image(resources: &TestResources) -> String {
    ImageContext::scratch()
        .with_busybox()
        .build(resources, "busybox")
        .await
}

/// The path of workspace binary `bin` built static (for `FROM scratch` images) by
/// `scripts/build-static`. Built at most once per test process; cargo makes later runs cheap.
///
/// Blocks for as long as the build takes (minutes on a clean tree); call it from async code
/// through `spawn_blocking`, as [`function_context`] does.
///
/// # Panics
/// When the build fails; the message carries cargo's output.
pub fn static_binary(bin: &str) -> PathBuf {
    static BUILT: OnceLock<Mutex<HashMap<String, PathBuf>>> = OnceLock::new();
    let built = BUILT.get_or_init(Mutex::default);
    // Held during the build so parallel tests wait for one build instead of racing cargo.
    let mut built = built
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(path) = built.get(bin) {
        return path.clone();
    }
    let output = Command::new("bash")
        .arg(BUILD_STATIC)
        .arg(bin)
        .output()
        .unwrap_or_else(|err| panic!("cannot run {BUILD_STATIC}: {err}"));
    if !output.status.success() {
        panic!(
            "{BUILD_STATIC} {bin} failed with {}:\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let path = String::from_utf8_lossy(&output.stdout)
        .lines()
        .last()
        .map(PathBuf::from)
        .unwrap_or_else(|| panic!("{BUILD_STATIC} {bin} printed no path"));
    built.insert(bin.to_owned(), path.clone());
    path
}

/// The context of a function image as OpenFaaS templates make it: busybox, the static
/// `/fwatchdog`, `ENV fprocess=<fprocess>` and `CMD ["/fwatchdog"]`. Add environment
/// (`write_timeout`, `mode`, ...) and files with the [`ImageContext`] methods, then `build`.
pub async fn function_context(fprocess: &str) -> ImageContext {
    let watchdog = tokio::task::spawn_blocking(|| static_binary("fwatchdog"))
        .await
        .unwrap_or_else(|err| std::panic::resume_unwind(err.into_panic()));
    ImageContext::scratch()
        .with_busybox()
        .host_file("/fwatchdog", &watchdog)
        .env("fprocess", fprocess)
        .cmd(&["/fwatchdog"])
}

/// Builds a function image named `<run prefix><name>` running `fprocess` behind the watchdog.
/// Returns the tag.
pub async fn function_image(resources: &TestResources, name: &str, fprocess: &str) -> String {
    function_context(fprocess)
        .await
        .build(resources, name)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(context: &ImageContext) -> Vec<(String, tar::EntryType, u32, Option<String>)> {
        let tar = context.tar();
        let mut archive = tar::Archive::new(tar.as_slice());
        archive
            .entries()
            .expect("a readable archive")
            .map(|entry| {
                let entry = entry.expect("a readable entry");
                let header = entry.header();
                let link = entry
                    .link_name()
                    .expect("a link name")
                    .map(|l| l.display().to_string());
                (
                    entry.path().expect("a path").display().to_string(),
                    header.entry_type(),
                    header.mode().expect("a mode"),
                    link,
                )
            })
            .collect()
    }

    #[test]
    fn dockerfile_copies_the_rootfs_then_runs_the_instructions_in_order() {
        let context = ImageContext::scratch()
            .file("/app/run", "#!/bin/sh\n", 0o755)
            .env("fprocess", "cat")
            .cmd(&["/fwatchdog", "--flag"])
            .instruction("EXPOSE 8080");
        assert_eq!(
            context.dockerfile(),
            "FROM scratch\nCOPY rootfs/ /\nENV fprocess=\"cat\"\nCMD [\"/fwatchdog\",\"--flag\"]\nEXPOSE 8080\n"
        );
    }

    #[test]
    fn an_empty_image_has_no_copy_step() {
        assert_eq!(
            ImageContext::scratch().cmd(&["x"]).dockerfile(),
            "FROM scratch\nCMD [\"x\"]\n"
        );
    }

    #[test]
    fn env_values_are_quoted_so_they_arrive_unchanged() {
        let cases = [
            ("plain", "cat", r#"ENV K="cat""#),
            ("spaces", "sh -c 'wc -l'", r#"ENV K="sh -c 'wc -l'""#),
            ("double quotes", r#"say "hi""#, r#"ENV K="say \"hi\"""#),
            ("dollar", "echo $HOME", r#"ENV K="echo \$HOME""#),
            ("backslash", r"a\b", r#"ENV K="a\\b""#),
            ("empty", "", r#"ENV K="""#),
        ];
        for (case, value, expected) in cases {
            let dockerfile = ImageContext::scratch().env("K", value).dockerfile();
            assert_eq!(dockerfile, format!("FROM scratch\n{expected}\n"), "{case}");
        }
    }

    #[test]
    #[should_panic(expected = "line break")]
    fn env_refuses_a_line_break() {
        let _ = ImageContext::scratch().env("K", "a\nb");
    }

    #[test]
    fn tar_holds_the_dockerfile_parents_files_links_and_modes() {
        let context = ImageContext::scratch()
            .file("/usr/bin/tool", "x", 0o755)
            .symlink("/usr/bin/alias", "/usr/bin/tool")
            .dir("/tmp", 0o1777);
        let found = entries(&context);
        let expected = [
            ("Dockerfile", tar::EntryType::Regular, 0o644, None),
            ("rootfs/usr", tar::EntryType::Directory, 0o755, None),
            ("rootfs/usr/bin", tar::EntryType::Directory, 0o755, None),
            ("rootfs/usr/bin/tool", tar::EntryType::Regular, 0o755, None),
            (
                "rootfs/usr/bin/alias",
                tar::EntryType::Symlink,
                0o777,
                Some("/usr/bin/tool"),
            ),
            ("rootfs/tmp", tar::EntryType::Directory, 0o1777, None),
        ];
        let expected: Vec<_> = expected
            .into_iter()
            .map(|(p, t, m, l)| (p.to_owned(), t, m, l.map(str::to_owned)))
            .collect();
        assert_eq!(found, expected);
    }

    #[test]
    fn busybox_brings_a_shell_and_tmp() {
        let found = entries(&ImageContext::scratch().with_busybox());
        let kinds = |path: &str| -> Vec<tar::EntryType> {
            found
                .iter()
                .filter(|(p, ..)| p == path)
                .map(|(_, kind, ..)| *kind)
                .collect()
        };
        assert_eq!(
            kinds("rootfs/bin/busybox"),
            [tar::EntryType::Regular],
            "only the binary"
        );
        assert_eq!(kinds("rootfs/bin/sh"), [tar::EntryType::Symlink]);
        assert_eq!(kinds("rootfs/tmp"), [tar::EntryType::Directory]);
    }
}
