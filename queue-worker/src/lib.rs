//! queue-worker: placeholder until its issue lands.
