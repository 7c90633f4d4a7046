//! The console's clock, injectable so `App::update` tests stay deterministic: the system clock
//! in the real console, a manual one (advanced by the test) in tests.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Time since the clock was made.
#[derive(Clone, Debug)]
pub struct Clock {
    base: Instant,
    manual: Option<Arc<AtomicU64>>,
}

impl Default for Clock {
    fn default() -> Self {
        Self::system()
    }
}

impl Clock {
    pub fn system() -> Self {
        Self {
            base: Instant::now(),
            manual: None,
        }
    }

    /// A clock that stands still until [`Clock::advance`] moves it (clones share the time).
    pub fn manual() -> Self {
        Self {
            base: Instant::now(),
            manual: Some(Arc::new(AtomicU64::new(0))),
        }
    }

    /// Moves a manual clock forward (no effect on the system clock).
    pub fn advance(&self, by: Duration) {
        if let Some(m) = &self.manual {
            m.fetch_add(by.as_millis() as u64, Ordering::SeqCst);
        }
    }

    pub fn now(&self) -> Duration {
        match &self.manual {
            Some(m) => Duration::from_millis(m.load(Ordering::SeqCst)),
            None => self.base.elapsed(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_advanced() {
        let c = Clock::manual();
        let c2 = c.clone();
        assert_eq!(c.now(), Duration::ZERO);
        c2.advance(Duration::from_millis(300));
        assert_eq!(c.now(), Duration::from_millis(300));
        let s = Clock::system();
        s.advance(Duration::from_secs(10));
        assert!(s.now() < Duration::from_secs(10));
    }
}
