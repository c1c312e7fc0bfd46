//! Ctrl-C (and SIGTERM, as a cluster sends before it kills a job): the
//! first asks the running replications to stop, so that what finished is
//! still reported; the second quits at once.

use std::sync::atomic::{AtomicBool, Ordering};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Installs the handler (once) and returns the flag it sets.
pub(crate) fn flag() -> &'static AtomicBool {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        // Without a handler (another one is installed), Ctrl-C keeps its
        // default: the process ends, as it would have.
        let _ = ctrlc::set_handler(|| {
            if INTERRUPTED.swap(true, Ordering::SeqCst) {
                std::process::exit(130);
            }
            eprintln!(
                "\ninterrupted: stopping; what has finished will be reported (Ctrl-C again quits at once)"
            );
        });
    });
    &INTERRUPTED
}

/// Whether the user interrupted.
pub(crate) fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}
