//! Swarm mode for the tests that need it: a process-wide guard that makes the engine a
//! single-node swarm manager on 127.0.0.1 if it is not one, and leaves only a swarm it made.

use std::time::Duration;

use bollard::models::{LocalNodeState, SwarmInitRequest};
use bollard::query_parameters::LeaveSwarmOptionsBuilder;
use bollard::Docker;
use tokio::sync::Mutex;

use crate::docker::docker;
use crate::poll;

/// Guards alive in this process, and whether the first of them made the swarm. A tokio mutex
/// because the first `acquire` holds it across the engine calls, so two tests never both init.
static REFS: Mutex<Refs> = Mutex::const_new(Refs {
    count: 0,
    created: false,
});

const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// While one of these lives, the engine is a swarm manager. The engine leaves the swarm when
/// the last guard of the process drops, and only if a guard initialised it.
#[must_use = "swarm mode only lasts while the guard lives"]
pub struct SwarmGuard {
    _private: (),
}

impl SwarmGuard {
    /// # Panics
    /// When the engine does not answer, is a swarm worker or in a broken swarm state, or
    /// `swarm init` fails.
    pub async fn acquire() -> SwarmGuard {
        let mut refs = REFS.lock().await;
        let mut created = false;
        if refs.count == 0 {
            let docker = docker().await;
            let (state, manager) = swarm_state(&docker).await;
            match first_step(&state, manager) {
                Ok(Step::Init) => {
                    init(&docker).await;
                    created = true;
                }
                Ok(_) => {}
                Err(problem) => panic!("cannot use swarm mode: {problem}"),
            }
        }
        refs.acquired(created);
        SwarmGuard { _private: () }
    }
}

impl Drop for SwarmGuard {
    fn drop(&mut self) {
        // Its own thread and runtime: the test's runtime may be the one this blocks.
        let outcome = std::thread::spawn(|| {
            // Held while leaving, so a concurrent `acquire` sees the swarm gone, not going.
            let mut refs = REFS.blocking_lock();
            if refs.release() != Step::Leave {
                return Ok(());
            }
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|err| format!("cannot build a runtime: {err}"))?;
            runtime.block_on(async {
                let options = LeaveSwarmOptionsBuilder::new().force(true).build();
                docker()
                    .await
                    .leave_swarm(Some(options))
                    .await
                    .map_err(|err| format!("leaving the swarm the tests created: {err}"))
            })
        })
        .join()
        .unwrap_or_else(|_| Err("the swarm release thread panicked".to_owned()));
        if let Err(problem) = outcome {
            if std::thread::panicking() {
                eprintln!("{problem}");
            } else {
                panic!("{problem}");
            }
        }
    }
}

async fn swarm_state(docker: &Docker) -> (LocalNodeState, bool) {
    let info = docker
        .info()
        .await
        .unwrap_or_else(|err| panic!("reading the engine's swarm state: {err}"));
    let swarm = info.swarm.unwrap_or_default();
    (
        swarm.local_node_state.unwrap_or(LocalNodeState::EMPTY),
        swarm.control_available.unwrap_or(false),
    )
}

async fn init(docker: &Docker) {
    let request = SwarmInitRequest {
        listen_addr: Some("127.0.0.1:2377".to_owned()),
        advertise_addr: Some("127.0.0.1".to_owned()),
        ..Default::default()
    };
    docker
        .init_swarm(request)
        .await
        .unwrap_or_else(|err| panic!("docker swarm init --advertise-addr 127.0.0.1 failed: {err}"));
    poll::until(READY_TIMEOUT, Duration::from_millis(100), || async {
        match swarm_state(docker).await {
            (LocalNodeState::ACTIVE, true) => Ok(()),
            (state, manager) => Err(format!("state {state:?}, manager: {manager}")),
        }
    })
    .await
    .unwrap_or_else(|timeout| panic!("the new swarm did not become active: {timeout}"));
}

/// What a guard does to the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Nothing,
    Init,
    Leave,
}

/// What the first guard must do, given the engine's swarm state and whether it is a manager.
fn first_step(state: &LocalNodeState, manager: bool) -> Result<Step, String> {
    match state {
        LocalNodeState::ACTIVE if manager => Ok(Step::Nothing),
        LocalNodeState::ACTIVE => {
            Err("the engine is a swarm worker; tests need a manager".to_owned())
        }
        LocalNodeState::INACTIVE | LocalNodeState::EMPTY => Ok(Step::Init),
        other => Err(format!(
            "the engine's swarm is {other:?}; fix it with `docker swarm leave --force`"
        )),
    }
}

/// The process-wide count of guards.
#[derive(Debug, PartialEq, Eq)]
struct Refs {
    count: usize,
    created: bool,
}

impl Refs {
    /// A guard now exists; `created` says whether acquiring it initialised the swarm.
    fn acquired(&mut self, created: bool) {
        self.count += 1;
        self.created |= created;
    }

    /// A guard is gone: the last one leaves the swarm if a guard made it.
    fn release(&mut self) -> Step {
        self.count = self.count.saturating_sub(1);
        if self.count == 0 && self.created {
            self.created = false;
            Step::Leave
        } else {
            Step::Nothing
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_guard_inits_only_an_engine_outside_any_swarm() {
        let cases = [
            ("manager", LocalNodeState::ACTIVE, true, Ok(Step::Nothing)),
            (
                "not in a swarm",
                LocalNodeState::INACTIVE,
                false,
                Ok(Step::Init),
            ),
            (
                "no state reported",
                LocalNodeState::EMPTY,
                false,
                Ok(Step::Init),
            ),
        ];
        for (case, state, manager, expected) in cases {
            assert_eq!(first_step(&state, manager), expected, "{case}");
        }
        for (case, state, manager) in [
            ("worker", LocalNodeState::ACTIVE, false),
            ("pending", LocalNodeState::PENDING, false),
            ("locked", LocalNodeState::LOCKED, true),
            ("error", LocalNodeState::ERROR, false),
        ] {
            assert!(first_step(&state, manager).is_err(), "{case}");
        }
    }

    #[test]
    fn the_last_guard_leaves_a_swarm_the_guards_made() {
        let mut refs = Refs {
            count: 0,
            created: false,
        };
        refs.acquired(true);
        refs.acquired(false);
        assert_eq!(refs.release(), Step::Nothing, "another guard still lives");
        assert_eq!(refs.release(), Step::Leave);
        assert_eq!(
            refs,
            Refs {
                count: 0,
                created: false
            }
        );
    }

    #[test]
    fn a_swarm_that_was_there_before_is_never_left() {
        let mut refs = Refs {
            count: 0,
            created: false,
        };
        refs.acquired(false);
        refs.acquired(false);
        assert_eq!(refs.release(), Step::Nothing);
        assert_eq!(refs.release(), Step::Nothing);
        assert_eq!(
            refs.release(),
            Step::Nothing,
            "an extra release does not underflow"
        );
    }

    #[test]
    fn a_swarm_made_again_after_leaving_is_left_again() {
        let mut refs = Refs {
            count: 0,
            created: false,
        };
        refs.acquired(true);
        assert_eq!(refs.release(), Step::Leave);
        refs.acquired(true);
        assert_eq!(refs.release(), Step::Leave);
    }
}
