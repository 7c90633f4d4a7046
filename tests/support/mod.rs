//! Test harness: one ephemeral PostgreSQL cluster per test run (fsync off) with a migrated
//! template, a fresh database per test, and a moto (Cognito emulator) server from the pinned
//! virtualenv. Components that are missing make tests FAIL with the remedy — never skip.
#![allow(dead_code)]

pub mod cli;
pub mod fault_proxy;
pub mod moto;
pub mod pg;
pub mod readback;

/// Panics with a clear message (tests fail loudly instead of skipping).
pub fn fail_missing(component: &str, remedy: &str) -> ! {
    panic!(
        "test harness: {component} is missing. {remedy}. Run ./test.sh, which installs what the tests need."
    )
}

/// Runs `f` on the keeper thread. Children spawned there get a parent-death signal tied to that
/// thread, which lives as long as the test process — so no server outlives the run.
pub fn on_keeper<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    use std::sync::mpsc;
    use std::sync::{Mutex, OnceLock};
    type Job = Box<dyn FnOnce() + Send>;
    static KEEPER: OnceLock<Mutex<mpsc::Sender<Job>>> = OnceLock::new();
    let tx = KEEPER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("harness-keeper".into())
            .spawn(move || {
                while let Ok(job) = rx.recv() {
                    job();
                }
                // Senders never drop (static); park forever to keep children alive.
                loop {
                    std::thread::park();
                }
            })
            .expect("spawn keeper thread");
        Mutex::new(tx)
    });
    let (rtx, rrx) = mpsc::channel();
    tx.lock()
        .expect("keeper lock")
        .send(Box::new(move || {
            let _ = rtx.send(f());
        }))
        .expect("keeper alive");
    rrx.recv().expect("keeper answered")
}
