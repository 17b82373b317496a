//! `auth.mode = "static-tokens"`: a TOML file maps tokens to a user, a project and roles,
//! so real clients (which can only send `X-Auth-Token`) choose an identity without Keystone.
//! Read at start and again on SIGHUP; a bad file on reload keeps the last good table.
//! Token values never appear in logs or error messages.
//!
//! ```toml
//! [[token]]
//! token = "a-long-random-string"
//! user = "alice"
//! project = "project-a"
//! roles = ["member", "reader"]
//! ```

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use crate::domain::RequestContext;

#[derive(Debug, thiserror::Error)]
pub enum TokenFileError {
    #[error("cannot read tokens file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid tokens file {path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

/// Who a token stands for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenIdentity {
    pub user: String,
    pub project: String,
    /// Lower-cased, as keystonemiddleware's `X-Roles` are compared.
    pub roles: Vec<String>,
}

impl TokenIdentity {
    /// The request context for this identity; the `admin` role makes it an admin.
    pub fn context(&self, request_id: String) -> RequestContext {
        RequestContext {
            user_id: Some(self.user.clone()),
            project_id: Some(self.project.clone()),
            roles: self.roles.clone(),
            is_admin: self.roles.iter().any(|r| r == "admin"),
            read_only: false,
            request_id,
            token: Default::default(),
        }
    }
}

/// One parsed tokens file.
#[derive(Debug, Default)]
pub struct TokenTable {
    by_token: HashMap<String, TokenIdentity>,
}

impl TokenTable {
    /// Parse the file's text. Messages name the entry (`token #2`) and field, never a value.
    pub fn parse(text: &str) -> Result<Self, String> {
        // Syntax errors: toml's Display quotes the offending line, which may hold a token,
        // so only its message and line number are kept.
        let document: toml::Table = toml::from_str(text).map_err(|e| {
            let line = e
                .span()
                .map(|span| text[..span.start.min(text.len())].lines().count().max(1));
            match line {
                Some(line) => format!("line {line}: {}", e.message().trim()),
                None => e.message().trim().to_string(),
            }
        })?;
        if let Some(key) = document.keys().find(|k| k.as_str() != "token") {
            return Err(format!(
                "unknown top-level key {key:?} (expected [[token]] tables)"
            ));
        }
        let entries = match document.get("token") {
            None => return Ok(Self::default()),
            Some(toml::Value::Array(entries)) => entries,
            Some(_) => return Err("`token` must be an array of tables ([[token]])".into()),
        };
        let mut by_token = HashMap::with_capacity(entries.len());
        for (index, entry) in entries.iter().enumerate() {
            let place = format!("token #{}", index + 1);
            let toml::Value::Table(entry) = entry else {
                return Err(format!("{place}: must be a table"));
            };
            if let Some(key) = entry
                .keys()
                .find(|k| !["token", "user", "project", "roles"].contains(&k.as_str()))
            {
                return Err(format!("{place}: unknown key {key:?}"));
            }
            let text_field = |name: &str| match entry.get(name) {
                Some(toml::Value::String(s)) if !s.trim().is_empty() => Ok(s.trim().to_string()),
                Some(toml::Value::String(_)) => Err(format!("{place}: {name} is empty")),
                Some(_) => Err(format!("{place}: {name} must be a string")),
                None => Err(format!("{place}: {name} is missing")),
            };
            let token = text_field("token")?;
            let identity = TokenIdentity {
                user: text_field("user")?,
                project: text_field("project")?,
                roles: roles(entry.get("roles")).map_err(|m| format!("{place}: {m}"))?,
            };
            if by_token.insert(token, identity).is_some() {
                return Err(format!("{place}: the same token appears twice"));
            }
        }
        Ok(Self { by_token })
    }

    pub fn load(path: &Path) -> Result<Self, TokenFileError> {
        let text = std::fs::read_to_string(path).map_err(|source| TokenFileError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text).map_err(|message| TokenFileError::Invalid {
            path: path.to_path_buf(),
            message,
        })
    }

    /// The identity of `token` as sent in `X-Auth-Token`. python-glanceclient
    /// percent-encodes the token (`:` → `%3A`), so the decoded form is tried too.
    pub fn lookup(&self, token: &str) -> Option<&TokenIdentity> {
        self.by_token.get(token).or_else(|| {
            let decoded = percent_encoding::percent_decode_str(token)
                .decode_utf8()
                .ok()?;
            self.by_token.get(decoded.as_ref())
        })
    }

    pub fn len(&self) -> usize {
        self.by_token.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_token.is_empty()
    }
}

fn roles(value: Option<&toml::Value>) -> Result<Vec<String>, String> {
    let Some(value) = value else {
        return Ok(Vec::new());
    };
    let toml::Value::Array(items) = value else {
        return Err("roles must be an array of strings".into());
    };
    items
        .iter()
        .map(|item| match item {
            toml::Value::String(role) if !role.trim().is_empty() => Ok(role.trim().to_lowercase()),
            _ => Err("roles must be non-empty strings".into()),
        })
        .collect()
}

/// The live table plus where it came from; shared by every worker.
#[derive(Debug)]
pub struct StaticTokens {
    path: PathBuf,
    table: RwLock<Arc<TokenTable>>,
}

impl StaticTokens {
    /// Read the file; at start a bad file is an error.
    pub fn load(path: impl Into<PathBuf>) -> Result<Self, TokenFileError> {
        let path = path.into();
        let table = TokenTable::load(&path)?;
        Ok(Self {
            path,
            table: RwLock::new(Arc::new(table)),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The current table (cheap: an `Arc` clone).
    pub fn current(&self) -> Arc<TokenTable> {
        match self.table.read() {
            Ok(table) => table.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Re-read the file. On error the previous table stays in use.
    pub fn reload(&self) -> Result<usize, TokenFileError> {
        let table = TokenTable::load(&self.path)?;
        let count = table.len();
        let mut slot = match self.table.write() {
            Ok(slot) => slot,
            Err(poisoned) => poisoned.into_inner(),
        };
        *slot = Arc::new(table);
        Ok(count)
    }

    /// Reload and log the outcome (counts and paths only).
    pub fn reload_and_log(&self) {
        match self.reload() {
            Ok(count) => log::info!("reloaded {count} tokens from {}", self.path.display()),
            Err(err) => log::error!(
                "{err}; keeping the previous {} tokens",
                self.current().len()
            ),
        }
    }
}

/// Re-read the tokens file whenever the process gets SIGHUP. Must run inside a Tokio runtime.
pub fn reload_on_sighup(tokens: Arc<StaticTokens>) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::hangup()) {
            Ok(mut hangups) => {
                tokio::spawn(async move {
                    while hangups.recv().await.is_some() {
                        tokens.reload_and_log();
                    }
                });
            }
            Err(err) => log::warn!("cannot listen for SIGHUP; tokens file reload is off: {err}"),
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokens;
    }
}

#[cfg(test)]
mod tests;
