//! Random secrets for admin sessions and CSRF tokens.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use ports::SecretGenerator;
use rand::RngCore;

/// 32 bytes from the thread-local CSPRNG (ChaCha, seeded from the OS), base64url: 256 bits, far
/// beyond guessing, and safe in cookies and form fields without escaping.
#[derive(Debug, Clone, Copy, Default)]
pub struct RandomSecrets;

impl SecretGenerator for RandomSecrets {
    fn secret(&self) -> String {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        URL_SAFE_NO_PAD.encode(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_43_url_safe_characters_and_differ() {
        let (a, b) = (RandomSecrets.secret(), RandomSecrets.secret());
        assert_eq!(a.len(), 43);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
        assert_ne!(a, b);
    }
}
