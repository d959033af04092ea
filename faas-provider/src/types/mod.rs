//! The OpenFaaS wire types, each defined once for the whole workspace.

mod alert;
mod deployment;
mod endpoints;
mod info;
mod logs;
mod queue;
mod requests;
mod secret;
mod status;

pub use alert::{Alert, AlertWebhook};
pub use deployment::{FunctionDeployment, FunctionResources};
pub use endpoints::{Endpoint, ReadyEndpoints};
pub use info::{GatewayInfo, ProviderInfo, VersionInfo};
pub use logs::{LogMessage, LogRequest};
pub use queue::{GoUrl, QueueRequest};
pub use requests::{DeleteFunctionRequest, ScaleServiceRequest};
pub use secret::Secret;
pub use status::{FunctionStatus, FunctionUsage};

/// String maps (labels, annotations, env) are ordered so output is stable.
pub type StringMap = std::collections::BTreeMap<String, String>;
