//! Map/reduce analytics: the jobs table, the uploaded files, the chunk queue and the
//! results bucket.

pub mod chunk_tasks;
pub mod input_file;
pub mod jobs_table;
pub mod results;
