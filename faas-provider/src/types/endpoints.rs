//! ReadyEndpoints: an ironfaas extension (`GET /system/endpoints/{name}`) listing the address of
//! every ready replica, so the gateway balances calls itself over keep-alive connections.

use serde::{Deserialize, Serialize};

use crate::name::FunctionName;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadyEndpoints {
    pub name: FunctionName,
    pub namespace: String,
    pub endpoints: Vec<Endpoint>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Endpoint {
    /// `host:port` of the replica's watchdog.
    pub address: String,
    /// The replica's id (container or task id), as in log messages' `instance`.
    pub instance: String,
}
