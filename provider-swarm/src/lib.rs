//! provider-swarm: placeholder until its issue lands.
