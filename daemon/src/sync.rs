//! The daemon's one policy for poisoned locks, in one place.
//!
//! A `std::sync::Mutex` is poisoned when a thread panicked while holding it. Every lock here
//! guards plain data that is whole between statements (a map insert, a counter, an `Option`
//! swapped), and a panic is contained by its task or thread; so the data behind a poisoned
//! lock is taken over as it is, never refused: one panicked task must not stop the daemon
//! from answering, stopping engines or storing points. Every lock in the daemon is taken
//! through [`lock`].

use std::sync::{Mutex, MutexGuard, PoisonError};

/// Lock `m`, taking its data over if a holder panicked (see the module docs).
pub fn lock<T: ?Sized>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::lock;
    use std::sync::Mutex;

    #[test]
    fn a_poisoned_lock_is_taken_over_with_its_data() {
        let m = Mutex::new(vec![1]);
        let _ = std::panic::catch_unwind(|| {
            let mut g = lock(&m);
            g.push(2);
            panic!("holder panics");
        });
        assert!(m.is_poisoned());
        assert_eq!(*lock(&m), vec![1, 2]);
    }
}
