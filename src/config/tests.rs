//! Tests of [`Config::parse`]/[`Config::load`] as a whole: unknown keys, collected
//! validation problems with key paths and lines, defaults, and the reference file.

use super::*;

const REFERENCE: &str = include_str!("../../config/trustwatch.toml");

#[track_caller]
fn problems(text: &str) -> Vec<String> {
    match Config::parse(text, "test.toml") {
        Ok(config) => panic!("expected an error, got {config:#?}"),
        Err(Error::Invalid { path, problems }) => {
            assert_eq!(path, "test.toml");
            problems
        }
        Err(other) => panic!("expected Error::Invalid, got {other}"),
    }
}

#[track_caller]
fn one_problem(text: &str) -> String {
    let mut all = problems(text);
    assert_eq!(all.len(), 1, "{all:#?}");
    all.remove(0)
}

#[track_caller]
fn parse(text: &str) -> Config {
    match Config::parse(text, "test.toml") {
        Ok(config) => config,
        Err(err) => panic!("{err}"),
    }
}

#[test]
fn unknown_top_level_key() {
    let err = one_problem("[store]\npath = \"d\"\n\ncolour = \"blue\"\n");
    // Top-level keys after a header belong to that table in TOML: this is store.colour.
    assert!(
        err.starts_with("line 4, column 1: unknown field `colour` in [store]"),
        "{err}"
    );

    let err = one_problem("# comment\n\ncolour = \"blue\"\n[store]\n");
    assert!(
        err.starts_with(
            "line 3, column 1: unknown field `colour` in the top level, expected one of `store`"
        ),
        "{err}"
    );
    assert!(err.contains("remove it or fix its spelling"), "{err}");
}

#[test]
fn unknown_table() {
    let err = one_problem("[http]\ntimeout = \"5s\"\n[htpp]\ntimeout = \"5s\"\n");
    assert!(
        err.starts_with("line 3, column 2: unknown field `htpp` in the top level"),
        "{err}"
    );
}

#[test]
fn unknown_nested_key() {
    let text = "[chat.discord]\nchannel_id = 1\napprover_role_id = 2\ntoken = \"x\"\n";
    let err = one_problem(text);
    assert!(err.starts_with("line 4, column 1: unknown field `token` in [chat.discord], expected one of `token_env`"), "{err}");
}

#[test]
fn unknown_key_in_feed_array_item() {
    let text = r#"
[[vendor]]
name = "dten"

[[vendor.feed]]
url = "https://dten.example/a.xml"

[[vendor.feed]]
url = "https://dten.example/b.xml"
intervall = "15m"
"#;
    let err = one_problem(text);
    assert!(err.contains("unknown field `intervall`"), "{err}");
    assert!(err.contains("line 10"), "{err}");
    assert!(err.contains("in [[vendor.feed]]"), "{err}");
    assert!(err.contains("expected `url` or `interval`"), "{err}");

    // The same in an inline table names the line and column of the key.
    let err =
        one_problem("[[vendor]]\nname = \"dten\"\nfeed = [{ url = \"file:///x\", colour = 1 }]\n");
    assert!(
        err.starts_with("line 3, column 30: unknown field `colour`"),
        "{err}"
    );
}

#[test]
fn syntax_error_names_line() {
    let err = one_problem("[http]\ntimeout = \"30s\n");
    assert!(err.starts_with("line 2, column "), "{err}");
}

#[test]
fn bad_duration_names_key_and_line() {
    let text = r#"
[[vendor]]
name = "dten"
[[vendor.feed]]
url = "https://dten.example/a.xml"
[[vendor.feed]]
url = "https://dten.example/b.xml"
interval = "0s"
"#;
    let err = one_problem(text);
    assert_eq!(
        err,
        "line 8, column 12: vendor[0].feed[1].interval: must be longer than zero; \
         write durations like \"15m\", \"1h\" or \"90d\""
    );

    let err = one_problem("[http]\ntimeout = \"30 seconds\"\n");
    assert!(
        err.starts_with("line 2, column 11: http.timeout: "),
        "{err}"
    );
    assert!(err.contains("write durations like"), "{err}");

    let err = one_problem("[poll]\nbackfill = 90\n");
    assert_eq!(
        err,
        "line 2, column 12: poll.backfill: expected a duration in quotes, found an integer; \
         write durations like \"15m\", \"1h\" or \"90d\""
    );
}

#[test]
fn bad_size_names_key_and_line() {
    let err = one_problem(
        "[http]\nmax_download = \"64MB\"\n[verify]\nmax_entry = \"16Gb\"\nmax_total = \"1PiB\"\n",
    );
    assert!(
        err.starts_with("line 5, column 13: verify.max_total: unknown size unit \"PiB\""),
        "{err}"
    );
    assert!(err.contains("write sizes like"), "{err}");

    let err = one_problem("[store]\ncache = \"0\"\n");
    assert!(
        err.starts_with("line 2, column 9: store.cache: must be larger than zero"),
        "{err}"
    );
}

#[test]
fn many_problems_are_collected() {
    let text = r#"
[http]
user_agent = ""
timeout = "0s"
max_redirects = 99

[chat.discord]
token_env = "MTIzNDU2Nzg5MDEyMzQ1Njc4OTA.GaBcDe.abcdefghijklmnopqrstuvwxyz01234567"
channel_id = "12ab"
interactions_public_key = "abc"

[[vendor]]
name = "DTen"
advisory_url = "ftp://dten.example/"

[[vendor]]
name = "acme"
[[vendor.page]]
url = "gopher://acme.example/"
max_pages = 0

[[vendor]]
name = "acme"
"#;
    let all = problems(text);
    let expected = [
        "line 3, column 14: http.user_agent: must not be empty",
        "line 4, column 11: http.timeout: must be longer than zero",
        "line 5, column 17: http.max_redirects: 99 is out of range; use a whole number from 0 to 20",
        "line 8, column 13: chat.discord.token_env: this looks like a Discord bot token",
        "line 9, column 14: chat.discord.channel_id: \"12ab\" is not a Discord id",
        "line 7, column 1: chat.discord.approver_role_id: missing;",
        "line 10, column 27: chat.discord.interactions_public_key: must be 64 hex characters",
        "line 7, column 1: chat.discord.interactions_listen: missing;",
        "line 13, column 8: vendor[0].name: vendor name \"DTen\" may only contain",
        "line 14, column 16: vendor[0].advisory_url: URL scheme \"ftp\" is not supported",
        "line 19, column 7: vendor[1].page[0].url: URL scheme \"gopher\" is not supported",
        "line 18, column 1: vendor[1].page[0].item_selector: missing;",
        "line 20, column 13: vendor[1].page[0].max_pages: 0 is out of range",
        "line 23, column 8: vendor[2].name: vendor name \"acme\" is already used by vendor[1] (line 17, column 8)",
    ];
    for (got, want) in all.iter().zip(expected) {
        assert!(got.starts_with(want), "\n got: {got}\nwant: {want}…");
    }
    assert_eq!(all.len(), expected.len(), "{all:#?}");
    // The token is never echoed.
    let shown = Error::Invalid {
        path: "test.toml".into(),
        problems: all,
    }
    .to_string();
    assert!(!shown.contains("GaBcDe"), "{shown}");
    assert!(
        shown.starts_with("invalid config test.toml:\nline 3, column 14: "),
        "{shown}"
    );
}

#[test]
fn defaults_when_sections_are_missing() {
    assert_eq!(parse(""), Config::default());
    assert_eq!(parse("# nothing but a comment\n"), Config::default());
    let config = parse("[http]\n[verify]\n[poll]\n[store]\n[chat]\n");
    assert_eq!(config, Config::default());
    assert_eq!(config.chat.discord, None);
    assert_eq!(config.store.path, PathBuf::from("data"));
    assert_eq!(config.http.timeout, Duration::from_secs(30));
    assert_eq!(config.http.max_download, 64 << 20);
    assert_eq!(config.verify.max_entry, 16 << 30);
    assert_eq!(config.poll.backfill, Duration::from_secs(90 * 86_400));

    let config = parse(
        "[[vendor]]\nname = \"dten\"\n[[vendor.feed]]\nurl = \"file:///f.xml\"\n\
         [[vendor.page]]\nurl = \"https://forum.dten.example/t/1\"\nitem_selector = \"article\"\n",
    );
    let dten = config.vendor("dten").expect("vendor dten");
    assert_eq!(dten.contact, None);
    assert_eq!(dten.advisory_url, None);
    assert_eq!(
        dten.feeds,
        [FeedSource {
            url: "file:///f.xml".into(),
            interval: Duration::from_secs(15 * 60),
        }]
    );
    assert_eq!(
        dten.pages,
        [PageSource {
            url: "https://forum.dten.example/t/1".into(),
            item_selector: "article".into(),
            next_selector: None,
            max_pages: 10,
            interval: Duration::from_secs(3600),
        }]
    );
}

#[test]
fn values_override_defaults() {
    let config = parse(
        "[store]\npath = \"/var/lib/tw\"\ncache = 1048576\n\
         [http]\nallow_private_addresses = true\nconnect_timeout = \"1m30s\"\nmax_redirects = 0\n\
         [verify]\nmax_entry = \"100kB\"\nmax_total = \"10MB\"\nmax_entries = 7\n[poll]\nbackfill = \"0s\"\n",
    );
    assert_eq!(config.store.path, PathBuf::from("/var/lib/tw"));
    assert_eq!(config.store.cache, 1 << 20);
    assert!(config.http.allow_private_addresses);
    assert_eq!(config.http.connect_timeout, Duration::from_secs(90));
    assert_eq!(config.http.max_redirects, 0);
    assert_eq!(config.verify.max_entry, 100_000);
    assert_eq!(config.verify.max_total, 10_000_000);
    assert_eq!(config.verify.max_entries, 7);
    assert_eq!(config.poll.backfill, Duration::ZERO);
}

#[test]
fn unbounded_integer_says_at_least() {
    let err = one_problem("[verify]\nmax_entries = 0\n");
    assert_eq!(
        err,
        "line 2, column 15: verify.max_entries: 0 is out of range; use a whole number of at least 1"
    );
}

#[test]
fn max_entry_above_max_total() {
    let err = one_problem("[verify]\nmax_total = \"1GiB\"\n");
    assert!(err.starts_with("line 2, column 13: verify.max_entry: 17179869184 bytes is larger than verify.max_total"), "{err}");
}

const DISCORD: &str =
    "[chat.discord]\nchannel_id = CHANNEL\napprover_role_id = \"234567890123456789\"\n";

#[test]
fn snowflakes_as_integer_or_string() {
    for channel in ["123456789012345678", "\"123456789012345678\""] {
        let config = parse(&DISCORD.replace("CHANNEL", channel));
        let discord = config.chat.discord.expect("discord section");
        assert_eq!(discord.channel_id, 123_456_789_012_345_678);
        assert_eq!(discord.approver_role_id, 234_567_890_123_456_789);
        assert_eq!(discord.token_env, "DISCORD_TOKEN");
        assert_eq!(discord.api_base, "https://discord.com");
        assert_eq!(discord.guild_id, None);
        assert_eq!(discord.interactions_public_key, None);
    }
    let err = one_problem(&DISCORD.replace("CHANNEL", "-1"));
    assert!(
        err.starts_with(
            "line 2, column 14: chat.discord.channel_id: a Discord id cannot be negative"
        ),
        "{err}"
    );
    let err = one_problem(&DISCORD.replace("CHANNEL", "1.5"));
    assert!(
        err.contains("expected a Discord id, found a float"),
        "{err}"
    );
}

#[test]
fn discord_full_section() {
    let key = "AB".repeat(32);
    let text = format!(
        "{}guild_id = 3\napplication_id = \"4\"\ntoken_env = \"TW_BOT\"\napi_base = \"http://127.0.0.1:9999/\"\n\
         interactions_public_key = \"{key}\"\ninteractions_listen = \"[::1]:8080\"\n",
        DISCORD.replace("CHANNEL", "1")
    );
    let discord = parse(&text).chat.discord.expect("discord section");
    assert_eq!(discord.guild_id, Some(3));
    assert_eq!(discord.application_id, Some(4));
    assert_eq!(discord.token_env, "TW_BOT");
    assert_eq!(discord.api_base, "http://127.0.0.1:9999");
    assert_eq!(discord.interactions_public_key, Some("ab".repeat(32)));
    assert_eq!(discord.interactions_listen.as_deref(), Some("[::1]:8080"));

    let err = one_problem(&format!(
        "{}interactions_public_key = \"{key}\"\ninteractions_listen = \"localhost\"\n",
        DISCORD.replace("CHANNEL", "1")
    ));
    assert!(
        err.contains("chat.discord.interactions_listen: \"localhost\" is not an address and port"),
        "{err}"
    );
}

#[test]
fn discord_requires_ids() {
    let all = problems("[chat.discord]\ntoken_env = \"X\"\n");
    assert_eq!(all.len(), 2, "{all:#?}");
    assert!(
        all[0].starts_with("line 1, column 1: chat.discord.channel_id: missing; set the id"),
        "{all:#?}"
    );
}

#[test]
fn duplicate_source_urls() {
    let err = one_problem(
        "[[vendor]]\nname = \"a\"\n[[vendor.feed]]\nurl = \"file:///x\"\n\
         [[vendor.page]]\nurl = \"file:///x\"\nitem_selector = \"p\"\n",
    );
    assert!(err.starts_with("line 6, column 7: vendor[0].page[0].url: the same URL is already configured as vendor[0].feed[0].url"), "{err}");
}

#[test]
fn missing_name_and_url() {
    let all = problems("[[vendor]]\ncontact = \"x\"\n[[vendor.feed]]\ninterval = \"1h\"\n");
    assert_eq!(all.len(), 2, "{all:#?}");
    assert!(
        all[0].starts_with("line 1, column 1: vendor[0].name: missing"),
        "{all:#?}"
    );
    assert!(
        all[1].starts_with("line 3, column 1: vendor[0].feed[0].url: missing"),
        "{all:#?}"
    );
}

#[test]
fn reference_file_loads() {
    let config = parse(REFERENCE);
    assert_eq!(config.store.path, PathBuf::from("data"));
    assert_eq!(
        config.http.user_agent,
        "trustwatch/0.1 (+mailto:ops@example.com)"
    );
    assert!(!config.http.allow_private_addresses);
    assert_eq!(config.http.max_download, 64 << 20);
    assert_eq!(config.verify.max_entry, 16 << 30);
    assert_eq!(config.poll.backfill, Duration::from_secs(90 * 86_400));
    assert_eq!(config.chat.discord, None, "chat must stay commented out");
    assert_eq!(config.vendors.len(), 1);
    let dten = config.vendor("dten").expect("vendor dten");
    assert_eq!(dten.contact.as_deref(), Some("security@dten.example"));
    assert_eq!(dten.feeds.len(), 1);
    assert_eq!(dten.pages.len(), 1);
    assert_eq!(dten.pages[0].item_selector, "article.post");
    assert_eq!(dten.pages[0].next_selector.as_deref(), Some("a[rel=next]"));
    // Every source is offline and its file ships with the repository.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let urls = dten
        .feeds
        .iter()
        .map(|f| &f.url)
        .chain(dten.pages.iter().map(|p| &p.url));
    for url in urls {
        let path = file_url_path(url).expect("file:// source");
        assert!(
            path.is_relative() && path.starts_with("config/examples"),
            "{url}"
        );
        assert!(root.join(&path).is_file(), "{url} names a missing file");
    }
}

#[test]
fn reference_file_discord_section_is_valid_when_uncommented() {
    // Uncommenting the section (dropping "# " before its lines) must give a valid config.
    let start = REFERENCE
        .find("# [chat.discord]")
        .expect("commented [chat.discord]");
    let end = REFERENCE[start..]
        .find("\n\n")
        .map_or(REFERENCE.len(), |i| start + i);
    let section: String = REFERENCE[start..end]
        .lines()
        .map(|line| line.strip_prefix("# ").unwrap_or(line))
        .collect::<Vec<_>>()
        .join("\n");
    let discord = parse(&section).chat.discord.expect("discord section");
    assert_eq!(discord.channel_id, 123_456_789_012_345_678);
    assert_eq!(discord.application_id, Some(456_789_012_345_678_901));
    assert_eq!(
        discord.interactions_listen.as_deref(),
        Some("127.0.0.1:8080")
    );
}

#[test]
fn load_and_load_or_default() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("absent.toml");
    assert_eq!(
        Config::load_or_default(&missing, false).ok(),
        Some(Config::default())
    );
    let err = Config::load_or_default(&missing, true).expect_err("explicit and missing");
    assert!(matches!(err, Error::Read { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("no such file; pass an existing file with --config"),
        "{err}"
    );

    let file = dir.path().join("tw.toml");
    std::fs::write(&file, "[http]\ncolour = 1\n").expect("write");
    let err = Config::load_or_default(&file, false).expect_err("invalid");
    let Error::Invalid { path, problems } = &err else {
        panic!("{err}")
    };
    assert_eq!(path, &file.display().to_string());
    assert!(
        problems[0].starts_with("line 2, column 1: unknown field `colour` in [http]"),
        "{err}"
    );

    std::fs::write(&file, [0xff, 0xfe]).expect("write");
    let err = Config::load(&file).expect_err("not UTF-8");
    assert!(err.to_string().contains("not UTF-8"), "{err}");

    let loaded =
        Config::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("config/trustwatch.toml"));
    assert_eq!(loaded.ok(), Some(parse(REFERENCE)));
}

#[test]
fn data_dir_precedence() {
    let mut config = Config::default();
    assert_eq!(config.data_dir(None), PathBuf::from("data"));
    config.store.path = PathBuf::from("/srv/tw");
    assert_eq!(config.data_dir(None), PathBuf::from("/srv/tw"));
    assert_eq!(
        config.data_dir(Some(Path::new("/tmp/x"))),
        PathBuf::from("/tmp/x")
    );
}

#[test]
fn file_urls() {
    assert_eq!(
        file_url_path("file:///var/m/a.xml"),
        Some(PathBuf::from("/var/m/a.xml"))
    );
    assert_eq!(
        file_url_path("FILE://rel/a.xml"),
        Some(PathBuf::from("rel/a.xml"))
    );
    assert_eq!(file_url_path("https://x/a.xml"), None);
    assert_eq!(file_url_path("file:"), None);
}

#[test]
fn wrong_shapes_say_what_to_write() {
    let err = one_problem("[vendor]\nname = \"x\"\n");
    assert!(
        err.starts_with("line 1, column 1: invalid type: map, expected a sequence"),
        "{err}"
    );
    assert!(err.contains("write [[vendor]]"), "{err}");

    let err = one_problem("[chat]\ndiscord = 5\n");
    assert_eq!(
        err,
        "line 2, column 11: invalid type: integer `5`, expected a table"
    );

    let err = one_problem("[http]\nallow_private_addresses = \"yes\"\n");
    assert!(
        err.ends_with("expected true or false (no quotes), found a string"),
        "{err}"
    );
}
