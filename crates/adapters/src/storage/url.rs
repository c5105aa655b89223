//! Which backend a database URL names. Decided here from the scheme, never by trial: diesel would
//! happily open any string as a SQLite file name, so `mysql://db/x` must be an error, not a file.

use std::{ops::Range, path::PathBuf};

/// A parsed `database.url`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// A SQLite database file (created if missing).
    Sqlite(PathBuf),
    /// A PostgreSQL connection string, passed to libpq as is.
    Postgres(String),
}

/// The URL names no backend this build supports.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DatabaseUrlError {
    /// `scheme://` that is neither `sqlite`, `postgres` nor `postgresql`.
    #[error(
        "unsupported database URL scheme {0:?}: use sqlite://PATH, postgres:// or postgresql://"
    )]
    UnknownScheme(String),
    /// Nothing to open.
    #[error("the database URL is empty")]
    Empty,
}

impl DatabaseUrl {
    /// `sqlite://PATH`, `sqlite:PATH` or a bare path are SQLite; `postgres://` and `postgresql://`
    /// are PostgreSQL; any other `scheme:` is refused.
    pub fn parse(url: &str) -> Result<Self, DatabaseUrlError> {
        let url = url.trim();
        if url.is_empty() {
            return Err(DatabaseUrlError::Empty);
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Self::Postgres(url.to_owned()));
        }
        if let Some(path) = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
        {
            return if path.is_empty() {
                Err(DatabaseUrlError::Empty)
            } else {
                Ok(Self::Sqlite(path.into()))
            };
        }
        match url.split_once("://") {
            Some((scheme, _)) => Err(DatabaseUrlError::UnknownScheme(scheme.to_owned())),
            None => Ok(Self::Sqlite(url.into())),
        }
    }

    /// The URL with every password replaced by `***`, for logs.
    pub fn redacted(&self) -> String {
        match self {
            Self::Sqlite(path) => format!("sqlite://{}", path.display()),
            Self::Postgres(url) => {
                let mut redacted = String::with_capacity(url.len());
                let mut copied = 0;
                for secret in postgres_secrets(url) {
                    redacted.push_str(&url[copied..secret.start]);
                    redacted.push_str(HIDDEN);
                    copied = secret.end;
                }
                redacted.push_str(&url[copied..]);
                redacted
            }
        }
    }

    /// `text` (an error from the driver, say) with every password of this URL replaced by `***`,
    /// as written in the URL and percent-decoded: libpq quotes a malformed URL part verbatim.
    pub fn hide_secrets(&self, text: &str) -> String {
        let Self::Postgres(url) = self else {
            return text.to_owned();
        };
        let mut hidden = text.to_owned();
        for secret in postgres_secrets(url) {
            let raw = &url[secret];
            for form in [raw.to_owned(), percent_decode(raw)] {
                if !form.is_empty() {
                    hidden = hidden.replace(&form, HIDDEN);
                }
            }
        }
        hidden
    }
}

/// What a hidden secret is shown as.
const HIDDEN: &str = "***";

/// Query parameters whose values are secrets.
const SECRET_PARAMETERS: [&str; 2] = ["password", "sslpassword"];

/// Byte ranges of the secrets in a `postgres://` URL, in order, read the way libpq reads it: the
/// user info ends at the first `@` before any `/` (so a `?` may sit in a password), the password
/// is what follows its first `:`, and the query starts at the first `?` after the user info.
fn postgres_secrets(url: &str) -> Vec<Range<usize>> {
    let mut secrets = Vec::new();
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return secrets;
    };
    let mut rest_start = scheme_end;
    if let Some(at) = url[scheme_end..]
        .find(['@', '/'])
        .map(|i| scheme_end + i)
        .filter(|&i| url[i..].starts_with('@'))
    {
        if let Some(colon) = url[scheme_end..at].find(':') {
            secrets.push(scheme_end + colon + 1..at);
        }
        rest_start = at + 1;
    }
    let Some(query_start) = url[rest_start..].find('?').map(|i| rest_start + i + 1) else {
        return secrets;
    };
    let mut start = query_start;
    for parameter in url[query_start..].split('&') {
        if let Some((key, value)) = parameter.split_once('=') {
            if SECRET_PARAMETERS.contains(&percent_decode(key).as_str()) {
                let value_start = start + key.len() + 1;
                secrets.push(value_start..value_start + value.len());
            }
        }
        start += parameter.len() + 1;
    }
    secrets
}

/// `%XX` sequences decoded; malformed ones kept as written.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = match bytes.get(i..i + 3) {
            Some([b'%', hi, lo]) if hi.is_ascii_hexdigit() && lo.is_ascii_hexdigit() => {
                std::str::from_utf8(&bytes[i + 1..i + 3])
                    .ok()
                    .and_then(|pair| u8::from_str_radix(pair, 16).ok())
            }
            _ => None,
        };
        match escaped {
            Some(byte) => {
                decoded.push(byte);
                i += 3;
            }
            None => {
                decoded.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&decoded).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_forms_and_bare_paths_are_sqlite() {
        assert_eq!(
            DatabaseUrl::parse("sqlite://chat-api.db"),
            Ok(DatabaseUrl::Sqlite("chat-api.db".into()))
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite:///tmp/x.db"),
            Ok(DatabaseUrl::Sqlite("/tmp/x.db".into()))
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite:x.db"),
            Ok(DatabaseUrl::Sqlite("x.db".into()))
        );
        assert_eq!(
            DatabaseUrl::parse("./data/x.db"),
            Ok(DatabaseUrl::Sqlite("./data/x.db".into()))
        );
    }

    #[test]
    fn both_postgres_schemes_are_postgres() {
        for url in ["postgres://u:p@h/db", "postgresql://h:5432/db"] {
            assert_eq!(
                DatabaseUrl::parse(url),
                Ok(DatabaseUrl::Postgres(url.to_owned()))
            );
        }
    }

    #[test]
    fn unknown_schemes_and_empty_urls_are_errors() {
        assert_eq!(
            DatabaseUrl::parse("mysql://h/db"),
            Err(DatabaseUrlError::UnknownScheme("mysql".into()))
        );
        assert_eq!(DatabaseUrl::parse("  "), Err(DatabaseUrlError::Empty));
        assert_eq!(
            DatabaseUrl::parse("sqlite://"),
            Err(DatabaseUrlError::Empty)
        );
    }

    #[test]
    fn redaction_hides_the_password_only() {
        let url = DatabaseUrl::Postgres("postgres://app:s3cret@db:5432/chat".into());
        assert_eq!(url.redacted(), "postgres://app:***@db:5432/chat");
    }

    #[test]
    fn redaction_keeps_query_parameters_and_hides_passwords_among_them() {
        let cases = [
            (
                "postgres://app:s3cret@db/chat?sslmode=verify-full&sslrootcert=/etc/ca@corp.pem",
                "postgres://app:***@db/chat?sslmode=verify-full&sslrootcert=/etc/ca@corp.pem",
            ),
            (
                "postgres://app@db/chat?password=s3cret&sslmode=require",
                "postgres://app@db/chat?password=***&sslmode=require",
            ),
            (
                "postgresql://db/chat?sslmode=verify-full&sslpassword=k3y&pass%77ord=s3cret",
                "postgresql://db/chat?sslmode=verify-full&sslpassword=***&pass%77ord=***",
            ),
            (
                "postgres://app:pa?ss@db/chat?sslmode=require",
                "postgres://app:***@db/chat?sslmode=require",
            ),
            (
                "postgres://app@db/chat?sslmode=require",
                "postgres://app@db/chat?sslmode=require",
            ),
            (
                "postgres://db/chat?application_name=a@b",
                "postgres://db/chat?application_name=a@b",
            ),
        ];
        for (url, expected) in cases {
            assert_eq!(DatabaseUrl::Postgres(url.into()).redacted(), expected);
        }
    }

    #[test]
    fn secrets_are_hidden_in_driver_messages_as_written_and_decoded() {
        let url = DatabaseUrl::Postgres(
            "postgres://app:p%zzs3cret@db/chat?sslpassword=k%20ey&sslmode=require".into(),
        );
        let message = "invalid percent-encoded token: \"p%zzs3cret\"; key \"k ey\", k%20ey";
        assert_eq!(
            url.hide_secrets(message),
            "invalid percent-encoded token: \"***\"; key \"***\", ***"
        );
        let sqlite = DatabaseUrl::Sqlite("x.db".into());
        assert_eq!(sqlite.hide_secrets("unchanged"), "unchanged");
    }
}
