//! The responder contract (`contract_tests::responder`) run on the dummy (at once and paced), on
//! the `openai` adapter against a stub upstream, and on the `openai` adapter inside the wrappers
//! the service composes it with.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::{sync::Arc, time::Duration};

use adapters::responder::{
    DummyResponder, LimitedResponder, OpenAiConfig, OpenAiResponder, TimeoutResponder,
    limited::SLOT_WAIT,
};
use contract_tests::responder::ResponderFactory;
use ports::Responder;
use test_support::stub_upstream::StubUpstream;

/// The dummy, answering at once or pausing before each word (`responder.dummy_delay_ms`).
struct Dummy {
    word_delay: Duration,
}

impl ResponderFactory for Dummy {
    type Guard = ();

    async fn create(&self, _test: &str) -> Option<(Arc<dyn Responder>, ())> {
        let dummy = DummyResponder::with_word_delay(self.word_delay);
        Some((Arc::new(dummy), ()))
    }
}

/// The `openai` adapter on a stub that echoes (deterministically, whole or streamed); wrapped
/// in the service's timeout and concurrency limit when `wrapped`.
struct OpenAiOnStub {
    wrapped: bool,
}

impl ResponderFactory for OpenAiOnStub {
    type Guard = StubUpstream;

    async fn create(&self, _test: &str) -> Option<(Arc<dyn Responder>, StubUpstream)> {
        let stub = StubUpstream::start().await;
        let openai: Arc<dyn Responder> = Arc::new(
            OpenAiResponder::new(OpenAiConfig {
                base_url: stub.base_url(),
                model: "stub-model".into(),
                api_key: None,
                first_byte_timeout: Duration::from_secs(10),
                max_retries: 2,
            })
            .unwrap(),
        );
        let responder: Arc<dyn Responder> = if self.wrapped {
            let timed =
                TimeoutResponder::new(openai, Duration::from_secs(10), Duration::from_secs(60));
            Arc::new(LimitedResponder::new(Arc::new(timed), 64, SLOT_WAIT))
        } else {
            openai
        };
        Some((responder, stub))
    }
}

mod dummy {
    contract_tests::responder_tests!(crate::Dummy {
        word_delay: std::time::Duration::ZERO
    });
}

mod paced_dummy {
    contract_tests::responder_tests!(crate::Dummy {
        word_delay: std::time::Duration::from_millis(2)
    });
}

mod openai {
    contract_tests::responder_tests!(crate::OpenAiOnStub { wrapped: false });
}

mod openai_wrapped {
    contract_tests::responder_tests!(crate::OpenAiOnStub { wrapped: true });
}
