//! How many commands a `batch` carries: 50 (the server's `CRestUtil::BATCH_MAX_LENGTH`) until a
//! batch is cut, then fewer.
//!
//! The cloud's front ends a request after 60 s with a 504 page; the commands of a batch run one
//! after another in that one request (`CRestProvider::methodsBatch`), so on a slow portal 50
//! list pages can take longer than the front waits. Sending the same request again would be cut
//! again, forever. Instead a cut halves the size (down to 1), and the size grows back by a
//! quarter only after several answered batches at the current size whose portal-side time per
//! command that ran (`time.processing` over the commands answered; a chain that ends early runs
//! fewer) says the larger batch would still end well inside the cut-off.

/// Most commands one `batch` may carry.
pub const MAX_BATCH_COMMANDS: usize = 50;

/// Answered batches at the current size before it may grow.
const GROW_AFTER: u32 = 4;

/// A grown batch must be expected to take no longer than this (the front cuts at 60 s).
const TARGET_SECONDS: f64 = 40.0;

/// The current batch size and what it has seen since it last changed. Pure: the client feeds
/// it the size of each batch sent and how that batch ended.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchSize {
    current: usize,
    answered: u32,
    /// The most seconds per command among those answers.
    slowest: f64,
}

impl Default for BatchSize {
    fn default() -> Self {
        BatchSize {
            current: MAX_BATCH_COMMANDS,
            answered: 0,
            slowest: 0.0,
        }
    }
}

impl BatchSize {
    pub fn current(&self) -> usize {
        self.current
    }

    /// A batch of `sent` commands was cut (gateway timeout, an HTML page, or our own timeout):
    /// the next one carries at most half as many. Returns true when the size went down, i.e.
    /// a rebuilt request will be smaller than the one that was cut.
    pub fn cut(&mut self, sent: usize) -> bool {
        let half = (sent / 2).max(1);
        self.answered = 0;
        self.slowest = 0.0;
        if half < self.current {
            self.current = half;
            true
        } else {
            false
        }
    }

    /// A batch of `sent` commands was answered, `ran` of them (a halted chain stops early),
    /// after `seconds` on the portal (if it said).
    pub fn answered(&mut self, sent: usize, ran: usize, seconds: Option<f64>) {
        if sent < self.current || self.current >= MAX_BATCH_COMMANDS {
            // A smaller batch says nothing about the current size.
            return;
        }
        if let Some(s) = seconds {
            self.slowest = self.slowest.max(s / ran.max(1) as f64);
        }
        self.answered += 1;
        if self.answered < GROW_AFTER {
            return;
        }
        let grown = (self.current + (self.current / 4).max(1)).min(MAX_BATCH_COMMANDS);
        if self.slowest * grown as f64 <= TARGET_SECONDS {
            self.current = grown;
        }
        self.answered = 0;
        self.slowest = 0.0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn at(current: usize) -> BatchSize {
        BatchSize {
            current,
            ..BatchSize::default()
        }
    }

    #[rstest]
    #[case::full_batch_halves(50, 50, 25, true)]
    #[case::odd_rounds_down(25, 25, 12, true)]
    #[case::never_below_one(1, 1, 1, false)]
    #[case::two_to_one(2, 2, 1, true)]
    #[case::a_small_fixed_batch_cut_lowers_below_it(50, 10, 5, true)]
    #[case::a_cut_above_the_size_keeps_it(10, 30, 10, false)]
    fn a_cut_halves_what_was_sent(
        #[case] current: usize,
        #[case] sent: usize,
        #[case] after: usize,
        #[case] smaller: bool,
    ) {
        let mut s = at(current);
        assert_eq!(s.cut(sent), smaller);
        assert_eq!(s.current(), after);
    }

    #[rstest]
    #[case::fast_answers_grow_by_a_quarter(25, 25, Some(5.0), 31)]
    #[case::unknown_time_grows(25, 25, None, 31)]
    #[case::slow_answers_stay(25, 25, Some(50.0), 25)]
    #[case::growth_stops_at_fifty(48, 48, Some(1.0), 50)]
    #[case::one_grows_to_two(1, 1, Some(1.0), 2)]
    #[case::smaller_batches_do_not_count(25, 10, Some(1.0), 25)]
    fn after_four_answers_the_size_grows_if_the_larger_batch_would_fit(
        #[case] current: usize,
        #[case] sent: usize,
        #[case] seconds: Option<f64>,
        #[case] after: usize,
    ) {
        let mut s = at(current);
        for n in 0..GROW_AFTER - 1 {
            s.answered(sent, sent, seconds);
            assert_eq!(s.current(), current, "no growth after {} answers", n + 1);
        }
        s.answered(sent, sent, seconds);
        assert_eq!(s.current(), after);
    }

    #[test]
    fn a_chain_that_ended_early_is_judged_by_the_commands_that_ran() {
        let mut s = at(25);
        // 2 s a command: three full chains of 50 s, then one that stopped after 3 pages.
        for _ in 0..3 {
            s.answered(25, 25, Some(50.0));
        }
        s.answered(25, 4, Some(6.0));
        assert_eq!(s.current(), 25, "31 commands would take 62 s");
        for _ in 0..4 {
            s.answered(25, 4, Some(6.0));
        }
        assert_eq!(s.current(), 25, "1.5 s a command: 31 would take 46 s");
    }

    #[test]
    fn a_cut_resets_the_count_of_answers() {
        let mut s = at(25);
        for _ in 0..3 {
            s.answered(25, 25, Some(1.0));
        }
        s.cut(50);
        s.answered(25, 25, Some(1.0));
        assert_eq!(s.current(), 25);
    }
}
