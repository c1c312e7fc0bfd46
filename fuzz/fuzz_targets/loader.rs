//! Any text: a scenario or located diagnostics, never a panic
//! (`chokepoint_fuzzing::check_loader`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data)
        && let Err(e) = chokepoint_fuzzing::check_loader(text)
    {
        panic!("{e}\n--- input ---\n{text}");
    }
});
