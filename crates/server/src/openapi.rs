//! The OpenAPI 3 document served at `/api/v1/openapi.json`. Tests check that every
//! operation in it is routed, and every route is in it.

pub const DOCUMENT: &str = include_str!("../openapi.json");
