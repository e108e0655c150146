//! A stream that lets a TCP connection send only [`BEFORE_HELLO`] bytes until it has
//! authenticated: a stranger cannot make the daemon hold a large frame (or many), whatever
//! length its frames announce.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Bytes a connection may send before its `hello` succeeds (a hello is about 100).
pub const BEFORE_HELLO: usize = 64 * 1024;

/// `S`, with reads capped until `authed`.
pub struct Gated<S> {
    inner: S,
    authed: Arc<AtomicBool>,
    left: usize,
}

impl<S> Gated<S> {
    /// Wrap `inner`; reads stop at [`BEFORE_HELLO`] bytes until `authed` is set.
    pub fn new(inner: S, authed: Arc<AtomicBool>) -> Self {
        Self {
            inner,
            authed,
            left: BEFORE_HELLO,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Gated<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.authed.load(Ordering::Acquire) {
            return Pin::new(&mut self.inner).poll_read(cx, buf);
        }
        if self.left == 0 {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!("{BEFORE_HELLO} bytes sent without a successful hello"),
            )));
        }
        // Before hello, read through a small buffer of at most what is left.
        let mut tmp = vec![0u8; buf.remaining().min(self.left)];
        let mut part = ReadBuf::new(&mut tmp);
        let r = Pin::new(&mut self.inner).poll_read(cx, &mut part);
        let n = part.filled().len();
        buf.put_slice(&tmp[..n]);
        self.left -= n;
        r
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Gated<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, data)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
