//! The values the API accepts, parsed once, where a request body is read (`crate::input`): a
//! handler holds an [`Email`] or a [`CashbackRate`], never a string or a number it still has
//! to check. Each type's [`FromJson`](crate::input::FromJson) says in a few words what is wrong
//! with a value it refuses.

mod merchant;
mod name;
mod user;

pub use merchant::CashbackRate;
pub use name::Name;
pub use user::{Email, NewPassword};
