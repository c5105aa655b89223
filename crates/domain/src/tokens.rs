//! Token amounts. Balances and ledger amounts are whole tokens in an `i64`: no rounding exists, and
//! every arithmetic step is checked so an overflow is an error, never a wrap-around.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A signed number of tokens: positive credits, negative debits, or a balance (never negative).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Tokens(i64);

impl Tokens {
    /// No tokens.
    pub const ZERO: Tokens = Tokens(0);

    /// Wraps a raw amount.
    pub const fn new(amount: i64) -> Self {
        Self(amount)
    }

    /// The raw amount, for storage and JSON.
    pub const fn get(self) -> i64 {
        self.0
    }

    /// The amount with its sign flipped (a debit of a price), `None` on overflow.
    pub fn checked_neg(self) -> Option<Self> {
        self.0.checked_neg().map(Self)
    }

    /// Sum, `None` on overflow.
    pub fn checked_add(self, other: Self) -> Option<Self> {
        self.0.checked_add(other.0).map(Self)
    }

    /// True for amounts above zero.
    pub fn is_positive(self) -> bool {
        self.0 > 0
    }
}

impl fmt::Display for Tokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}
