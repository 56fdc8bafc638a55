//! The deployment kit: configuration as clusters give it (Kubernetes service links, secrets
//! in files), route ownership (`kreki routes`) against nginx and the Kubernetes Ingress, and
//! the manifests' own checks.

mod config;
mod kubernetes;
mod observability;
mod pg_drill;
mod proxy;
mod routes;
