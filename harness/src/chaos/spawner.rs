//! Where supervised children are forked: one thread that lives as long as the process.
//!
//! A child's `PR_SET_PDEATHSIG` fires when the *thread* that forked it ends, not the
//! process (prctl(2): "the parent in this case is considered to be the thread that created
//! this process"). A child forked from a short-lived thread (a blocking rollback's own
//! thread, a `spawn_blocking` worker that idles out, a finished runtime's worker) would be
//! SIGKILLed with that thread, seconds after a restart. So every supervised child is
//! spawned here: a thread started once per process, running its own current-thread
//! runtime (which also drives the children's exit notifications), fed by a channel.

use std::io;
use std::sync::OnceLock;

use tokio::process::{Child, Command};
use tokio::sync::{mpsc, oneshot};

struct Request {
    cmd: Command,
    reply: oneshot::Sender<io::Result<Child>>,
}

/// Spawns `cmd` from the process's lasting spawner thread.
pub async fn spawn(cmd: Command) -> io::Result<Child> {
    let gone = || io::Error::other("the process spawner thread has stopped");
    let (reply, answer) = oneshot::channel();
    sender()?.send(Request { cmd, reply }).map_err(|_| gone())?;
    answer.await.map_err(|_| gone())?
}

/// The spawner's queue, starting its thread on first use.
fn sender() -> io::Result<&'static mpsc::UnboundedSender<Request>> {
    static QUEUE: OnceLock<mpsc::UnboundedSender<Request>> = OnceLock::new();
    if let Some(tx) = QUEUE.get() {
        return Ok(tx);
    }
    let (tx, mut rx) = mpsc::unbounded_channel::<Request>();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    std::thread::Builder::new().name("gameday-spawner".into()).spawn(move || {
        rt.block_on(async move {
            while let Some(Request { mut cmd, reply }) = rx.recv().await {
                let _ = reply.send(cmd.spawn());
            }
        });
    })?;
    // Two first uses at once start two threads: the one whose queue is not kept sees its
    // channel close and ends, having spawned nothing.
    Ok(QUEUE.get_or_init(|| tx))
}
