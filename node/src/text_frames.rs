//! Text frames reach the connection loop as binary frames that start with [`TEXT_MARKER`].
//!
//! The protocol answers a text message with `bad_frame` and keeps the connection open. tungstenite checks the
//! UTF-8 of text messages itself, and on invalid UTF-8 its stream returns an error and ends: the client would
//! see the connection drop (1006) instead of the documented answer. So this reader, between the socket and
//! tungstenite, follows the client's frame headers and turns each text data frame into a binary one whose first
//! payload byte is `0xc1`, the one byte MessagePack never uses. No frame is ever valid UTF-8-checked, and a text
//! message, valid or not, becomes a frame the loop recognises and answers. Its state is a few bytes per
//! connection (the header being read, the payload bytes left, the mask).

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The first payload byte of a client text message once rewritten (MessagePack's never-used marker).
pub const TEXT_MARKER: u8 = 0xc1;

/// A socket whose incoming WebSocket text frames read as binary frames starting with [`TEXT_MARKER`].
#[derive(Debug)]
pub struct TextAsBinary<S> {
    inner: S,
    frames: FrameRewriter,
}

impl<S> TextAsBinary<S> {
    /// Wraps the upgraded socket.
    pub fn new(inner: S) -> TextAsBinary<S> {
        TextAsBinary {
            inner,
            frames: FrameRewriter::default(),
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for TextAsBinary<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        ready!(Pin::new(&mut self.inner).poll_read(cx, buf))?;
        let this = &mut *self;
        this.frames.rewrite(&mut buf.filled_mut()[before..]);
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for TextAsBinary<S> {
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

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// Follows the frames of the incoming byte stream (RFC 6455 §5.2) and rewrites text frames in place.
#[derive(Debug, Default)]
struct FrameRewriter {
    /// The header bytes read so far of the frame being started.
    header: [u8; 14],
    header_len: u8,
    /// Payload bytes left in the current frame.
    remaining: u64,
    mask: [u8; 4],
    /// Offset of the next payload byte, modulo 4 (the mask index).
    mask_pos: u8,
    /// The current frame is a control frame (ping, pong, close), whose payload is never touched.
    control: bool,
    /// A text message began and its first payload byte has not been replaced yet.
    mark_next_byte: bool,
}

impl FrameRewriter {
    fn rewrite(&mut self, data: &mut [u8]) {
        let mut i = 0;
        while i < data.len() {
            if self.remaining == 0 {
                self.header_byte(&mut data[i]);
                i += 1;
                continue;
            }
            let n = (data.len() - i).min(self.remaining.min(usize::MAX as u64) as usize);
            if self.mark_next_byte && !self.control {
                data[i] = TEXT_MARKER ^ self.mask[self.mask_pos as usize];
                self.mark_next_byte = false;
            }
            self.mask_pos = ((self.mask_pos as usize + n) % 4) as u8;
            self.remaining -= n as u64;
            i += n;
        }
    }

    /// Takes one header byte, rewriting the opcode of a text frame.
    fn header_byte(&mut self, byte: &mut u8) {
        if self.header_len == 0 {
            match *byte & 0x0f {
                // Text: read on as binary, and mark its first payload byte.
                0x1 => {
                    *byte = (*byte & 0xf0) | 0x2;
                    self.mark_next_byte = true;
                }
                0x2 => self.mark_next_byte = false,
                _ => {}
            }
        }
        self.header[self.header_len as usize] = *byte;
        self.header_len += 1;
        let Some(needed) = self.header_needed() else {
            return;
        };
        if (self.header_len as usize) < needed {
            return;
        }
        let h = &self.header;
        self.control = h[0] & 0x08 != 0;
        let masked = h[1] & 0x80 != 0;
        let (len, at) = match h[1] & 0x7f {
            126 => (u16::from_be_bytes([h[2], h[3]]) as u64, 4),
            127 => (
                u64::from_be_bytes([h[2], h[3], h[4], h[5], h[6], h[7], h[8], h[9]]),
                10,
            ),
            n => (n as u64, 2),
        };
        self.mask = if masked {
            [h[at], h[at + 1], h[at + 2], h[at + 3]]
        } else {
            [0; 4]
        };
        self.remaining = len;
        self.mask_pos = 0;
        self.header_len = 0;
    }

    /// The length of the header being read, once its second byte is known.
    fn header_needed(&self) -> Option<usize> {
        if self.header_len < 2 {
            return None;
        }
        let b = self.header[1];
        let extended = match b & 0x7f {
            126 => 2,
            127 => 8,
            _ => 0,
        };
        let mask = if b & 0x80 != 0 { 4 } else { 0 };
        Some(2 + extended + mask)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A client frame: FIN set, `opcode`, masked with `mask`.
    fn frame(opcode: u8, fin: bool, payload: &[u8], mask: [u8; 4]) -> Vec<u8> {
        let mut out = vec![if fin { 0x80 } else { 0 } | opcode];
        match payload.len() {
            n if n < 126 => out.push(0x80 | n as u8),
            n if n <= 0xffff => {
                out.push(0x80 | 126);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                out.push(0x80 | 127);
                out.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        out.extend_from_slice(&mask);
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        out
    }

    fn unmask(bytes: &[u8], mask: [u8; 4]) -> Vec<u8> {
        bytes
            .iter()
            .enumerate()
            .map(|(i, b)| b ^ mask[i % 4])
            .collect()
    }

    /// Feeds `stream` in chunks of `chunk` bytes.
    fn rewrite_in_chunks(stream: &[u8], chunk: usize) -> Vec<u8> {
        let mut rewriter = FrameRewriter::default();
        let mut out = stream.to_vec();
        for part in out.chunks_mut(chunk) {
            rewriter.rewrite(part);
        }
        out
    }

    #[test]
    fn text_frames_become_marked_binary_frames_and_others_pass_unchanged() {
        let mask = [0x11, 0x22, 0x33, 0x44];
        let big = vec![b'a'; 300];
        let mut stream = Vec::new();
        stream.extend(frame(0x2, true, b"\x81\xa2id\x01", mask)); // binary
        stream.extend(frame(0x1, true, b"\xff\xfe", mask)); // text, invalid UTF-8
        stream.extend(frame(0x1, false, b"", mask)); // fragmented text: empty first fragment,
        stream.extend(frame(0x9, true, b"ping", mask)); // a ping in between,
        stream.extend(frame(0x0, true, &big, mask)); // the text's payload
        stream.extend(frame(0x8, true, b"\x03\xe8", mask)); // close
        for chunk in [1, 2, 3, 7, 64, stream.len()] {
            let out = rewrite_in_chunks(&stream, chunk);
            let mut at = 0;
            let mut next = |len: usize, header: usize| {
                let f = &out[at..at + header + len];
                at += header + len;
                (f[0], unmask(&f[header..], mask))
            };
            assert_eq!(
                next(5, 6),
                (0x82, b"\x81\xa2id\x01".to_vec()),
                "chunk {chunk}"
            );
            assert_eq!(next(2, 6), (0x82, vec![TEXT_MARKER, 0xfe]));
            assert_eq!(next(0, 6), (0x02, vec![]));
            assert_eq!(next(4, 6), (0x89, b"ping".to_vec()));
            let (head, payload) = next(300, 8);
            assert_eq!(head, 0x80);
            assert_eq!(payload[0], TEXT_MARKER);
            assert_eq!(&payload[1..], &big[1..]);
            assert_eq!(next(2, 6), (0x88, b"\x03\xe8".to_vec()));
        }
    }
}
