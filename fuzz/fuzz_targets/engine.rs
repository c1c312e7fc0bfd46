//! A random scenario of every kind of service, run once with the
//! sample-path laws checked (`chokepoint_fuzzing::check_run`).
#![no_main]

use arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = chokepoint_fuzzing::scenario(&mut Unstructured::new(data)) else {
        return;
    };
    if let Err(e) = chokepoint_fuzzing::check_loader(&text) {
        panic!("{e}\n--- scenario ---\n{text}");
    }
    if let Err(e) = chokepoint_fuzzing::check_run(&text) {
        panic!("{e}\n--- scenario ---\n{text}");
    }
});
