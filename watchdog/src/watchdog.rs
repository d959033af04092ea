//! The state every server thread shares: configuration, readiness, the call counter, the mode's
//! handler and, in http mode, the worker pool.

use std::sync::Arc;

use crate::calls::Calls;
use crate::config::Config;
use crate::lifecycle::Lifecycle;
use crate::modes::Function;
use crate::pool::Pool;
use crate::reaper::Reaper;

pub struct Watchdog {
    pub config: Config,
    pub lifecycle: Lifecycle,
    pub calls: Arc<Calls>,
    pub function: Function,
    pub pool: Option<Arc<Pool>>,
    pub reaper: Arc<Reaper>,
}
