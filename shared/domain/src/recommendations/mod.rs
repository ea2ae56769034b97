//! Store recommendations (seed 000): what a store's collection and a change to it are,
//! and the per-store model that ranks products for the tags a consumer selects, learning
//! from the choices consumers made.
//!
//! The model is a multinomial naive Bayes over "which product is chosen, given a selected
//! tag", with the store's catalogue as its prior: before any feedback, a tag's choices are
//! spread over the products carrying it, in proportion to their popularity; every recorded
//! choice then moves that estimate. Training is counting, so a store is retrained in
//! milliseconds, and scoring is one pass over the products (README: "Recommendations").

mod baselines;
mod catalogue;
mod codec;
pub mod collection;
pub mod collection_changed;
pub mod model;
mod ranking;

pub use baselines::{MostPopular, TagOverlap};
pub use codec::ModelError;
pub use collection::{Change, Collection, Product, StoreId};
pub use collection_changed::CollectionChanged;
pub use model::{Feedback, Model, Params};
pub use ranking::{Basis, Ranking, Scored};
