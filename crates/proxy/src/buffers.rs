//! Spare I/O buffers, one small stack per worker thread, so that a
//! connection holds a buffer only while bytes move (nginx frees its request
//! buffers on a keep-alive connection the same way).
//!
//! A client connection takes a read buffer when it polls for a request and
//! gives it back when the poll finds nothing to read, or when the request is
//! answered and nothing was pipelined behind it; its write buffer likewise
//! per response. A backend connection gives its buffer back when it goes
//! into the pool. An idle keep-alive connection so holds no buffer at all,
//! and a busy one reuses the last one given back: no allocation per request.
//!
//! ```text
//! idle ──poll──▶ take ──Pending──▶ give (idle again)
//!                   └──bytes──▶ request … answered ──▶ give
//! ```
//!
//! Thread-local, so no lock: a buffer given back on another thread simply
//! joins that thread's stack. A buffer still shared with a request's
//! header values (they point into it) is reclaimed at its next `take`
//! once they are gone, or replaced then if they are not.

use bytes::BytesMut;
use std::cell::RefCell;

/// Spare buffers kept per thread: about the requests one thread has in
/// flight at once; the rest are freed.
const KEEP: usize = 64;

/// Bigger buffers (grown by a body) are freed rather than kept.
const MAX_KEPT: usize = 64 * 1024;

/// How much room a freshly made write buffer has.
const WRITE_SIZE: usize = 1024;

thread_local! {
    static READ: RefCell<Vec<BytesMut>> = const { RefCell::new(Vec::new()) };
    static WRITE: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
    /// Buffers taken and not given back by this thread: what tests watch.
    #[cfg(test)]
    static OUT: std::cell::Cell<isize> = const { std::cell::Cell::new(0) };
}

/// Makes sure `buffer` has a buffer behind it (a spare one if it had none)
/// with room for at least `room` more bytes.
#[inline]
pub(crate) fn lend(buffer: &mut BytesMut, room: usize) {
    if buffer.capacity() == 0 {
        let mut spare = READ.with(|spare| spare.borrow_mut().pop());
        // One given back while shared could not be measured then (see
        // `give_back`); its sharers are most likely gone by now.
        if spare.as_mut().is_some_and(too_big) {
            spare = None;
        }
        *buffer = spare.unwrap_or_default();
        count(1);
    }
    buffer.reserve(room);
}

/// Takes `buffer`'s memory back as a spare, if it holds no bytes; leaves
/// it without one.
#[inline]
pub(crate) fn give_back(buffer: &mut BytesMut) {
    if !buffer.is_empty() || buffer.capacity() == 0 {
        return;
    }
    let mut buffer = std::mem::take(buffer);
    count(-1);
    if !too_big(&mut buffer) {
        READ.with(|spare| {
            let mut spare = spare.borrow_mut();
            if spare.len() < KEEP {
                spare.push(buffer);
            }
        });
    }
}

/// Whether an empty buffer's allocation is over [`MAX_KEPT`], as far as
/// can be told. `capacity` is only the room left in this view of the
/// allocation: a buffer split after a large body may show little room and
/// still hold all of it. Reclaiming (no copy: it is empty) succeeds, and
/// so tells, when nothing else shares the allocation and it is that big;
/// a shared one is let through, and judged again when it is next lent.
#[inline]
fn too_big(buffer: &mut BytesMut) -> bool {
    buffer.try_reclaim(MAX_KEPT + 1)
}

/// [`give_back`] for a buffer known to be lent (a backend connection's,
/// which read its response into it). One read to the last byte of its
/// room is a view with no room that still points into its allocation,
/// shared with the bytes read into it: it is let go, so that a parked
/// connection holds nothing and the allocation is freed with those bytes.
#[inline]
pub(crate) fn give_back_lent(buffer: &mut BytesMut) {
    if buffer.is_empty() && buffer.capacity() == 0 {
        *buffer = BytesMut::new();
        count(-1);
        return;
    }
    give_back(buffer);
}

/// Makes sure `out` (empty) has a buffer behind it.
#[inline]
pub(crate) fn lend_write(out: &mut Vec<u8>) {
    if out.capacity() == 0 {
        *out = WRITE
            .with(|spare| spare.borrow_mut().pop())
            .unwrap_or_else(|| Vec::with_capacity(WRITE_SIZE));
        count(1);
    }
}

/// Takes `out`'s memory back as a spare; leaves it without one.
#[inline]
pub(crate) fn give_back_write(out: &mut Vec<u8>) {
    if out.capacity() == 0 {
        return;
    }
    let mut out = std::mem::take(out);
    count(-1);
    out.clear();
    if out.capacity() <= MAX_KEPT {
        WRITE.with(|spare| {
            let mut spare = spare.borrow_mut();
            if spare.len() < KEEP {
                spare.push(out);
            }
        });
    }
}

/// Counts buffers lent (`delta` 1) and given back (-1), for the tests;
/// release builds count nothing.
#[inline]
fn count(delta: isize) {
    #[cfg(test)]
    OUT.with(|out| out.set(out.get() + delta));
    #[cfg(not(test))]
    let _ = delta;
}

/// Buffers this thread has lent and not yet had back.
#[cfg(test)]
pub(crate) fn out() -> isize {
    OUT.with(std::cell::Cell::get)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_buffer_given_back_is_lent_again() {
        let mut first = BytesMut::new();
        lend(&mut first, 100);
        assert!(first.capacity() >= 100);
        let pointer = first.as_ptr();
        give_back(&mut first);
        assert_eq!(first.capacity(), 0);
        let mut second = BytesMut::new();
        lend(&mut second, 100);
        assert_eq!(second.as_ptr(), pointer);
        give_back(&mut second);
    }

    /// Lends a buffer and checks that its allocation is no bigger than a
    /// spare may be.
    fn assert_next_lent_is_small(message: &str) {
        let mut next = BytesMut::new();
        lend(&mut next, 10);
        assert!(!next.try_reclaim(MAX_KEPT + 1), "{message}");
        give_back(&mut next);
    }

    /// Broke: a buffer split after a large body showed little room in its
    /// view, so its whole allocation was kept as a spare.
    #[test]
    fn a_large_allocation_behind_a_small_view_was_kept() {
        let mut buffer = BytesMut::new();
        lend(&mut buffer, 1024 * 1024);
        buffer.resize(1024 * 1024 - 100, b'x');
        drop(buffer.split());
        assert!(buffer.capacity() <= MAX_KEPT, "the view shows little room");
        give_back(&mut buffer);
        assert_next_lent_is_small("a 1 MiB allocation was kept and lent again");
    }

    /// Broke: a buffer given back while a body chunk still shared its
    /// allocation could not be measured, and was lent again whole.
    #[test]
    fn a_large_allocation_given_back_while_shared_is_not_lent_again() {
        let mut buffer = BytesMut::new();
        lend(&mut buffer, 1024 * 1024);
        buffer.resize(1024 * 1024 - 100, b'x');
        let chunk = buffer.split().freeze();
        give_back(&mut buffer);
        drop(chunk);
        assert_next_lent_is_small("a 1 MiB allocation was lent again");
    }

    #[test]
    fn a_buffer_holding_bytes_is_kept() {
        let before = out();
        let mut buffer = BytesMut::new();
        lend(&mut buffer, 10);
        buffer.extend_from_slice(b"GET");
        give_back(&mut buffer);
        assert_eq!(&buffer[..], b"GET");
        assert_eq!(out(), before + 1);
        buffer.clear();
        give_back(&mut buffer);
        assert_eq!(out(), before);
    }
}
