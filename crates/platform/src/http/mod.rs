//! The HTTP kit: the strict JSON extractor, the middleware stack every service runs behind,
//! and the server with graceful shutdown.

pub mod access;
pub mod json;
pub mod middleware;
pub mod server;

pub use json::ApiJson;
pub use middleware::{ClientIp, KitConfig};
