//! `LocalDirectory`: the embedded identity provider on PostgreSQL (demo and development).
