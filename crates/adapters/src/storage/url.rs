//! Which backend a database URL names. Decided here from the scheme, never by trial: diesel would
//! happily open any string as a SQLite file name, so `mysql://db/x` must be an error, not a file.

use std::path::PathBuf;

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

    /// The URL with any password replaced, for logs.
    pub fn redacted(&self) -> String {
        match self {
            Self::Sqlite(path) => format!("sqlite://{}", path.display()),
            Self::Postgres(url) => match (url.find("://"), url.rfind('@')) {
                (Some(start), Some(at)) if at > start => {
                    let credentials = &url[start + 3..at];
                    let user = credentials.split(':').next().unwrap_or_default();
                    format!("{}{user}:***{}", &url[..start + 3], &url[at..])
                }
                _ => url.clone(),
            },
        }
    }
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
}
