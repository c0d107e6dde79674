//! Files and folders that hold customers' data are the user's alone: the one place that says how,
//! for every crate that writes such files (the store's replica and its upgrade copy, the app's
//! data folder and settings, exports of unsent edits and of history).
//!
//! **Unix (Linux and macOS).** A folder the app makes for itself is created `0700`, a file it
//! writes `0600`. The mode is given to mkdir(2)/open(2) when the folder or file is created
//! ([`DirBuilderExt::mode`], [`OpenOptionsExt::mode`]), so there is no moment when it is
//! readable by others; the umask only ever takes bits away from it (open(2): the file is created
//! with `mode & ~umask`). A folder or file an earlier version left wider is narrowed — group and
//! other bits taken away — before anything new is written to it. A folder the user chose (an
//! export's destination, the folder of `kartoteka-cli --db`) is not the app's and keeps its own
//! mode; only the file written into it is private.
//!
//! **Windows.** Nothing is done beyond creating the folder or file. The app's data lives in the
//! user's profile (`%APPDATA%`, [FOLDERID_RoamingAppData]), which Windows creates with an access
//! list granting the user, SYSTEM and Administrators only, marked inheritable. A file or folder
//! created without a security descriptor of its own (as Rust's std creates them: [CreateFileW]
//! with no `lpSecurityAttributes`) gets the default one, whose access list it inherits from the
//! folder it is created in ([ACE inheritance]), so it is as private as the profile. A file exported into a folder the user chose takes that folder's
//! access list, as every other file the user saves there.
//!
//! [`DirBuilderExt::mode`]: https://doc.rust-lang.org/std/os/unix/fs/trait.DirBuilderExt.html#tymethod.mode
//! [`OpenOptionsExt::mode`]: https://doc.rust-lang.org/std/os/unix/fs/trait.OpenOptionsExt.html#tymethod.mode
//! [FOLDERID_RoamingAppData]: https://learn.microsoft.com/en-us/windows/win32/shell/knownfolderid
//! [CreateFileW]: https://learn.microsoft.com/en-us/windows/win32/api/fileapi/nf-fileapi-createfilew
//! [ACE inheritance]: https://learn.microsoft.com/en-us/windows/win32/secauthz/ace-inheritance

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// The mode of a folder the app makes for itself (unix): the user's alone.
pub const PRIVATE_DIR_MODE: u32 = 0o700;
/// The mode of a file the app writes (unix): read and written by the user alone.
pub const PRIVATE_FILE_MODE: u32 = 0o600;

/// Makes the app's own folder `path` (and any missing folders above it) `0700`; an existing one
/// is narrowed to the user alone. Not for a folder the user chose: that keeps its mode. (Missing
/// folders above it, such as `~/.local/share`, are made `0700` too, as the [XDG Base Directory
/// Specification] asks of them.)
///
/// [XDG Base Directory Specification]: https://specifications.freedesktop.org/basedir-spec/latest/
pub fn private_dir(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(PRIVATE_DIR_MODE)
            .create(path)?;
        narrow(path)
    }
    #[cfg(not(unix))]
    {
        // The profile's inherited access list already keeps it private (module docs).
        std::fs::create_dir_all(path)
    }
}

/// Takes group and other permissions off the existing file or folder `path` (`0644` → `0600`,
/// `0755` → `0700`); nothing when it is not there. On Windows, nothing (module docs).
pub fn make_private(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        match narrow(path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            other => other,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        Ok(())
    }
}

#[cfg(unix)]
fn narrow(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path)?.permissions().mode();
    if mode & 0o077 != 0 {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode & !0o077))?;
    }
    Ok(())
}

/// Opens `path` for writing, empty, as a file of the user's alone: created `0600`, or, when it
/// already exists, truncated and narrowed to `0600` before anything is written to it.
pub fn create_private_file(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        options.mode(PRIVATE_FILE_MODE);
        let file = options.open(path)?;
        // `mode` applies only when open(2) creates the file; one that was there keeps its own.
        let mode = file.metadata()?.permissions().mode();
        if mode & 0o077 != 0 {
            file.set_permissions(std::fs::Permissions::from_mode(mode & !0o077))?;
        }
        Ok(file)
    }
    #[cfg(not(unix))]
    {
        options.open(path)
    }
}

/// Creates the file `path`, empty and `0600`; fails if something is there already. For a file
/// another library then fills (SQLite's `VACUUM INTO`).
pub(crate) fn create_private_new(path: &Path) -> io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(PRIVATE_FILE_MODE);
    }
    options.open(path).map(drop)
}

/// Creates the file `path` empty and `0600` if it does not exist; leaves an existing one as it is
/// (contents and mode). For a file another library then fills (SQLite's database file).
fn create_private_if_missing(path: &Path) -> io::Result<()> {
    match create_private_new(path) {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        other => other,
    }
}

/// Makes the replica at `path` the user's alone before SQLite opens it. SQLite creates a new
/// database file with its default mode (0644 less the umask), but the `-wal`, `-shm` and
/// `-journal` files with the mode of the database file (`findCreateFileMode` and
/// `unixOpenSharedMemory` in SQLite's os_unix.c: "WAL and journal files are created using the
/// same permissions as the associated database file"). So a missing database file is created
/// here, empty and `0600` (SQLite opens an empty file as a new, empty database), and the files an
/// earlier version left readable by others are narrowed.
pub(crate) fn make_replica_private(path: &Path) -> io::Result<()> {
    create_private_if_missing(path)?;
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut file = path.as_os_str().to_owned();
        file.push(suffix);
        let file = PathBuf::from(file);
        if let Err(error) = make_private(&file) {
            // Not ours to change (another owner, a read-only mount): SQLite opens it as before.
            tracing::warn!(file = %file.display(), %error, "a replica file stays readable by others");
        }
    }
    Ok(())
}

/// Writes `contents` to `path` as a file of the user's alone: into `<path>.tmp` made with
/// [`create_private_file`], then renamed over `path`, so a crash never leaves half a file and
/// `path` is never readable by others, not even for a moment. The folder must exist.
pub fn write_private_file(path: &Path, contents: &[u8]) -> io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let mut file = create_private_file(&tmp)?;
    file.write_all(contents)?;
    drop(file);
    std::fs::rename(&tmp, path)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path)
            .expect("metadata")
            .permissions()
            .mode()
            & 0o777
    }

    fn set_mode(path: &Path, mode: u32) {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
    }

    #[test]
    fn a_new_app_folder_is_0700_and_one_left_0755_is_narrowed() {
        let dir = tempfile::tempdir().expect("temp dir");
        let data = dir.path().join("share").join("kartoteka");
        private_dir(&data).expect("made");
        assert_eq!(mode(&data), 0o700);
        assert_eq!(
            mode(&dir.path().join("share")),
            0o700,
            "the folders made above it"
        );
        set_mode(&data, 0o755);
        private_dir(&data).expect("again");
        assert_eq!(mode(&data), 0o700, "narrowed");
    }

    #[test]
    fn written_files_are_0600_even_over_a_file_left_0644() {
        let dir = tempfile::tempdir().expect("temp dir");
        let settings = dir.path().join("sync.json");
        write_private_file(&settings, b"{}").expect("written");
        assert_eq!(mode(&settings), 0o600);
        assert_eq!(std::fs::read(&settings).expect("read"), b"{}");
        assert!(!dir.path().join("sync.json.tmp").exists(), "renamed");

        // A temporary file a crash left behind, readable by others.
        let left = dir.path().join("portal.json.tmp");
        std::fs::write(&left, b"old").expect("left");
        set_mode(&left, 0o644);
        write_private_file(&dir.path().join("portal.json"), b"new").expect("written");
        assert_eq!(mode(&dir.path().join("portal.json")), 0o600);

        let export = dir.path().join("unsent.json");
        std::fs::write(&export, b"old").expect("an earlier file");
        set_mode(&export, 0o644);
        let mut file = create_private_file(&export).expect("opened");
        assert_eq!(mode(&export), 0o600, "narrowed before a byte is written");
        file.write_all(b"new").expect("write");
        drop(file);
        assert_eq!(std::fs::read(&export).expect("read"), b"new");
    }

    #[test]
    fn narrowing_keeps_the_owners_bits_and_ignores_a_missing_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("replica.db");
        make_private(&file).expect("nothing there, nothing to do");
        assert!(!file.exists());
        std::fs::write(&file, b"").expect("file");
        set_mode(&file, 0o664);
        make_private(&file).expect("narrowed");
        assert_eq!(mode(&file), 0o600);
        set_mode(&file, 0o400);
        make_private(&file).expect("already private");
        assert_eq!(mode(&file), 0o400, "never widened");
    }
}
