//! The tauri-driver process: started on free loopback ports in its own process group, stopped with
//! SIGTERM to that group (tauri-driver, WebKitWebDriver and the app), so nothing outlives a story.

use std::fs::File;
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::E2eError;

/// How long tauri-driver may take to open its port.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the process group gets to exit after SIGTERM before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// A running tauri-driver.
pub struct TauriDriver {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl TauriDriver {
    /// Starts tauri-driver with `env` added to its environment (inherited by WebKitWebDriver and
    /// the app), its stdout and stderr going to `log`.
    pub fn start(binary: &Path, env: &[(String, String)], log: &Path) -> Result<Self, E2eError> {
        let port = free_port()?;
        let mut native_port = free_port()?;
        while native_port == port {
            native_port = free_port()?;
        }
        let out = File::create(log).map_err(|e| E2eError::io(log, e))?;
        let err = out.try_clone().map_err(|e| E2eError::io(log, e))?;
        let mut command = Command::new(binary);
        command
            .arg("--port")
            .arg(port.to_string())
            .arg("--native-port")
            .arg(native_port.to_string())
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            // Its own process group, so stopping it reaches WebKitWebDriver and the app too.
            .process_group(0);
        let child = command.spawn().map_err(|e| {
            E2eError::Setup(format!(
                "cannot start tauri-driver {}: {e}",
                binary.display()
            ))
        })?;
        let mut driver = Self {
            child,
            port,
            log: log.to_owned(),
        };
        driver.wait_until_listening()?;
        Ok(driver)
    }

    /// The loopback port where tauri-driver accepts WebDriver commands.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The file holding the output of tauri-driver, WebKitWebDriver and the app.
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    fn wait_until_listening(&mut self) -> Result<(), E2eError> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return Ok(());
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(E2eError::Setup(format!(
                    "tauri-driver exited with {status} before listening; see {}",
                    self.log.display()
                )));
            }
            if Instant::now() > deadline {
                return Err(E2eError::Timeout(format!(
                    "tauri-driver did not listen on port {} within {START_TIMEOUT:?}",
                    self.port
                )));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Sends SIGTERM to the whole process group, waits for tauri-driver to exit, then SIGKILLs
    /// whatever is left of the group.
    pub fn stop(&mut self) {
        let group = format!("-{}", self.child.id());
        signal_group("-TERM", &group);
        let deadline = Instant::now() + STOP_GRACE;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        // Stragglers (a WebKitWebDriver or app that ignored SIGTERM) must not outlive the story.
        signal_group("-KILL", &group);
        let _ = self.child.wait();
    }
}

impl Drop for TauriDriver {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `kill -SIG -- -PGID`; a group that is already gone is fine.
fn signal_group(signal: &str, group: &str) {
    let _ = Command::new("kill")
        .args([signal, "--", group])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// A loopback port that was free a moment ago.
fn free_port() -> Result<u16, E2eError> {
    let listener = TcpListener::bind(("127.0.0.1", 0))
        .map_err(|e| E2eError::Setup(format!("no free loopback port: {e}")))?;
    listener
        .local_addr()
        .map(|addr| addr.port())
        .map_err(|e| E2eError::Setup(format!("no free loopback port: {e}")))
}
