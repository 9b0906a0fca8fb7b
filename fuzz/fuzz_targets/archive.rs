//! `package::read_zip` on any bytes: the package API reads from a path, so each input is
//! written to one temporary file per process first. Small limits keep a bomb cheap.
#![no_main]

use std::path::PathBuf;
use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use trustwatch::package::{read_zip, Limits};

static PATH: LazyLock<PathBuf> = LazyLock::new(|| {
    std::env::temp_dir().join(format!("trustwatch-fuzz-archive-{}.zip", std::process::id()))
});

const LIMITS: Limits = Limits {
    max_entry: 4 << 20,
    max_total: 16 << 20,
    max_entries: 1_000,
    max_metadata: 1 << 20,
};

fuzz_target!(|data: &[u8]| {
    std::fs::write(&*PATH, data).expect("write the temporary archive");
    let _ = read_zip(&PATH, &LIMITS);
});
