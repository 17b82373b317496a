//! Glance's web-download URL filters (`glance/common/utils.py` validate_import_uri, options
//! `[import_filtering_opts]`), on the URL as the HTTP client will read it: the WHATWG parse
//! that reqwest itself uses, so odd spellings of a host (`2130706433`, `0x7f.1`, `127.1`,
//! `LOCALHOST.`, `%6cocalhost`, `[::ffff:127.0.0.1]`, `user@host`) are compared in the
//! canonical form they connect to, and the port is the one the connection uses.
//!
//! As in Glance, an allowed list makes its disallowed twin ignored. Where we are stricter
//! (docs/compatibility.md): the port checked is the effective one (`http://h/` is port 80),
//! not only a port written in the URL, and configured hosts are canonicalised the same way.

use std::net::IpAddr;

use reqwest::Url;

use crate::config::ImportFilteringSettings;

/// The URL without credentials or query, for messages and logs.
pub fn shown(url: &Url) -> String {
    let mut shown = url.clone();
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.set_query(None);
    shown.set_fragment(None);
    shown.to_string()
}

/// A host in the form it connects to: lowercase domain without a trailing dot, IPv4 dotted
/// quad, IPv6 compressed (an IPv4-mapped address as its IPv4 form).
fn canonical_host(url: &Url) -> Option<String> {
    match url.host()? {
        url::Host::Domain(domain) => Some(domain.trim_end_matches('.').to_ascii_lowercase()),
        url::Host::Ipv4(ip) => Some(ip.to_string()),
        url::Host::Ipv6(ip) => Some(match ip.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => ip.to_string(),
        }),
    }
}

/// A configured host entry in canonical form (entries that do not parse are kept as given).
fn canonical_entry(entry: &str) -> String {
    let entry = entry.trim();
    let bracketed = match entry.parse::<IpAddr>() {
        Ok(IpAddr::V6(_)) => format!("[{entry}]"),
        _ => entry.to_string(),
    };
    Url::parse(&format!("http://{bracketed}/"))
        .ok()
        .and_then(|url| canonical_host(&url))
        .unwrap_or_else(|| entry.to_ascii_lowercase())
}

/// Why a URL does not pass, or Ok.
pub fn check(url: &Url, filters: &ImportFilteringSettings) -> Result<(), String> {
    let scheme = url.scheme();
    let refused = |what: &str| Err(format!("{what} of {} is not allowed", shown(url)));
    let schemes_ok = if filters.allowed_schemes.is_empty() {
        !filters
            .disallowed_schemes
            .iter()
            .any(|s| s.eq_ignore_ascii_case(scheme))
    } else {
        filters
            .allowed_schemes
            .iter()
            .any(|s| s.eq_ignore_ascii_case(scheme))
    };
    if !schemes_ok {
        return refused("the scheme");
    }
    // Only HTTP(S) can be fetched, whatever the lists say.
    if scheme != "http" && scheme != "https" {
        return refused("the scheme");
    }
    let Some(host) = canonical_host(url).filter(|h| !h.is_empty()) else {
        return refused("the host");
    };
    let listed = |list: &[String]| list.iter().any(|entry| canonical_entry(entry) == host);
    let host_ok = if filters.allowed_hosts.is_empty() {
        !listed(&filters.disallowed_hosts)
    } else {
        listed(&filters.allowed_hosts)
    };
    if !host_ok {
        return refused("the host");
    }
    let Some(port) = url.port_or_known_default() else {
        return refused("the port");
    };
    let port_ok = if filters.allowed_ports.is_empty() {
        !filters.disallowed_ports.contains(&port)
    } else {
        filters.allowed_ports.contains(&port)
    };
    if !port_ok {
        return refused("the port");
    }
    Ok(())
}

/// Parse and check a URL as a client gave it.
pub fn check_text(uri: &str, filters: &ImportFilteringSettings) -> Result<Url, String> {
    let url = Url::parse(uri.trim()).map_err(|err| format!("not a URL: {err}"))?;
    check(&url, filters)?;
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filters() -> ImportFilteringSettings {
        ImportFilteringSettings::defaults()
    }

    #[test]
    fn glance_defaults_take_http_and_https_on_80_and_443() {
        let f = filters();
        for ok in [
            "http://example.com/a.img",
            "https://example.com/a.img",
            "http://example.com:80/a",
            "HTTPS://EXAMPLE.com:443/a",
        ] {
            assert!(check_text(ok, &f).is_ok(), "{ok}");
        }
        for bad in [
            "ftp://example.com/a",
            "file:///etc/passwd",
            "http://example.com:8080/a",
            "gopher://example.com/",
            "not a url",
        ] {
            assert!(check_text(bad, &f).is_err(), "{bad}");
        }
    }

    #[test]
    fn odd_spellings_of_a_disallowed_host_are_still_that_host() {
        let f = ImportFilteringSettings {
            disallowed_hosts: vec!["127.0.0.1".into(), "localhost".into(), "::1".into()],
            ..filters()
        };
        for bad in [
            "http://127.0.0.1/",
            "http://2130706433/",
            "http://0x7f.1/",
            "http://0177.0.0.1/",
            "http://127.1/",
            "http://LOCALHOST/",
            "http://localhost./",
            "http://%6c%6fcalhost/",
            "http://[::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://user:pw@127.0.0.1/",
            "http://example.com@127.0.0.1/",
        ] {
            assert!(check_text(bad, &f).is_err(), "{bad} passed");
        }
        assert!(check_text("http://example.com/", &f).is_ok());
        // A backslash ends the authority (WHATWG): this URL connects to example.com.
        let url = check_text("http://example.com\\@127.0.0.1/", &f).expect("example.com");
        assert_eq!(url.host_str(), Some("example.com"));
    }

    #[test]
    fn an_allowed_list_overrides_its_disallowed_twin() {
        let f = ImportFilteringSettings {
            allowed_hosts: vec!["images.example.com".into()],
            disallowed_hosts: vec!["images.example.com".into()],
            allowed_ports: vec![],
            disallowed_ports: vec![22],
            ..filters()
        };
        assert!(check_text("http://images.example.com:8080/x", &f).is_ok());
        assert!(check_text("http://images.example.com:22/x", &f).is_err());
        assert!(check_text("http://other.example.com/x", &f).is_err());
    }

    #[test]
    fn messages_hide_credentials_and_queries() {
        let f = filters();
        let err = check_text("ftp://u:secret@example.com/x?sig=abc", &f).expect_err("refused");
        assert!(!err.contains("secret") && !err.contains("sig"), "{err}");
    }
}
