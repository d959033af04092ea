//! watchdog: placeholder.
