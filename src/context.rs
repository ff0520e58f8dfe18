//! What a command that talks to the world works with, made once per
//! command: one async runtime, and for its stack one [`Connection`] — the
//! router (every provider, one client per cluster, the EKS token source)
//! and the state backend, which reaches its cluster through the same
//! clients.

use std::future::Future;
use std::sync::OnceLock;

use stack_engine::state::{LockInfo, StateBackend};
use stack_engine::{Graph, State};
use stack_providers::router::StackRouter;

use crate::cli::StackArgs;
use crate::failure::Failure;
use crate::load;

/// Made in `main` and passed to every command; the runtime starts the
/// first time it is needed (`check` never needs it).
#[derive(Default)]
pub struct Context {
    runtime: OnceLock<tokio::runtime::Runtime>,
}

/// A stack's way to the world.
pub struct Connection {
    pub router: StackRouter,
    pub backend: Box<dyn StateBackend>,
}

impl Context {
    pub fn block_on<F: Future>(&self, work: F) -> Result<F::Output, Failure> {
        Ok(self.runtime()?.block_on(work))
    }

    fn runtime(&self) -> Result<&tokio::runtime::Runtime, Failure> {
        if let Some(runtime) = self.runtime.get() {
            return Ok(runtime);
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(|e| {
                Failure::runtime(stack_engine::state::StateError::Backend {
                    message: format!("cannot start the async runtime: {e}"),
                    help: None,
                })
            })?;
        Ok(self.runtime.get_or_init(|| runtime))
    }

    /// The providers and the state backend of the stack `graph` declares.
    pub fn connect(&self, args: &StackArgs, graph: &Graph) -> Connection {
        let router = StackRouter::new(&graph.declarations.stack, &load::stack_dir(&args.file));
        let backend = crate::backend::for_stack(args, graph, router.clients.clone());
        Connection { router, backend }
    }
}

impl Connection {
    /// Runs `work` holding the state lock as `operation`, and unlocks
    /// whatever `work` returns.
    pub async fn locked<T>(
        &self,
        operation: &str,
        force_unlock: bool,
        work: impl Future<Output = Result<T, Failure>>,
    ) -> Result<T, Failure> {
        let holder = LockInfo::current(operation);
        self.backend
            .lock(&holder, force_unlock)
            .await
            .map_err(Failure::runtime)?;
        let result = work.await;
        let unlocked = self.backend.unlock(&holder).await;
        let value = result?;
        unlocked.map_err(Failure::runtime)?;
        Ok(value)
    }

    /// Reads the stack's state (without locking it: `plan`, `render`).
    pub fn load(&self, context: &Context) -> Result<State, Failure> {
        context
            .block_on(self.backend.load())?
            .map_err(Failure::runtime)
    }
}
