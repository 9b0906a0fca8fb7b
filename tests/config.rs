//! Integration tests of the public configuration API (CONTRACT §4): what `main.rs` and
//! the CLI see, from outside the crate.

use std::path::{Path, PathBuf};
use std::time::Duration;

use trustwatch::config::{file_url_path, Config, Error};

fn reference_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("config/trustwatch.toml")
}

#[test]
fn reference_config_loads_from_disk() {
    let config = Config::load(&reference_path()).expect("config/trustwatch.toml is valid");
    let dten = config.vendor("dten").expect("vendor dten");
    assert_eq!(dten.feeds[0].interval, Duration::from_secs(15 * 60));
    assert_eq!(dten.pages[0].max_pages, 10);
    assert!(file_url_path(&dten.feeds[0].url).is_some());
    assert!(config.chat.discord.is_none());
    assert_eq!(config.data_dir(None), PathBuf::from("data"));
}

#[test]
fn invalid_config_error_text() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("trustwatch.toml");
    std::fs::write(
        &file,
        "[http]\ntimeout = \"15\"\n\n[[vendor]]\nname = \"dten\"\n[[vendor.feed]]\nurl = \"https://dten.example/a.xml\"\ninterval = \"15x\"\n",
    )
    .expect("write");
    let err = Config::load_or_default(&file, true).expect_err("invalid");
    assert!(matches!(err, Error::Invalid { .. }));
    let text = err.to_string();
    let expected_start = format!(
        "invalid config {}:\nline 2, column 11: http.timeout: \"15\" has a number without a unit; ",
        file.display()
    );
    assert!(text.starts_with(&expected_start), "{text}");
    assert!(
        text.contains("\nline 8, column 12: vendor[0].feed[0].interval: unknown duration unit \"x\" in \"15x\""),
        "{text}"
    );
}
