//! One module per command the user types.

pub mod cache;
pub mod ci;
pub mod comment;
pub mod compose;
pub mod coverage;
pub mod dev;
pub mod flaky;
pub mod init;
pub mod lint;
pub mod mutants;
pub mod security;
pub mod smoke;
pub mod test;
