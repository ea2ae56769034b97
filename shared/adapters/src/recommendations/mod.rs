//! Store recommendations' tables, model store and publishing.

pub mod collections_table;
pub mod feedback_table;
pub mod models;
pub mod publish;
