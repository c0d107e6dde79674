//! A test keyring for stories whose app keeps a webhook across a restart.

/// A GNOME Keyring for the test's D-Bus session (as `.ci/dev` makes for the keyring tests): the
/// app keeps the webhook there across its restart. Stopped when dropped.
pub struct TestKeyring {
    _data: tempfile::TempDir,
    pid: Option<u32>,
}

impl TestKeyring {
    /// Starts the daemon; `Err` says why it cannot (no D-Bus session, no daemon).
    pub fn start() -> Result<Self, String> {
        use std::io::Write;
        use std::process::{Command, Stdio};
        if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none() {
            return Err("no D-Bus session".into());
        }
        let data = tempfile::tempdir().map_err(|e| e.to_string())?;
        let mut child = Command::new("gnome-keyring-daemon")
            .args(["--daemonize", "--unlock", "--components=secrets"])
            .env("XDG_DATA_HOME", data.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("gnome-keyring-daemon: {e}"))?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin
                .write_all(b"kartoteka-test")
                .map_err(|e| e.to_string())?;
        }
        let out = child.wait_with_output().map_err(|e| e.to_string())?;
        // `--daemonize` prints GNOME_KEYRING_PID=… for the daemon it left running.
        let pid = String::from_utf8_lossy(&out.stdout)
            .lines()
            .find_map(|l| l.strip_prefix("GNOME_KEYRING_PID="))
            .and_then(|p| p.trim().parse().ok());
        Ok(TestKeyring { _data: data, pid })
    }
}

impl Drop for TestKeyring {
    fn drop(&mut self) {
        if let Some(pid) = self.pid {
            let _ = std::process::Command::new("kill")
                .arg(pid.to_string())
                .status();
        }
    }
}
