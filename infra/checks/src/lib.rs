//! Offline checks of the deployment, run by `scripts/test`; the checks themselves are the
//! tests in `tests/`. Nothing here is deployed.
