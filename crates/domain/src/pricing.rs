//! What tokens cost and what a new account receives. Both come from configuration; the defaults
//! are those of the original service.

use crate::tokens::Tokens;

/// Why a tariff was refused; each variant names the one value at fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PricingError {
    /// The sign-up grant is below zero.
    #[error("the sign-up grant cannot be negative")]
    NegativeGrant,
    /// The price per message is zero or below.
    #[error("the price per message must be positive")]
    FreeMessage,
}

/// The tariff: sign-up grant and price of one chat message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pricing {
    signup_grant: Tokens,
    price_per_message: Tokens,
}

impl Pricing {
    /// The original service's tariff: 4000 tokens on sign-up, 100 per message.
    pub const DEFAULT: Pricing = Pricing {
        signup_grant: Tokens::new(4000),
        price_per_message: Tokens::new(100),
    };

    /// A tariff from configuration. A free message would make the ledger meaningless and a
    /// negative grant would open accounts in debt, so both are refused.
    pub fn new(signup_grant: i64, price_per_message: i64) -> Result<Self, PricingError> {
        if signup_grant < 0 {
            return Err(PricingError::NegativeGrant);
        }
        if price_per_message <= 0 {
            return Err(PricingError::FreeMessage);
        }
        Ok(Self {
            signup_grant: Tokens::new(signup_grant),
            price_per_message: Tokens::new(price_per_message),
        })
    }

    /// Tokens credited to every new account.
    pub fn signup_grant(&self) -> Tokens {
        self.signup_grant
    }

    /// Tokens one chat message costs.
    pub fn price_per_message(&self) -> Tokens {
        self.price_per_message
    }

    /// How many messages a balance pays for: `floor(balance / price)`.
    pub fn affordable_messages(&self, balance: Tokens) -> i64 {
        balance.get().max(0) / self.price_per_message.get()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_the_seed_tariff() {
        assert_eq!(Pricing::DEFAULT.signup_grant(), Tokens::new(4000));
        assert_eq!(Pricing::DEFAULT.price_per_message(), Tokens::new(100));
        assert_eq!(Pricing::new(4000, 100), Ok(Pricing::DEFAULT));
    }

    #[test]
    fn rejects_free_messages_and_negative_grants() {
        assert_eq!(Pricing::new(4000, 0), Err(PricingError::FreeMessage));
        assert_eq!(Pricing::new(4000, -1), Err(PricingError::FreeMessage));
        assert_eq!(Pricing::new(-1, 100), Err(PricingError::NegativeGrant));
        assert!(Pricing::new(0, 1).is_ok());
    }

    #[test]
    fn affordable_messages_rounds_down() {
        let pricing = Pricing::DEFAULT;
        assert_eq!(pricing.affordable_messages(Tokens::new(4000)), 40);
        assert_eq!(pricing.affordable_messages(Tokens::new(199)), 1);
        assert_eq!(pricing.affordable_messages(Tokens::new(99)), 0);
        assert_eq!(pricing.affordable_messages(Tokens::new(-5)), 0);
    }
}
