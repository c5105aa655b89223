//! Field-level validation errors, shaped like DRF's `{"field": ["message", ...]}` so the HTTP edge
//! can render them without knowing which rule failed.

use std::collections::BTreeMap;

/// One broken rule for one input value. The message is user-facing (DRF wording where DRF had one).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ValidationError {
    /// Human-readable explanation, safe to show to the client.
    pub message: String,
}

impl ValidationError {
    /// Builds an error from any message.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }
}

/// Every problem found in one request, keyed by field name, so a client fixes them all at once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldErrors(BTreeMap<String, Vec<String>>);

impl FieldErrors {
    /// An empty set of errors.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records `message` against `field`.
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0
            .entry(field.to_owned())
            .or_default()
            .push(message.into());
    }

    /// Runs a parser and keeps its value, or records its error against `field`.
    pub fn check<T>(&mut self, field: &str, parsed: Result<T, ValidationError>) -> Option<T> {
        match parsed {
            Ok(value) => Some(value),
            Err(error) => {
                self.add(field, error.message);
                None
            }
        }
    }

    /// True when no field has an error.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The errors per field, in field-name order (stable output for clients and snapshots).
    pub fn fields(&self) -> &BTreeMap<String, Vec<String>> {
        &self.0
    }

    /// The first message, for a one-line `detail`.
    pub fn first_message(&self) -> Option<(&str, &str)> {
        self.0
            .iter()
            .find_map(|(field, messages)| messages.first().map(|m| (field.as_str(), m.as_str())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_keeps_values_and_records_errors_per_field() {
        let mut errors = FieldErrors::new();
        assert_eq!(errors.check("a", Ok::<_, ValidationError>(1)), Some(1));
        assert!(errors.is_empty());
        assert_eq!(
            errors.check::<i32>("b", Err(ValidationError::new("bad"))),
            None
        );
        errors.add("b", "worse");
        assert_eq!(
            errors.fields()["b"],
            vec!["bad".to_owned(), "worse".to_owned()]
        );
        assert_eq!(errors.first_message(), Some(("b", "bad")));
    }
}
