//! What chats cost and what a new account receives, all from configuration (the defaults are
//! those of the original service: 4000 tokens on sign-up, 100 per answered message).
//!
//! A chat is paid in two steps: the most it can cost is reserved before the model is asked
//! ([`PricingPolicy::reserve_amount`]), and once the answer has ended the actual price is settled
//! and the rest given back ([`PricingPolicy::actual_charge`], never more than was reserved).
//!
//! Without a tokenizer the prompt's size is estimated from its text. The reservation uses an
//! upper bound ([`prompt_upper_bound`]: one token per UTF-8 byte, since byte-level BPE tokenizers
//! never make a token smaller than a byte, plus per-message framing); a charge that must be
//! computed without the upstream's counts uses the usual approximation of four characters per
//! token ([`approximate_tokens`]).

use crate::{chat::ChatStatus, tokens::Tokens};

/// Why a tariff was refused; each variant names the one value at fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PricingError {
    /// The sign-up grant is below zero.
    #[error("the sign-up grant cannot be negative")]
    NegativeGrant,
    /// The price per message is zero or below.
    #[error("the price per message must be positive")]
    FreeMessage,
    /// The price per 1000 prompt tokens is below zero.
    #[error("the price per 1000 prompt tokens cannot be negative")]
    NegativePromptPrice,
    /// The price per 1000 completion tokens is below zero.
    #[error("the price per 1000 completion tokens cannot be negative")]
    NegativeCompletionPrice,
    /// Both per-token prices are zero.
    #[error("per-token pricing needs a positive prompt or completion price")]
    FreeTokens,
}

/// Tokens a model counted (or we estimated) for one exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TokenCounts {
    /// Tokens of the messages sent to the model.
    pub prompt: u64,
    /// Tokens of the answer.
    pub completion: u64,
}

/// How a chat is priced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PricingPolicy {
    /// One price per completed answer, whatever its length; an interrupted answer costs nothing.
    Flat {
        /// Tokens one completed answer costs.
        price_per_message: Tokens,
    },
    /// Integer prices per 1000 tokens of prompt and of answer.
    PerToken {
        /// Tokens per 1000 prompt tokens.
        per_1k_prompt: Tokens,
        /// Tokens per 1000 completion tokens.
        per_1k_completion: Tokens,
    },
}

impl PricingPolicy {
    /// A flat price per answered message; it must be positive (a free message would make the
    /// ledger meaningless).
    pub fn flat(price_per_message: i64) -> Result<Self, PricingError> {
        if price_per_message <= 0 {
            return Err(PricingError::FreeMessage);
        }
        Ok(Self::Flat {
            price_per_message: Tokens::new(price_per_message),
        })
    }

    /// Prices per 1000 prompt and completion tokens: neither negative, not both zero.
    pub fn per_token(per_1k_prompt: i64, per_1k_completion: i64) -> Result<Self, PricingError> {
        if per_1k_prompt < 0 {
            return Err(PricingError::NegativePromptPrice);
        }
        if per_1k_completion < 0 {
            return Err(PricingError::NegativeCompletionPrice);
        }
        if per_1k_prompt == 0 && per_1k_completion == 0 {
            return Err(PricingError::FreeTokens);
        }
        Ok(Self::PerToken {
            per_1k_prompt: Tokens::new(per_1k_prompt),
            per_1k_completion: Tokens::new(per_1k_completion),
        })
    }

    /// The most one chat may cost, taken before the model is asked: the flat price, or the
    /// per-token price of `prompt_estimate` prompt tokens and a full `max_tokens` answer. Always
    /// at least 1.
    pub fn reserve_amount(&self, prompt_estimate: u64, max_tokens: u32) -> Tokens {
        match *self {
            Self::Flat { price_per_message } => price_per_message,
            Self::PerToken { .. } => self.token_price(TokenCounts {
                prompt: prompt_estimate,
                completion: u64::from(max_tokens),
            }),
        }
    }

    /// What an answer that ended with `status`, having used `used` tokens, actually costs out of
    /// the `reserved` amount. Flat: the price for a completed answer, nothing for an interrupted
    /// one. Per token: `ceil((prompt × p + completion × c) / 1000)`, at least 1. Never more than
    /// `reserved`, never below zero.
    pub fn actual_charge(&self, status: ChatStatus, used: TokenCounts, reserved: Tokens) -> Tokens {
        let price = match (*self, status) {
            (Self::Flat { price_per_message }, ChatStatus::Completed) => price_per_message,
            (Self::Flat { .. }, ChatStatus::Interrupted) => Tokens::ZERO,
            (Self::PerToken { .. }, _) => self.token_price(used),
        };
        price.min(reserved).max(Tokens::ZERO)
    }

    /// `ceil((prompt × p + completion × c) / 1000)`, at least 1, saturating at `i64::MAX` (a
    /// reservation that large is simply refused for want of tokens). Flat prices have no token
    /// price: their message price is returned.
    fn token_price(&self, used: TokenCounts) -> Tokens {
        let (p, c) = match *self {
            Self::Flat { price_per_message } => return price_per_message,
            Self::PerToken {
                per_1k_prompt,
                per_1k_completion,
            } => (per_1k_prompt.get(), per_1k_completion.get()),
        };
        let price =
            |tokens: u64, per_1k: i64| u128::from(tokens) * u128::from(per_1k.unsigned_abs());
        let total = price(used.prompt, p) + price(used.completion, c);
        let thousandths = total.div_ceil(1000).max(1);
        Tokens::new(i64::try_from(thousandths).unwrap_or(i64::MAX))
    }
}

/// Tokens a prompt message costs beyond its text (role and framing), as OpenAI counts them.
pub const MESSAGE_OVERHEAD_TOKENS: u64 = 4;

/// Tokens every prompt costs for priming the answer, as OpenAI counts them.
pub const REPLY_PRIMING_TOKENS: u64 = 3;

/// An upper bound of the tokens of a prompt made of `contents`, for the reservation: one token
/// per UTF-8 byte (byte-level BPE tokenizers never make a token smaller than a byte) plus
/// [`MESSAGE_OVERHEAD_TOKENS`] per message and [`REPLY_PRIMING_TOKENS`].
pub fn prompt_upper_bound<'a>(contents: impl IntoIterator<Item = &'a str>) -> u64 {
    contents
        .into_iter()
        .map(|content| content.len() as u64 + MESSAGE_OVERHEAD_TOKENS)
        .sum::<u64>()
        + REPLY_PRIMING_TOKENS
}

/// About how many tokens `text` is, for charging without the upstream's counts: one token per
/// four characters, rounded up (the usual rule of thumb for English text).
pub fn approximate_tokens(text: &str) -> u64 {
    (text.chars().count() as u64).div_ceil(4)
}

/// [`approximate_tokens`] of a prompt made of `contents`, with the same framing as
/// [`prompt_upper_bound`].
pub fn approximate_prompt_tokens<'a>(contents: impl IntoIterator<Item = &'a str>) -> u64 {
    contents
        .into_iter()
        .map(|content| approximate_tokens(content) + MESSAGE_OVERHEAD_TOKENS)
        .sum::<u64>()
        + REPLY_PRIMING_TOKENS
}

/// The tariff: what a new account receives and how chats are priced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pricing {
    signup_grant: Tokens,
    policy: PricingPolicy,
}

impl Pricing {
    /// The original service's tariff: 4000 tokens on sign-up, 100 per message.
    pub const DEFAULT: Pricing = Pricing {
        signup_grant: Tokens::new(4000),
        policy: PricingPolicy::Flat {
            price_per_message: Tokens::new(100),
        },
    };

    /// A tariff from configuration. A negative grant would open accounts in debt, so it is
    /// refused.
    pub fn new(signup_grant: i64, policy: PricingPolicy) -> Result<Self, PricingError> {
        if signup_grant < 0 {
            return Err(PricingError::NegativeGrant);
        }
        Ok(Self {
            signup_grant: Tokens::new(signup_grant),
            policy,
        })
    }

    /// Tokens credited to every new account.
    pub fn signup_grant(&self) -> Tokens {
        self.signup_grant
    }

    /// How chats are priced.
    pub fn policy(&self) -> PricingPolicy {
        self.policy
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn per_token(p: i64, c: i64) -> PricingPolicy {
        PricingPolicy::per_token(p, c).unwrap()
    }

    fn used(prompt: u64, completion: u64) -> TokenCounts {
        TokenCounts { prompt, completion }
    }

    #[test]
    fn default_is_the_seed_tariff() {
        assert_eq!(Pricing::DEFAULT.signup_grant(), Tokens::new(4000));
        assert_eq!(Pricing::DEFAULT.policy(), PricingPolicy::flat(100).unwrap());
        assert_eq!(
            Pricing::new(4000, PricingPolicy::flat(100).unwrap()),
            Ok(Pricing::DEFAULT)
        );
    }

    #[test]
    fn rejects_free_messages_negative_grants_and_free_or_negative_token_prices() {
        assert_eq!(PricingPolicy::flat(0), Err(PricingError::FreeMessage));
        assert_eq!(PricingPolicy::flat(-1), Err(PricingError::FreeMessage));
        assert_eq!(
            Pricing::new(-1, Pricing::DEFAULT.policy()),
            Err(PricingError::NegativeGrant)
        );
        assert!(Pricing::new(0, PricingPolicy::flat(1).unwrap()).is_ok());
        assert_eq!(
            PricingPolicy::per_token(-1, 5),
            Err(PricingError::NegativePromptPrice)
        );
        assert_eq!(
            PricingPolicy::per_token(5, -1),
            Err(PricingError::NegativeCompletionPrice)
        );
        assert_eq!(
            PricingPolicy::per_token(0, 0),
            Err(PricingError::FreeTokens)
        );
        assert!(PricingPolicy::per_token(0, 1).is_ok());
    }

    #[test]
    fn flat_reserves_the_price_and_charges_it_only_for_a_completed_answer() {
        let flat = PricingPolicy::flat(100).unwrap();
        let reserved = flat.reserve_amount(10_000, 512);
        assert_eq!(reserved, Tokens::new(100));
        let lots = used(10_000, 10_000);
        assert_eq!(
            flat.actual_charge(ChatStatus::Completed, lots, reserved),
            Tokens::new(100)
        );
        assert_eq!(
            flat.actual_charge(ChatStatus::Interrupted, lots, reserved),
            Tokens::ZERO
        );
    }

    #[test]
    fn per_token_rounds_up_per_thousand_and_charges_at_least_one() {
        let policy = per_token(2, 3);
        // 100 × 2 + 500 × 3 = 1700 → 2
        assert_eq!(policy.reserve_amount(100, 500), Tokens::new(2));
        let reserved = Tokens::new(1000);
        assert_eq!(
            policy.actual_charge(ChatStatus::Completed, used(1000, 1000), reserved),
            Tokens::new(5)
        );
        assert_eq!(
            policy.actual_charge(ChatStatus::Completed, used(1, 0), reserved),
            Tokens::new(1),
            "2/1000 rounds up"
        );
        assert_eq!(
            policy.actual_charge(ChatStatus::Interrupted, used(0, 0), reserved),
            Tokens::new(1),
            "at least 1"
        );
    }

    #[test]
    fn the_actual_charge_is_capped_at_the_reservation() {
        let policy = per_token(1000, 1000);
        let reserved = policy.reserve_amount(10, 20);
        assert_eq!(reserved, Tokens::new(30));
        assert_eq!(
            policy.actual_charge(ChatStatus::Completed, used(50, 50), reserved),
            reserved
        );
    }

    #[test]
    fn absurd_prices_saturate_instead_of_overflowing() {
        let policy = per_token(i64::MAX, i64::MAX);
        assert_eq!(
            policy.reserve_amount(u64::MAX, u32::MAX),
            Tokens::new(i64::MAX)
        );
    }

    #[test]
    fn the_prompt_bound_counts_bytes_and_framing_and_the_approximation_four_chars() {
        assert_eq!(prompt_upper_bound(["ab", "ж"]), 2 + 4 + 2 + 4 + 3);
        assert_eq!(prompt_upper_bound([]), 3);
        assert_eq!(approximate_tokens(""), 0);
        assert_eq!(approximate_tokens("abcd"), 1);
        assert_eq!(approximate_tokens("abcde"), 2);
        assert_eq!(approximate_tokens("жжжж"), 1, "characters, not bytes");
        assert_eq!(approximate_prompt_tokens(["abcde"]), 2 + 4 + 3);
    }

    fn policy() -> impl Strategy<Value = PricingPolicy> {
        prop_oneof![
            (1..1_000i64).prop_map(|p| PricingPolicy::flat(p).unwrap()),
            (0..10_000i64, 0..10_000i64)
                .prop_filter("not free", |(p, c)| *p + *c > 0)
                .prop_map(|(p, c)| per_token(p, c)),
        ]
    }

    fn status() -> impl Strategy<Value = ChatStatus> {
        prop_oneof![Just(ChatStatus::Completed), Just(ChatStatus::Interrupted)]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1024))]

        /// Whatever was used, the charge lies between nothing and the reservation, and a
        /// per-token chat always costs something.
        #[test]
        fn a_charge_never_exceeds_its_reservation(
            policy in policy(),
            status in status(),
            estimate in 0..100_000u64,
            max_tokens in 1..100_000u32,
            prompt in 0..1_000_000u64,
            completion in 0..1_000_000u64,
        ) {
            let reserved = policy.reserve_amount(estimate, max_tokens);
            prop_assert!(reserved.get() >= 1);
            let charged = policy.actual_charge(status, used(prompt, completion), reserved);
            prop_assert!(charged >= Tokens::ZERO && charged <= reserved);
            if let PricingPolicy::PerToken { .. } = policy {
                prop_assert!(charged.get() >= 1);
            }
        }

        /// An answer within the reservation's assumptions (prompt within the estimate,
        /// completion within max_tokens) is charged its exact price, uncapped.
        #[test]
        fn usage_within_the_estimate_is_charged_exactly(
            p in 0..10_000i64,
            c in 1..10_000i64,
            estimate in 0..100_000u64,
            max_tokens in 1..100_000u32,
            prompt_share in 0.0..=1.0f64,
            completion_share in 0.0..=1.0f64,
        ) {
            let policy = per_token(p, c);
            let prompt = (estimate as f64 * prompt_share) as u64;
            let completion = (f64::from(max_tokens) * completion_share) as u64;
            let reserved = policy.reserve_amount(estimate, max_tokens);
            let charged = policy.actual_charge(ChatStatus::Completed, used(prompt, completion), reserved);
            let exact = (i128::from(p) * i128::from(prompt) + i128::from(c) * i128::from(completion) + 999) / 1000;
            prop_assert_eq!(i128::from(charged.get()), exact.max(1));
        }

        /// The reservation's prompt bound is never below the charging approximation, so an
        /// interrupted chat charged without usage stays inside what was reserved.
        #[test]
        fn the_upper_bound_covers_the_approximation(contents in proptest::collection::vec(".{0,200}", 0..5)) {
            let refs: Vec<&str> = contents.iter().map(String::as_str).collect();
            prop_assert!(prompt_upper_bound(refs.iter().copied()) >= approximate_prompt_tokens(refs.iter().copied()));
        }
    }
}
