//! The listener: TCP connections whose HTTP-layer refusals are JSON too.
//!
//! When a request cannot even be parsed (bytes that are not a request line, too many or too
//! large headers, a URI too long), hyper answers it itself — an empty `400`, `414` or `431`
//! — before any router or middleware runs, and closes the connection. [`JsonErrors`] sits
//! between hyper and the socket and turns exactly such an answer (an error status, a head
//! with `content-length: 0`, no content type, no body) into the contract's JSON error
//! object. Every other write passes through untouched.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// A TCP listener whose connections are [`JsonErrors`].
pub struct Edge(pub TcpListener);

impl axum::serve::Listener for Edge {
    type Io = JsonErrors<TcpStream>;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let (io, addr) = axum::serve::Listener::accept(&mut self.0).await;
        (JsonErrors::new(io), addr)
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.0.local_addr()
    }
}

/// A connection that rewrites hyper's bodiless error answers as JSON.
pub struct JsonErrors<T> {
    inner: T,
    /// The rewritten answer, still to be written, and how much of it is.
    pending: Vec<u8>,
    written: usize,
}

impl<T> JsonErrors<T> {
    pub fn new(inner: T) -> Self {
        Self {
            inner,
            pending: Vec::new(),
            written: 0,
        }
    }
}

/// The JSON answer for `head` if it is one of hyper's own error answers.
fn rewrite(head: &[u8]) -> Option<Vec<u8>> {
    let rest = head
        .strip_prefix(b"HTTP/1.1 ")
        .or_else(|| head.strip_prefix(b"HTTP/1.0 "))?;
    let code: u16 = std::str::from_utf8(rest.get(..3)?).ok()?.parse().ok()?;
    // What hyper answers itself: a bad request, a URI or headers too large, a version it
    // does not speak; always closing the connection.
    if !matches!(code, 400 | 414 | 431 | 505) || !head.ends_with(b"\r\n\r\n") {
        return None;
    }
    let status = axum::http::StatusCode::from_u16(code).ok()?;
    let text = std::str::from_utf8(head).ok()?;
    let lower = text.to_ascii_lowercase();
    if lower.contains("\r\ncontent-type:") || !lower.contains("\r\nconnection: close\r\n") {
        return None;
    }
    let at = lower.find("\r\ncontent-length: 0\r\n")?;
    let body = crate::edge::framework_error(status).body_bytes();
    let mut out = Vec::with_capacity(head.len() + body.len() + 64);
    out.extend_from_slice(text.get(..at)?.as_bytes());
    out.extend_from_slice(
        format!(
            "\r\ncontent-type: application/json\r\ncontent-length: {}\r\n",
            body.len()
        )
        .as_bytes(),
    );
    out.extend_from_slice(
        text.get(at + "\r\ncontent-length: 0\r\n".len()..)?
            .as_bytes(),
    );
    out.extend_from_slice(&body);
    Some(out)
}

impl<T: AsyncWrite + Unpin> JsonErrors<T> {
    /// Writes what is pending; ready when nothing is.
    fn drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.written < self.pending.len() {
            let rest = self.pending.get(self.written..).unwrap_or_default();
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, rest))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.written += n;
        }
        self.pending.clear();
        self.written = 0;
        Poll::Ready(Ok(()))
    }

    /// Takes `buf` as pending if it is an answer to rewrite, and starts writing it.
    fn take(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Option<io::Result<usize>> {
        self.pending = rewrite(buf)?;
        self.written = 0;
        // Accepted whole: what this call cannot write, later calls (or the flush) do.
        Some(match self.drain(cx) {
            Poll::Ready(Err(e)) => Err(e),
            _ => Ok(buf.len()),
        })
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for JsonErrors<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for JsonErrors<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.drain(cx))?;
        if let Some(r) = this.take(cx, buf) {
            return Poll::Ready(r);
        }
        Pin::new(&mut this.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.drain(cx))?;
        // hyper's own error answers are a head alone, in one buffer.
        let mut filled = bufs.iter().filter(|b| !b.is_empty());
        if let (Some(only), None) = (filled.next(), filled.next()) {
            if let Some(r) = this.take(cx, only) {
                return Poll::Ready(r);
            }
        }
        Pin::new(&mut this.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.drain(cx))?;
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.drain(cx))?;
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_bodiless_error_heads_are_rewritten() {
        let hyper_431 =
            b"HTTP/1.1 431 Request Header Fields Too Large\r\nconnection: close\r\ncontent-length: 0\r\ndate: Thu, 03 Dec 2026 07:48:43 GMT\r\n\r\n";
        let out = String::from_utf8(rewrite(hyper_431).unwrap()).unwrap();
        assert!(out.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: "));
        let (head, body) = out.split_once("\r\n\r\n").unwrap();
        assert!(head.contains("date: "));
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(v["error"]["code"], "headers_too_large");
        assert!(head.contains(&format!("content-length: {}", body.len())));
        // Answers of the application pass untouched.
        assert!(rewrite(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").is_none());
        assert!(rewrite(
            b"HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\ncontent-length: 0\r\n\r\n"
        )
        .is_none());
        assert!(rewrite(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 12\r\n\r\n").is_none());
        // Without `connection: close`, it is not hyper's refusal.
        assert!(rewrite(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n").is_none());
        assert!(rewrite(
            b"HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n{}"
        )
        .is_none());
        assert!(rewrite(b"{\"error\":1}").is_none());
    }
}
