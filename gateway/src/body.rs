//! Streaming bodies of the invocation proxy: the caller's body lent to one attempt at a time, and
//! the replica's body carrying the call's bookkeeping until it ends.

use std::cell::{Cell, RefCell};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use actix_web::dev::Payload;
use actix_web::error::PayloadError;
use bytes::Bytes;
use futures::Stream;

/// The caller's body, shared between attempts. An attempt whose connection failed never
/// polled it, so the next replica still gets every byte; once polled, no retry is safe.
#[derive(Clone)]
pub struct LentBody {
    payload: Rc<RefCell<Payload>>,
    polled: Rc<Cell<bool>>,
}

impl LentBody {
    pub fn new(payload: Payload) -> Self {
        Self {
            payload: Rc::new(RefCell::new(payload)),
            polled: Rc::new(Cell::new(false)),
        }
    }

    /// Whether any attempt started reading the body.
    pub fn polled(&self) -> bool {
        self.polled.get()
    }
}

impl Stream for LentBody {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.polled.set(true);
        // Attempts run one after another on one thread, so the cell is never borrowed twice.
        match self.payload.try_borrow_mut() {
            Ok(mut payload) => Pin::new(&mut *payload).poll_next(cx),
            Err(_) => Poll::Ready(Some(Err(PayloadError::Io(std::io::Error::other(
                "request body read by two attempts at once",
            ))))),
        }
    }
}

/// A stream that holds `guard` until the stream ends or is dropped (the call's metrics and
/// in-flight counts are settled in the guard's `Drop`).
pub struct Guarded<S, G> {
    stream: S,
    guard: Option<G>,
}

impl<S, G> Guarded<S, G> {
    pub fn new(stream: S, guard: G) -> Self {
        Self {
            stream,
            guard: Some(guard),
        }
    }
}

impl<S, G> Stream for Guarded<S, G>
where
    S: Stream + Unpin,
    G: Unpin,
{
    type Item = S::Item;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        let next = Pin::new(&mut self.stream).poll_next(cx);
        if let Poll::Ready(None) = next {
            self.guard.take();
        }
        next
    }
}
