use super::*;

const FILE: &str = r#"
[[token]]
token = "alpha:secret"
user = "alice"
project = "project-a"
roles = ["Member", "reader"]

[[token]]
token = "bravo-secret"
user = "bob"
project = "project-b"
roles = ["admin"]
"#;

#[test]
fn tokens_map_to_identities() {
    let table = TokenTable::parse(FILE).expect("valid file");
    assert_eq!(table.len(), 2);
    let alice = table.lookup("alpha:secret").expect("alice's token");
    assert_eq!(alice.user, "alice");
    assert_eq!(alice.project, "project-a");
    assert_eq!(alice.roles, ["member", "reader"]);
    let context = alice.context("req-1".into());
    assert!(!context.is_admin);
    assert_eq!(context.project_id.as_deref(), Some("project-a"));
    assert_eq!(context.user_id.as_deref(), Some("alice"));
    assert_eq!(context.request_id, "req-1");

    let bob = table.lookup("bravo-secret").expect("bob's token");
    assert!(bob.context(String::new()).is_admin, "admin role → admin");
    assert!(table.lookup("nobody").is_none());
    assert!(table.lookup("").is_none());
}

#[test]
fn percent_encoded_tokens_are_decoded() {
    let table = TokenTable::parse(FILE).expect("valid file");
    assert_eq!(
        table.lookup("alpha%3Asecret").map(|i| i.user.as_str()),
        Some("alice")
    );
    assert_eq!(
        table.lookup("alpha%3asecret").map(|i| i.user.as_str()),
        Some("alice")
    );
    assert!(table.lookup("alpha%3Bsecret").is_none());
    assert!(
        table.lookup("%FF%FE").is_none(),
        "invalid UTF-8 is no match"
    );
}

#[test]
fn an_empty_file_is_an_empty_table() {
    let table = TokenTable::parse("").expect("empty is valid");
    assert!(table.is_empty());
}

#[test]
fn bad_files_are_refused_without_showing_tokens() {
    let cases = [
        (
            "[[token]]\ntoken = \"s3cret-1\"\nproject = \"p\"\n",
            "user is missing",
        ),
        (
            "[[token]]\ntoken = \"s3cret-1\"\nuser = \"\"\nproject = \"p\"\n",
            "user is empty",
        ),
        (
            "[[token]]\ntoken = 7\nuser = \"u\"\nproject = \"p\"\n",
            "token must be a string",
        ),
        (
            "[[token]]\ntoken = \"s3cret-1\"\nuser = \"u\"\nproject = \"p\"\nroles = \"admin\"\n",
            "roles must be an array",
        ),
        (
            "[[token]]\ntoken = \"s3cret-1\"\nuser = \"u\"\nproject = \"p\"\nrole = [\"x\"]\n",
            "unknown key \"role\"",
        ),
        (
            "[[token]]\ntoken = \"s3cret-1\"\nuser = \"u\"\nproject = \"p\"\n\
             [[token]]\ntoken = \"s3cret-1\"\nuser = \"v\"\nproject = \"q\"\n",
            "token #2: the same token appears twice",
        ),
        ("token = \"s3cret-1\"\n", "array of tables"),
        ("[tokens]\n", "unknown top-level key"),
        ("[[token]]\ntoken = \"s3cret-1\nuser = \"u\"\n", "line 2"),
    ];
    for (text, expected) in cases {
        let message = TokenTable::parse(text).expect_err(expected);
        assert!(
            message.contains(expected),
            "{message:?} should say {expected:?}"
        );
        assert!(!message.contains("s3cret"), "token leaked: {message:?}");
    }
}

#[test]
fn reload_swaps_the_table_and_keeps_it_when_the_file_is_bad() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("tokens.toml");
    std::fs::write(&path, FILE).expect("write");
    let tokens = StaticTokens::load(&path).expect("loads");
    assert!(tokens.current().lookup("alpha:secret").is_some());

    std::fs::write(
        &path,
        "[[token]]\ntoken = \"charlie\"\nuser = \"c\"\nproject = \"p\"\n",
    )
    .expect("write");
    assert_eq!(tokens.reload().expect("reloads"), 1);
    assert!(tokens.current().lookup("alpha:secret").is_none());
    assert!(tokens.current().lookup("charlie").is_some());

    std::fs::write(&path, "[[token]]\ntoken = \"delta\"\n").expect("write");
    let err = tokens.reload().expect_err("bad file");
    assert!(err.to_string().contains("user is missing"), "{err}");
    assert!(
        tokens.current().lookup("charlie").is_some(),
        "the last good table stays"
    );

    std::fs::remove_file(&path).expect("remove");
    assert!(matches!(tokens.reload(), Err(TokenFileError::Read { .. })));
    assert!(tokens.current().lookup("charlie").is_some());
}

#[test]
fn a_missing_file_fails_at_start() {
    let dir = tempfile::tempdir().expect("temp dir");
    let err = StaticTokens::load(dir.path().join("absent.toml")).expect_err("missing");
    assert!(err.to_string().contains("absent.toml"), "{err}");
}

#[test]
fn the_example_file_parses() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/tokens.example.toml");
    let table = TokenTable::load(&path).expect("example parses");
    assert!(table.len() >= 2);
    let admin = table.lookup("cloud-admin-token").expect("admin token");
    assert!(admin.context(String::new()).is_admin);
}
