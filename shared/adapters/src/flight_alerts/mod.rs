//! Flight alerts' tables (flights, alerts, SMS deliveries) and its publishing through SNS.

pub mod alerts_table;
pub mod deliveries_table;
pub mod flights_table;
pub mod publish;
