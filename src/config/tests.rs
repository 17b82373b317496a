use super::*;

fn load(env: &[(&str, &str)]) -> Result<Settings, ConfigError> {
    Settings::load(
        Service::Api,
        None,
        env.iter().map(|(k, v)| (k.to_string(), v.to_string())),
    )
}

#[test]
fn env_overrides_typed_values() {
    let s = load(&[
        ("GLANCE__SERVER__BIND", "127.0.0.1:1234"),
        ("GLANCE__DATABASE__POOL_SIZE", "3"),
        ("GLANCE__AUTH__MODE", "trusted-auth"),
        ("GLANCE__LIMITS__IMAGE_SIZE_CAP", "10"),
    ])
    .expect("valid settings");
    assert_eq!(s.server.bind, "127.0.0.1:1234");
    assert_eq!(s.database.pool_size, 3);
    assert_eq!(s.auth.mode, AuthMode::TrustedAuth);
    assert_eq!(s.limits.image_size_cap, 10);
}

#[test]
fn bad_env_values_are_named() {
    let err = load(&[("GLANCE__DATABASE__POOL_SIZE", "many")]).expect_err("not an int");
    assert!(
        err.to_string().contains("GLANCE__DATABASE__POOL_SIZE"),
        "{err}"
    );
    let err = load(&[("GLANCE__NOPE__KEY", "x")]).expect_err("unknown");
    assert!(err.to_string().contains("unknown setting"), "{err}");
    let err = load(&[("GLANCE__DATA_ACCESS__MODE", "mongo")]).expect_err("bad mode");
    assert!(err.to_string().contains("mongo"), "{err}");
}

#[test]
fn static_tokens_mode_needs_a_file() {
    let err = load(&[("GLANCE__AUTH__MODE", "static-tokens")]).expect_err("no file");
    assert!(err.to_string().contains("auth.tokens_file"), "{err}");
    let s = load(&[
        ("GLANCE__AUTH__MODE", "static-tokens"),
        ("GLANCE__AUTH__TOKENS_FILE", "/etc/glance/tokens.toml"),
    ])
    .expect("valid settings");
    assert_eq!(s.auth.mode, AuthMode::StaticTokens);
    assert_eq!(s.auth.tokens_file, "/etc/glance/tokens.toml");
}

#[test]
fn keystone_mode_reads_the_authtoken_section_from_the_environment() {
    let err = load(&[("GLANCE__AUTH__MODE", "keystone")]).expect_err("no auth_url");
    assert!(
        err.to_string().contains("keystone_authtoken.auth_url"),
        "{err}"
    );
    let s = load(&[
        ("GLANCE__AUTH__MODE", "keystone"),
        (
            "GLANCE__KEYSTONE_AUTHTOKEN__AUTH_URL",
            "http://127.0.0.1:5000/v3",
        ),
        ("GLANCE__KEYSTONE_AUTHTOKEN__USERNAME", "glance"),
        ("GLANCE__KEYSTONE_AUTHTOKEN__PASSWORD", "pw"),
        ("GLANCE__KEYSTONE_AUTHTOKEN__TOKEN_CACHE_TIME", "7"),
        (
            "GLANCE__KEYSTONE_AUTHTOKEN__SERVICE_TOKEN_ROLES",
            "service, nova",
        ),
        (
            "GLANCE__KEYSTONE_AUTHTOKEN__SERVICE_TOKEN_ROLES_REQUIRED",
            "true",
        ),
    ])
    .expect("valid settings");
    let ks = &s.keystone_authtoken;
    assert_eq!(s.auth.mode, AuthMode::Keystone);
    assert_eq!(ks.token_cache_time, 7);
    assert_eq!(ks.service_token_roles, ["service", "nova"]);
    assert!(ks.service_token_roles_required);
    let https = load(&[
        ("GLANCE__AUTH__MODE", "keystone"),
        ("GLANCE__KEYSTONE_AUTHTOKEN__AUTH_URL", "https://keystone"),
        ("GLANCE__KEYSTONE_AUTHTOKEN__USERNAME", "glance"),
        ("GLANCE__KEYSTONE_AUTHTOKEN__PASSWORD", "pw"),
    ]);
    assert!(https.is_err());
}

#[test]
fn secrets_are_redacted() {
    let mut s = Settings::defaults(Service::Api);
    s.keystone_authtoken.password = "pa55word".into();
    s.database.url = "postgresql://glance:s3cret@db/glance".into();
    s.registry.token = "t0ken".into();
    let shown = format!("{s:?}");
    assert!(
        !shown.contains("s3cret") && !shown.contains("t0ken") && !shown.contains("pa55word"),
        "{shown}"
    );
}

#[test]
fn list_settings_take_comma_separated_env_values() {
    let settings = load(&[
        ("GLANCE__IMAGE_FORMAT__DISK_FORMATS", "raw, qcow2,,"),
        ("GLANCE__IMAGE_FORMAT__GPT_SAFETY_CHECKS_NONFATAL", "mbr"),
        ("GLANCE__IMAGE_FORMAT__REQUIRE_IMAGE_FORMAT_MATCH", "false"),
    ])
    .expect("loads");
    assert_eq!(settings.image_format.disk_formats, ["raw", "qcow2"]);
    assert_eq!(settings.image_format.gpt_safety_checks_nonfatal, ["mbr"]);
    assert!(!settings.image_format.require_image_format_match);
    assert!(load(&[("GLANCE__IMAGE_FORMAT__DISK_FORMATS", "")]).is_err());
}

#[test]
fn example_files_match_the_defaults() {
    for (service, file) in [
        (Service::Api, "config/glance-api.example.toml"),
        (Service::Registry, "config/glance-registry.example.toml"),
    ] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
        let text = std::fs::read_to_string(&path).expect("example config exists");
        let parsed: Settings = toml::from_str(&text).expect("example parses completely");
        assert_eq!(
            parsed,
            Settings::defaults(service),
            "{file} drifted from the defaults"
        );
    }
}

#[test]
fn import_plugins_and_conversion_formats_are_checked() {
    let s = load(&[
        ("GLANCE__IMPORT__PLUGINS", "image_conversion"),
        ("GLANCE__IMAGE_CONVERSION__OUTPUT_FORMAT", "qcow2"),
    ])
    .expect("valid settings");
    assert!(s.import.converts());
    assert_eq!(s.image_conversion.output_format, "qcow2");
    assert!(!load(&[]).expect("defaults").import.converts());
    for (key, value, named) in [
        (
            "GLANCE__IMPORT__PLUGINS",
            "image_decompression",
            "unknown plugin",
        ),
        (
            "GLANCE__IMAGE_CONVERSION__OUTPUT_FORMAT",
            "vhd",
            "output_format",
        ),
        ("GLANCE__IMAGE_CONVERSION__MEMORY_MB", "0", "memory_mb"),
    ] {
        let err = load(&[(key, value)]).expect_err(value);
        assert!(err.to_string().contains(named), "{err}");
    }
}

#[test]
fn stores_come_from_tables_and_the_environment() {
    let s = load(&[]).expect("defaults");
    assert!(s.stores.is_empty(), "no [stores]: the single file store");
    let s = load(&[
        ("GLANCE__STORE__DEFAULT_BACKEND", "s3"),
        ("GLANCE__STORES__S3__KIND", "s3"),
        ("GLANCE__STORES__S3__ENDPOINT", "http://127.0.0.1:3900"),
        ("GLANCE__STORES__S3__REGION", "garage"),
        ("GLANCE__STORES__S3__BUCKET", "images"),
        ("GLANCE__STORES__S3__ACCESS_KEY", "GK1"),
        ("GLANCE__STORES__S3__SECRET_KEY", "very-secret"),
        ("GLANCE__STORES__S3__LARGE_OBJECT_CHUNK_SIZE", "8"),
        ("GLANCE__STORES__FAST__KIND", "file"),
        ("GLANCE__STORES__FAST__PATH", "/srv/images"),
    ])
    .expect("valid stores");
    assert_eq!(s.store.default_backend, "s3");
    let StoreBackendSettings::S3(s3) = &s.stores["s3"] else {
        panic!("s3 store expected")
    };
    assert_eq!(
        (
            s3.region.as_str(),
            s3.large_object_chunk_size,
            s3.large_object_size
        ),
        ("garage", 8, 100)
    );
    assert!(
        !format!("{s:?}").contains("very-secret"),
        "secrets are never in Debug"
    );
    assert_eq!(
        s.stores["fast"],
        StoreBackendSettings::File(FileStoreSettings {
            path: "/srv/images".into()
        })
    );
}

#[test]
fn store_config_mistakes_are_named() {
    let err = load(&[("GLANCE__STORE__DEFAULT_BACKEND", "s3")]).expect_err("no table");
    assert!(err.to_string().contains("default_backend"), "{err}");
    let err = load(&[
        ("GLANCE__STORES__A__KIND", "file"),
        ("GLANCE__STORES__A__PATH", "x"),
    ])
    .expect_err("no default");
    assert!(err.to_string().contains("default_backend"), "{err}");
    let err = load(&[("GLANCE__STORES__A__COLOUR", "red")]).expect_err("unknown key");
    assert!(err.to_string().contains("stores.a.colour"), "{err}");
    let err = load(&[
        ("GLANCE__STORE__DEFAULT_BACKEND", "a"),
        ("GLANCE__STORES__A__KIND", "s3"),
        ("GLANCE__STORES__A__ENDPOINT", "http://h"),
        ("GLANCE__STORES__A__BUCKET", "b"),
        ("GLANCE__STORES__A__LARGE_OBJECT_CHUNK_SIZE", "1"),
    ])
    .expect_err("chunk too small");
    assert!(err.to_string().contains("at least 5"), "{err}");
}
