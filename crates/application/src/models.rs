//! Which model this server serves: `GET /v1/models`, and the check that a completion request
//! names it.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use ports::{Clock, Responder};

use crate::AppError;

/// Longest model name repeated back in an error message; longer names are cut.
const MAX_ECHOED_NAME_CHARS: usize = 100;

/// A model on offer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServedModel {
    /// Its name, as clients send it in `model`.
    pub id: String,
    /// Since when this server offers it (the process's start).
    pub since: DateTime<Utc>,
}

/// The models a client may ask for: the configured responder's, and only that one.
pub struct Models {
    responder: Arc<dyn Responder>,
    since: DateTime<Utc>,
}

impl Models {
    /// Wires the use case; the models are on offer from now.
    pub fn new(responder: Arc<dyn Responder>, clock: &dyn Clock) -> Self {
        Self {
            responder,
            since: clock.now(),
        }
    }

    /// Every model on offer.
    pub fn list(&self) -> Vec<ServedModel> {
        vec![ServedModel {
            id: self.responder.model(),
            since: self.since,
        }]
    }

    /// `Ok` when `name` is a model on offer, otherwise `ModelNotFound` naming it.
    pub fn check(&self, name: &str) -> Result<(), AppError> {
        if self.list().iter().any(|model| model.id == name) {
            Ok(())
        } else {
            Err(AppError::ModelNotFound(
                name.chars().take(MAX_ECHOED_NAME_CHARS).collect(),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use ports::MockResponder;

    use super::*;
    use crate::test_support::{fixed_clock, noon};

    fn models() -> Models {
        let mut responder = MockResponder::new();
        responder.expect_model().returning(|| "dummy".into());
        Models::new(Arc::new(responder), &*fixed_clock())
    }

    #[test]
    fn the_responder_s_model_is_the_only_one_on_offer() {
        let models = models();
        assert_eq!(
            models.list(),
            vec![ServedModel {
                id: "dummy".into(),
                since: noon()
            }]
        );
        assert_eq!(models.check("dummy"), Ok(()));
        assert_eq!(
            models.check("gpt-4o"),
            Err(AppError::ModelNotFound("gpt-4o".into()))
        );
        let long = "m".repeat(500);
        assert_eq!(
            models.check(&long),
            Err(AppError::ModelNotFound("m".repeat(100)))
        );
    }
}
