//! How the app was started: command-line flags.

/// What the command line asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LaunchOptions {
    /// `--demo`: use the built-in demo portal even if a real one is configured.
    pub demo: bool,
    /// `--demo-records N`: the demo portal holds N records (in demo proportions) instead of the
    /// standard set; for watching a longer sync. Implies nothing else.
    pub demo_records: Option<usize>,
}

impl LaunchOptions {
    /// Reads the flags, ignoring the program name and anything unknown (the desktop and
    /// WebDriver may pass their own).
    pub fn from_args<I: IntoIterator<Item = String>>(args: I) -> Self {
        let mut opts = LaunchOptions::default();
        let mut args = args.into_iter().skip(1);
        while let Some(arg) = args.next() {
            if arg == "--demo" {
                opts.demo = true;
            } else if arg == "--demo-records" {
                opts.demo_records = args.next().and_then(|n| n.parse().ok());
            } else if let Some(n) = arg.strip_prefix("--demo-records=") {
                opts.demo_records = n.parse().ok();
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

    #[test]
    fn demo_record_count_is_read_in_both_spellings_and_a_bad_number_is_ignored() {
        let read = |list: &[&str]| LaunchOptions::from_args(args(list)).demo_records;
        assert_eq!(read(&["k", "--demo", "--demo-records", "5000"]), Some(5000));
        assert_eq!(read(&["k", "--demo-records=20000"]), Some(20000));
        assert_eq!(read(&["k", "--demo-records", "many"]), None);
        assert_eq!(read(&["k", "--demo"]), None);
    }
}
