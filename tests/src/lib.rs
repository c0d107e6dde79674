//! Cross-crate stories and end-to-end tests of the real app live in `tests/*.rs`.
