//! The shipped definitions validate, and the JSON Schema accepts them.
use crate::root;

#[test]
fn placeholder_until_library_lands() {}
