//! Memory for the large tables the matcher reads at random: prefetches, and huge pages.
//!
//! A language's word table is megabytes, read at a random place for every word of every
//! text. With 4 KiB pages nearly every such read also misses the TLB and waits for a page
//! walk; a 2 MiB page covers 512 times as much. Linux backs anonymous memory with huge pages
//! only where asked (`/sys/kernel/mm/transparent_hugepage/enabled` is `madvise` on most
//! distributions), and only memory not yet touched: the allocator hands out heap memory that
//! earlier allocations already faulted in with small pages. So a large table gets a mapping
//! of its own ([`HugeSlice`]), advised before its first write.

use std::ops::{Deref, DerefMut};

/// Asks the CPU to start loading the cache line that holds `x`.
#[inline]
pub(super) fn prefetch<T>(x: &T) {
    prefetch_ptr((x as *const T).cast());
}

/// Asks the CPU to start loading the cache line at `p`, which may be any address: a
/// prefetch never faults, and nothing is read.
#[inline]
pub(super) fn prefetch_ptr(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is only a hint, valid for any address.
    unsafe {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        _mm_prefetch::<_MM_HINT_T0>(p.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// A fixed-length slice of plain values; from 2 MiB up, in its own memory mapping backed by
/// huge pages where the system has them, else in an ordinary vector.
pub(super) struct HugeSlice<T: Copy> {
    /// The values, wherever they are: reading them does not branch on where (tables of
    /// both kinds are read in turn, and that branch would be mispredicted).
    ptr: std::ptr::NonNull<T>,
    len: usize,
    _owner: Owner<T>,
}

/// What holds a [`HugeSlice`]'s memory.
enum Owner<T> {
    #[cfg(target_os = "linux")]
    Mapped(mapping::Mapping<T>),
    Heap(Vec<T>),
}

// SAFETY: a `HugeSlice` owns its values like a `Vec<T>`; the pointer is into the owner.
unsafe impl<T: Copy + Send> Send for HugeSlice<T> {}
// SAFETY: shared access only reads, like `&[T]`.
unsafe impl<T: Copy + Sync> Sync for HugeSlice<T> {}

impl<T: Copy> HugeSlice<T> {
    fn new(mut owner: Owner<T>) -> Self {
        let (ptr, len) = match &mut owner {
            #[cfg(target_os = "linux")]
            Owner::Mapped(m) => (m.as_mut_ptr(), m.len()),
            Owner::Heap(v) => (v.as_mut_ptr(), v.len()),
        };
        HugeSlice {
            ptr: std::ptr::NonNull::new(ptr).expect("slice pointers are not null"),
            len,
            _owner: owner,
        }
    }

    /// `n` copies of `value`.
    pub(super) fn filled(n: usize, value: T) -> Self {
        #[cfg(target_os = "linux")]
        if let Some(mut m) = mapping::Mapping::new(n) {
            m.fill(value);
            return Self::new(Owner::Mapped(m));
        }
        Self::new(Owner::Heap(vec![value; n]))
    }

    /// A copy of `values`.
    pub(super) fn from_slice(values: &[T]) -> Self {
        #[cfg(target_os = "linux")]
        if let Some(mut m) = mapping::Mapping::new(values.len()) {
            m.copy_from(values);
            return Self::new(Owner::Mapped(m));
        }
        Self::new(Owner::Heap(values.to_vec()))
    }
}

impl<T: Copy> Deref for HugeSlice<T> {
    type Target = [T];
    #[inline]
    fn deref(&self) -> &[T] {
        // SAFETY: `ptr` and `len` describe the owner's initialised values, which live (and
        // do not move: a vector's buffer or a mapping) as long as `self`.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl<T: Copy> DerefMut for HugeSlice<T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut [T] {
        // SAFETY: as `deref`, and `&mut self` is the only access (the owner is never read
        // through its own handle after construction).
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl<T: Copy> Clone for HugeSlice<T> {
    fn clone(&self) -> Self {
        Self::from_slice(self)
    }
}

impl<T: Copy + std::fmt::Debug> std::fmt::Debug for HugeSlice<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HugeSlice(len {})", self.len())
    }
}

#[cfg(target_os = "linux")]
mod mapping {
    use std::ptr::NonNull;

    /// Below this many bytes a table stays on the heap: it fills less than one huge page.
    const HUGE_PAGE: usize = 2 << 20;

    /// An anonymous private mapping holding `len` values of `T`, unmapped on drop.
    pub(super) struct Mapping<T> {
        ptr: NonNull<T>,
        len: usize,
        bytes: usize,
    }

    // SAFETY: the mapping is owned memory, like a `Box<[T]>`.
    unsafe impl<T: Send> Send for Mapping<T> {}
    // SAFETY: shared access only reads, like `&[T]`.
    unsafe impl<T: Sync> Sync for Mapping<T> {}

    impl<T: Copy> Mapping<T> {
        /// `None` when the table is small or the system gives no mapping (the caller then
        /// uses the heap).
        pub(super) fn new(len: usize) -> Option<Self> {
            let bytes = len.checked_mul(size_of::<T>())?;
            if bytes < HUGE_PAGE || align_of::<T>() > 4096 {
                return None;
            }
            // Whole huge pages, so the kernel can back all of it with them (Linux aligns
            // anonymous mappings of 2 MiB and more to 2 MiB).
            let bytes = bytes.next_multiple_of(HUGE_PAGE);
            // SAFETY: a fresh anonymous mapping, no address hint, no file.
            let ptr = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    bytes,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                    -1,
                    0,
                )
            };
            if ptr == libc::MAP_FAILED {
                return None;
            }
            // SAFETY: the range is the mapping just made. MADV_HUGEPAGE changes how its pages
            // are backed, never their contents; where it fails (no transparent huge pages)
            // the pages are ordinary ones, so its result is ignored.
            unsafe { libc::madvise(ptr, bytes, libc::MADV_HUGEPAGE) };
            Some(Mapping {
                ptr: NonNull::new(ptr.cast())?,
                len,
                bytes,
            })
        }

        /// Writes `value` into every element (the mapping starts zeroed, which need not be
        /// a valid `T`; every constructor fills it before it is read).
        pub(super) fn fill(&mut self, value: T) {
            for i in 0..self.len {
                // SAFETY: `i < len`, inside the mapping; `T: Copy` has no drop.
                unsafe { self.ptr.as_ptr().add(i).write(value) };
            }
        }

        /// Copies `values` (of length `len`) in.
        pub(super) fn copy_from(&mut self, values: &[T]) {
            assert_eq!(values.len(), self.len);
            // SAFETY: `len` values fit the mapping, which does not overlap `values`.
            unsafe { std::ptr::copy_nonoverlapping(values.as_ptr(), self.ptr.as_ptr(), self.len) };
        }

        pub(super) fn as_mut_ptr(&mut self) -> *mut T {
            self.ptr.as_ptr()
        }

        pub(super) fn len(&self) -> usize {
            self.len
        }
    }

    impl<T> Drop for Mapping<T> {
        fn drop(&mut self) {
            // SAFETY: the mapping made in `new`, of `bytes` bytes, unmapped once.
            unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.bytes) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_slices_hold_their_values() {
        for n in [0, 3, (2 << 20) / 4 + 3] {
            let mut v = HugeSlice::filled(n, 7u32);
            assert_eq!(v.len(), n);
            assert!(v.iter().all(|&x| x == 7));
            if n > 0 {
                v[n - 1] = 9;
            }
            let w = v.clone();
            assert_eq!(&*w, &*v);
            let values: Vec<u32> = (0..n as u32).collect();
            assert_eq!(&*HugeSlice::from_slice(&values), &values[..]);
        }
    }
}
