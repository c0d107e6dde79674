//! How the app was started: command-line flags.

/// What the command line asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LaunchOptions {
    /// `--demo`: use the built-in demo portal even if a real one is configured.
    pub demo: bool,
}

impl LaunchOptions {
    /// Reads the flags, ignoring the program name and anything unknown (the desktop and
    /// WebDriver may pass their own).
    pub fn from_args<I: IntoIterator<Item = String>>(args: I) -> Self {
        let mut opts = LaunchOptions::default();
        for arg in args.into_iter().skip(1) {
            if arg == "--demo" {
                opts.demo = true;
            }
        }
        opts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn demo_flag_is_read_and_unknown_flags_are_ignored() {
        assert!(LaunchOptions::from_args(args(&["kartoteka", "--demo"])).demo);
        assert!(!LaunchOptions::from_args(args(&["kartoteka", "--other"])).demo);
        // The program name is never taken for a flag.
        assert!(!LaunchOptions::from_args(args(&["--demo"])).demo);
    }
}
