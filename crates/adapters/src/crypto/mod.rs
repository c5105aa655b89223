//! Password hashing and token signing.

pub mod bcrypt_hasher;
mod cpu_pool;
pub mod jwt;
pub mod secrets;

pub use bcrypt_hasher::BcryptHasher;
pub use jwt::{JwtIssuer, JwtSettings};
pub use secrets::RandomSecrets;
