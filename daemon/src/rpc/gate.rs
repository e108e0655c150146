//! A stream that lets a TCP connection send only [`BEFORE_HELLO`] bytes until it has
//! authenticated, in frames that announce no more than that: a stranger cannot make the
//! daemon hold or reserve a large frame (or many).

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
    /// Length-prefix bytes of the frame being read (big-endian u32), and how many of them
    /// have come; then how many payload bytes are still to come.
    header: [u8; 4],
    header_got: usize,
    payload_left: usize,
}

impl<S> Gated<S> {
    /// Wrap `inner`; reads stop at [`BEFORE_HELLO`] bytes until `authed` is set.
    pub fn new(inner: S, authed: Arc<AtomicBool>) -> Self {
        Self {
            inner,
            authed,
            left: BEFORE_HELLO,
            header: [0; 4],
            header_got: 0,
            payload_left: 0,
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
        if let Err(e) = self.frames(&tmp[..n]) {
            return Poll::Ready(Err(e));
        }
        buf.put_slice(&tmp[..n]);
        self.left -= n;
        r
    }
}

impl<S> Gated<S> {
    /// Follow the frames in `bytes`; a frame announcing more than [`BEFORE_HELLO`] is refused
    /// before the decoder sees its length (it would reserve that much).
    fn frames(&mut self, mut bytes: &[u8]) -> io::Result<()> {
        while !bytes.is_empty() {
            if self.payload_left > 0 {
                let take = self.payload_left.min(bytes.len());
                self.payload_left -= take;
                bytes = &bytes[take..];
                continue;
            }
            self.header[self.header_got] = bytes[0];
            self.header_got += 1;
            bytes = &bytes[1..];
            if self.header_got == 4 {
                self.header_got = 0;
                let len = u32::from_be_bytes(self.header) as usize;
                if len > BEFORE_HELLO {
                    return Err(io::Error::new(
                        io::ErrorKind::PermissionDenied,
                        format!("a frame of {len} bytes before a successful hello"),
                    ));
                }
                self.payload_left = len;
            }
        }
        Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    #[tokio::test]
    async fn a_large_frame_is_refused_before_hello_and_taken_after() {
        let authed = Arc::new(AtomicBool::new(false));
        let mut big = (1u32 << 20).to_be_bytes().to_vec();
        big.extend_from_slice(b"xx");
        let mut g = Gated::new(&big[..], authed.clone());
        let mut out = Vec::new();
        let e = g.read_to_end(&mut out).await.unwrap_err();
        assert!(e.to_string().contains("a frame of 1048576 bytes"), "{e}");
        assert!(out.is_empty(), "nothing reaches the decoder");
        // A small frame passes; after hello a large one does too.
        let mut small = 3u32.to_be_bytes().to_vec();
        small.extend_from_slice(b"abc");
        let mut out = Vec::new();
        Gated::new(&small[..], authed.clone())
            .read_to_end(&mut out)
            .await
            .unwrap();
        assert_eq!(out, small);
        authed.store(true, Ordering::Release);
        let mut out = Vec::new();
        Gated::new(&big[..], authed)
            .read_to_end(&mut out)
            .await
            .unwrap();
        assert_eq!(out.len(), 6);
    }
}
